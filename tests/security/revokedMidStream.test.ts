import crypto from 'node:crypto';
import { httpJson, readTopicUntil, startTestStack, type TestStack } from '../support/stack';

/**
 * The distributor keeps the live set of a dataset's subscriptions between batches and reads it again only
 * when a cheap fingerprint of the dataset's subscriptions changes (decision 0013). The attack: records flow
 * without pause, so the pipe's cached set is warm and in use, and the owner revokes one subscription in the
 * middle of the stream. No record whose publish began after the revocation was answered may reach the
 * revoked subscription's share topic; a control subscription on the same dataset receives every one of them.
 */

let stack: TestStack;
let admin: string;
let publisher: string;
let steward: string;
let consumer: string;
let control: string;

beforeAll(async () => {
  stack = await startTestStack();
  admin = await stack.key('info-office', 'admin');
  publisher = await stack.key('statistics', 'publisher');
  steward = await stack.key('statistics', 'steward');
  consumer = await stack.key('haidian', 'consumer');
  control = await stack.key('tax', 'consumer');
});
afterAll(async () => {
  await stack?.close();
});

const api = (path: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${stack.url}${path}`, init);
const inOneYear = () => new Date(Date.now() + 365 * 86_400_000).toISOString();
async function topicSize(topic: string): Promise<number> {
  const kafkaAdmin = stack.kafka.admin();
  await kafkaAdmin.connect();
  try {
    return (await kafkaAdmin.fetchTopicOffsets(topic)).reduce((total, o) => total + Number(o.high) - Number(o.low), 0);
  } finally {
    await kafkaAdmin.disconnect();
  }
}

const schema = { type: 'record', name: 'Indicator', namespace: 'govx.test', fields: [{ name: 'code', type: 'string' }, { name: 'value', type: 'double' }] };

it('delivers nothing published after the revocation was answered to the revoked subscription, while records keep flowing', async () => {
  const dataset = `test.revoke-stream-${Date.now().toString(36)}`;
  const created = await api('/v1/datasets', {
    key: admin,
    body: {
      id: dataset, title: { zh: '撤销测试', en: 'Revocation test' }, owner: 'statistics', category: 'macro-economy', abstract: 'For a test.',
      sharing: { type: 'unconditional' }, updateCycle: 'quarterly', keyField: 'code', status: 'active', schema, fields: { value: { sensitivity: 1 } },
    },
  });
  expect(created.status).toBe(201);
  const subscribe = async (key: string) => {
    const res = await api('/v1/subscriptions', { key, body: { dataset, fields: ['code', 'value'], purpose: '撤销攻击', expiresAt: inOneYear(), startFrom: 'latest' } });
    expect(res.body.status).toBe('approved');
    return res.body as { id: string; topic: string };
  };
  const target = await subscribe(consumer);
  const witness = await subscribe(control);

  const before = new Set<string>();
  const after = new Set<string>();
  let revokedAt = Infinity;
  let n = 0;
  const publishOne = async (): Promise<void> => {
    const traceId = crypto.randomUUID();
    const startedAt = Date.now();
    const res = await api(`/v1/datasets/${dataset}/records`, { key: publisher, headers: { 'x-request-id': traceId }, body: { records: [{ code: `C${n}`, value: n }] } });
    n += 1;
    expect(res.status).toBe(200);
    (startedAt > revokedAt ? after : before).add(traceId);
  };

  // the stream runs until well after the revocation; the revocation comes once the target has records (its pipe is warm)
  let streaming = true;
  const stream = (async () => {
    while (streaming) await publishOne();
  })();
  await readTopicUntil(stack.kafka, target.topic, (m) => m.length >= 3, 60_000);
  const revoked = await api(`/v1/subscriptions/${target.id}/revoke`, { key: steward, body: { reason: 'attack' } });
  expect(revoked.status).toBe(200);
  revokedAt = Date.now();
  while (after.size < 15) await new Promise((r) => setTimeout(r, 50));
  streaming = false;
  await stream;

  // every record published after the revocation reached the control subscription …
  const seen = await readTopicUntil(stack.kafka, witness.topic, (m) => [...after].every((t) => m.some((x) => x.headers['govx-trace-id'] === t)), 60_000);
  expect(seen.length).toBeGreaterThanOrEqual(before.size + after.size);
  // … and none of them the revoked one
  const size = await topicSize(target.topic);
  const delivered = await readTopicUntil(stack.kafka, target.topic, (m) => m.length >= size, 20_000);
  expect(delivered.filter((m) => after.has(String(m.headers['govx-trace-id'])))).toEqual([]);
});
