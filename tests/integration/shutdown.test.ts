import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyCatalog, readCatalogFile, seedCatalogFile } from '../../catalog/catalogFile';
import { defaultSchemaSubject } from '../../catalog/datasets';
import { createApiKey, type Role } from '../../catalog/keys';
import { createPool, type Pool } from '../../lib/db';
import { generateSample } from '../../schemas/samples';
import { httpJson, readTopicUntil, testKafka } from '../support/stack';
import { createDepartmentDatabase, ensureBuilt, eventually } from './connectors/connectSupport';

/**
 * Every runtime role of a govx process (HTTP server, HTTP delivery, distributor, connect worker) stops
 * through one shutdown sequence, and the process exits after it. Each govx here is a real process
 * (`bin/govx.js`) with a database of its own, so its connect worker and distributor see only this file's
 * subscriptions. Under load (publishes in flight, open streams, a pending pull, a backfill copying), a
 * signal must end the process with a clean shutdown, and nothing it acknowledged may be missing after.
 */
jest.setTimeout(420_000);

const root = path.resolve(__dirname, '..', '..');
const SHUTDOWN_TIMEOUT_MS = 12_000;

interface GovxProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

function startGovx(args: string[], env: Record<string, string>): Promise<GovxProcess> {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'govx.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`govx ${args[0]} did not start:\n${output.slice(-3000)}`)), 180_000);
    const watch = setInterval(() => {
      const url = /govx gateway on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) {
        clearInterval(watch);
        clearTimeout(timer);
        resolve({ child, url, output: () => output, exited });
      }
    }, 100);
    void exited.then((code) => {
      clearInterval(watch);
      clearTimeout(timer);
      reject(new Error(`govx ${args[0]} exited (${code}) before it served:\n${output.slice(-3000)}`));
    });
  });
}

/** Sends `signal` and waits for the exit; a process that outlives its shutdown deadline by far is the bug this guards. */
async function stopWith(govx: GovxProcess, signal: NodeJS.Signals): Promise<{ code: number | null; report: Record<string, unknown> | undefined }> {
  govx.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    govx.exited,
    new Promise<'alive'>((resolve) => (timer = setTimeout(() => resolve('alive'), SHUTDOWN_TIMEOUT_MS + 60_000))),
  ]).finally(() => clearTimeout(timer));
  if (code === 'alive') {
    govx.child.kill('SIGKILL');
    throw new Error(`govx was still running long after ${signal}:\n${govx.output().slice(-3000)}`);
  }
  const report = govx
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'govx stopped');
  return { code, report };
}

/** A Server-Sent Events stream read to its end. */
function openStream(url: string, key: string): { text: () => string; done: Promise<string> } {
  let text = '';
  const done = (async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
    const reader = res.body!.getReader();
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) return text;
      text += Buffer.from(value).toString('utf8');
    }
  })();
  return { text: () => text, done };
}

let db: Awaited<ReturnType<typeof createDepartmentDatabase>>;
let pool: Pool;
const fileRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-shutdown-'));
const kafka = testKafka();
const topics: string[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  ensureBuilt();
  db = await createDepartmentDatabase('shutdown');
  pool = createPool(db.url, { max: 3 });
  env = {
    DATABASE_URL: db.url,
    GOVX_PORT: '0',
    GOVX_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    GOVX_DISTRIBUTOR_GROUP: `govx-shutdown-${crypto.randomBytes(4).toString('hex')}`,
    GOVX_CONNECT_FILE_ROOT: fileRoot,
    GOVX_LOG_LEVEL: 'info',
  };
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
  fs.rmSync(fileRoot, { recursive: true, force: true });
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  await admin.deleteTopics({ topics: topics.filter((t) => existing.has(t)) }).catch(() => undefined);
  await admin.disconnect();
});

/** A copy of population.residents for this file alone (the seed's owner, sharing and schema). */
async function privateResidents(label: string): Promise<string> {
  const seed = readCatalogFile(seedCatalogFile).find((d) => d.definition.id === 'population.residents')!;
  const id = `shutdown.${label}-${crypto.randomBytes(4).toString('hex')}`;
  await applyCatalog(pool, [{ ...seed, definition: { ...seed.definition, id, schemaSubject: defaultSchemaSubject(id) } }], { actor: 'info-office' });
  topics.push(`govx.dataset.${id}`, `govx.dlq.${id}`);
  return id;
}

const key = async (department: string, role: Role): Promise<string> => (await createApiKey(pool, { department, role })).key;

describe('a govx process stopped by a signal', () => {
  const keys: Record<string, string> = {};
  let backfilled: { subscription: string; records: number };

  it('SIGTERM to govx serve under load: streams and the pull are answered, the process exits cleanly, every acknowledged record is in Kafka', async () => {
    const serve = await startGovx(['serve', '--seed'], env);
    const api = (p: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${serve.url}${p}`, init);
    const [bulk, live, quiet] = [await privateResidents('bulk'), await privateResidents('live'), await privateResidents('quiet')];
    keys.psb = await key('psb', 'publisher');
    keys.steward = await key('psb', 'steward');
    keys.civil = await key('civil-affairs', 'consumer');
    const publish = (dataset: string, records: unknown[]) => api(`/v1/datasets/${dataset}/records`, { key: keys.psb, body: { records } });
    const subscribe = async (dataset: string, startFrom: 'earliest' | 'latest'): Promise<string> => {
      const asked = await api('/v1/subscriptions', {
        key: keys.civil,
        body: { dataset, fields: ['name', 'birth_date', 'household_district'], purpose: '停机测试', expiresAt: new Date(Date.now() + 86_400_000).toISOString(), startFrom },
      });
      expect(asked.status).toBe(201);
      const approved = await api(`/v1/subscriptions/${asked.body.id}/approve`, { key: keys.steward, body: {} });
      expect(approved.body.status).toBe('approved');
      topics.push(`govx.share.${asked.body.id}`);
      return asked.body.id as string;
    };

    // history for a backfill, large enough to be still copying when the signal comes: the subscription
    // is approved after it was published
    const history = new Map(generateSample('population.residents', 30_000, 4242).map((r) => [r.id_number as string, r]));
    const records = [...history.values()];
    for (let i = 0; i < records.length; i += 1000) expect((await publish(bulk, records.slice(i, i + 1000))).body.accepted).toBe(Math.min(1000, records.length - i));

    const acked: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let round = 0; publishing; round++) {
        const batch = generateSample('population.residents', 200, 100_000 + round);
        const res = await publish(live, batch).catch(() => null);
        if (res?.status !== 200) return;
        acked.push(...batch.map((r) => r.id_number as string));
      }
    })();
    const quietSub = await subscribe(quiet, 'latest');
    const pull = api(`/v1/subscriptions/${quietSub}/records?waitMs=30000`, { key: keys.civil });
    const bulkSub = await subscribe(bulk, 'earliest');
    backfilled = { subscription: bulkSub, records: records.length };
    const streams = [openStream(`${serve.url}/v1/subscriptions/${bulkSub}/stream`, keys.civil), openStream(`${serve.url}/v1/subscriptions/${bulkSub}/stream`, keys.civil)];
    // the backfill is copying: its first records reach the streams
    await eventually('records streaming and publishes acknowledged', async () => streams.every((s) => s.text().includes('event: record')) && acked.length > 0);
    const backfill = await pool.query<{ backfill_done: boolean }>('SELECT backfill_done FROM subscriptions WHERE id = $1', [bulkSub]);
    expect(backfill.rows[0]!.backfill_done).toBe(false);

    const { code, report } = await stopWith(serve, 'SIGTERM');
    publishing = false;
    await publisher;
    expect(report).toMatchObject({ reason: 'SIGTERM', clean: true });
    expect(code).toBe(0);
    // the streams were ended by the gateway, saying why, not cut off
    for (const stream of streams) expect(await stream.done).toMatch(/event: end\ndata: \{"reason":"the gateway is shutting down/);
    const pulled = await pull;
    expect(pulled.status).toBe(200);
    expect(pulled.body.records).toEqual([]);
    // what the gateway acknowledged was in Kafka before it answered
    expect(acked.length).toBeGreaterThan(0);
    const missing = new Set(acked);
    await readTopicUntil(kafka, `govx.dataset.${live}`, (got) => {
      missing.delete(String(got[got.length - 1]!.key));
      return missing.size === 0;
    }, 120_000);
  });

  it('SIGINT to govx start: the stopped backfill resumes and completes, and the process exits cleanly again', async () => {
    const start = await startGovx(['start'], env);
    await eventually(
      'the backfill to complete',
      async () => (await pool.query('SELECT backfill_done FROM subscriptions WHERE id = $1', [backfilled.subscription])).rows[0]?.backfill_done === true,
      120_000,
    );
    // every record published before the approval is on the share topic (keys are pseudonymized, one per resident)
    const seen = new Set<string>();
    await readTopicUntil(kafka, `govx.share.${backfilled.subscription}`, (got) => {
      seen.add(String(got[got.length - 1]!.key));
      return seen.size === backfilled.records;
    }, 120_000);
    // its start-up ended by saying where the console is (built by npm run build)
    expect(start.output()).toMatch(/^console: http:\/\/\S+\/console\/$/m);
    const { code, report } = await stopWith(start, 'SIGINT');
    expect(report).toMatchObject({ reason: 'SIGINT', clean: true });
    expect(code).toBe(0);
  });
});
