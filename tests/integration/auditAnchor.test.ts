import { govx } from '../support/cli';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { appendAudit, type AuditHashedFields, computeAuditHash, GENESIS_HASH, listAudit } from '../../catalog/audit';
import { createPool, type Pool, withTransaction } from '../../lib/db';
import { httpJson, startTestStack, type TestStack } from '../support/stack';

/**
 * The audit chain is keyed (HMAC, a key outside the database) and anchored (signed checkpoints outside
 * PostgreSQL). The attacker here owns the database as its superuser but not the key files: whatever they
 * rewrite, `govx audit verify` names the first entry where the chain and the checkpoints disagree.
 */
jest.setTimeout(180_000);

const databaseUrl = process.env.DATABASE_URL!;
const runTopic = process.env.GOVX_AUDIT_CHECKPOINT_TOPIC;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-anchor-'));
const created: string[] = [];
const topics: string[] = [];

function urlFor(database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function asSuperuser(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}


/** A database and a checkpoint topic of its own, with the seed catalog's entries and a checkpoint file. */
async function installation(): Promise<{ pool: Pool; file: string }> {
  const name = `govx_test_anchor_${crypto.randomBytes(4).toString('hex')}_${Date.now().toString(36)}`;
  await asSuperuser(`CREATE DATABASE "${name}"`);
  created.push(name);
  const topic = `govx.audit.checkpoints.${name}`;
  topics.push(topic);
  const file = path.join(tmp, `${name}.jsonl`);
  process.env.DATABASE_URL = urlFor(name);
  process.env.GOVX_AUDIT_CHECKPOINT_TOPIC = topic;
  process.env.GOVX_AUDIT_CHECKPOINT_FILE = file;
  await govx('catalog', 'apply');
  return { pool: createPool(urlFor(name), { max: 2 }), file };
}

const entry = (i: number) => ({ actor: { department: 'psb', keyId: null, role: 'steward' }, action: 'catalog.dataset.update', target: 'dataset:population.residents', outcome: 'success' as const, details: { i } });

/**
 * Re-hashes every entry as an attacker who owns the database can: optionally editing one entry first, then
 * recomputing every link with `key` (null: plain sha256), and storing `keyId` as the key's name.
 */
async function rewriteChain(pool: Pool, key: Buffer | null, keyId: string | null, edit?: { seq: number; outcome: 'denied' }): Promise<void> {
  const entries = (await listAudit(pool, { limit: 1000 })).entries;
  await withTransaction(pool, async (c) => {
    await c.query('ALTER TABLE audit_log DISABLE TRIGGER ALL');
    let prev = GENESIS_HASH;
    for (const e of entries) {
      const fields: AuditHashedFields = { seq: e.seq, at: e.at, actor: e.actor, action: e.action, target: e.target, outcome: edit?.seq === e.seq ? edit.outcome : e.outcome, requestId: e.requestId, details: e.details };
      const hash = computeAuditHash(prev, fields, key);
      await c.query('UPDATE audit_log SET outcome = $2, prev_hash = $3, hash = $4, hash_key = $5 WHERE seq = $1', [e.seq, fields.outcome, prev, hash, keyId]);
      prev = hash;
    }
    await c.query('ALTER TABLE audit_log ENABLE TRIGGER ALL');
  });
}

afterAll(async () => {
  process.env.DATABASE_URL = databaseUrl;
  process.env.GOVX_AUDIT_CHECKPOINT_TOPIC = runTopic;
  delete process.env.GOVX_AUDIT_CHECKPOINT_FILE;
  for (const name of created) await asSuperuser(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('govx audit verify against a chain rewritten by the database superuser', () => {
  it('a whole chain re-hashed without a key is named at its first entry', async () => {
    const { pool } = await installation();
    try {
      expect((await govx('audit', 'checkpoint')).exitCode).toBe(0);
      for (let i = 0; i < 3; i++) await appendAudit(pool, entry(i));
      expect((await govx('audit', 'verify')).exitCode).toBe(0);
      // the attacker edits entry 2 and re-hashes every entry as plain sha256, marking them as written before keyed hashing
      await rewriteChain(pool, null, null, { seq: 2, outcome: 'denied' });
      const r = await govx('audit', 'verify');
      expect(r.exitCode).toBe(1);
      expect(r.out).toMatch(/audit chain BROKEN at entry #1: unkeyed/);
    } finally {
      await pool.end();
    }
  });

  it('a whole chain re-hashed with a key of the attacker (under govx\'s key id) is named at its first entry', async () => {
    const { pool } = await installation();
    try {
      expect((await govx('audit', 'checkpoint')).exitCode).toBe(0);
      const { rows } = await pool.query<{ hash_key: string }>('SELECT hash_key FROM audit_log WHERE seq = 1');
      await rewriteChain(pool, crypto.randomBytes(32), rows[0]!.hash_key, { seq: 3, outcome: 'denied' });
      const r = await govx('audit', 'verify', '--json');
      expect(r.exitCode).toBe(1);
      const report = JSON.parse(r.out);
      expect(report.firstBroken.seq).toBe(1);
      expect(report.firstBroken.reason).toMatch(/hash mismatch/);
    } finally {
      await pool.end();
    }
  });

  it('a tail deleted after a checkpoint is named by its first missing entry, from Kafka and from the file alone', async () => {
    const { pool, file } = await installation();
    try {
      for (let i = 0; i < 4; i++) await appendAudit(pool, entry(i));
      const signed = await govx('audit', 'checkpoint');
      const seq = Number(/checkpoint of entry #(\d+)/.exec(signed.out)![1]);
      expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
      await withTransaction(pool, async (c) => {
        await c.query('ALTER TABLE audit_log DISABLE TRIGGER ALL');
        await c.query('DELETE FROM audit_log WHERE seq > $1', [seq - 3]);
        await c.query('ALTER TABLE audit_log ENABLE TRIGGER ALL');
      });
      // inside the database the shortened chain is consistent; only the checkpoint knows it was longer
      for (const args of [['audit', 'verify'], ['audit', 'verify', '--no-kafka']]) {
        const r = await govx(...args);
        expect(r.exitCode).toBe(1);
        expect(r.out).toContain(`audit chain BROKEN at entry #${seq - 2}: missing: the checkpoint signed at`);
        expect(r.out).toContain(`entries ${seq - 2}..${seq} were removed`);
      }
    } finally {
      await pool.end();
    }
  });

  it('a checkpoint not signed by govx\'s key is ignored and counted, never trusted', async () => {
    const { pool, file } = await installation();
    try {
      expect((await govx('audit', 'checkpoint')).exitCode).toBe(0);
      const real = JSON.parse(fs.readFileSync(file, 'utf8').trim());
      // a forged statement that would anchor a shorter chain, signed with the forger's own key
      const forger = crypto.generateKeyPairSync('ed25519').privateKey;
      const statement = { ...real.statement, seq: 1, hash: '0'.repeat(64) };
      const bytes = Buffer.from(JSON.stringify(statement, Object.keys(statement).sort()), 'utf8');
      fs.appendFileSync(file, `${JSON.stringify({ statement, signature: crypto.sign(null, bytes, forger).toString('base64') })}\n`);
      const r = JSON.parse((await govx('audit', 'verify', '--json', '--no-kafka')).out);
      expect(r.ok).toBe(true);
      expect(r.checkpoints).toMatchObject({ found: 2, valid: 1, invalid: 1 });
      expect(r.checkpoints.latestAgreed.seq).toBe(real.statement.seq);
    } finally {
      await pool.end();
    }
  });
});

describe('the audit API', () => {
  let stack: TestStack;
  beforeAll(async () => {
    process.env.DATABASE_URL = databaseUrl;
    process.env.GOVX_AUDIT_CHECKPOINT_TOPIC = runTopic;
    delete process.env.GOVX_AUDIT_CHECKPOINT_FILE;
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('signs a checkpoint on demand and verifies the chain against it; only administrators may', async () => {
    const admin = await stack.key('info-office', 'admin');
    const steward = await stack.key('psb', 'steward');
    expect((await httpJson(`${stack.url}/v1/audit/checkpoints`, { method: 'POST', key: steward })).status).toBe(403);
    const made = await httpJson(`${stack.url}/v1/audit/checkpoints`, { method: 'POST', key: admin });
    expect(made.status).toBe(201);
    expect(made.body.statement).toMatchObject({ type: 'govx.audit.checkpoint', version: 1 });
    expect(made.body.signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const verified = await httpJson(`${stack.url}/v1/audit/verify`, { key: admin });
    expect(verified.status).toBe(200);
    expect(verified.body.ok).toBe(true);
    expect(verified.body.checkpoints.valid).toBeGreaterThanOrEqual(1);
    expect(verified.body.checkpoints.latestAgreed.seq).toBeGreaterThanOrEqual(made.body.statement.seq);
    expect((await httpJson(`${stack.url}/v1/audit/verify`, { key: steward })).status).toBe(403);
  });
});
