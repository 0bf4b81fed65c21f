import { generateSample } from '../../../schemas/samples';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

// Reading a shared topic from the beginning can take a while on a busy broker.
jest.setTimeout(60_000);

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ GOVX_RATE_LIMIT_RECORDS_PER_SEC: '10', GOVX_RATE_LIMIT_REQUESTS_PER_SEC: '3' });
});
afterAll(async () => {
  await stack?.close();
});

const publish = (dataset: string, key: string, count: number) =>
  httpJson(`${stack.url}/v1/datasets/${dataset}/records`, { method: 'POST', key, body: { records: generateSample(dataset, count) } });

it('answers 429 rate_limited with Retry-After to a department over its records rate, and serves the others', async () => {
  const psb = await stack.key('psb', 'publisher');
  // 40 records from a full bucket of 10 are admitted and leave it 30 in debt: 3 s before the next record
  // fits, so the next request is refused however slowly this machine runs the first one.
  expect((await publish('population.residents', psb, 40)).status).toBe(200);
  const over = await publish('population.residents', psb, 10);
  expect(over.status).toBe(429);
  expect(over.body.error).toMatchObject({ code: 'rate_limited', details: { limit: 'records', perSecond: 10 } });
  expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect((await publish('legal-entity.registry', await stack.key('amr', 'publisher'), 1)).status).toBe(200);
  const metrics = await fetch(stack.gateway.metricsUrl).then((r) => r.text());
  expect(metrics).toMatch(/govx_rate_limited_total\{department="psb",limit="records"\} [1-9]/);
});

it('answers 429 to a department sending more requests a second than allowed', async () => {
  const key = await stack.key('psb', 'publisher');
  // the department's records bucket is spent by the test above, so send requests without records
  const results = await Promise.all(
    Array.from({ length: 8 }, () => httpJson(`${stack.url}/v1/datasets/population.residents/records`, { method: 'POST', key, body: { records: [] } })),
  );
  const limited = results.filter((r) => r.status === 429);
  expect(limited.length).toBeGreaterThan(0);
  expect(limited[0]!.body.error.details.limit).toBe('requests');
});
