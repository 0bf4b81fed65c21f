/**
 * The tamper-evident audit trail: an append-only hash chain in the `audit_log` table (migration 0003).
 *
 * Each entry's hash is HMAC-SHA256(audit key, prevHash + canonical encoding of the entry), the first entry
 * chaining from 64 zeros; the audit key is derived from the master key outside the database (lib/keyring.ts),
 * and `hash_key` names it (migration 0016). Editing a row breaks its hash, re-hashing an edited row breaks
 * the next row's link, and a deleted row leaves a gap in `seq`; whoever owns the database but not the key
 * cannot re-hash at all. Entries written before keyed hashing (hash_key NULL) are plain sha256 and accepted
 * only before the first keyed one. Removing entries from the very end cannot be seen from inside the chain:
 * the signed checkpoints kept outside PostgreSQL (auditCheckpoints.ts) are what catch that.
 */
import crypto from 'node:crypto';
import type { Pool, PoolClient } from '../lib/db';
import { type Keyring, openDefaultKeyring } from '../lib/keyring';
import { withTransaction } from '../lib/db';
import { InputError } from '../lib/errors';

export type AuditOutcome = 'success' | 'denied' | 'failure';
const OUTCOMES: readonly string[] = ['success', 'denied', 'failure'];

export interface AuditActor {
  department: string;
  keyId?: string | null;
  role?: string | null;
}

export interface AuditEntryInput {
  actor: AuditActor;
  action: string;
  target: string;
  outcome: AuditOutcome;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

/** One audit row as the API shows it. */
export interface AuditEntry {
  seq: number;
  /** ISO 8601, UTC, millisecond precision. */
  at: string;
  actor: { department: string; keyId: string | null; role: string | null };
  action: string;
  target: string;
  outcome: AuditOutcome;
  requestId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** The part of an entry its hash covers: everything but the hashes themselves. */
export type AuditHashedFields = Omit<AuditEntry, 'prevHash' | 'hash'>;

export const GENESIS_HASH = '0'.repeat(64);

/**
 * Fixed advisory-lock key of the audit chain, distinct from the migration lock. Every govx process
 * appending to the same database serializes on it, which is what keeps the chain from forking.
 */
export const AUDIT_LOCK_ID = 4_711_3001;

const MAX_DETAILS_DEPTH = 32;

// ---------------------------------------------------------------------------------------------------
// Canonical encoding (pure)

/**
 * Deterministic JSON of the hashed fields: keys sorted recursively, absent optional fields as null, and
 * `details` reduced to what survives a JSON round trip (which is all a jsonb column can give back), so
 * the hash computed before the INSERT is the one recomputed from the stored row.
 */
export function canonicalAuditEncoding(entry: AuditHashedFields): string {
  return canonicalJson({
    seq: entry.seq,
    at: entry.at,
    actor: {
      department: entry.actor.department,
      keyId: entry.actor.keyId ?? null,
      role: entry.actor.role ?? null,
    },
    action: entry.action,
    target: entry.target,
    outcome: entry.outcome,
    requestId: entry.requestId ?? null,
    details: jsonRoundTrip(entry.details ?? {}),
  });
}

/** HMAC-SHA256 under `key`; without one, the plain sha256 of entries written before keyed hashing. */
export function computeAuditHash(prevHash: string, entry: AuditHashedFields, key?: Buffer | null): string {
  const text = prevHash + canonicalAuditEncoding(entry);
  if (!key) return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
  return crypto.createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/** The key the chain is hashed with, and its public id (stored with each entry; it reveals nothing of the key). */
export interface AuditChainKey {
  id: string;
  key: Buffer;
}

export function auditChainKeyOf(keyring: Keyring): AuditChainKey {
  const key = keyring.derive('audit-chain');
  return { id: crypto.createHash('sha256').update('govx audit key id\u0000').update(key).digest('hex').slice(0, 12), key };
}

let processChainKey: AuditChainKey | null = null;

/** Hash this process's entries with the audit key of `keyring` (start-up, once the configuration is read). */
export function useAuditKeyring(keyring: Keyring): void {
  processChainKey = auditChainKeyOf(keyring);
}

/** The process's audit key: from the keyring the configuration names (GOVX_KEYS_DIR, GOVX_MASTER_KEY). */
export function auditChainKey(): AuditChainKey {
  if (!processChainKey) processChainKey = auditChainKeyOf(openDefaultKeyring());
  return processChainKey;
}

/** What jsonb would hand back: Dates become strings, undefined members vanish, NaN becomes null. */
function jsonRoundTrip(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? null : JSON.parse(text);
}

// Built as a string rather than as a sorted object: assigning a "__proto__" key to a plain object would
// set its prototype instead of adding the key, silently dropping it from the hash.
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const members = Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// ---------------------------------------------------------------------------------------------------
// Input checks: a value PostgreSQL would store differently from what was hashed must be refused up
// front, or the entry would fail verification forever after.

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkStoredString(value: string, path: string): void {
  // text and jsonb reject NUL; a lone surrogate would be stored as U+FFFD (text) or rejected (jsonb).
  if (value.includes('\u0000')) throw new InputError('audit.invalid_entry', `${path} must not contain NUL characters`);
  if (LONE_SURROGATE.test(value)) throw new InputError('audit.invalid_entry', `${path} is not well-formed Unicode`);
}

function checkDetailsValue(value: unknown, path: string, depth: number): void {
  if (depth > MAX_DETAILS_DEPTH) throw new InputError('audit.invalid_entry', `${path} nests deeper than ${MAX_DETAILS_DEPTH} levels`);
  if (typeof value === 'string') return checkStoredString(value, path);
  if (typeof value === 'bigint') throw new InputError('audit.invalid_entry', `${path} is a bigint; store it as a string`);
  if (Array.isArray(value)) return value.forEach((v, i) => checkDetailsValue(v, `${path}[${i}]`, depth + 1));
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      checkStoredString(k, `${path} key`);
      checkDetailsValue(v, `${path}.${k}`, depth + 1);
    }
  }
}

function checkEntry(entry: AuditEntryInput): void {
  const required: Array<[string, unknown]> = [
    ['actor.department', entry.actor?.department],
    ['action', entry.action],
    ['target', entry.target],
  ];
  for (const [path, v] of required) {
    if (typeof v !== 'string' || v === '') throw new InputError('audit.invalid_entry', `${path} must be a non-empty string`);
    checkStoredString(v, path);
  }
  const optional: Array<[string, unknown]> = [
    ['actor.keyId', entry.actor.keyId],
    ['actor.role', entry.actor.role],
    ['requestId', entry.requestId],
  ];
  for (const [path, v] of optional) {
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new InputError('audit.invalid_entry', `${path} must be a string or null`);
    checkStoredString(v, path);
  }
  if (!OUTCOMES.includes(entry.outcome)) {
    throw new InputError('audit.invalid_entry', `outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  const details = entry.details ?? {};
  if (details === null || typeof details !== 'object' || Array.isArray(details)) {
    throw new InputError('audit.invalid_entry', 'details must be an object');
  }
  checkDetailsValue(details, 'details', 0);
}

// ---------------------------------------------------------------------------------------------------
// Append

function isPool(db: Pool | PoolClient): db is Pool {
  // A pg.Pool hands out clients; a checked-out client has release() instead.
  return typeof (db as PoolClient).release !== 'function';
}

/**
 * Appends one entry to the chain and returns it as stored.
 *
 * Given a Pool, the append runs in a transaction of its own. Given a PoolClient, the caller MUST already
 * be inside a READ COMMITTED transaction (BEGIN … COMMIT, e.g. lib/db withTransaction): the entry then
 * commits or rolls back together with the change it records. The chain lock is held until that
 * transaction ends, so keep it short. A client outside a transaction is refused, because the lock would
 * be released before the row is written.
 */
export async function appendAudit(db: Pool | PoolClient, entry: AuditEntryInput): Promise<AuditEntry> {
  checkEntry(entry);
  if (isPool(db)) return withTransaction(db, (client) => appendInTransaction(client, entry));
  return appendInTransaction(db, entry);
}

async function appendInTransaction(client: PoolClient, input: AuditEntryInput): Promise<AuditEntry> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_ID]);
  const last = await readChainHead(client);
  const fields: AuditHashedFields = {
    seq: last.seq + 1,
    at: new Date().toISOString(),
    actor: { department: input.actor.department, keyId: input.actor.keyId ?? null, role: input.actor.role ?? null },
    action: input.action,
    target: input.target,
    outcome: input.outcome,
    requestId: input.requestId ?? null,
    details: jsonRoundTrip(input.details ?? {}) as Record<string, unknown>,
  };
  const chainKey = auditChainKey();
  const hash = computeAuditHash(last.hash, fields, chainKey.key);
  await client.query(
    `INSERT INTO audit_log (seq, at, actor_department, actor_key_id, actor_role, action, target, outcome,
                            request_id, details, prev_hash, hash, hash_key)
     VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)`,
    [
      fields.seq, fields.at, fields.actor.department, fields.actor.keyId, fields.actor.role, fields.action,
      fields.target, fields.outcome, fields.requestId, JSON.stringify(fields.details), last.hash, hash, chainKey.id,
    ],
  );
  return { ...fields, prevHash: last.hash, hash };
}

/**
 * Appends several entries as consecutive links of the chain with one lock, one read of the chain head and
 * one INSERT — for callers that collect entries of concurrent work (the publish path's group commit). Same
 * contract as appendAudit: given a PoolClient, the caller is inside a transaction.
 */
export async function appendAuditBatch(db: Pool | PoolClient, entries: AuditEntryInput[]): Promise<AuditEntry[]> {
  for (const entry of entries) checkEntry(entry);
  if (entries.length === 0) return [];
  if (isPool(db)) return withTransaction(db, (client) => appendBatchInTransaction(client, entries));
  return appendBatchInTransaction(db, entries);
}

async function appendBatchInTransaction(client: PoolClient, inputs: AuditEntryInput[]): Promise<AuditEntry[]> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_ID]);
  let last = await readChainHead(client);
  const chainKey = auditChainKey();
  const at = new Date().toISOString();
  const appended: AuditEntry[] = [];
  const params: unknown[] = [];
  const rows: string[] = [];
  for (const input of inputs) {
    const fields: AuditHashedFields = {
      seq: last.seq + 1,
      at,
      actor: { department: input.actor.department, keyId: input.actor.keyId ?? null, role: input.actor.role ?? null },
      action: input.action,
      target: input.target,
      outcome: input.outcome,
      requestId: input.requestId ?? null,
      details: jsonRoundTrip(input.details ?? {}) as Record<string, unknown>,
    };
    const hash = computeAuditHash(last.hash, fields, chainKey.key);
    const n = params.length;
    rows.push(`($${n + 1}, $${n + 2}::timestamptz, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7}, $${n + 8}, $${n + 9}, $${n + 10}::jsonb, $${n + 11}, $${n + 12}, $${n + 13})`);
    params.push(
      fields.seq, fields.at, fields.actor.department, fields.actor.keyId, fields.actor.role, fields.action,
      fields.target, fields.outcome, fields.requestId, JSON.stringify(fields.details), last.hash, hash, chainKey.id,
    );
    appended.push({ ...fields, prevHash: last.hash, hash });
    last = { seq: fields.seq, hash };
  }
  await client.query(
    `INSERT INTO audit_log (seq, at, actor_department, actor_key_id, actor_role, action, target, outcome,
                            request_id, details, prev_hash, hash, hash_key)
     VALUES ${rows.join(', ')}`,
    params,
  );
  return appended;
}

/**
 * The last entry's seq and hash, read after taking the lock. Checking that this session still holds the
 * lock in the same statement catches a client in autocommit mode, whose lock ended with its own statement.
 */
async function readChainHead(client: PoolClient): Promise<{ seq: number; hash: string }> {
  const { rows } = await client.query<{ seq: string | null; hash: string | null; locked: boolean }>(
    `SELECT last.seq, last.hash,
            EXISTS (SELECT 1 FROM pg_locks
                     WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                       AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid
                       AND objsubid = 1) AS locked
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS last ON true`,
    [AUDIT_LOCK_ID],
  );
  const row = rows[0]!;
  if (!row.locked) {
    throw new Error('appendAudit was given a client outside a transaction: call it between BEGIN and COMMIT, or pass the Pool');
  }
  return row.seq === null ? { seq: 0, hash: GENESIS_HASH } : { seq: Number(row.seq), hash: row.hash! };
}

// ---------------------------------------------------------------------------------------------------
// Read

interface AuditRow {
  seq: string;
  at: string;
  at_sub_ms: boolean;
  actor_department: string;
  actor_key_id: string | null;
  actor_role: string | null;
  action: string;
  target: string;
  outcome: string;
  request_id: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  hash_key: string | null;
}

// `at` is formatted by PostgreSQL in UTC exactly as Date#toISOString writes it, so neither the session
// time zone nor JavaScript Date parsing stands between the stored value and the hashed string.
// at_sub_ms flags a timestamp finer than the app ever writes: the ISO string alone would hide that edit.
const SELECT_COLUMNS = `seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
  at <> date_trunc('milliseconds', at) AS at_sub_ms, actor_department, actor_key_id, actor_role, action,
  target, outcome, request_id, details, prev_hash, hash, hash_key`;

function toEntry(row: AuditRow): AuditEntry {
  return {
    seq: Number(row.seq),
    at: row.at,
    actor: { department: row.actor_department, keyId: row.actor_key_id, role: row.actor_role },
    action: row.action,
    target: row.target,
    outcome: row.outcome as AuditOutcome,
    requestId: row.request_id,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export interface AuditFilters {
  /** inclusive */
  from?: Date;
  /** exclusive, so consecutive ranges neither overlap nor miss an entry */
  to?: Date;
  department?: string;
  /** prefix: 'catalog.' matches 'catalog.dataset.update' */
  action?: string;
  target?: string;
  outcome?: string;
  /** default 100, at most 1000 */
  limit?: number;
  /** return entries after this seq in the chosen order (the previous page's nextCursor) */
  afterSeq?: number;
  /** oldest first (default), or newest first as people look at a trail */
  order?: 'asc' | 'desc';
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;

function escapeLike(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function checkDate(value: Date, name: string): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new InputError('audit.invalid_filter', `${name} must be a valid date`);
  }
}

function resolveLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_AUDIT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new InputError('audit.invalid_filter', 'limit must be a positive whole number');
  return Math.min(limit, MAX_AUDIT_LIMIT);
}

function buildWhere(filters: AuditFilters): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown): void => {
    params.push(value);
    clauses.push(clause.replace('?', `$${params.length}`));
  };
  if (filters.from !== undefined) {
    checkDate(filters.from, 'from');
    add('at >= ?::timestamptz', filters.from.toISOString());
  }
  if (filters.to !== undefined) {
    checkDate(filters.to, 'to');
    add('at < ?::timestamptz', filters.to.toISOString());
  }
  if (filters.department !== undefined) add('actor_department = ?', filters.department);
  if (filters.action !== undefined) add(`action LIKE ? ESCAPE '\\'`, `${escapeLike(filters.action)}%`);
  if (filters.target !== undefined) add('target = ?', filters.target);
  if (filters.outcome !== undefined) add('outcome = ?', filters.outcome);
  if (filters.afterSeq !== undefined) {
    if (!Number.isSafeInteger(filters.afterSeq) || filters.afterSeq < 0) {
      throw new InputError('audit.invalid_filter', 'afterSeq must be a non-negative whole number');
    }
    add(filters.order === 'desc' ? 'seq < ?' : 'seq > ?', filters.afterSeq);
  }
  for (const key of ['department', 'action', 'target', 'outcome'] as const) {
    const v = filters[key];
    if (v !== undefined) checkStoredString(v, key);
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Entries matching every given filter, oldest first, one page at a time. */
export async function listAudit(
  db: Pool | PoolClient,
  filters: AuditFilters = {},
): Promise<{ entries: AuditEntry[]; nextCursor: number | null }> {
  const limit = resolveLimit(filters.limit);
  const where = buildWhere(filters);
  // One row more than asked tells whether another page exists without a count or an empty last page.
  const { rows } = await db.query<AuditRow>(
    `SELECT ${SELECT_COLUMNS} FROM audit_log ${where.sql} ORDER BY seq ${filters.order === 'desc' ? 'DESC' : 'ASC'} LIMIT $${where.params.length + 1}`,
    [...where.params, limit + 1],
  );
  const entries = rows.slice(0, limit).map(toEntry);
  const nextCursor = rows.length > limit ? entries[entries.length - 1]!.seq : null;
  return { entries, nextCursor };
}

// ---------------------------------------------------------------------------------------------------
// Verify

export interface AuditVerification {
  ok: boolean;
  /** entries found intact */
  checked: number;
  /** the last intact entry (the chain head when ok); null when there is none */
  lastSeq: number | null;
  firstBroken?: { seq: number; reason: string };
}

export interface ChainCheckOptions {
  batchSize?: number;
  /** the audit key (default: the process's) */
  key?: AuditChainKey;
  /** entries from this seq on must be keyed (a signed checkpoint says so); default: once one is */
  keyedFrom?: number | null;
  /** called with each intact entry's seq and hash (what checkpoints are compared with) */
  onEntry?: (seq: number, hash: string) => void;
}

/** Why a row does not continue the chain after (prevSeq, prevHash), or null when it does. */
function checkLink(row: AuditRow, prevSeq: number, prevHash: string, key: AuditChainKey, keyedFrom: number): { seq: number; reason: string } | null {
  const seq = Number(row.seq);
  if (seq !== prevSeq + 1) {
    const missing = seq === prevSeq + 2 ? `${prevSeq + 1}` : `${prevSeq + 1}..${seq - 1}`;
    return { seq: prevSeq + 1, reason: `missing: entry ${missing} is absent (a gap before seq ${seq}), so it was deleted` };
  }
  if (row.at_sub_ms) {
    return { seq, reason: 'at has sub-millisecond precision, which the application never writes: the timestamp was edited' };
  }
  if (row.hash_key === null && seq >= keyedFrom) {
    return { seq, reason: `unkeyed: the entry carries a plain hash where the chain is keyed from entry ${keyedFrom}, so it was rewritten by someone without the audit key` };
  }
  if (row.hash_key !== null && row.hash_key !== key.id) {
    return { seq, reason: `wrong key: the entry names audit key ${row.hash_key}, not govx's key ${key.id}, so it was rewritten by someone without the audit key` };
  }
  const entry = toEntry(row);
  if (computeAuditHash(row.prev_hash, entry, row.hash_key === null ? null : key.key) !== row.hash) {
    return { seq, reason: 'hash mismatch: the stored content does not match the entry hash under the audit key, so the entry was edited (or re-hashed without the key)' };
  }
  if (row.prev_hash !== prevHash) {
    return {
      seq,
      reason: `prev_hash mismatch: it does not match the hash of entry ${prevSeq}, so entry ${prevSeq} was edited and re-hashed (or this link was rewritten)`,
    };
  }
  return null;
}

/**
 * Recomputes the whole chain in seq order, in batches (keyset paging, never the whole table in memory),
 * and reports the first entry that breaks it. Entries appended while verifying are left for the next
 * run, so a busy trail cannot keep the verification from ending.
 */
export async function verifyAuditChain(db: Pool | PoolClient, opts: ChainCheckOptions = {}): Promise<AuditVerification> {
  const batchSize = opts.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InputError('audit.invalid_option', 'batchSize must be a positive whole number');
  const key = opts.key ?? auditChainKey();
  const head = await db.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM audit_log');
  const endSeq = head.rows[0]?.seq == null ? 0 : Number(head.rows[0].seq);
  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  let checked = 0;
  // once an entry is keyed, every later one must be
  let keyedFrom = opts.keyedFrom ?? Number.MAX_SAFE_INTEGER;
  for (;;) {
    const { rows } = await db.query<AuditRow>(
      `SELECT ${SELECT_COLUMNS} FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
      [prevSeq, endSeq, batchSize],
    );
    for (const row of rows) {
      const broken = checkLink(row, prevSeq, prevHash, key, keyedFrom);
      if (broken) return { ok: false, checked, lastSeq: prevSeq === 0 ? null : prevSeq, firstBroken: broken };
      prevSeq = Number(row.seq);
      prevHash = row.hash;
      if (row.hash_key !== null && keyedFrom > prevSeq) keyedFrom = prevSeq;
      opts.onEntry?.(prevSeq, prevHash);
      checked += 1;
    }
    if (rows.length < batchSize) break;
  }
  return { ok: true, checked, lastSeq: checked === 0 ? null : prevSeq };
}
