import { sealDenials } from '../../catalog/denials';
import { httpJson, type TestStack } from './stack';

/** Small catalog fixtures made over the API, each with names of its own, for tests that need fresh rows. */

export const unique = (): string => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
export const inOneYear = (): string => new Date(Date.now() + 365 * 86_400_000).toISOString();

export const indicatorSchema = {
  type: 'record',
  name: 'Indicator',
  namespace: 'govx.test',
  fields: [
    { name: 'code', type: 'string' },
    { name: 'value', type: 'double' },
  ],
};

/** The body that creates a dataset of indicators owned by `owner`. */
export function indicatorDatasetInput(id: string, owner: string, sharing: 'unconditional' | 'conditional' | 'none' = 'unconditional') {
  return {
    id,
    title: { zh: '测试指标', en: 'Test indicators' },
    owner,
    category: 'macro-economy',
    abstract: 'For a test.',
    sharing: sharing === 'none' ? { type: 'none', legalBasis: 'a test law' } : { type: sharing },
    updateCycle: 'quarterly',
    keyField: 'code',
    status: 'active',
    schema: indicatorSchema,
    fields: { value: { sensitivity: 1 } },
  };
}

/** A dataset of indicators owned by `owner`, created by an admin; returns its id. */
export async function createIndicatorDataset(
  url: string,
  adminKey: string,
  opts: { owner: string; sharing?: 'unconditional' | 'conditional' | 'none'; id?: string },
): Promise<string> {
  const id = opts.id ?? `test.ind-${unique()}`;
  const res = await httpJson(`${url}/v1/datasets`, { key: adminKey, body: indicatorDatasetInput(id, opts.owner, opts.sharing) });
  if (res.status !== 201) throw new Error(`could not create dataset ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return id;
}

/** A subscription requested by `consumerKey` (approved at once for an unconditional dataset); returns it. */
export async function requestIndicators(url: string, consumerKey: string, dataset: string, extra: Record<string, unknown> = {}): Promise<{ id: string; status: string; topic: string }> {
  const ask = () =>
    httpJson(`${url}/v1/subscriptions`, {
      key: consumerKey,
      body: { dataset, fields: ['code', 'value'], purpose: '测试', expiresAt: inOneYear(), delivery: 'http', startFrom: 'earliest', ...extra },
    });
  let res = await ask();
  // 503 says "retry later" (a topic just created may not be known to the broker's metadata yet)
  for (let i = 0; i < 5 && res.status === 503; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    res = await ask();
  }
  if (res.status !== 201) throw new Error(`could not subscribe to ${dataset}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Waits until `probe` gives something truthy, polling; never a fixed sleep as an assertion. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Moves the denials a gateway counted so far into the audit chain now, as it would once their interval
 * closed; returns the access.denied entries of `keyId`.
 */
export async function sealDenialsNow(stack: TestStack, keyId: string): Promise<Array<{ details: { count: number; actions: Array<{ action: string; count: number; sampleTarget: string | null }> } }>> {
  const intervalMs = stack.config.denialAuditIntervalSec * 1000;
  await stack.gateway.gateway.denials.flush();
  await sealDenials(stack.pool, new Date(Date.now() + intervalMs), intervalMs);
  const { rows } = await stack.pool.query("SELECT details FROM audit_log WHERE action = 'access.denied' AND actor_key_id = $1 ORDER BY seq", [keyId]);
  return rows;
}
