import { type Request, type Response, Router } from 'express';
import { appendAudit } from '../catalog/audit';
import { getDataset } from '../catalog/datasets';
import { getSubscription } from '../catalog/subscriptions';
import type { Principal } from '../catalog/keys';
import {
  type ConfigProblem,
  type ConnectorConfig,
  CONNECTOR_NAME,
  connectFileRoot,
  kindOf,
  maskSecrets,
  normalizeRawConfig,
  type RawConfig,
  restoreMaskedSecrets,
  validateConnectorConfig,
} from '../connectors/config';
import {
  type ConnectorDefinition,
  deleteConnector,
  getConnector,
  getStatus,
  insertConnector,
  listConnectors,
  setDesiredState,
  updateConnectorConfig,
} from '../connectors/runtime/store';
import type { GovxConfig } from '../lib/config';
import { withTransaction, type Pool } from '../lib/db';
import { ConflictError, ForbiddenError, InputError, NotFoundError } from '../lib/errors';
import { principalOf, requireRole } from './middleware/auth';
import { jsonBody } from './middleware/textHygiene';
import { markDenied } from './middleware/denials';

export interface ConnectorRouteDeps {
  pool: Pool;
  config: GovxConfig;
}

const invalid = (problems: ConfigProblem[]): InputError =>
  new InputError('connector.invalid_config', problems.map((p) => p.message).join('; '), { errors: problems });

const notFound = (name: string): NotFoundError => new NotFoundError('connector.not_found', `no connector "${name}"`);

/** Admins see every connector; a department's stewards see its own. Anyone else's looks like it does not exist. */
const visibleTo = (p: Principal, def: ConnectorDefinition): boolean => p.role === 'admin' || def.owner === p.department;

/** The Kafka Connect view of a definition, secrets masked. */
function info(def: ConnectorDefinition) {
  return {
    name: def.name,
    config: maskSecrets({ ...def.config, name: def.name }),
    type: kindOf(def.connectorClass),
    owner: def.owner,
    state: def.desiredState,
    tasks: [{ connector: def.name, task: 0 }],
    createdAt: def.createdAt,
    updatedAt: def.updatedAt,
  };
}

/**
 * Connectors over REST, modeled on the Kafka Connect API: definitions live in PostgreSQL and every connect
 * worker converges on them within GOVX_CONNECT_POLL_MS; status is what the workers last reported there.
 */
export function connectorRouter(deps: ConnectorRouteDeps): Router {
  const router = Router();
  const json = jsonBody({ limit: '256kb' });
  const staff = requireRole('steward', 'admin');
  const validationContext = { fileRoot: connectFileRoot(deps.config), govxDatabaseUrl: deps.config.databaseUrl };
  const staleAfterMs = Math.max(10_000, 5 * deps.config.connectPollMs);

  /** Counted for the aggregate audit of denials (access.denied). */
  const denied = (res: Response, name: string): void => markDenied(res, 'connector.create', `connector:${name}`);

  /** Checks the config and who may run it; returns the department the connector acts for. */
  const authorize = async (res: Response, name: string, config: ConnectorConfig): Promise<string> => {
    const p = principalOf(res);
    if (kindOf(config.connectorClass) === 'source') {
      const dataset = await getDataset(deps.pool, (config as { dataset: string }).dataset);
      if (!dataset) throw invalid([{ key: 'dataset', message: `config.dataset: no dataset "${(config as { dataset: string }).dataset}" in the catalog` }]);
      if (p.role === 'admin' || p.department === dataset.owner) return dataset.owner;
      const message = `only stewards of ${dataset.owner} (or admins) may run a source connector for ${dataset.id}`;
      denied(res, name);
      throw new ForbiddenError(message);
    }
    if ('subscription' in config) {
      // A subscription sink delivers to the consuming department: its stewards run it. To anyone else the
      // subscription does not exist, as everywhere in govx.
      const sub = await getSubscription(deps.pool, config.subscription);
      if (!sub || (p.role !== 'admin' && sub.consumer !== p.department)) {
        denied(res, name);
        throw invalid([{ key: 'subscription', message: `config.subscription: no subscription "${config.subscription}" of yours` }]);
      }
      if (sub.status !== 'approved') {
        throw new ConflictError('connector.subscription_not_active', `subscription ${sub.id} is ${sub.status}; a sink can deliver only an approved subscription`);
      }
      return sub.consumer;
    }
    // The file sink reads any govx topic, dataset topics included: administrators only.
    if (p.role === 'admin') return p.department;
    const message = 'file-sink connectors read govx topics directly and are for admins; departments run postgres-sink or http-sink on their own subscriptions';
    denied(res, name);
    throw new ForbiddenError(message);
  };

  const parse = (name: string, rawConfig: unknown): { raw: RawConfig; config: ConnectorConfig } => {
    const { config: raw, problems } = normalizeRawConfig(rawConfig);
    if (problems.length) throw invalid(problems);
    const validated = validateConnectorConfig(name, raw, validationContext);
    if (!validated.ok) throw invalid(validated.problems);
    const { name: _sameName, ...stored } = raw;
    return { raw: stored, config: validated.config };
  };

  const summary = (config: ConnectorConfig): Record<string, unknown> => ({
    class: config.connectorClass,
    ...('dataset' in config ? { dataset: config.dataset } : {}),
    ...('topics' in config ? { topics: config.topics } : {}),
  });

  const load = async (req: Request, res: Response): Promise<ConnectorDefinition> => {
    const name = String(req.params.name);
    const def = CONNECTOR_NAME.test(name) ? await getConnector(deps.pool, name) : null;
    if (!def || !visibleTo(principalOf(res), def)) throw notFound(name);
    return def;
  };

  router.get('/v1/connectors', staff, async (req, res) => {
    const p = principalOf(res);
    const defs = await listConnectors(deps.pool, p.role === 'admin' ? undefined : p.department);
    // `expand=status,info` or, as Kafka Connect's clients send it, `expand=status&expand=info`
    const raw = req.query.expand;
    const expand = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).flatMap((v) => String(v).split(',')).filter(Boolean);
    if (expand.length === 0) {
      res.json(defs.map((d) => d.name));
      return;
    }
    const out: Record<string, Record<string, unknown>> = {};
    for (const d of defs) {
      out[d.name] = {};
      if (expand.includes('info')) out[d.name]!.info = info(d);
      if (expand.includes('status')) out[d.name]!.status = statusBody(d, await getStatus(deps.pool, d, staleAfterMs));
    }
    res.json(out);
  });

  router.post('/v1/connectors', staff, json, async (req, res) => {
    const body = req.body as unknown;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InputError('request.invalid_body', 'the body must be a JSON object {"name", "config"}');
    const { name, config: rawConfig, ...extra } = body as Record<string, unknown>;
    if (Object.keys(extra).length) throw new InputError('request.invalid_body', `unknown top-level member(s): ${Object.keys(extra).join(', ')}`);
    if (typeof name !== 'string') throw invalid([{ key: 'name', message: 'name is required and must be a string' }]);
    const { raw, config } = parse(name, rawConfig);
    const owner = await authorize(res, name, config);
    const p = principalOf(res);
    const created = await withTransaction(deps.pool, async (client) => {
      const ok = await insertConnector(client, { name, connectorClass: config.connectorClass, owner, config: raw, createdBy: `${p.department}/${p.keyId}` });
      if (!ok) return false;
      const actor = { department: p.department, keyId: p.keyId, role: p.role };
      await appendAudit(client, { actor, action: 'connector.create', target: `connector:${name}`, outcome: 'success', requestId: String(res.locals.requestId), details: summary(config) });
      return true;
    });
    if (!created) throw new ConflictError('connector.exists', `a connector named "${name}" already exists`);
    res.status(201).json(info((await getConnector(deps.pool, name))!));
  });

  router.get('/v1/connectors/:name', staff, async (req, res) => {
    res.json(info(await load(req, res)));
  });

  router.get('/v1/connectors/:name/config', staff, async (req, res) => {
    const def = await load(req, res);
    res.json(maskSecrets({ ...def.config, name: def.name }));
  });

  router.put('/v1/connectors/:name/config', staff, json, async (req, res) => {
    const name = String(req.params.name);
    const existing = CONNECTOR_NAME.test(name) ? await getConnector(deps.pool, name) : null;
    if (existing && !visibleTo(principalOf(res), existing)) throw notFound(name);
    const submitted = normalizeRawConfig(req.body);
    if (submitted.problems.length) throw invalid(submitted.problems);
    const { raw, config } = parse(name, existing ? restoreMaskedSecrets(submitted.config, existing.config) : submitted.config);
    const owner = await authorize(res, name, config);
    if (existing && existing.connectorClass !== config.connectorClass) {
      throw invalid([{ key: 'connector.class', message: `config.connector.class cannot change (${existing.connectorClass}); delete the connector and create it again` }]);
    }
    const p = principalOf(res);
    await withTransaction(deps.pool, async (client) => {
      if (existing) await updateConnectorConfig(client, name, raw, owner);
      else if (!(await insertConnector(client, { name, connectorClass: config.connectorClass, owner, config: raw, createdBy: `${p.department}/${p.keyId}` }))) {
        throw new ConflictError('connector.exists', `a connector named "${name}" already exists`);
      }
      await appendAudit(client, {
        actor: { department: p.department, keyId: p.keyId, role: p.role },
        action: existing ? 'connector.update' : 'connector.create',
        target: `connector:${name}`,
        outcome: 'success',
        requestId: String(res.locals.requestId),
        details: summary(config),
      });
    });
    res.status(existing ? 200 : 201).json(info((await getConnector(deps.pool, name))!));
  });

  router.get('/v1/connectors/:name/status', staff, async (req, res) => {
    const def = await load(req, res);
    res.json(statusBody(def, await getStatus(deps.pool, def, staleAfterMs)));
  });

  const transition = (action: 'pause' | 'resume' | 'restart') =>
    async (req: Request, res: Response): Promise<void> => {
      const def = await load(req, res);
      await withTransaction(deps.pool, async (client) => {
        if (action === 'restart') await updateConnectorConfig(client, def.name, def.config, def.owner);
        else await setDesiredState(client, def.name, action === 'pause' ? 'PAUSED' : 'RUNNING');
        const p = principalOf(res);
        await appendAudit(client, {
          actor: { department: p.department, keyId: p.keyId, role: p.role },
          action: `connector.${action}`,
          target: `connector:${def.name}`,
          outcome: 'success',
          requestId: String(res.locals.requestId),
          details: { class: def.connectorClass },
        });
      });
      res.status(202).end();
    };
  router.put('/v1/connectors/:name/pause', staff, transition('pause'));
  router.put('/v1/connectors/:name/resume', staff, transition('resume'));
  router.post('/v1/connectors/:name/restart', staff, transition('restart'));

  router.delete('/v1/connectors/:name', staff, async (req, res) => {
    const def = await load(req, res);
    await withTransaction(deps.pool, async (client) => {
      if (!(await deleteConnector(client, def.name))) throw notFound(def.name);
      const p = principalOf(res);
      await appendAudit(client, {
        actor: { department: p.department, keyId: p.keyId, role: p.role },
        action: 'connector.delete',
        target: `connector:${def.name}`,
        outcome: 'success',
        requestId: String(res.locals.requestId),
        details: { class: def.connectorClass },
      });
    });
    res.status(204).end();
  });

  return router;
}

function statusBody(def: ConnectorDefinition, s: Awaited<ReturnType<typeof getStatus>>) {
  return {
    name: def.name,
    type: kindOf(def.connectorClass),
    connector: { state: s.state, worker_id: s.workerId, ...(s.state === 'FAILED' && s.lastError ? { trace: s.lastError } : {}) },
    tasks: s.tasks.map((t, id) => ({ id, state: s.state === 'PAUSED' || s.state === 'FAILED' ? s.state : t.state, worker_id: t.workerId, lag: t.lag })),
    records: { in: s.recordsIn, out: s.recordsOut, deadLettered: s.recordsDeadLettered },
    lag: s.lag,
    lastError: s.lastError === null ? null : { message: s.lastError, at: s.lastErrorAt },
  };
}
