import { compileNaturalType } from '../../schemas/codec';
import { encodeWireFormat } from '../../schemas/wireFormat';
import { decodeCursor, encodeCursor } from '../../gateway/httpDelivery';
import { createIndicatorDataset, requestIndicators, until } from '../support/fixtures';
import { httpJson, startTestStack, type TestStack } from '../support/stack';
import { recordFigures } from './figures';

/**
 * A record on a share topic that does not decode (only govx writes share topics, so this is govx's own
 * fault or an attack on the broker) must not stall HTTP delivery: pull and SSE step over it, count it,
 * audit it once, and hand out the good records after it with a cursor past it.
 */

let stack: TestStack;
let consumer: string;
let sub: { id: string; topic: string };

beforeAll(async () => {
  stack = await startTestStack();
  const admin = await stack.key('info-office', 'admin');
  consumer = await stack.key('tax', 'consumer');
  const dataset = await createIndicatorDataset(stack.url, admin, { owner: 'statistics' });
  sub = await requestIndicators(stack.url, consumer, dataset);
  const { rows } = await stack.pool.query('SELECT s.derived_schema_id AS id, r.schema FROM subscriptions s JOIN registry_schemas r ON r.id = s.derived_schema_id WHERE s.id = $1', [sub.id]);
  const schemaId: number = rows[0].id;
  const type = compileNaturalType(JSON.parse(rows[0].schema));
  const hostile = Buffer.alloc(16);
  hostile.writeUInt8(0, 0);
  hostile.writeInt32BE(schemaId, 1);
  hostile.set([0xfe, 0xff, 0xff, 0xff, 0x0f], 5); // a string "length" of about 2 GiB
  const good = (code: string) => encodeWireFormat(schemaId, type.toBuffer({ code, value: 1 }));
  const producer = stack.kafka.producer();
  await producer.connect();
  // one partition, bad records first: the good ones come through only if delivery gets past the bad ones
  await producer.send({
    topic: sub.topic,
    acks: -1,
    messages: [
      { key: 'evil', value: hostile, partition: 0 },
      { key: 'junk', value: Buffer.from('not avro at all'), partition: 0 },
      { key: 'G1', value: good('G1'), partition: 0 },
      { key: 'G2', value: good('G2'), partition: 0 },
    ],
  });
  await producer.disconnect();
});
afterAll(async () => {
  await stack?.close();
});

const pull = (query: string) => httpJson(`${stack.url}/v1/subscriptions/${sub.id}/records?${query}`, { key: consumer });

describe('a hostile record on a share topic', () => {
  it('is stepped over by pull: the good records after it arrive and the cursor moves past it', async () => {
    const first = await until('the good records', async () => {
      const res = await pull('limit=10&waitMs=2000');
      return res.status === 200 && res.body.records.length >= 2 ? res : null;
    });
    expect(first.body.records.map((r: { value: { code: string } }) => r.value.code)).toEqual(['G1', 'G2']);
    expect(decodeCursor(first.body.cursor)['0']).toBe('4');
    const next = await pull(`limit=10&waitMs=300&cursor=${first.body.cursor}`);
    expect([next.status, next.body.records.length]).toEqual([200, 0]);
  });

  it('is stepped over by SSE, with an event id past it', async () => {
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/v1/subscriptions/${sub.id}/stream?cursor=${encodeCursor({ '0': '0' })}`, {
      headers: { authorization: `Bearer ${consumer}` },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    try {
      while ((text.match(/event: record/g) ?? []).length < 2) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
    } finally {
      controller.abort();
    }
    const codes = [...text.matchAll(/event: record\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!).value.code);
    expect(codes).toEqual(['G1', 'G2']);
    expect(text.match(/event: skipped/g)).toHaveLength(2);
  });

  it('is counted and audited once each, by place and reason, never by content', async () => {
    const { rows } = await until('two delivery.skipped entries', async () => {
      const r = await stack.pool.query("SELECT details FROM audit_log WHERE action = 'delivery.skipped' AND target = $1 ORDER BY seq", [`subscription:${sub.id}`]);
      return r.rows.length >= 2 ? r : null;
    });
    // one entry per skipped record, whichever reader (pull or SSE) met it first; the order of their writes is not fixed
    const places = rows.map((r) => [r.details.partition, r.details.offset]).sort((a, b) => Number(a[1]) - Number(b[1]));
    expect(places).toEqual([[0, '0'], [0, '1']]);
    expect(JSON.stringify(rows)).not.toContain('not avro');
    const metrics = await (await fetch(stack.gateway.metricsUrl)).text();
    const skipped = [...metrics.matchAll(/^govx_share_records_skipped_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
    expect(skipped).toBeGreaterThanOrEqual(4); // two each by pull and by SSE
    recordFigures('hostile share record', { hostileRecords: 2, goodDeliveredByPull: 2, goodDeliveredBySse: 2, stalls: 0 });
  });
});
