import { generateSample } from '../../../schemas/samples';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

/**
 * An attack on the gateway's memory: many concurrent bodies near the body limit. Each process reads and works
 * on a bounded number of bytes of large bodies at once; the rest wait in a short queue or are refused with
 * 429 publish.busy and Retry-After — never a 5xx — while ordinary small batches are served as usual.
 */

jest.setTimeout(180_000);

const DATASET = 'population.residents';
const MB = 1024 * 1024;
let stack: TestStack;
let publisher: string;

beforeAll(async () => {
  stack = await startTestStack({
    GOVX_LARGE_BODY_BUDGET_BYTES: '16mb',
    GOVX_LARGE_BODY_QUEUE: '2',
    GOVX_RATE_LIMIT_REQUESTS_PER_SEC: '0',
    GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC: '100000',
  });
  publisher = await stack.key('psb', 'publisher');
});
afterAll(async () => {
  await stack?.close();
});

const url = () => `${stack.url}/v1/datasets/${DATASET}/records`;

it('answers 20 concurrent 15 MB bodies with their own answer or 429 publish.busy and Retry-After, never a 5xx, and serves small batches meanwhile', async () => {
  const [record] = generateSample(DATASET, 1, 15);
  // one record with a 15 MB address: refused by field (max-length) and dead-lettered, after being read and parsed
  const body = JSON.stringify({ records: [{ ...record, address: 'x'.repeat(15 * MB) }] });
  const large = Array.from({ length: 20 }, () =>
    fetch(url(), { method: 'POST', headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' }, body }).then(async (res) => ({
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as { accepted?: number; rejected?: Array<{ errors: Array<{ rule?: string }> }>; error?: { code: string; details?: unknown } },
    })),
  );
  const small = await httpJson(url(), { method: 'POST', key: publisher, body: { records: generateSample(DATASET, 50, 16) } });
  expect(small.status).toBe(200);
  expect(small.body.accepted).toBe(50);

  const answers = await Promise.all(large);
  expect(answers.filter((a) => a.status >= 500)).toEqual([]);
  for (const a of answers) {
    if (a.status === 200) expect(a.body).toMatchObject({ accepted: 0, rejected: [{ index: 0, errors: [{ path: 'address', rule: 'max-length' }] }] });
    else {
      expect(a.status).toBe(429);
      expect(a.retryAfter).toBe('1');
      expect(a.body.error).toMatchObject({ code: 'publish.busy', details: { limit: 'large-bodies', budgetBytes: 16 * MB, maxWaiting: 2 } });
    }
  }
  // one at a time, two waiting: most of the twenty are refused, and at least the first is served
  expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(1);
  expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(10);

  expect((await httpJson(`${stack.url}/readyz`)).status).toBe(200);
  const metrics = await fetch(stack.gateway.metricsUrl).then((r) => r.text());
  expect(metrics).toMatch(/govx_rate_limited_total\{department="psb",limit="large-bodies"\} [1-9]/);
});

it('still answers 413 request.too_large to a body over the limit without making it wait', async () => {
  const res = await httpJson(url(), { method: 'POST', key: publisher, rawBody: `{"records":["${'x'.repeat(17 * MB)}"]}`, headers: { 'content-type': 'application/json' } });
  expect(res.status).toBe(413);
  expect(res.body.error.code).toBe('request.too_large');
});

it('refuses a body of more records than allowed from a count of its bytes, in JSON and NDJSON, and keeps serving', async () => {
  const max = stack.config.maxRecordsPerRequest;
  const json = await httpJson(url(), { method: 'POST', key: publisher, rawBody: `{"records":[${'{},'.repeat(200_000)}{}]}`, headers: { 'content-type': 'application/json' } });
  expect(json.status).toBe(413);
  expect(json.body.error).toMatchObject({ code: 'publish.too_many_records', message: expect.stringContaining(String(max)) });
  const ndjson = await httpJson(url(), { method: 'POST', key: publisher, rawBody: '{}\n'.repeat(max + 1), headers: { 'content-type': 'application/x-ndjson' } });
  expect(ndjson.status).toBe(413);
  expect(ndjson.body.error.code).toBe('publish.too_many_records');
  const [record] = generateSample(DATASET, 1, 17);
  const lines = `${JSON.stringify(record)}\nnot json\n${JSON.stringify({ ...record, name: 'a\u0000' })}\n`;
  const nul = await httpJson(url(), { method: 'POST', key: publisher, rawBody: lines, headers: { 'content-type': 'application/x-ndjson' } });
  expect(nul.status).toBe(400);
  expect(nul.body.error).toMatchObject({ code: 'request.invalid_text', details: [{ path: 'records[2].name' }] });
});
