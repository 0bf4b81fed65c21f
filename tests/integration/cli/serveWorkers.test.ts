import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { applyCatalog, readCatalogFile, seedCatalogFile } from '../../../catalog/catalogFile';
import { defaultSchemaSubject } from '../../../catalog/datasets';
import { createApiKey } from '../../../catalog/keys';
import { createPool, type Pool } from '../../../lib/db';
import { generateSample } from '../../../schemas/samples';
import { testKafka } from '../../support/stack';
import { createDepartmentDatabase, ensureBuilt, eventually } from '../connectors/connectSupport';

/**
 * `govx serve --workers 2`: two gateway processes behind one port. Requests on fresh connections are answered
 * whichever worker takes them; a worker that dies is replaced and the port keeps answering; SIGTERM stops
 * every worker and the primary exits cleanly; every acknowledged record is in Kafka exactly once.
 */
jest.setTimeout(300_000);

const root = path.resolve(__dirname, '..', '..', '..');
const kafka = testKafka();
let db: Awaited<ReturnType<typeof createDepartmentDatabase>>;
let pool: Pool;
let child: ChildProcess | undefined;
let dataset: string;

const children = (pid: number): number[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

/** One publish on a connection of its own (no keep-alive), so the primary hands each to the next worker. */
function publish(url: string, key: string, records: unknown[]): Promise<{ status: number; body: { accepted?: number } }> {
  const body = JSON.stringify({ records });
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/datasets/${dataset}/records`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as { accepted?: number } }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  ensureBuilt();
  db = await createDepartmentDatabase('workers');
  pool = createPool(db.url, { max: 2 });
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await pool?.end();
  await db?.drop();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [`govx.dataset.${dataset}`, `govx.dlq.${dataset}`] }).catch(() => undefined);
  await admin.disconnect();
});

it('serves from two worker processes, replaces one that dies, and stops cleanly on SIGTERM', async () => {
  child = spawn(process.execPath, [path.join(root, 'bin', 'govx.js'), 'serve', '--seed', '--workers', '2'], {
    env: { ...process.env, DATABASE_URL: db.url, GOVX_PORT: '0', GOVX_METRICS_PORT: '0', GOVX_CONNECT_WORKER: 'false', GOVX_LOG_LEVEL: 'warn', GOVX_SHUTDOWN_TIMEOUT_MS: '20000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  const url = await eventually(`govx serve --workers 2 to serve (output so far: ${output.slice(-500)})`, async () => /govx gateway on (http:\/\/\S+) with 2 worker processes/.exec(output)?.[1], 180_000);
  const primary = child.pid!;
  const workers = children(primary);
  expect(workers).toHaveLength(2);

  const seed = readCatalogFile(seedCatalogFile).find((d) => d.definition.id === 'population.residents')!;
  dataset = `workers.residents-${crypto.randomBytes(4).toString('hex')}`;
  await applyCatalog(pool, [{ ...seed, definition: { ...seed.definition, id: dataset, schemaSubject: defaultSchemaSubject(dataset) } }], { actor: 'info-office' });
  const key = (await createApiKey(pool, { department: 'psb', role: 'publisher' })).key;
  const records = generateSample('population.residents', 200, 99);
  let accepted = 0;
  for (let i = 0; i < 10; i++) {
    const r = await publish(url, key, records.slice(i * 10, i * 10 + 10));
    expect(r.status).toBe(200);
    accepted += r.body.accepted!;
  }

  // a worker killed outright: the port keeps answering, and the primary starts another
  process.kill(workers[0]!, 'SIGKILL');
  await eventually('a replacement worker', async () => {
    const now = children(primary);
    return now.length === 2 && !now.includes(workers[0]!);
  }, 120_000);
  // each worker says so once it serves: the two first ones and the replacement
  const served = () => output.split('\n').filter((l) => /^govx gateway on \S+ \(Ctrl-C/.test(l)).length;
  await eventually('the replacement worker to serve', async () => served() === 3, 180_000);
  for (let i = 10; i < 20; i++) {
    const r = await publish(url, key, records.slice(i * 10, i * 10 + 10));
    expect(r.status).toBe(200);
    accepted += r.body.accepted!;
  }
  expect(accepted).toBe(200);

  const admin = kafka.admin();
  await admin.connect();
  const inKafka = (await admin.fetchTopicOffsets(`govx.dataset.${dataset}`)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  await admin.disconnect();
  expect(inKafka).toBe(accepted);

  const stillWorkers = children(primary);
  child.kill('SIGTERM');
  const code = await exited;
  // on failure, the output says which worker's shutdown was not clean
  expect({ code, output: code === 0 ? '' : output.slice(-4000) }).toEqual({ code: 0, output: '' });
  for (const pid of stillWorkers) expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
});
