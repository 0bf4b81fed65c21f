import fs from 'node:fs';
import path from 'node:path';
import { compileNaturalType } from '../../../schemas/codec';
import { generateSample, type SampleRecord } from '../../../schemas/samples';
import type { ReadMessage } from '../../support/stack';
import { type ConnectTestStack, readTopicFrom, startConnectTestStack, topicEnd } from './connectSupport';

jest.setTimeout(180_000);

const SAMPLE = 'population.residents';
/** A copy of population.residents of this file's own, so its thousands of records stay off the shared topic. */
let DATASET: string;
let TOPIC: string;
let DLQ: string;

let stack: ConnectTestStack;
let steward: string;

beforeAll(async () => {
  stack = await startConnectTestStack('filesrc');
  DATASET = await stack.privateResidents();
  TOPIC = `govx.dataset.${DATASET}`;
  DLQ = `govx.dlq.${DATASET}`;
  steward = await stack.key('psb', 'steward');
});
afterAll(async () => {
  await stack?.close();
});

const fromConnector = (name: string) => (m: ReadMessage) => m.headers['govx-trace-id']?.startsWith(`connect-${name}-`);
const ndjson = (records: unknown[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

function unique(count: number, seed: number): SampleRecord[] {
  const seen = new Set<string>();
  return generateSample(SAMPLE, count * 2, seed).filter((r) => !seen.has(r.id_number as string) && seen.add(r.id_number as string)).slice(0, count);
}

async function createSource(name: string, dir: string, extra: Record<string, string>): Promise<void> {
  fs.mkdirSync(path.join(stack.dirOf('psb'), dir), { recursive: true });
  const res = await stack.api(
    'POST',
    '/v1/connectors',
    { name, config: { 'connector.class': 'file-source', dataset: DATASET, 'file.path': dir, 'poll.interval.ms': '100', ...extra } },
    steward,
  );
  expect(res.status).toBe(201);
}

async function decodeAll(messages: ReadMessage[]): Promise<Array<Record<string, unknown>>> {
  const { rows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [messages[0]!.value!.readInt32BE(1)]);
  const type = compileNaturalType(JSON.parse(rows[0].schema));
  return messages.map((m) => type.fromBuffer(m.value!.subarray(5)) as Record<string, unknown>);
}

describe('the file-source connector', () => {
  it('publishes each NDJSON file of the directory once, dead-letters a line that is not JSON, and picks up new files', async () => {
    const [topicMark, dlqMark] = await Promise.all([topicEnd(stack.kafka, TOPIC), topicEnd(stack.kafka, DLQ)]);
    const name = `${stack.prefix}ndjson`;
    const dir = path.join(stack.dirOf('psb'), 'psb-ndjson');
    const [a, b, c] = [unique(5, 11), unique(3, 12), unique(2, 13)];
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a.ndjson'), ndjson(a));
    fs.writeFileSync(path.join(dir, 'b.ndjson'), `${ndjson(b.slice(0, 2))}{"id_number": "11010\n${ndjson(b.slice(2))}`);
    fs.writeFileSync(path.join(dir, 'ignored.csv'), 'not,for,this,connector\n');
    await createSource(name, 'psb-ndjson', { format: 'ndjson', 'errors.tolerance': 'all' });
    const worker = await stack.startWorker();
    try {
      await stack.waitForStatus(name, (s) => s.records.out === 8 && s.records.deadLettered === 1);
      fs.writeFileSync(path.join(dir, 'c.ndjson'), ndjson(c));
      await stack.waitForStatus(name, (s) => s.records.out === 10);
    } finally {
      await worker.close();
    }
    // A new worker finds every file done and publishes nothing again.
    const again = await stack.startWorker();
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect((await stack.waitForStatus(name, (s) => s.connector.state === 'RUNNING')).records).toEqual({ in: 11, out: 10, deadLettered: 1 });
    } finally {
      await again.close();
    }
    const mine = (await readTopicFrom(stack.kafka, TOPIC, topicMark, (got) => got.filter(fromConnector(name)).length >= 10)).filter(fromConnector(name));
    expect(mine.map((m) => String(m.key)).sort()).toEqual([...a, ...b, ...c].map((r) => r.id_number as string).sort());
    const dead = (await readTopicFrom(stack.kafka, DLQ, dlqMark, (got) => got.some((m) => m.headers['govx-connector'] === name))).filter(
      (m) => m.headers['govx-connector'] === name,
    );
    expect(dead[0]!.headers).toMatchObject({ 'govx-error-class': 'parse', 'govx-source': 'b.ndjson record 3 (line 3)' });
    expect(dead[0]!.value!.toString()).toBe('{"id_number": "11010');
    const { rows } = await stack.pool.query(`SELECT partition, position FROM connector_offsets WHERE name = $1 ORDER BY partition`, [name]);
    expect(rows.map((r) => [r.partition, r.position.records, r.position.done])).toEqual([
      ['a.ndjson', 5, true],
      ['b.ndjson', 4, true],
      ['c.ndjson', 2, true],
    ]);
  });

  it('converts CSV cells by the dataset schema: empty optional cells become null', async () => {
    const mark = await topicEnd(stack.kafka, TOPIC);
    const name = `${stack.prefix}csv`;
    const records = unique(4, 21).map((r, i) => (i % 2 ? { ...r, ethnicity: null, phone: null } : r));
    const columns = Object.keys(records[0]!);
    const cell = (v: unknown) => (v === null || v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`);
    const csv = `${columns.join(',')}\r\n${records.map((r) => columns.map((c) => cell(r[c])).join(',')).join('\r\n')}\r\n`;
    fs.mkdirSync(path.join(stack.dirOf('psb'), 'psb-csv'));
    fs.writeFileSync(path.join(stack.dirOf('psb'), 'psb-csv', 'residents-2025-06.csv'), `\uFEFF${csv}`);
    await createSource(name, 'psb-csv', { format: 'csv' });
    const worker = await stack.startWorker();
    try {
      const status = await stack.waitForStatus(name, (s) => s.records.out === 4);
      expect(status.records.deadLettered).toBe(0);
    } finally {
      await worker.close();
    }
    const mine = (await readTopicFrom(stack.kafka, TOPIC, mark, (got) => got.filter(fromConnector(name)).length >= 4)).filter(fromConnector(name));
    const decoded = await decodeAll(mine);
    for (const r of records) expect(decoded.find((d) => d.id_number === r.id_number)).toEqual(r);
  });

  it('resumes a large file mid-way after a restart without publishing a record twice', async () => {
    const mark = await topicEnd(stack.kafka, TOPIC);
    const name = `${stack.prefix}resume`;
    const records = unique(1000, 31);
    fs.mkdirSync(path.join(stack.dirOf('psb'), 'psb-big'));
    fs.writeFileSync(path.join(stack.dirOf('psb'), 'psb-big', 'big.ndjson'), ndjson(records));
    await createSource(name, 'psb-big', { format: 'ndjson', 'batch.max.rows': '10' });
    const first = await stack.startWorker();
    let atStop: any;
    try {
      atStop = await stack.waitForStatus(name, (s) => s.records.out >= 50);
    } finally {
      await first.close();
    }
    const { rows } = await stack.pool.query(`SELECT position FROM connector_offsets WHERE name = $1`, [name]);
    expect(rows[0].position.done).toBe(false);
    const second = await stack.startWorker();
    let status: any;
    try {
      status = await stack.waitForStatus(name, (s) => s.records.out === 1000, 120_000);
    } finally {
      await second.close();
    }
    expect(atStop.records.out).toBeLessThan(1000);
    expect(status.records).toEqual({ in: 1000, out: 1000, deadLettered: 0 });
    const mine = (await readTopicFrom(stack.kafka, TOPIC, mark, (got) => got.filter(fromConnector(name)).length >= 1000, 90_000)).filter(fromConnector(name));
    expect(new Set(mine.map((m) => String(m.key))).size).toBe(1000);
  });
});
