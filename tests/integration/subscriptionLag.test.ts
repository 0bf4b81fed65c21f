import { createIndicatorDataset, requestIndicators, unique, until } from '../support/fixtures';
import { httpJson, startTestStack, type TestStack } from '../support/stack';

/**
 * A subscription's lag, as its owner's stewards and its consumer see it: what the distributor has not copied
 * yet, and what each reader (HTTP pull, the department's own Kafka groups) has not taken from the share topic.
 */

let stack: TestStack;
let dataset: string;
let steward: string;
let consumer: string;
let sub: { id: string; topic: string };
beforeAll(async () => {
  stack = await startTestStack();
  dataset = await createIndicatorDataset(stack.url, await stack.key('info-office', 'admin'), { owner: 'statistics' });
  steward = await stack.key('statistics', 'steward');
  consumer = await stack.key('tax', 'consumer');
  sub = await requestIndicators(stack.url, consumer, dataset);
  const publisher = await stack.key('statistics', 'publisher');
  const records = [1, 2, 3].map((n) => ({ code: `IND-${n}`, value: n }));
  expect((await httpJson(`${stack.url}/v1/datasets/${dataset}/records`, { key: publisher, body: { records } })).body.accepted).toBe(3);
});
afterAll(async () => {
  await stack?.close();
});

const lagOf = async (key: string) => {
  const res = await httpJson(`${stack.url}/v1/subscriptions/${sub.id}/lag`, { key });
  expect(res.status).toBe(200);
  return res.body;
};

it('counts every record on the share topic as behind before anyone has read, once distribution has caught up', async () => {
  const lag = await until('the three records distributed', async () => {
    const l = await lagOf(steward);
    return l.shareRecords === 3 && l.distribution?.lag === 0 ? l : null;
  });
  expect(lag).toMatchObject({ subscription: sub.id, distribution: { lag: 0 }, consumers: [], lag: 3 });
});

it("follows HTTP pull's cursor", async () => {
  const first = await httpJson(`${stack.url}/v1/subscriptions/${sub.id}/records?limit=2&waitMs=5000`, { key: consumer });
  expect(first.body.records).toHaveLength(2);
  // passing the cursor back commits it: two records taken, one behind
  await httpJson(`${stack.url}/v1/subscriptions/${sub.id}/records?limit=1&waitMs=0&cursor=${first.body.cursor}`, { key: consumer });
  const lag = await lagOf(consumer);
  expect(lag.consumers).toEqual([{ channel: 'http', name: null, lag: 1 }]);
  expect(lag.lag).toBe(1);
});

it("counts the consumer department's own Kafka groups that read the share topic", async () => {
  const groupId = `dept.tax.lag-${unique()}`;
  const admin = stack.kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(sub.topic);
    await admin.setOffsets({ groupId, topic: sub.topic, partitions: ends.map((o) => ({ partition: o.partition, offset: o.high })) });
  } finally {
    await admin.disconnect();
  }
  const lag = await lagOf(steward);
  expect(lag.consumers).toContainEqual({ channel: 'kafka', name: groupId, lag: 0 });
  // the subscription asked for HTTP delivery: its headline stays HTTP pull's
  expect(lag.lag).toBe(1);
});

it('is not there for another department, and says nothing is delivering once revoked', async () => {
  const other = await httpJson(`${stack.url}/v1/subscriptions/${sub.id}/lag`, { key: await stack.key('planning', 'steward') });
  expect([other.status, other.body.error.code]).toEqual([404, 'subscription.not_found']);
  expect((await httpJson(`${stack.url}/v1/subscriptions/${sub.id}/revoke`, { key: steward, body: { reason: 'test' } })).status).toBe(200);
  expect(await lagOf(steward)).toMatchObject({ distribution: null, shareRecords: null, consumers: [], lag: null });
});
