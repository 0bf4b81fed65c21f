import { appendAudit, type AuditActor } from '../catalog/audit';
import { getDataset } from '../catalog/datasets';
import type { Principal } from '../catalog/keys';
import { getSubscription } from '../catalog/subscriptions';
import type { GovxConfig } from '../lib/config';
import { withTransaction, type Pool } from '../lib/db';
import { ConflictError, ForbiddenError, InputError, NotFoundError } from '../lib/errors';
import { type ConfigProblem, CONNECTOR_NAME, normalizeRawConfig, type RawConfig, restoreMaskedSecrets } from './config';
import { connectFileRoot, departmentFileRoot } from './fileRoot';
import { type ConnectorConfig, kindOf, validateConnectorConfig } from './plugins';
import { parsePostgresUrl } from './postgresConnection';
import { checkTargetEntries, type ConnectorTargets, readConnectorTargets, TargetGuard, TargetNotAllowed, writeConnectorTargets } from './targets';
import {
  type ConnectorDefinition,
  type ConnectorStatus,
  deleteConnector,
  getConnector,
  getStatus,
  insertConnector,
  listConnectors,
  setDesiredState,
  updateConnectorConfig,
} from './runtime/store';

/**
 * Connector operations behind the HTTP API (stewards and admins): who may see and run which connector, and
 * every change with its audit entry in one transaction. Definitions live in PostgreSQL and every connect
 * worker converges on them within GOVX_CONNECT_POLL_MS; status is what the workers last reported there.
 */

export interface ConnectorCaller {
  principal: Principal;
  requestId: string;
  /** Told of a refusal, which may answer as if the thing did not exist; counted for the aggregate audit of denials (access.denied). */
  onDenied: (action: string, target: string) => void;
}

export type ConnectorTransition = 'pause' | 'resume' | 'restart';

export const invalidConfig = (problems: ConfigProblem[]): InputError =>
  new InputError('connector.invalid_config', problems.map((p) => p.message).join('; '), { errors: problems });

const notFound = (name: string): NotFoundError => new NotFoundError('connector.not_found', `no connector "${name}"`);

/** Admins see every connector; a department's stewards see its own. Anyone else's looks like it does not exist. */
const visibleTo = (p: Principal, def: ConnectorDefinition): boolean => p.role === 'admin' || def.owner === p.department;

const actorOf = (p: Principal): AuditActor => ({ department: p.department, keyId: p.keyId, role: p.role });

const summary = (config: ConnectorConfig): Record<string, unknown> => ({
  class: config.connectorClass,
  ...('dataset' in config ? { dataset: config.dataset } : {}),
  ...('topics' in config ? { topics: config.topics } : {}),
});

export class ConnectorService {
  private readonly fileRoot: string;
  private readonly staleAfterMs: number;
  private readonly targets: TargetGuard;

  constructor(
    private readonly pool: Pool,
    config: GovxConfig,
  ) {
    this.fileRoot = connectFileRoot(config);
    this.targets = new TargetGuard(pool);
    this.staleAfterMs = Math.max(10_000, 5 * config.connectPollMs);
  }

  list(caller: ConnectorCaller): Promise<ConnectorDefinition[]> {
    const p = caller.principal;
    return listConnectors(this.pool, p.role === 'admin' ? undefined : p.department);
  }

  /** The connector, if the caller may see it; else not found. */
  async get(caller: ConnectorCaller, name: string): Promise<ConnectorDefinition> {
    const def = CONNECTOR_NAME.test(name) ? await getConnector(this.pool, name) : null;
    if (!def || !visibleTo(caller.principal, def)) throw notFound(name);
    return def;
  }

  /** The status of a connector the caller was given by `get` or `list`. */
  status(def: ConnectorDefinition): Promise<ConnectorStatus> {
    return getStatus(this.pool, def, this.staleAfterMs);
  }

  async create(caller: ConnectorCaller, name: string, rawConfig: unknown): Promise<ConnectorDefinition> {
    const parsed = this.parse(name, rawConfig, this.fileRoot);
    const owner = await this.authorize(caller, name, parsed.config);
    const { raw, config } = await this.confine(caller, name, owner, rawConfig);
    const p = caller.principal;
    const created = await withTransaction(this.pool, async (client) => {
      const ok = await insertConnector(client, { name, connectorClass: config.connectorClass, owner, config: raw, createdBy: `${p.department}/${p.keyId}` });
      if (!ok) return false;
      await appendAudit(client, { actor: actorOf(p), action: 'connector.create', target: `connector:${name}`, outcome: 'success', requestId: caller.requestId, details: summary(config) });
      return true;
    });
    if (!created) throw new ConflictError('connector.exists', `a connector named "${name}" already exists`);
    return (await getConnector(this.pool, name))!;
  }

  /** Creates the connector or replaces its config; secrets sent back masked keep their stored values. */
  async putConfig(caller: ConnectorCaller, name: string, rawConfig: unknown): Promise<{ def: ConnectorDefinition; created: boolean }> {
    const p = caller.principal;
    const existing = CONNECTOR_NAME.test(name) ? await getConnector(this.pool, name) : null;
    if (existing && !visibleTo(p, existing)) throw notFound(name);
    const submitted = normalizeRawConfig(rawConfig);
    if (submitted.problems.length) throw invalidConfig(submitted.problems);
    const restored = existing ? restoreMaskedSecrets(submitted.config, existing.config) : submitted.config;
    const owner = await this.authorize(caller, name, this.parse(name, restored, this.fileRoot).config);
    const { raw, config } = await this.confine(caller, name, owner, restored);
    if (existing && existing.connectorClass !== config.connectorClass) {
      throw invalidConfig([{ key: 'connector.class', message: `config.connector.class cannot change (${existing.connectorClass}); delete the connector and create it again` }]);
    }
    await withTransaction(this.pool, async (client) => {
      if (existing) await updateConnectorConfig(client, name, raw, owner);
      else if (!(await insertConnector(client, { name, connectorClass: config.connectorClass, owner, config: raw, createdBy: `${p.department}/${p.keyId}` }))) {
        throw new ConflictError('connector.exists', `a connector named "${name}" already exists`);
      }
      await appendAudit(client, {
        actor: actorOf(p),
        action: existing ? 'connector.update' : 'connector.create',
        target: `connector:${name}`,
        outcome: 'success',
        requestId: caller.requestId,
        details: summary(config),
      });
    });
    return { def: (await getConnector(this.pool, name))!, created: !existing };
  }

  async transition(caller: ConnectorCaller, name: string, action: ConnectorTransition): Promise<void> {
    const def = await this.get(caller, name);
    await withTransaction(this.pool, async (client) => {
      if (action === 'restart') await updateConnectorConfig(client, def.name, def.config, def.owner);
      else await setDesiredState(client, def.name, action === 'pause' ? 'PAUSED' : 'RUNNING');
      await appendAudit(client, {
        actor: actorOf(caller.principal),
        action: `connector.${action}`,
        target: `connector:${def.name}`,
        outcome: 'success',
        requestId: caller.requestId,
        details: { class: def.connectorClass },
      });
    });
  }

  async delete(caller: ConnectorCaller, name: string): Promise<void> {
    const def = await this.get(caller, name);
    await withTransaction(this.pool, async (client) => {
      if (!(await deleteConnector(client, def.name))) throw notFound(def.name);
      await appendAudit(client, {
        actor: actorOf(caller.principal),
        action: 'connector.delete',
        target: `connector:${def.name}`,
        outcome: 'success',
        requestId: caller.requestId,
        details: { class: def.connectorClass },
      });
    });
  }

  /**
   * The config checked again as its department's: file paths inside the department's own directory, and
   * every network target among those an administrator allowed for the department (resolved now; checked
   * again at every connection).
   */
  private async confine(caller: ConnectorCaller, name: string, owner: string, rawConfig: unknown): Promise<{ raw: RawConfig; config: ConnectorConfig }> {
    const parsed = this.parse(name, rawConfig, departmentFileRoot(this.fileRoot, owner));
    const { config } = parsed;
    try {
      if (config.connectorClass === 'postgres-source' || config.connectorClass === 'postgres-sink') {
        const target = parsePostgresUrl(config.connectionUrl);
        if (typeof target !== 'string') await this.targets.postgres(owner, target.host, target.database);
      } else if (config.connectorClass === 'http-sink') {
        await this.targets.webhook(owner, new URL(config.url).hostname);
      }
    } catch (err) {
      if (!(err instanceof TargetNotAllowed)) throw err;
      this.denied(caller, name);
      const key = config.connectorClass === 'http-sink' ? 'http.url' : 'connection.url';
      throw new InputError('connector.target_not_allowed', `config.${key}: the target is not among the targets an administrator allowed for ${owner}`, {
        errors: [{ key, message: `config.${key}: not an allowed target for ${owner} (an administrator allows targets with PUT /v1/departments/${owner}/connector-targets)` }],
      });
    }
    return parsed;
  }

  private parse(name: string, rawConfig: unknown, fileRoot: string): { raw: RawConfig; config: ConnectorConfig } {
    const { config: raw, problems } = normalizeRawConfig(rawConfig);
    if (problems.length) throw invalidConfig(problems);
    const validated = validateConnectorConfig(name, raw, { fileRoot });
    if (!validated.ok) throw invalidConfig(validated.problems);
    const { name: _sameName, ...stored } = raw;
    return { raw: stored, config: validated.config };
  }

  /** A department's allowance (administrators; the route checks the role). */
  async getTargets(department: string): Promise<ConnectorTargets> {
    await this.assertDepartment(department);
    return readConnectorTargets(this.pool, department);
  }

  /** Replaces a department's allowance (administrators), audited as connector.targets.set. */
  async setTargets(
    caller: ConnectorCaller,
    department: string,
    input: { postgres: { hosts: string[]; databases: string[] }; webhooks: { hosts: string[]; allowPrivate: boolean } },
  ): Promise<ConnectorTargets> {
    await this.assertDepartment(department);
    const { problems, hosts } = checkTargetEntries(input);
    if (problems.length) throw new InputError('connector.invalid_targets', problems.map((p) => p.message).join('; '), { errors: problems });
    const targets = {
      department,
      postgres: { hosts: [...new Set(hosts.postgres)], databases: [...new Set(input.postgres.databases)] },
      webhooks: { hosts: [...new Set(hosts.webhooks)], allowPrivate: input.webhooks.allowPrivate },
    };
    const p = caller.principal;
    await withTransaction(this.pool, async (client) => {
      await writeConnectorTargets(client, targets, `${p.department}/${p.keyId}`);
      await appendAudit(client, {
        actor: actorOf(p),
        action: 'connector.targets.set',
        target: `department:${department}`,
        outcome: 'success',
        requestId: caller.requestId,
        details: { postgres: targets.postgres, webhooks: targets.webhooks },
      });
    });
    return readConnectorTargets(this.pool, department);
  }

  private async assertDepartment(department: string): Promise<void> {
    const { rows } = await this.pool.query('SELECT 1 FROM departments WHERE id = $1', [department]);
    if (!rows[0]) throw new NotFoundError('department.not_found', `no department "${department}"`);
  }

  private denied(caller: ConnectorCaller, name: string): void {
    caller.onDenied('connector.create', `connector:${name}`);
  }

  /** Checks who may run the connector; returns the department it acts for. */
  private async authorize(caller: ConnectorCaller, name: string, config: ConnectorConfig): Promise<string> {
    const p = caller.principal;
    if (kindOf(config.connectorClass) === 'source') {
      const dataset = await getDataset(this.pool, (config as { dataset: string }).dataset);
      if (!dataset) throw invalidConfig([{ key: 'dataset', message: `config.dataset: no dataset "${(config as { dataset: string }).dataset}" in the catalog` }]);
      if (p.role === 'admin' || p.department === dataset.owner) return dataset.owner;
      const message = `only stewards of ${dataset.owner} (or admins) may run a source connector for ${dataset.id}`;
      this.denied(caller, name);
      throw new ForbiddenError(message);
    }
    if ('subscription' in config) {
      // A subscription sink delivers to the consuming department: its stewards run it. To anyone else the
      // subscription does not exist, as everywhere in govx.
      const sub = await getSubscription(this.pool, config.subscription);
      if (!sub || (p.role !== 'admin' && sub.consumer !== p.department)) {
        this.denied(caller, name);
        throw invalidConfig([{ key: 'subscription', message: `config.subscription: no subscription "${config.subscription}" of yours` }]);
      }
      if (sub.status !== 'approved') {
        throw new ConflictError('connector.subscription_not_active', `subscription ${sub.id} is ${sub.status}; a sink can deliver only an approved subscription`);
      }
      return sub.consumer;
    }
    // The file sink reads any govx topic, dataset topics included: administrators only.
    if (p.role === 'admin') return p.department;
    const message = 'file-sink connectors read govx topics directly and are for admins; departments run postgres-sink or http-sink on their own subscriptions';
    this.denied(caller, name);
    throw new ForbiddenError(message);
  }
}
