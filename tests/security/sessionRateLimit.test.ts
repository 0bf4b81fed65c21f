import { createSession } from '../../catalog/sessions';
import { httpJson, startTestStack, type TestStack } from '../support/stack';

/**
 * A console session is held to the per-key request rate like the key it stands for: a browser session (or a
 * script replaying its cookie) that floods the API gets 429 rate_limited, counted under the key it signed in
 * with or, for single sign-on, under the user; other callers keep being served.
 */

const LIMIT = 5;
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC: String(LIMIT) });
});
afterAll(async () => {
  await stack?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function keySession(key: string): Promise<string> {
  const res = await fetch(`${stack.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
  expect(res.status).toBe(201);
  const line = res.headers.getSetCookie().find((c) => c.startsWith('govx_session='))!;
  return line.split(';')[0]!;
}

/** Sends bursts of requests with `cookie` until one is refused; gives up after `rounds`. */
async function floodUntilRefused(cookie: string, rounds = 20) {
  for (let i = 0; i < rounds; i++) {
    const answers = await Promise.all(Array.from({ length: 4 * LIMIT }, () => httpJson(`${stack.url}/v1/datasets?limit=1`, { headers: { cookie } })));
    const refused = answers.find((r) => r.status === 429);
    if (refused) return refused;
    expect(answers.every((r) => r.status === 200)).toBe(true);
  }
  throw new Error(`no 429 after ${rounds} bursts of ${4 * LIMIT} session requests`);
}

it("answers 429 rate_limited to a key sign-in's session flooding the API, and the key itself shares that budget", async () => {
  const key = await stack.key('tax', 'consumer');
  const cookie = await keySession(key);
  const refused = await floodUntilRefused(cookie);
  expect(refused.body.error).toMatchObject({ code: 'rate_limited', details: { limit: 'key-requests', perSecond: LIMIT } });
  expect(refused.headers.get('retry-after')).toBe('1');
  // Another key of the same department is served meanwhile.
  expect((await httpJson(`${stack.url}/v1/datasets?limit=1`, { key: await stack.key('tax', 'consumer') })).status).toBe(200);
  const metrics = await fetch(stack.gateway.metricsUrl).then((r) => r.text());
  expect(metrics).toMatch(/govx_rate_limited_total\{department="tax",limit="key-requests"\} [1-9]/);
});

it('counts a single sign-on session under its user, so two sessions of one user share one budget', async () => {
  const subject = `oidc:flood-${Date.now()}`;
  const open = async () => `govx_session=${(await createSession(stack.pool, { department: 'civil-affairs', role: 'consumer', subject, method: 'oidc', ttlMinutes: 10 })).id}`;
  const [first, second] = [await open(), await open()];
  let refused: Awaited<ReturnType<typeof httpJson>> | undefined;
  for (let i = 0; i < 20 && !refused; i++) {
    // The two sessions take turns, each under the limit by itself within a burst.
    const answers = await Promise.all(Array.from({ length: 2 * LIMIT }, (_, n) => httpJson(`${stack.url}/v1/me`, { headers: { cookie: n % 2 ? first : second } })));
    refused = answers.find((r) => r.status === 429);
    if (!refused) await sleep(50);
  }
  expect(refused?.body.error).toMatchObject({ code: 'rate_limited', details: { limit: 'key-requests' } });
  const { rows } = await stack.pool.query<{ n: string }>('SELECT coalesce(sum(count), 0) AS n FROM rate_limit_windows WHERE key_id = $1', [`user:${subject.slice('oidc:'.length)}`]);
  expect(Number(rows[0]!.n)).toBeGreaterThan(LIMIT);
});
