import { sealDenials } from '../../../catalog/denials';
import { createIndicatorDataset, requestIndicators, until } from '../../support/fixtures';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

/**
 * Abuse limits hold across gateway processes: two gateways on one database (as behind a load balancer)
 * share each key's request rate and each department's caps on open streams and running pulls, and a key
 * that is denied again and again adds one audit entry per interval, not one per request.
 */

const INTERVAL_SEC = 3600;
const env = {
  GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC: '10',
  GOVX_MAX_STREAMS_PER_DEPARTMENT: '2',
  GOVX_MAX_PULLS_PER_DEPARTMENT: '1',
  GOVX_DENIAL_AUDIT_INTERVAL_SEC: String(INTERVAL_SEC),
};
let a: TestStack;
let b: TestStack;
beforeAll(async () => {
  a = await startTestStack(env);
  b = await startTestStack(env);
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keyId = (key: string): string => key.split('_')[1]!;

/** Keeps `key` busy on `stack` until `stop` is set: more requests a second than its limit. */
function flood(stack: TestStack, key: string, state: { stop: boolean }): Promise<void> {
  return (async () => {
    while (!state.stop) await Promise.all(Array.from({ length: 4 }, () => httpJson(`${stack.url}/v1/datasets?limit=1`, { key })));
  })();
}

it("refuses a key over its rate on a gateway it never used, because the other gateway counted its requests", async () => {
  const key = await a.key('tax', 'consumer');
  const state = { stop: false };
  const flooding = flood(a, key, state);
  try {
    // One probe every 1.5 s stays under 10/s on gateway b by itself: only a shared count can refuse it.
    const refused = await until('a 429 on the second gateway', async () => {
      const res = await httpJson(`${b.url}/v1/datasets?limit=1`, { key });
      if (res.status === 429) return res;
      await sleep(1500);
      return null;
    }, 45_000);
    expect(refused.body.error).toMatchObject({ code: 'rate_limited', details: { limit: 'key-requests', perSecond: 10 } });
    expect(refused.headers.get('retry-after')).toBe('1');
  } finally {
    state.stop = true;
    await flooding;
  }
  // Another key of the same department is not slowed by it.
  expect((await httpJson(`${b.url}/v1/datasets?limit=1`, { key: await b.key('tax', 'consumer') })).status).toBe(200);
  const metrics = await fetch(b.gateway.metricsUrl).then((r) => r.text());
  expect(metrics).toMatch(/govx_rate_limited_total\{department="tax",limit="key-requests"\} [1-9]/);
});

it('audits a stream of denied requests as one entry per key and interval, with their count', async () => {
  const key = await a.key('civil-affairs', 'consumer');
  const before = await a.pool.query<{ n: string }>('SELECT count(*) AS n FROM audit_log');
  // A consumer may not read the audit trail (403) nor list connectors (403), on either gateway.
  const answers = [];
  for (let i = 0; i < 12; i++) {
    const stack = i % 2 === 0 ? a : b;
    answers.push(await httpJson(`${stack.url}/v1/audit`, { key }));
    answers.push(await httpJson(`${stack.url}/v1/connectors`, { key }));
  }
  expect(answers.every((r) => r.status === 403 || r.status === 429)).toBe(true);
  const afterRequests = await a.pool.query<{ n: string }>('SELECT count(*) AS n FROM audit_log WHERE actor_key_id = $1', [keyId(key)]);
  expect(Number(afterRequests.rows[0]!.n)).toBe(0);

  await a.gateway.gateway.denials.flush();
  await b.gateway.gateway.denials.flush();
  // Seal the open interval too (the gateways would seal it once it closed).
  await sealDenials(a.pool, new Date(Date.now() + INTERVAL_SEC * 1000), INTERVAL_SEC * 1000);
  const { rows } = await a.pool.query('SELECT action, target, outcome, details FROM audit_log WHERE actor_key_id = $1 ORDER BY seq', [keyId(key)]);
  // 24 requests within one interval (two if an hour boundary fell inside the loop)
  expect(rows.length).toBeGreaterThanOrEqual(1);
  expect(rows.length).toBeLessThanOrEqual(2);
  for (const row of rows) expect(row).toMatchObject({ action: 'access.denied', target: `key:${keyId(key)}`, outcome: 'denied' });
  expect(rows.reduce((n, r) => n + r.details.count, 0)).toBe(24);
  const actions = new Set(rows.flatMap((r) => r.details.actions.map((x: { action: string }) => x.action)));
  expect([...actions].every((x) => ['GET /v1/audit', 'GET /v1/connectors', 'rate_limited'].includes(x))).toBe(true);
  const after = await a.pool.query<{ n: string }>('SELECT count(*) AS n FROM audit_log');
  expect(Number(after.rows[0]!.n) - Number(before.rows[0]!.n)).toBeLessThan(24);
});

describe("caps on a department's concurrent deliveries, across gateways", () => {
  let adminKey: string;
  let dataset: string;
  let consumer: string;
  let subscription: string;
  beforeAll(async () => {
    adminKey = await a.key('info-office', 'admin');
    dataset = await createIndicatorDataset(a.url, adminKey, { owner: 'statistics' });
    consumer = await a.key('haidian', 'consumer');
    subscription = (await requestIndicators(a.url, consumer, dataset)).id;
  });

  const open = (stack: TestStack, controller: AbortController) =>
    fetch(`${stack.url}/v1/subscriptions/${subscription}/stream`, { headers: { authorization: `Bearer ${consumer}` }, signal: controller.signal });

  it('refuses a third open stream with 429 until one of the two closes', async () => {
    const first = new AbortController();
    const second = new AbortController();
    const third = new AbortController();
    try {
      expect((await open(a, first)).status).toBe(200);
      expect((await open(b, second)).status).toBe(200);
      const refused = await open(b, third);
      expect(refused.status).toBe(429);
      const body = (await refused.json()) as { error: { code: string } };
      expect(body.error.code).toBe('delivery.too_many_streams');
      expect(refused.headers.get('retry-after')).toBe('5');
      first.abort();
      const reopened = await until('a place for a stream after one closed', async () => {
        const c = new AbortController();
        const res = await open(a, c);
        if (res.status === 200) return c;
        c.abort();
        return null;
      });
      reopened.abort();
    } finally {
      for (const c of [first, second, third]) c.abort();
    }
  });

  it('refuses a second running pull on another gateway with 429', async () => {
    const long = httpJson(`${a.url}/v1/subscriptions/${subscription}/records?waitMs=8000&limit=1000`, { key: consumer });
    await until('the first pull holds its lease', async () => {
      const { rows } = await a.pool.query("SELECT 1 FROM delivery_leases WHERE department = 'haidian' AND kind = 'pull' AND expires_at > now()");
      return rows.length > 0;
    });
    const second = await httpJson(`${b.url}/v1/subscriptions/${subscription}/records?waitMs=0`, { key: consumer });
    expect([second.status, second.body.error.code]).toEqual([429, 'delivery.too_many_pulls']);
    expect((await long).status).toBe(200);
    await until('the lease released', async () => {
      const { rows } = await a.pool.query("SELECT 1 FROM delivery_leases WHERE department = 'haidian' AND kind = 'pull'");
      return rows.length === 0;
    });
  });
});
