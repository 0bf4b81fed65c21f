import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { verifyAuditChain } from '../../catalog/audit';
import { applyCatalog, readCatalogFile, seedCatalogFile } from '../../catalog/catalogFile';
import { defaultSchemaSubject } from '../../catalog/datasets';
import { createApiKey } from '../../catalog/keys';
import { createPool, type Pool } from '../../lib/db';
import { generateSample } from '../../schemas/samples';
import { httpJson, testKafka } from '../support/stack';
import { createDepartmentDatabase, ensureBuilt, eventually } from './connectors/connectSupport';

/**
 * Acknowledged records and their receipts never diverge: `govx serve` is killed (SIGKILL) exactly between
 * Kafka's acknowledgement and the receipt, once in the distributor (share topic) and once in the publish path,
 * and after a restart every record in the dataset topic and in the share topic is covered by a receipt.
 */
jest.setTimeout(420_000);

const root = path.resolve(__dirname, '..', '..');
const kafka = testKafka();
const topics: string[] = [];
let db: Awaited<ReturnType<typeof createDepartmentDatabase>>;
let pool: Pool;
let env: Record<string, string>;

interface Govx {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

function startGovx(extra: Record<string, string>): Promise<Govx> {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'govx.js'), 'serve', '--seed'], { env: { ...process.env, ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`govx serve did not start:\n${output.slice(-3000)}`)), 180_000);
    const watch = setInterval(() => {
      const url = /govx gateway on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) {
        clearInterval(watch);
        clearTimeout(timer);
        resolve({ child, url, exited, output: () => output });
      }
    }, 100);
    void exited.then(({ code }) => {
      clearInterval(watch);
      clearTimeout(timer);
      reject(new Error(`govx serve exited (${code}) before it served:\n${output.slice(-3000)}`));
    });
  });
}

beforeAll(async () => {
  ensureBuilt();
  db = await createDepartmentDatabase('receiptcrash');
  pool = createPool(db.url, { max: 3 });
  env = {
    DATABASE_URL: db.url,
    GOVX_PORT: '0',
    GOVX_DISTRIBUTOR_GROUP: `govx-receiptcrash-${crypto.randomBytes(4).toString('hex')}`,
    GOVX_RECEIPT_GRACE_MS: '1000',
    GOVX_RECEIPT_RECONCILE_INTERVAL_MS: '2000',
    GOVX_LOG_LEVEL: 'info',
  };
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  await admin.deleteTopics({ topics: topics.filter((t) => existing.has(t)) }).catch(() => undefined);
  await admin.disconnect();
});

/** partition:offset of every record the topic holds */
async function held(topic: string): Promise<Set<string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const all = new Set<string>();
    for (const o of await admin.fetchTopicOffsets(topic)) for (let i = BigInt(o.low); i < BigInt(o.high); i++) all.add(`${o.partition}:${i}`);
    return all;
  } finally {
    await admin.disconnect();
  }
}

/** partition:offset of every record some receipt says is in `topic` */
async function covered(topic: string): Promise<Set<string>> {
  const { rows } = await pool.query<{ action: string; details: Record<string, any> }>(
    `SELECT action, details FROM audit_log WHERE action IN ('publish.batch', 'delivery.receipt') AND details->>'topic' = $1`,
    [topic],
  );
  const out = new Set<string>();
  for (const { action, details } of rows) {
    if (action === 'delivery.receipt' && details.channel !== 'kafka') continue;
    const ranges = action === 'publish.batch' ? details.offsets : [details];
    for (const r of ranges) for (let i = BigInt(r.fromOffset); i <= BigInt(r.toOffset); i++) out.add(`${r.partition}:${i}`);
  }
  return out;
}

const uncovered = async (topic: string): Promise<string[]> => {
  const have = await covered(topic);
  return [...(await held(topic))].filter((o) => !have.has(o));
};

it('a crash between produce and receipt, in the distributor and in the publish path, leaves no record uncovered', async () => {
  // 1. the distributor dies right after the share topic acknowledged its first batch
  const first = await startGovx({ GOVX_TEST_CRASH_AFTER_PRODUCE: 'share' });
  const seed = readCatalogFile(seedCatalogFile).find((d) => d.definition.id === 'population.residents')!;
  const dataset = `crash.residents-${crypto.randomBytes(4).toString('hex')}`;
  await applyCatalog(pool, [{ ...seed, definition: { ...seed.definition, id: dataset, schemaSubject: defaultSchemaSubject(dataset) } }], { actor: 'info-office' });
  const datasetTopic = `govx.dataset.${dataset}`;
  topics.push(datasetTopic, `govx.dlq.${dataset}`);
  const key = async (department: string, role: 'publisher' | 'steward' | 'consumer') => (await createApiKey(pool, { department, role })).key;
  const [psb, steward, civil] = [await key('psb', 'publisher'), await key('psb', 'steward'), await key('civil-affairs', 'consumer')];
  const asked = await httpJson(`${first.url}/v1/subscriptions`, {
    key: civil,
    body: { dataset, fields: ['name', 'household_district'], purpose: '崩溃测试', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
  });
  expect(asked.status).toBe(201);
  const shareTopic = `govx.share.${asked.body.id}`;
  topics.push(shareTopic);
  expect((await httpJson(`${first.url}/v1/subscriptions/${asked.body.id}/approve`, { key: steward, body: {} })).body.status).toBe('approved');
  // the distributor may die before this answer leaves: the records are in Kafka either way
  const published = await httpJson(`${first.url}/v1/datasets/${dataset}/records`, { key: psb, body: { records: generateSample('population.residents', 20, 11) } }).catch(() => null);
  if (published) expect(published.body.accepted).toBe(20);
  expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
  // what it wrote to the share topic before dying has no receipt
  expect((await held(shareTopic)).size).toBeGreaterThan(0);
  expect((await uncovered(shareTopic)).length).toBeGreaterThan(0);

  // 2. the publish path dies right after Kafka acknowledged a batch: the publisher never gets an answer
  const second = await startGovx({ GOVX_TEST_CRASH_AFTER_PRODUCE: 'publish' });
  const before = (await held(datasetTopic)).size;
  const cut = await httpJson(`${second.url}/v1/datasets/${dataset}/records`, { key: psb, body: { records: generateSample('population.residents', 30, 12) } }).catch(() => 'connection cut');
  expect(cut).toBe('connection cut');
  expect(await second.exited).toMatchObject({ signal: 'SIGKILL' });
  expect((await held(datasetTopic)).size).toBe(before + 30);
  expect((await uncovered(datasetTopic)).length).toBeGreaterThanOrEqual(30);

  // 3. restarted without faults: every record in both topics ends up covered by a receipt
  const third = await startGovx({});
  try {
    await eventually(
      'every record of the dataset and share topics covered by a receipt',
      async () => (await uncovered(datasetTopic)).length === 0 && (await uncovered(shareTopic)).length === 0,
      150_000,
    );
    const { rows } = await pool.query<{ action: string; actor_department: string; details: Record<string, any> }>(
      `SELECT action, actor_department, details FROM audit_log WHERE details->>'reconciled' = 'true' AND details->>'topic' IN ($1, $2) ORDER BY seq`,
      [datasetTopic, shareTopic],
    );
    // the lost publish receipt is rebuilt from the records' headers: psb published 30 records
    const publishes = rows.filter((r) => r.action === 'publish.batch');
    expect(publishes.reduce((n, r) => n + r.details.count, 0)).toBeGreaterThanOrEqual(30);
    expect(publishes.every((r) => r.actor_department === 'psb' && r.details.dataset === dataset)).toBe(true);
    // the lost share receipt names the subscription, its consumer and the grant it was written under
    const deliveries = rows.filter((r) => r.action === 'delivery.receipt');
    expect(deliveries.length).toBeGreaterThan(0);
    for (const d of deliveries) expect(d.details).toMatchObject({ subscription: asked.body.id, consumer: 'civil-affairs', channel: 'kafka', dataset });
    expect(deliveries.every((d) => typeof d.details.grantVersion === 'number' && d.details.grantVersion > 0)).toBe(true);
    expect((await verifyAuditChain(pool)).ok).toBe(true);
  } finally {
    third.child.kill('SIGTERM');
    await third.exited;
  }
});
