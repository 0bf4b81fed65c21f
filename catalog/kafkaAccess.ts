import { appendAudit, type AuditActor } from './audit';
import { dlqTopic } from './datasets';
import { shareTopic } from './subscriptions';
import { type AclAdmin, type AclBinding, aclKey, describeAcl } from '../lib/kafkaAcls';
import type { Pool } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/logger';

/**
 * Who may do what at the broker, derived from the catalog (decision 0014). Each department is one Kafka
 * principal, `User:dept.<department>`, authenticated with the SCRAM credential govx issued it. While that
 * credential is live, the principal may READ:
 * - `govx.share.<subscription>` (literal) for each of its approved, unexpired subscriptions delivered by Kafka;
 * - `govx.dlq.<dataset>` (literal) for each dataset it owns;
 * - consumer groups whose names start with `dept.<department>.` (prefixed), once it may read any topic.
 * Nothing else: no department principal ever gets WRITE, CREATE, DESCRIBE on the cluster or anything
 * on dataset topics. govx's own principal is the broker's super user and needs no ACL.
 *
 * The ACLs follow the catalog in two ways: every subscription transition and credential change converges
 * the department at once (syncDepartment), and a reconciler compares every department principal's ACLs
 * with the catalog at start-up and periodically, removing what is extra (including ACLs for `User:*`, which
 * would apply to every department) and adding what is missing, each repair audited.
 */

export const KAFKA_PRINCIPAL_PREFIX = 'dept.';
/** The SCRAM user name of a department. */
export const kafkaUsername = (department: string): string => `${KAFKA_PRINCIPAL_PREFIX}${department}`;
/** The principal the broker's authorizer sees for a department. */
export const kafkaPrincipal = (department: string): string => `User:${kafkaUsername(department)}`;
/** Consumer groups of a department must start with this. */
export const consumerGroupPrefix = (department: string): string => `${kafkaUsername(department)}.`;
/** ACLs that govx governs: those of department principals, and those of the wildcard principal, which would apply to them. */
export const isGovernedPrincipal = (principal: string): boolean => principal.startsWith(`User:${KAFKA_PRINCIPAL_PREFIX}`) || principal === 'User:*';

const readAcl = (department: string, resourceType: 'topic' | 'group', resourceName: string, patternType: 'literal' | 'prefixed'): AclBinding => ({
  resourceType,
  resourceName,
  patternType,
  principal: kafkaPrincipal(department),
  host: '*',
  operation: 'read',
  permission: 'allow',
});

/** The ACLs the catalog wants for every department with a live credential (or only `department`'s). */
export async function desiredAcls(pool: Pool, department?: string): Promise<AclBinding[]> {
  const only = department ?? null;
  const { rows: shares } = await pool.query<{ id: string; consumer: string }>(
    `SELECT s.id, s.consumer FROM subscriptions s
       JOIN kafka_credentials c ON c.department = s.consumer AND c.revoked_at IS NULL
      WHERE s.status = 'approved' AND s.expires_at > now() AND s.delivery = 'kafka' AND ($1::text IS NULL OR s.consumer = $1)`,
    [only],
  );
  const { rows: owned } = await pool.query<{ id: string; owner: string }>(
    `SELECT d.id, d.owner FROM datasets d JOIN kafka_credentials c ON c.department = d.owner AND c.revoked_at IS NULL
      WHERE ($1::text IS NULL OR d.owner = $1)`,
    [only],
  );
  const acls = [
    ...shares.map((s) => readAcl(s.consumer, 'topic', shareTopic(s.id), 'literal')),
    ...owned.map((d) => readAcl(d.owner, 'topic', dlqTopic(d.id), 'literal')),
  ];
  const readers = new Set([...shares.map((s) => s.consumer), ...owned.map((d) => d.owner)]);
  for (const reader of readers) acls.push(readAcl(reader, 'group', consumerGroupPrefix(reader), 'prefixed'));
  return acls;
}

export interface AclChanges {
  added: AclBinding[];
  removed: AclBinding[];
}

const SYSTEM: AuditActor = { department: 'govx', keyId: null, role: 'system' };

/** Keeps department principals' ACLs equal to what the catalog wants. */
export class KafkaAccess {
  /** one convergence at a time in this process: they describe, compare and write */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: { pool: Pool; acls: AclAdmin; log: Logger }) {}

  /**
   * Converges one department's ACLs to the catalog now (after a subscription transition or a credential
   * change). Changes are logged; the subscription's or credential's own audit entry records why.
   */
  syncDepartment(department: string, cause: string): Promise<AclChanges> {
    return this.exclusive(async () => {
      const changes = await this.converge(department);
      if (changes.added.length || changes.removed.length) {
        this.deps.log.info(
          { department, cause, added: changes.added.map(describeAcl), removed: changes.removed.map(describeAcl) },
          'kafka ACLs follow the catalog',
        );
      }
      return changes;
    });
  }

  /** Repairs drift on every governed principal; each repaired ACL is audited as `kafka.acl.repair`. */
  reconcile(): Promise<AclChanges> {
    return this.exclusive(async () => {
      const changes = await this.converge(undefined);
      const repairs = [...changes.added.map((acl) => ({ change: 'added', acl })), ...changes.removed.map((acl) => ({ change: 'removed', acl }))];
      for (const { change, acl } of repairs) {
        await appendAudit(this.deps.pool, {
          actor: SYSTEM,
          action: 'kafka.acl.repair',
          target: `kafka-principal:${acl.principal}`,
          outcome: 'success',
          details: { change, acl: { ...acl }, description: describeAcl(acl), reason: 'the broker differed from the catalog' },
        });
      }
      if (repairs.length) {
        this.deps.log.warn({ added: changes.added.map(describeAcl), removed: changes.removed.map(describeAcl) }, 'kafka ACL drift repaired');
      }
      return changes;
    });
  }

  /**
   * Reads the broker before the catalog: an approval committed after the catalog read finds its ACL
   * absent from the broker read as well (its grant follows its commit), so it is never mistaken for an
   * extra ACL. What was added is checked against the catalog once more, so a revocation committed during
   * the convergence never leaves a grant behind.
   */
  private async converge(department: string | undefined): Promise<AclChanges> {
    const { pool, acls } = this.deps;
    const present = (await acls.list(department ? kafkaPrincipal(department) : undefined)).filter((a) => isGovernedPrincipal(a.principal));
    const desired = await desiredAcls(pool, department);
    const presentKeys = new Set(present.map(aclKey));
    const desiredKeys = new Set(desired.map(aclKey));
    const added = desired.filter((a) => !presentKeys.has(aclKey(a)));
    const removed = present.filter((a) => !desiredKeys.has(aclKey(a)));
    await acls.remove(removed);
    await acls.create(added);
    if (added.length > 0) {
      const still = new Set((await desiredAcls(pool, department)).map(aclKey));
      const withdrawn = added.filter((a) => !still.has(aclKey(a)));
      if (withdrawn.length) await acls.remove(withdrawn);
      return { added: added.filter((a) => still.has(aclKey(a))), removed };
    }
    return { added, removed };
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** Runs KafkaAccess.reconcile at start and every `intervalMs` until stopped; failures are logged and retried next time. */
export class KafkaAclReconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly access: KafkaAccess,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    this.tick();
  }

  /** Reconciles once now (what the periodic run does). */
  async runOnce(): Promise<AclChanges | null> {
    try {
      return await this.access.reconcile();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'kafka ACL reconciliation failed; retrying at the next interval');
      return null;
    }
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.runOnce().then(() => {
      this.running = null;
      if (this.stopped) return;
      this.timer = setTimeout(() => this.tick(), this.intervalMs);
      this.timer.unref();
    });
  }

  /** Stops the schedule and waits for a reconciliation in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
