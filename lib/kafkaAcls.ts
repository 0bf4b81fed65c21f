import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, type Admin, type Kafka, ResourcePatternTypes } from 'kafkajs';

/**
 * The broker's ACLs as govx reads and writes them (kafkajs admin createAcls / describeAcls / deleteAcls),
 * in plain names instead of protocol numbers. catalog/kafkaAccess.ts decides which ACLs should exist.
 */
export const aclResourceTypes = ['topic', 'group', 'cluster', 'transactional-id', 'delegation-token', 'unknown'] as const;
export type AclResourceType = (typeof aclResourceTypes)[number];
export type AclPatternType = 'literal' | 'prefixed' | 'unknown';
export const aclOperations = [
  'all', 'read', 'write', 'create', 'delete', 'alter', 'describe', 'cluster-action', 'describe-configs', 'alter-configs', 'idempotent-write', 'unknown',
] as const;
export type AclOperation = (typeof aclOperations)[number];
export type AclPermission = 'allow' | 'deny' | 'unknown';

export interface AclBinding {
  resourceType: AclResourceType;
  resourceName: string;
  patternType: AclPatternType;
  /** e.g. User:dept.civil-affairs */
  principal: string;
  host: string;
  operation: AclOperation;
  permission: AclPermission;
}

/** A stable identity of an ACL, for comparing sets. */
export const aclKey = (a: AclBinding): string =>
  [a.resourceType, a.patternType, a.resourceName, a.principal, a.host, a.operation, a.permission].join('|');

/** How an ACL reads in logs and audit details: `ALLOW User:dept.x READ topic govx.share.sub-… (literal)`. */
export const describeAcl = (a: AclBinding): string =>
  `${a.permission.toUpperCase()} ${a.principal} ${a.operation.toUpperCase()} ${a.resourceType} ${a.resourceName} (${a.patternType}${a.host === '*' ? '' : `, host ${a.host}`})`;

export interface AclAdmin {
  /** Every ACL, or those of one principal. */
  list(principal?: string): Promise<AclBinding[]>;
  create(acls: AclBinding[]): Promise<void>;
  /** Deletes exactly these ACLs (absent ones are no error). */
  remove(acls: AclBinding[]): Promise<void>;
  close(): Promise<void>;
}

const resourceCodes: Record<Exclude<AclResourceType, 'unknown'>, AclResourceTypes> = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  cluster: AclResourceTypes.CLUSTER,
  'transactional-id': AclResourceTypes.TRANSACTIONAL_ID,
  'delegation-token': AclResourceTypes.DELEGATION_TOKEN,
};
const operationCodes: Record<Exclude<AclOperation, 'unknown'>, AclOperationTypes> = {
  all: AclOperationTypes.ALL,
  read: AclOperationTypes.READ,
  write: AclOperationTypes.WRITE,
  create: AclOperationTypes.CREATE,
  delete: AclOperationTypes.DELETE,
  alter: AclOperationTypes.ALTER,
  describe: AclOperationTypes.DESCRIBE,
  'cluster-action': AclOperationTypes.CLUSTER_ACTION,
  'describe-configs': AclOperationTypes.DESCRIBE_CONFIGS,
  'alter-configs': AclOperationTypes.ALTER_CONFIGS,
  'idempotent-write': AclOperationTypes.IDEMPOTENT_WRITE,
};

const nameOf = <T extends string>(codes: Record<string, number>, code: number): T =>
  ((Object.entries(codes).find(([, c]) => c === code)?.[0] as T | undefined) ?? ('unknown' as T));

function toProtocol(a: AclBinding) {
  if (a.resourceType === 'unknown' || a.operation === 'unknown' || a.permission === 'unknown' || a.patternType === 'unknown') {
    throw new Error(`cannot write an ACL of unknown type: ${describeAcl(a)}`);
  }
  return {
    resourceType: resourceCodes[a.resourceType],
    resourceName: a.resourceName,
    resourcePatternType: a.patternType === 'literal' ? ResourcePatternTypes.LITERAL : ResourcePatternTypes.PREFIXED,
    principal: a.principal,
    host: a.host,
    operation: operationCodes[a.operation],
    permissionType: a.permission === 'allow' ? AclPermissionTypes.ALLOW : AclPermissionTypes.DENY,
  };
}

/** govx's ACL calls on a kafkajs client (as govx, the broker's super user); one admin connection, reopened after a failure. */
export function kafkajsAclAdmin(kafka: Kafka): AclAdmin {
  let admin: Promise<Admin> | null = null;
  const connected = (): Promise<Admin> => {
    admin ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })();
    return admin;
  };
  const withAdmin = async <T>(fn: (a: Admin) => Promise<T>): Promise<T> => {
    const current = connected();
    try {
      return await fn(await current);
    } catch (err) {
      if (admin === current) admin = null;
      void current.then((a) => a.disconnect()).catch(() => undefined);
      throw err;
    }
  };
  return {
    list: (principal) =>
      withAdmin(async (a) => {
        const { resources } = await a.describeAcls({
          resourceType: AclResourceTypes.ANY,
          resourcePatternType: ResourcePatternTypes.ANY,
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.ANY,
          ...(principal ? { principal } : {}),
        });
        return resources.flatMap((r) =>
          r.acls.map((acl) => ({
            resourceType: nameOf<AclResourceType>(resourceCodes, r.resourceType),
            resourceName: r.resourceName,
            patternType: (r.resourcePatternType === ResourcePatternTypes.LITERAL
              ? 'literal'
              : r.resourcePatternType === ResourcePatternTypes.PREFIXED
                ? 'prefixed'
                : 'unknown') as AclPatternType,
            principal: acl.principal,
            host: acl.host,
            operation: nameOf<AclOperation>(operationCodes, acl.operation),
            permission: (acl.permissionType === AclPermissionTypes.ALLOW ? 'allow' : acl.permissionType === AclPermissionTypes.DENY ? 'deny' : 'unknown') as AclPermission,
          })),
        );
      }),
    create: async (acls) => {
      if (acls.length === 0) return;
      await withAdmin((a) => a.createAcls({ acl: acls.map(toProtocol) }));
    },
    remove: async (acls) => {
      if (acls.length === 0) return;
      await withAdmin((a) => a.deleteAcls({ filters: acls.map(toProtocol) }));
    },
    close: async () => {
      const current = admin;
      admin = null;
      if (current) await (await current.catch(() => null))?.disconnect();
    },
  };
}
