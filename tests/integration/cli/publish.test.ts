import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSample } from '../../../schemas/samples';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';
import crypto from 'node:crypto';

/** Runs the built CLI (`npm run build` / `npm ci` builds it) against the test stack, as a user would. */
const root = path.resolve(__dirname, '../../..');
let stack: TestStack;
let dir: string;
let key: string;
// A dataset of this test's own (the residents schema, owned by psb), so its thousands of records do not
// land on the shared population.residents topic that other tests read from the beginning.
const DATASET = `test.cli-residents-${crypto.randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  if (!fs.existsSync(path.join(root, 'dist/cli/index.js'))) throw new Error('the CLI is not built: run `npm run build` first');
  stack = await startTestStack();
  key = await stack.key('psb', 'publisher');
  const created = await httpJson(`${stack.url}/v1/datasets`, {
    method: 'POST',
    key: await stack.key('info-office', 'admin'),
    body: {
      id: DATASET,
      title: { zh: '测试人口', en: 'Test residents' },
      owner: 'psb',
      category: 'population',
      abstract: 'Residents for the CLI test.',
      sharing: { type: 'conditional', conditions: 'test only' },
      updateCycle: 'daily',
      keyField: 'id_number',
      schema: JSON.parse(fs.readFileSync(path.join(root, 'schemas/population.residents.avsc'), 'utf8')),
    },
  });
  if (created.status !== 201) throw new Error(`could not create ${DATASET}: ${JSON.stringify(created.body)}`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-cli-publish-'));
}, 60_000);
afterAll(async () => {
  await stack?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  const admin = stack?.kafka.admin();
  if (admin) {
    await admin.connect();
    await admin.deleteTopics({ topics: [`govx.dataset.${DATASET}`, `govx.dlq.${DATASET}`] }).catch(() => undefined);
    await admin.disconnect();
  }
}, 60_000);

function govx(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bin/govx.js'), ...args], {
      env: { ...process.env, GOVX_URL: stack.url, GOVX_KEY: key },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function publishedKeys(requestIds: Set<string>): Promise<number> {
  const { rows } = await stack.pool.query(`SELECT coalesce(sum((details->>'accepted')::int), 0) AS n FROM audit_log WHERE action = 'publish.batch' AND request_id = ANY($1)`, [[...requestIds]]);
  return Number(rows[0].n);
}

jest.setTimeout(60_000);

describe('govx publish', () => {
  it('streams an NDJSON file in batches, writes the rejects with their record index, and exits 1', async () => {
    const records = generateSample('population.residents', 2500);
    const lines = records.map((r) => JSON.stringify(r));
    lines[10] = JSON.stringify({ ...records[10], gender: 'ROBOT' });
    lines[1500] = 'this is not JSON';
    lines.splice(700, 0, '');
    const file = path.join(dir, 'residents.ndjson');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const before = (await stack.pool.query(`SELECT coalesce(max(seq), 0) AS seq FROM audit_log`)).rows[0].seq;

    const run = await govx(['publish', DATASET, file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('2500 records');
    expect(run.stdout).toContain('2498 accepted, 2 rejected');

    const rejects = fs.readFileSync(`${file}.rejects.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects.map((r) => r.index)).toEqual([10, 1500]);
    expect(rejects[0]).toMatchObject({ line: 11, record: lines[10], errors: [expect.objectContaining({ path: 'gender' })] });
    expect(rejects[1]).toMatchObject({ line: 1502, errors: [expect.objectContaining({ rule: 'json' })] });

    const { rows } = await stack.pool.query(`SELECT request_id, details FROM audit_log WHERE action = 'publish.batch' AND seq > $1`, [before]);
    expect(rows).toHaveLength(3);
    expect(await publishedKeys(new Set(rows.map((r) => r.request_id)))).toBe(2498);
  });

  it('converts CSV cells by the dataset schema (nulls, enums, dates) and exits 0 when all are accepted', async () => {
    const records = generateSample('population.residents', 40);
    const columns = Object.keys(records[0]!);
    const cell = (v: unknown) => (v === null || v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`);
    const csv = [columns.join(','), ...records.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n');
    expect(records.some((r) => columns.some((c) => r[c] === null))).toBe(true);
    const file = path.join(dir, 'residents.csv');
    fs.writeFileSync(file, `${csv}\n`);

    const run = await govx(['publish', DATASET, file, '--batch-size', '15']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('40 accepted, 0 rejected');
    expect(run.code).toBe(0);
    expect(fs.existsSync(`${file}.rejects.ndjson`)).toBe(false);
  });

  it('rejects CSV rows with missing or extra cells by field, and publishes the others', async () => {
    const records = generateSample('population.residents', 3);
    const columns = Object.keys(records[0]!);
    const cell = (v: unknown) => (v === null || v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`);
    const rows = records.map((r) => columns.map((c) => cell(r[c])));
    rows[1] = rows[1]!.slice(0, 3);
    rows[2] = [...rows[2]!, '"surplus"'];
    const file = path.join(dir, 'ragged.csv');
    fs.writeFileSync(file, `${[columns.join(','), ...rows.map((r) => r.join(','))].join('\n')}\n`);
    const run = await govx(['publish', DATASET, file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('1 accepted, 2 rejected');
    const rejects = fs.readFileSync(`${file}.rejects.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects[0].errors).toEqual(expect.arrayContaining([expect.objectContaining({ rule: 'required' })]));
    expect(rejects[1].errors).toEqual([expect.objectContaining({ path: `(column ${columns.length + 1})`, rule: 'unknown-field' })]);
  });

  it('stops with a clear message and exit code 2 when the key may not publish the dataset', async () => {
    const file = path.join(dir, 'entities.ndjson');
    fs.writeFileSync(file, `${generateSample('legal-entity.registry', 3).map((r) => JSON.stringify(r)).join('\n')}\n`);
    const run = await govx(['publish', 'legal-entity.registry', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('auth.forbidden');
  });
});
