import { type Request, type Response, Router } from 'express';
import { maskSecrets } from '../connectors/config';
import { kindOf } from '../connectors/plugins';
import type { ConnectorDefinition, ConnectorStatus } from '../connectors/runtime/store';
import { type ConnectorCaller, ConnectorService, type ConnectorTransition, invalidConfig } from '../connectors/service';
import type { GovxConfig } from '../lib/config';
import type { Pool } from '../lib/db';
import { InputError } from '../lib/errors';
import { principalOf, requireRole } from './middleware/auth';
import { markDenied } from './middleware/denials';
import { jsonBody } from './middleware/textHygiene';

export interface ConnectorRouteDeps {
  pool: Pool;
  config: GovxConfig;
}

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

const callerOf = (res: Response): ConnectorCaller => ({
  principal: principalOf(res),
  requestId: String(res.locals.requestId),
  onDenied: (action, target) => markDenied(res, action, target),
});

/** Connectors over REST, modeled on the Kafka Connect API; the connector service decides and audits. */
export function connectorRouter(deps: ConnectorRouteDeps): Router {
  const router = Router();
  const json = jsonBody({ limit: '256kb' });
  const staff = requireRole('steward', 'admin');
  const connectors = new ConnectorService(deps.pool, deps.config);

  router.get('/v1/connectors', staff, async (req, res) => {
    const defs = await connectors.list(callerOf(res));
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
      if (expand.includes('status')) out[d.name]!.status = statusBody(d, await connectors.status(d));
    }
    res.json(out);
  });

  router.post('/v1/connectors', staff, json, async (req, res) => {
    const body = req.body as unknown;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InputError('request.invalid_body', 'the body must be a JSON object {"name", "config"}');
    const { name, config, ...extra } = body as Record<string, unknown>;
    if (Object.keys(extra).length) throw new InputError('request.invalid_body', `unknown top-level member(s): ${Object.keys(extra).join(', ')}`);
    if (typeof name !== 'string') throw invalidConfig([{ key: 'name', message: 'name is required and must be a string' }]);
    res.status(201).json(info(await connectors.create(callerOf(res), name, config)));
  });

  router.get('/v1/connectors/:name', staff, async (req, res) => {
    res.json(info(await connectors.get(callerOf(res), String(req.params.name))));
  });

  router.get('/v1/connectors/:name/config', staff, async (req, res) => {
    const def = await connectors.get(callerOf(res), String(req.params.name));
    res.json(maskSecrets({ ...def.config, name: def.name }));
  });

  router.put('/v1/connectors/:name/config', staff, json, async (req, res) => {
    const { def, created } = await connectors.putConfig(callerOf(res), String(req.params.name), req.body);
    res.status(created ? 201 : 200).json(info(def));
  });

  router.get('/v1/connectors/:name/status', staff, async (req, res) => {
    const def = await connectors.get(callerOf(res), String(req.params.name));
    res.json(statusBody(def, await connectors.status(def)));
  });

  const transition = (action: ConnectorTransition) =>
    async (req: Request, res: Response): Promise<void> => {
      await connectors.transition(callerOf(res), String(req.params.name), action);
      res.status(202).end();
    };
  router.put('/v1/connectors/:name/pause', staff, transition('pause'));
  router.put('/v1/connectors/:name/resume', staff, transition('resume'));
  router.post('/v1/connectors/:name/restart', staff, transition('restart'));

  // Where a department's connectors may connect: administrators only, never the department itself.
  const admins = requireRole('admin');
  router.get('/v1/departments/:department/connector-targets', admins, async (req, res) => {
    res.json(await connectors.getTargets(String(req.params.department)));
  });
  router.put('/v1/departments/:department/connector-targets', admins, json, async (req, res) => {
    res.json(await connectors.setTargets(callerOf(res), String(req.params.department), req.body as Parameters<ConnectorService['setTargets']>[2]));
  });

  router.delete('/v1/connectors/:name', staff, async (req, res) => {
    await connectors.delete(callerOf(res), String(req.params.name));
    res.status(204).end();
  });

  return router;
}

function statusBody(def: ConnectorDefinition, s: ConnectorStatus) {
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
