import { govx } from '../support/cli';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import YAML from 'yaml';
import { getDataset } from '../../catalog/datasets';
import { type Pool, createPool, withTransaction } from '../../lib/db';

/**
 * The `govx` CLI in process, against the run's database: `catalog apply` is idempotent and honest with
 * --dry-run, `catalog export` round-trips, and `audit verify` names a tampered row (in a database of its
 * own, since the run's shared chain must stay intact).
 */

const databaseUrl = process.env.DATABASE_URL!;
let pool: Pool;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-cli-'));

beforeAll(() => {
  pool = createPool(databaseUrl, { max: 2 });
});
afterAll(async () => {
  await pool.end();
  fs.rmSync(tmp, { recursive: true, force: true });
});


const SEED = ['population.residents', 'legal-entity.registry', 'geospatial.buildings', 'population.criminal-records'];

describe('govx catalog', () => {
  it('apply leaves an applied catalog alone, and says so', async () => {
    await govx('catalog', 'apply');
    const { out } = await govx('catalog', 'apply');
    for (const id of SEED) expect(out).toMatch(new RegExp(`^unchanged\\s+${id.replace('.', '\\.')}$`, 'm'));
  });

  it('export writes a file that apply finds unchanged, and --dry-run reports a change without making it', async () => {
    await govx('catalog', 'apply');
    const exported = (await govx('catalog', 'export')).out;
    const file = path.join(tmp, 'catalog.yaml');
    fs.writeFileSync(file, exported);
    const again = await govx('catalog', 'apply', file);
    expect(again.out).not.toMatch(/^(created|changed)/m);
    expect(again.out).toMatch(/^unchanged\s+population\.residents$/m);

    const doc = YAML.parse(exported) as { datasets: Array<{ id: string; abstract: string }> };
    doc.datasets.find((d) => d.id === 'legal-entity.registry')!.abstract = 'An abstract nobody applied.';
    fs.writeFileSync(file, YAML.stringify(doc));
    const before = await getDataset(pool, 'legal-entity.registry');
    const dry = await govx('catalog', 'apply', '--dry-run', file);
    expect(dry.out).toMatch(/^would be changed\s+legal-entity\.registry \(abstract\)$/m);
    const after = await getDataset(pool, 'legal-entity.registry');
    expect(after!.version).toBe(before!.version);
    expect(after!.abstract).toBe(before!.abstract);
  });
});

describe('govx audit verify', () => {
  const name = `govx_test_cli_${crypto.randomBytes(4).toString('hex')}_${Date.now().toString(36)}`;
  const own = new URL(databaseUrl);
  own.pathname = `/${name}`;
  const admin = async (sql: string): Promise<void> => {
    const url = new URL(databaseUrl);
    url.pathname = '/postgres';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    await admin(`CREATE DATABASE "${name}"`);
  }, 60_000);
  const topic = process.env.GOVX_AUDIT_CHECKPOINT_TOPIC;
  afterAll(async () => {
    process.env.DATABASE_URL = databaseUrl;
    process.env.GOVX_AUDIT_CHECKPOINT_TOPIC = topic;
    await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }, 60_000);

  it('reports an intact chain, then names the row an owner edited with the triggers off, and exits 1', async () => {
    process.env.DATABASE_URL = own.toString();
    process.env.GOVX_AUDIT_CHECKPOINT_TOPIC = `govx.audit.checkpoints.${name}`;
    await govx('catalog', 'apply');
    expect((await govx('audit', 'checkpoint')).out).toMatch(/^checkpoint of entry #\d+ .* written to kafka:govx\.audit\.checkpoints\./);
    const intact = await govx('audit', 'verify');
    expect(intact.exitCode).toBe(0);
    expect(intact.out).toMatch(/audit chain intact: \d+ entries verified with audit key [0-9a-f]{12}, last #\d+, anchored by the checkpoint of entry #\d+/);

    const ownPool = createPool(own.toString(), { max: 1 });
    try {
      await withTransaction(ownPool, async (c) => {
        await c.query('ALTER TABLE audit_log DISABLE TRIGGER ALL');
        await c.query("UPDATE audit_log SET outcome = 'denied' WHERE seq = 2");
        await c.query('ALTER TABLE audit_log ENABLE TRIGGER ALL');
      });
    } finally {
      await ownPool.end();
    }
    const broken = await govx('audit', 'verify');
    expect(broken.exitCode).toBe(1);
    expect(broken.out).toMatch(/audit chain BROKEN at entry #2: .*hash mismatch/);
  });
});
