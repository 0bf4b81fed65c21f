import crypto from 'node:crypto';
import pg from 'pg';
import {
  type AuditEntry,
  type AuditEntryInput,
  GENESIS_HASH,
  appendAudit,
  auditChainKey,
  computeAuditHash,
  listAudit,
  verifyAuditChain,
} from '../../catalog/audit';
import { migrate } from '../../catalog/migrate';
import { type Pool, createPool, withTransaction } from '../../lib/db';
import { InputError } from '../../lib/errors';

const databaseUrl = process.env.DATABASE_URL!;

function urlFor(database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Databases of our own, for tests that need an exact chain (seqs from 1) or that break it on purpose: the
 * run's shared database also holds other suites' entries and must stay verifiable. The govx_test_ prefix
 * and base-36 stamp let globalSetup drop them on a later run if this one is interrupted before afterAll.
 */
const ownDatabases: Array<{ name: string; pool: Pool }> = [];

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: urlFor('postgres') });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

async function freshDatabase(poolMax = 10): Promise<Pool> {
  const name = `govx_test_audit_${crypto.randomBytes(4).toString('hex')}_${Date.now().toString(36)}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  const pool = createPool(urlFor(name), { max: poolMax, applicationName: 'govx-audit-test' });
  ownDatabases.push({ name, pool });
  await migrate(pool);
  return pool;
}

function urlOf(db: Pool): string {
  return urlFor(ownDatabases.find((d) => d.pool === db)!.name);
}

function input(overrides: Partial<AuditEntryInput> = {}): AuditEntryInput {
  return {
    actor: { department: 'psb', keyId: 'abcdef123456', role: 'steward' },
    action: 'catalog.dataset.update',
    target: 'dataset:population.residents',
    outcome: 'success',
    requestId: crypto.randomUUID(),
    details: { version: 2 },
    ...overrides,
  };
}

async function appendMany(pool: Pool, n: number, make: (i: number) => Partial<AuditEntryInput> = () => ({})): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (let i = 0; i < n; i++) out.push(await appendAudit(pool, input(make(i))));
  return out;
}

/** Runs SQL against a chain with its append-only triggers off, as an attacker with owner rights could. */
async function tamper(pool: Pool, sql: string, params: unknown[] = []): Promise<void> {
  await withTransaction(pool, async (c) => {
    await c.query('ALTER TABLE audit_log DISABLE TRIGGER ALL');
    await c.query(sql, params);
    await c.query('ALTER TABLE audit_log ENABLE TRIGGER ALL');
  });
}

let pool: Pool;

beforeAll(async () => {
  pool = createPool(databaseUrl, { applicationName: 'govx-audit-test' });
  await migrate(pool);
});

afterAll(async () => {
  await pool?.end();
  for (const db of ownDatabases) {
    await db.pool.end().catch(() => undefined);
    await adminQuery(`DROP DATABASE IF EXISTS "${db.name}" WITH (FORCE)`);
  }
});

describe('appendAudit on the shared database', () => {
  it('appends three entries that form a verifiable chain', async () => {
    const target = `dataset:audit-test.${crypto.randomUUID()}`;
    const details = { z: 1e21, a: { y: 0.1, x: [3, 2, 1] }, when: new Date('2026-01-02T03:04:05.678Z'), text: '公安 ✓' };
    const appended = await appendMany(pool, 3, (i) => ({ target, details: { ...details, i } }));

    for (let i = 1; i < appended.length; i++) {
      expect(appended[i]!.seq).toBe(appended[i - 1]!.seq + 1);
      expect(appended[i]!.prevHash).toBe(appended[i - 1]!.hash);
    }
    expect(appended[0]!.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

    // what the API reads back is exactly what was hashed, jsonb reordering and all
    const { entries } = await listAudit(pool, { target });
    expect(entries).toEqual(appended);
    expect(entries[0]!.details).toEqual({ ...details, when: '2026-01-02T03:04:05.678Z', i: 0 });

    const result = await verifyAuditChain(pool);
    expect(result.ok).toBe(true);
    expect(result.firstBroken).toBeUndefined();
    expect(result.lastSeq).toBeGreaterThanOrEqual(appended[2]!.seq);
  });

  it('refuses UPDATE, DELETE and TRUNCATE as append-only', async () => {
    await appendAudit(pool, input());
    await expect(pool.query(`UPDATE audit_log SET outcome = 'denied'`)).rejects.toThrow(/audit_log is append-only/);
    await expect(pool.query('DELETE FROM audit_log')).rejects.toThrow(/audit_log is append-only/);
    await expect(pool.query('TRUNCATE audit_log')).rejects.toThrow(/audit_log is append-only/);
    expect((await verifyAuditChain(pool)).ok).toBe(true);
  });

  it('refuses an INSERT that does not continue the chain', async () => {
    const head = await appendAudit(pool, input());
    const insert = (seq: number, prevHash: string): Promise<unknown> =>
      pool.query(
        `INSERT INTO audit_log (seq, at, actor_department, action, target, outcome, prev_hash, hash)
         VALUES ($1, now(), 'psb', 'x', 'y', 'success', $2, $3)`,
        [seq, prevHash, crypto.randomBytes(32).toString('hex')],
      );
    // a later writer may have appended after `head`; either way these two never fit
    await expect(insert(head.seq + 1000, head.hash)).rejects.toThrow(/does not follow/);
    await expect(insert(head.seq, head.prevHash)).rejects.toThrow(/does not follow|duplicate key/);
  });

  it('commits an entry with the caller transaction, and rolls it back with it', async () => {
    const target = `dataset:audit-tx.${crypto.randomUUID()}`;
    await expect(
      withTransaction(pool, async (c) => {
        await appendAudit(c, input({ target, details: { attempt: 'rolled back' } }));
        throw new Error('the recorded change failed');
      }),
    ).rejects.toThrow('the recorded change failed');
    const kept = await withTransaction(pool, (c) => appendAudit(c, input({ target, details: { attempt: 'committed' } })));

    const { entries } = await listAudit(pool, { target });
    expect(entries).toEqual([kept]);
    expect((await verifyAuditChain(pool)).ok).toBe(true);
  });

  it('refuses a client that is not inside a transaction', async () => {
    const client = await pool.connect();
    try {
      await expect(appendAudit(client, input())).rejects.toThrow(/outside a transaction/);
    } finally {
      client.release();
    }
  });

  it('refuses values the database would not store as hashed', async () => {
    await expect(appendAudit(pool, input({ action: 'a\u0000b' }))).rejects.toBeInstanceOf(InputError);
    await expect(appendAudit(pool, input({ details: { s: 'lone \uD800 surrogate' } }))).rejects.toThrow(/well-formed/);
    await expect(appendAudit(pool, input({ target: '' }))).rejects.toThrow(/target/);
    await expect(appendAudit(pool, input({ outcome: 'maybe' as 'success' }))).rejects.toThrow(/outcome/);
  });
});

describe('concurrent appends', () => {
  it('20 concurrent appends from separate connections and pools give seqs 1..20 without a fork', async () => {
    const chainPool = await freshDatabase(10);
    // a second pool stands in for a second govx process
    const otherProcess = createPool(urlOf(chainPool), { max: 10 });
    try {
      const appended = await Promise.all(
        Array.from({ length: 20 }, (_, i) => appendAudit(i % 2 ? otherProcess : chainPool, input({ details: { i } }))),
      );
      expect(appended.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

      const { entries } = await listAudit(chainPool, { limit: 100 });
      expect(entries).toHaveLength(20);
      expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
      for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash);
      expect(new Set(entries.map((e) => e.prevHash)).size).toBe(20);

      expect(await verifyAuditChain(chainPool, { batchSize: 3 })).toEqual({ ok: true, checked: 20, lastSeq: 20 });
    } finally {
      await otherProcess.end();
    }
  });

  it('reports an empty chain as intact', async () => {
    const empty = await freshDatabase(2);
    expect(await verifyAuditChain(empty)).toEqual({ ok: true, checked: 0, lastSeq: null });
    expect(await listAudit(empty)).toEqual({ entries: [], nextCursor: null });
  });
});

describe('tampering is detected (own databases, triggers disabled as the owner)', () => {
  async function chainOf(n: number): Promise<{ db: Pool; entries: AuditEntry[] }> {
    const db = await freshDatabase(3);
    const entries = await appendMany(db, n, (i) => ({ details: { i, note: `entry ${i + 1}` } }));
    expect((await verifyAuditChain(db)).ok).toBe(true);
    return { db, entries };
  }

  it('an edited row is named with a hash mismatch', async () => {
    const { db } = await chainOf(7);
    await tamper(db, `UPDATE audit_log SET details = jsonb_set(details, '{note}', '"rewritten"') WHERE seq = 5`);
    const result = await verifyAuditChain(db, { batchSize: 2 });
    expect(result.ok).toBe(false);
    expect(result.firstBroken?.seq).toBe(5);
    expect(result.firstBroken?.reason).toMatch(/hash mismatch/);
    expect(result.checked).toBe(4);
    expect(result.lastSeq).toBe(4);
  });

  it('a deleted middle row is named as a gap', async () => {
    const { db } = await chainOf(7);
    await tamper(db, 'DELETE FROM audit_log WHERE seq = 4');
    const result = await verifyAuditChain(db, { batchSize: 2 });
    expect(result.ok).toBe(false);
    expect(result.firstBroken?.seq).toBe(4);
    expect(result.firstBroken?.reason).toMatch(/missing.*gap/);
  });

  it('a deleted first row is named as a gap', async () => {
    const { db } = await chainOf(3);
    await tamper(db, 'DELETE FROM audit_log WHERE seq = 1');
    const result = await verifyAuditChain(db);
    expect(result.firstBroken?.seq).toBe(1);
    expect(result.lastSeq).toBeNull();
  });

  it('an edited row re-hashed even with the audit key breaks the next row prev_hash', async () => {
    const { db, entries } = await chainOf(6);
    const edited = { ...entries[2]!, outcome: 'denied' as const };
    const rehash = computeAuditHash(edited.prevHash, edited, auditChainKey().key);
    await tamper(db, `UPDATE audit_log SET outcome = 'denied', hash = $1 WHERE seq = 3`, [rehash]);
    const result = await verifyAuditChain(db);
    expect(result.ok).toBe(false);
    expect(result.firstBroken?.seq).toBe(4);
    expect(result.firstBroken?.reason).toMatch(/prev_hash mismatch.*entry 3/);
  });

  it('an edited row re-hashed without the audit key is named by its own hash', async () => {
    const { db, entries } = await chainOf(4);
    const edited = { ...entries[1]!, outcome: 'denied' as const };
    await tamper(db, `UPDATE audit_log SET outcome = 'denied', hash = $1 WHERE seq = 2`, [computeAuditHash(edited.prevHash, edited)]);
    const result = await verifyAuditChain(db);
    expect(result.firstBroken?.seq).toBe(2);
    expect(result.firstBroken?.reason).toMatch(/hash mismatch/);
  });

  it('a timestamp edited below millisecond precision is caught', async () => {
    const { db } = await chainOf(3);
    await tamper(db, `UPDATE audit_log SET at = at + interval '250 microseconds' WHERE seq = 2`);
    const result = await verifyAuditChain(db);
    expect(result.firstBroken?.seq).toBe(2);
    expect(result.firstBroken?.reason).toMatch(/sub-millisecond/);
  });

  it('the triggers are back on after tampering', async () => {
    const { db } = await chainOf(2);
    await tamper(db, `UPDATE audit_log SET target = 'dataset:other' WHERE seq = 2`);
    await expect(db.query('DELETE FROM audit_log WHERE seq = 2')).rejects.toThrow(/append-only/);
  });
});

describe('listAudit', () => {
  let db: Pool;
  let all: AuditEntry[];
  const plan: Array<Partial<AuditEntryInput>> = [
    { actor: { department: 'psb', role: 'steward' }, action: 'catalog.dataset.update', target: 'dataset:population.residents' },
    { actor: { department: 'amr', role: 'publisher' }, action: 'publish.batch', target: 'dataset:legal-entity.registry' },
    { actor: { department: 'civil-affairs', role: 'consumer' }, action: 'subscription.request', target: 'dataset:population.residents', outcome: 'denied' },
    { actor: { department: 'info-office', role: 'admin' }, action: 'catalog.dataset.create', target: 'dataset:geospatial.buildings' },
    { actor: { department: 'info-office', role: 'admin' }, action: 'key.create', target: 'key:abcdef123456' },
    { actor: { department: 'psb', role: 'steward' }, action: 'registry.schema.register', target: 'dataset:population.residents', outcome: 'failure' },
    { actor: { department: 'psb', role: 'steward' }, action: 'subscription.approve', target: 'subscription:s1' },
    { actor: { department: 'info-office', role: 'admin' }, action: 'catalogue.misc', target: 'other:1' },
    { actor: { department: 'amr', role: 'publisher' }, action: 'publish.batch', target: 'dataset:legal-entity.registry' },
    { actor: { department: 'psb', role: 'steward' }, action: 'catalog.dataset.update', target: 'dataset:population.residents' },
  ];

  beforeAll(async () => {
    db = await freshDatabase(3);
    all = [];
    for (const p of plan) {
      all.push(await appendAudit(db, input(p)));
      await new Promise((r) => setTimeout(r, 3)); // distinct milliseconds, so time ranges are exact
    }
  });

  const seqs = (entries: AuditEntry[]): number[] => entries.map((e) => e.seq);

  it('lists everything oldest first by default', async () => {
    const page = await listAudit(db);
    expect(page.entries).toEqual(all);
    expect(page.nextCursor).toBeNull();
  });

  it('filters by department, action prefix, target and outcome', async () => {
    expect(seqs((await listAudit(db, { department: 'psb' })).entries)).toEqual([1, 6, 7, 10]);
    expect(seqs((await listAudit(db, { action: 'catalog.' })).entries)).toEqual([1, 4, 10]);
    expect(seqs((await listAudit(db, { action: 'catalog' })).entries)).toEqual([1, 4, 8, 10]);
    expect(seqs((await listAudit(db, { action: 'publish.batch' })).entries)).toEqual([2, 9]);
    expect(seqs((await listAudit(db, { target: 'dataset:population.residents' })).entries)).toEqual([1, 3, 6, 10]);
    expect(seqs((await listAudit(db, { outcome: 'denied' })).entries)).toEqual([3]);
    expect(seqs((await listAudit(db, { department: 'psb', action: 'catalog.', outcome: 'success' })).entries)).toEqual([1, 10]);
  });

  it('treats LIKE wildcards in the action prefix literally', async () => {
    expect((await listAudit(db, { action: '%' })).entries).toEqual([]);
    expect((await listAudit(db, { action: 'catalog_' })).entries).toEqual([]);
  });

  it('filters by time, from inclusive and to exclusive', async () => {
    const from = new Date(all[3]!.at);
    const to = new Date(all[7]!.at);
    expect(seqs((await listAudit(db, { from, to })).entries)).toEqual([4, 5, 6, 7]);
    expect(seqs((await listAudit(db, { from: new Date(all[8]!.at) })).entries)).toEqual([9, 10]);
    expect(seqs((await listAudit(db, { to: new Date(all[1]!.at) })).entries)).toEqual([1]);
  });

  it('pages with the cursor until nextCursor is null', async () => {
    const pages: number[][] = [];
    let cursor: number | undefined;
    for (;;) {
      const page = await listAudit(db, { limit: 3, afterSeq: cursor });
      pages.push(seqs(page.entries));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    expect(pages).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
  });

  it('pages a filtered listing, with no empty last page', async () => {
    const first = await listAudit(db, { department: 'psb', limit: 2 });
    expect(seqs(first.entries)).toEqual([1, 6]);
    expect(first.nextCursor).toBe(6);
    const second = await listAudit(db, { department: 'psb', limit: 2, afterSeq: first.nextCursor! });
    expect(seqs(second.entries)).toEqual([7, 10]);
    expect(second.nextCursor).toBeNull();
  });

  it('caps the limit at 1000 and rejects nonsense', async () => {
    expect((await listAudit(db, { limit: 5000 })).entries).toHaveLength(10);
    await expect(listAudit(db, { limit: 0 })).rejects.toBeInstanceOf(InputError);
    await expect(listAudit(db, { limit: 2.5 })).rejects.toBeInstanceOf(InputError);
    await expect(listAudit(db, { afterSeq: -1 })).rejects.toBeInstanceOf(InputError);
    await expect(listAudit(db, { from: new Date('nope') })).rejects.toBeInstanceOf(InputError);
  });
});
