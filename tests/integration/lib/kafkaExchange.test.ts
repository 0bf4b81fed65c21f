import crypto from 'node:crypto';
import { KafkaExchange, type ProducedRange } from '../../../lib/kafkaExchange';
import { kafkajsPort } from '../../../lib/kafkaPort';
import { createLogger } from '../../../lib/logger';
import { readTopicUntil, testKafka } from '../../support/stack';

// Reading a shared topic from the beginning can take a while on a busy broker.
jest.setTimeout(60_000);

const kafka = testKafka();
const log = createLogger('silent', 'govx-test');
const exchanges: KafkaExchange[] = [];
const topics: string[] = [];

function exchange(opts: { lingerMs?: number; maxBatchBytes?: number } = {}): KafkaExchange {
  const e = new KafkaExchange(kafkajsPort(kafka), { partitions: 3, replicationFactor: 1, timeoutMs: 15000, ...opts }, log);
  exchanges.push(e);
  return e;
}

function freshTopic(): string {
  const topic = `govx.test.exchange-${crypto.randomUUID()}`;
  topics.push(topic);
  return topic;
}

afterAll(async () => {
  await Promise.all(exchanges.map((e) => e.close()));
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
});

/** Reads the topic back and checks that each caller's ranges hold exactly that caller's messages. */
async function expectRangesHoldTheirMessages(topic: string, callers: Array<{ keys: string[]; ranges: ProducedRange[] }>): Promise<void> {
  const total = callers.reduce((n, c) => n + c.keys.length, 0);
  const got = await readTopicUntil(kafka, topic, (all) => all.length >= total);
  const at = new Map(got.map((m) => [`${m.partition}:${m.offset}`, String(m.key)]));
  for (const caller of callers) {
    const landed: string[] = [];
    for (const r of caller.ranges) for (let i = 0n; i < BigInt(r.count); i++) landed.push(at.get(`${r.partition}:${BigInt(r.baseOffset) + i}`)!);
    expect(landed.sort()).toEqual([...caller.keys].sort());
  }
}

describe('KafkaExchange', () => {
  it('coalesces concurrent produces to one topic into fewer produce requests and tells each caller its own offsets', async () => {
    const e = exchange({ lingerMs: 20 });
    const topic = freshTopic();
    const callers = Array.from({ length: 20 }, (_, c) => ({ keys: Array.from({ length: 10 }, (_, i) => `caller-${c}-record-${i}`), ranges: [] as ProducedRange[] }));
    await Promise.all(
      callers.map(async (c) => {
        c.ranges = await e.produce(topic, c.keys.map((key) => ({ key, value: Buffer.from(`value of ${key}`) })));
      }),
    );
    expect(e.stats.messages).toBe(200);
    expect(e.stats.produceRequests).toBeLessThan(20);
    await expectRangesHoldTheirMessages(topic, callers);
  });

  it('splits a caller larger than one produce request into several and still reports every offset', async () => {
    const e = exchange({ maxBatchBytes: 2048 });
    const topic = freshTopic();
    const keys = Array.from({ length: 60 }, (_, i) => `big-${i}`);
    const ranges = await e.produce(topic, keys.map((key) => ({ key, value: Buffer.alloc(200, 1) })));
    expect(e.stats.produceRequests).toBeGreaterThan(1);
    expect(ranges.reduce((n, r) => n + r.count, 0)).toBe(60);
    await expectRangesHoldTheirMessages(topic, [{ keys, ranges }]);
  });
});
