import { Router } from 'express';
import type { Pool } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { KafkaExchange } from '../lib/kafkaExchange';
import type { components } from './openapi';

type Readiness = components['schemas']['Readiness'];

export interface HealthDeps {
  pool: Pool;
  exchange: KafkaExchange;
  /** false once shutdown began: readiness turns 503 so load balancers stop sending traffic. */
  isAccepting: () => boolean;
}

async function check(name: string, fn: () => Promise<unknown>): Promise<Readiness['checks'][number]> {
  try {
    await fn();
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, error: errorMessage(err) };
  }
}

export function healthRouter(deps: HealthDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks = await Promise.all([
      check('postgres', () => deps.pool.query('SELECT 1')),
      check('kafka', () => deps.exchange.ping()),
    ]);
    if (!deps.isAccepting()) checks.push({ name: 'shutdown', ok: false, error: 'the gateway is shutting down' });
    const ready = checks.every((c) => c.ok);
    const body: Readiness = { status: ready ? 'ready' : 'unavailable', checks };
    res.status(ready ? 200 : 503).json(body);
  });
  return router;
}
