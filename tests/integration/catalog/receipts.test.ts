import crypto from 'node:crypto';
import { verifyAuditChain } from '../../../catalog/audit';
import { applyCatalog, readCatalogFile, seedCatalogFile } from '../../../catalog/catalogFile';
import { defaultSchemaSubject } from '../../../catalog/datasets';
import { reconcileReceipts } from '../../../catalog/receiptReconciler';
import { GOVX_DISTRIBUTOR, ReceiptLedger } from '../../../catalog/receipts';
import { kafkajsPort } from '../../../lib/kafkaPort';
import { createLogger } from '../../../lib/logger';
import { generateSample } from '../../../schemas/samples';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';
import { eventually } from '../connectors/connectSupport';

/**
 * Every movement of records is on the audit trail as a receipt, one per batch: publish (publish.batch), the
 * distributor's writes to share topics (delivery.receipt, channel kafka), HTTP pull and SSE. What Kafka holds
 * and no receipt covers is found by the reconciler and covered from the records' own headers.
 */
jest.setTimeout(180_000);

let stack: TestStack;
const topics: string[] = [];
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  const admin = stack.kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  await admin.deleteTopics({ topics: topics.filter((t) => existing.has(t)) }).catch(() => undefined);
  await admin.disconnect();
  await stack?.close();
});

async function privateResidents(label: string): Promise<string> {
  const seed = readCatalogFile(seedCatalogFile).find((d) => d.definition.id === 'population.residents')!;
  const id = `receipts.${label}-${crypto.randomBytes(4).toString('hex')}`;
  await applyCatalog(stack.pool, [{ ...seed, definition: { ...seed.definition, id, schemaSubject: defaultSchemaSubject(id) } }], { actor: 'info-office' });
  topics.push(`govx.dataset.${id}`, `govx.dlq.${id}`);
  return id;
}

interface Receipt {
  seq: number;
  action: string;
  target: string;
  actor_department: string;
  details: Record<string, any>;
}

async function receiptsOf(target: string, action: string): Promise<Receipt[]> {
  const { rows } = await stack.pool.query<Receipt>(
    'SELECT seq::int, action, target, actor_department, details FROM audit_log WHERE target = $1 AND action = $2 ORDER BY seq',
    [target, action],
  );
  return rows;
}

/** offset → covered, from receipt details (one range per receipt for deliveries, offsets[] for publish) */
function coveredOffsets(receipts: Receipt[]): Set<string> {
  const covered = new Set<string>();
  for (const r of receipts) {
    const ranges = r.action === 'publish.batch' ? r.details.offsets : [r.details];
    for (const o of ranges) for (let i = BigInt(o.fromOffset); i <= BigInt(o.toOffset); i++) covered.add(`${o.partition}:${i}`);
  }
  return covered;
}

async function topicOffsets(topic: string): Promise<Set<string>> {
  const admin = stack.kafka.admin();
  await admin.connect();
  try {
    const all = new Set<string>();
    for (const o of await admin.fetchTopicOffsets(topic)) for (let i = BigInt(o.low); i < BigInt(o.high); i++) all.add(`${o.partition}:${i}`);
    return all;
  } finally {
    await admin.disconnect();
  }
}

describe('the receipt ledger', () => {
  it('appends the receipts of concurrent writers as separate, intact links of the chain, with their Kafka ranges', async () => {
    const ledger = new ReceiptLedger(stack.pool);
    const dataset = `ledger-${crypto.randomUUID()}`;
    const sub = { id: `sub-${crypto.randomBytes(8).toString('hex')}`, dataset, consumer: 'civil-affairs', grantVersion: 3 };
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        ledger.delivery({ subscription: sub, channel: 'kafka', actor: GOVX_DISTRIBUTOR, topic: `govx.share.${sub.id}`, partition: i % 3, fromOffset: String(i * 10), toOffset: String(i * 10 + 9), count: 10 }),
      ),
    );
    const receipts = await receiptsOf(`subscription:${sub.id}`, 'delivery.receipt');
    expect(receipts).toHaveLength(25);
    expect(receipts[0]!.details).toMatchObject({ subscription: sub.id, dataset, consumer: 'civil-affairs', grantVersion: 3, channel: 'kafka', count: 10 });
    const ranges = await stack.pool.query('SELECT count(*)::int AS n FROM audit_receipt_ranges WHERE topic = $1', [`govx.share.${sub.id}`]);
    expect(ranges.rows[0].n).toBe(25);
    expect((await verifyAuditChain(stack.pool)).ok).toBe(true);
  });

  it('keeps the good receipts of a group when one of them is refused', async () => {
    const ledger = new ReceiptLedger(stack.pool);
    const dataset = `ledger-${crypto.randomUUID()}`;
    const receipt = (consumer: string, id: string) =>
      ledger.delivery({ subscription: { id, dataset, consumer, grantVersion: 1 }, channel: 'http-pull', actor: { department: consumer || 'x' }, topic: `govx.share.${id}`, partition: 0, fromOffset: '0', toOffset: '0', count: 1 });
    const results = await Promise.allSettled([receipt('tax', 'sub-good1'), receipt('tax', 'sub-bad\u0000'), receipt('tax', 'sub-good2')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const { rows } = await stack.pool.query(`SELECT target FROM audit_log WHERE details->>'dataset' = $1 ORDER BY seq`, [dataset]);
    expect(rows.map((r) => r.target)).toEqual(['subscription:sub-good1', 'subscription:sub-good2']);
  });
});

describe('every delivery is a receipt', () => {
  it('publish, share topic, HTTP pull and SSE each leave receipts that cover exactly what moved', async () => {
    const dataset = await privateResidents('flow');
    const psb = await stack.key('psb', 'publisher');
    const steward = await stack.key('psb', 'steward');
    const civil = await stack.key('civil-affairs', 'consumer');
    const api = (p: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${stack.url}${p}`, init);

    const asked = await api('/v1/subscriptions', {
      key: civil,
      body: { dataset, fields: ['name', 'birth_date', 'household_district'], purpose: '回执测试', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(asked.status).toBe(201);
    const subId = asked.body.id as string;
    topics.push(`govx.share.${subId}`);
    expect((await api(`/v1/subscriptions/${subId}/approve`, { key: steward, body: {} })).body.status).toBe('approved');

    const records = generateSample('population.residents', 40, 777);
    for (const slice of [records.slice(0, 25), records.slice(25)]) {
      expect((await api(`/v1/datasets/${dataset}/records`, { key: psb, body: { records: slice } })).body.accepted).toBe(slice.length);
    }

    // publish: every record of the dataset topic is covered by a publish.batch of psb
    const published = await receiptsOf(`dataset:${dataset}`, 'publish.batch');
    expect(published).toHaveLength(2);
    expect(published.map((r) => [r.actor_department, r.details.publisher, r.details.dataset, r.details.count])).toEqual([
      ['psb', 'psb', dataset, 25],
      ['psb', 'psb', dataset, 15],
    ]);
    expect(coveredOffsets(published)).toEqual(await topicOffsets(`govx.dataset.${dataset}`));

    // share topic: the distributor's writes, covered offset by offset, under the grant
    const shareTopic = `govx.share.${subId}`;
    const kafkaReceipts = await eventually('the distributor to record all 40 share records', async () => {
      const got = (await receiptsOf(`subscription:${subId}`, 'delivery.receipt')).filter((r) => r.details.channel === 'kafka');
      return got.reduce((n, r) => n + r.details.count, 0) >= 40 ? got : undefined;
    }, 90_000);
    expect(kafkaReceipts.reduce((n, r) => n + r.details.count, 0)).toBe(40);
    for (const r of kafkaReceipts) {
      expect(r.actor_department).toBe('govx');
      expect(r.details).toMatchObject({ subscription: subId, dataset, consumer: 'civil-affairs', channel: 'kafka', topic: shareTopic });
      expect(typeof r.details.grantVersion).toBe('number');
    }
    expect(coveredOffsets(kafkaReceipts)).toEqual(await topicOffsets(shareTopic));

    // HTTP pull: one receipt per partition read, before the answer
    const pulled = await api(`/v1/subscriptions/${subId}/records?limit=1000&waitMs=5000`, { key: civil });
    expect(pulled.status).toBe(200);
    const pullReceipts = (await receiptsOf(`subscription:${subId}`, 'delivery.receipt')).filter((r) => r.details.channel === 'http-pull');
    expect(pullReceipts.reduce((n, r) => n + r.details.count, 0)).toBe(pulled.body.records.length);
    expect(pullReceipts.every((r) => r.actor_department === 'civil-affairs')).toBe(true);
    const pulledOffsets = new Set<string>(pulled.body.records.map((r: { partition: number; offset: string }) => `${r.partition}:${r.offset}`));
    expect(coveredOffsets(pullReceipts)).toEqual(pulledOffsets);

    // SSE: the records written to the stream, recorded when it ends
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/v1/subscriptions/${subId}/stream?cursor=${encodeURIComponent(Buffer.from('{}').toString('base64url'))}`, {
      headers: { authorization: `Bearer ${civil}` },
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/event: record/g) ?? []).length < 40) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    controller.abort();
    const streamed = (text.match(/event: record/g) ?? []).length;
    expect(streamed).toBe(40);
    const sseReceipts = await eventually('the stream receipts', async () => {
      const got = (await receiptsOf(`subscription:${subId}`, 'delivery.receipt')).filter((r) => r.details.channel === 'sse');
      return got.reduce((n, r) => n + r.details.count, 0) >= streamed ? got : undefined;
    });
    expect(sseReceipts.reduce((n, r) => n + r.details.count, 0)).toBe(streamed);
    expect((await verifyAuditChain(stack.pool)).ok).toBe(true);
  });
});

describe('the receipt reconciler', () => {
  it('covers records that Kafka holds and no receipt does, once, from their headers', async () => {
    const dataset = await privateResidents('orphans');
    const psb = await stack.key('psb', 'publisher');
    // one batch through govx (receipted), then records written behind its back, as a writer that died after
    // Kafka's acknowledgement would leave them
    expect((await httpJson(`${stack.url}/v1/datasets/${dataset}/records`, { key: psb, body: { records: generateSample('population.residents', 5, 1) } })).body.accepted).toBe(5);
    const producer = stack.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: `govx.dataset.${dataset}`,
      acks: -1,
      messages: Array.from({ length: 7 }, (_, i) => ({ key: `k${i}`, value: Buffer.from([0]), partition: 0, headers: { 'govx-publisher': 'psb', 'govx-trace-id': 'req-orphan', 'govx-schema-id': '1' } })),
    });
    await producer.disconnect();
    const deps = { pool: stack.pool, kafka: kafkajsPort(stack.kafka), log: createLogger('silent', 'test') };

    await eventually('a reconciliation pass that is not another process', async () => (await reconcileReceipts(deps, { graceMs: 0 })).ran || undefined);
    const receipts = await receiptsOf(`dataset:${dataset}`, 'publish.batch');
    const reconciled = receipts.filter((r) => r.details.reconciled === true);
    expect(reconciled).toHaveLength(1);
    expect(reconciled[0]!.details).toMatchObject({ publisher: 'psb', count: 7, dataset });
    expect(coveredOffsets(receipts)).toEqual(await topicOffsets(`govx.dataset.${dataset}`));

    // a second pass finds nothing left to cover
    await eventually('a second pass', async () => (await reconcileReceipts(deps, { graceMs: 0 })).ran || undefined);
    expect((await receiptsOf(`dataset:${dataset}`, 'publish.batch')).filter((r) => r.details.reconciled === true)).toHaveLength(1);
  });
});
