import crypto from 'node:crypto';
import type { Pool, PoolClient } from '../lib/db';
import { InputError, NotFoundError } from '../lib/errors';

export const roles = ['publisher', 'consumer', 'steward', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface Principal {
  readonly department: string;
  readonly role: Role;
  readonly keyId: string;
}

export interface Department {
  id: string;
  nameZh: string;
  nameEn: string;
  kind: string;
  clearance: number;
}

/**
 * A key reads `govx_<keyId>_<secret>`: the id finds the row, the secret is compared by its SHA-256 hash.
 * Secrets carry 256 bits of randomness, so a fast hash is the right tool (a slow password hash protects
 * low-entropy secrets, which these are not) and keeps authentication off the hot path's CPU budget.
 */
const KEY_PATTERN = /^govx_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function newKeyId(): string {
  const bytes = crypto.randomBytes(12);
  let id = '';
  for (const b of bytes) id += ID_ALPHABET[b % ID_ALPHABET.length];
  return id;
}

const sha256 = (s: string): Buffer => crypto.createHash('sha256').update(s).digest();

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

export async function listDepartments(db: Pool | PoolClient): Promise<Department[]> {
  const { rows } = await db.query(
    'SELECT id, name_zh AS "nameZh", name_en AS "nameEn", kind, clearance FROM departments ORDER BY id',
  );
  return rows as Department[];
}

export async function getDepartment(db: Pool | PoolClient, id: string): Promise<Department | null> {
  const { rows } = await db.query(
    'SELECT id, name_zh AS "nameZh", name_en AS "nameEn", kind, clearance FROM departments WHERE id = $1',
    [id],
  );
  return (rows[0] as Department | undefined) ?? null;
}

export interface ApiKeyInfo {
  id: string;
  department: string;
  role: Role;
  label: string | null;
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  replacedBy: string | null;
}

export interface CreatedKey {
  id: string;
  /** The whole key, secret included: shown once, never stored. */
  key: string;
  department: string;
  role: Role;
  label: string | null;
  createdAt: string;
}

const KEY_COLUMNS = `id, department_id AS department, role, label, created_at AS "createdAt", created_by AS "createdBy",
  revoked_at AS "revokedAt", revoked_by AS "revokedBy", replaced_by AS "replacedBy"`;

interface KeyRow extends Omit<ApiKeyInfo, 'createdAt' | 'revokedAt'> {
  createdAt: Date;
  revokedAt: Date | null;
}

const keyInfo = (r: KeyRow): ApiKeyInfo => ({ ...r, createdAt: r.createdAt.toISOString(), revokedAt: r.revokedAt?.toISOString() ?? null });

export const MAX_KEY_LABEL = 200;

export async function createApiKey(
  db: Pool | PoolClient,
  input: { department: string; role: string; label?: string | null; createdBy?: string | null },
): Promise<CreatedKey> {
  if (!isRole(input.role)) {
    throw new InputError('key.invalid_role', `role must be one of ${roles.join(', ')}, got "${String(input.role).slice(0, 40)}"`);
  }
  if (input.label != null && (typeof input.label !== 'string' || input.label.length > MAX_KEY_LABEL)) {
    throw new InputError('key.invalid_label', `label must be a string of at most ${MAX_KEY_LABEL} characters`);
  }
  if (!(await getDepartment(db, input.department))) {
    throw new NotFoundError('department.not_found', `no department "${input.department.slice(0, 64)}"`);
  }
  const keyId = newKeyId();
  const secret = crypto.randomBytes(32).toString('base64url');
  const { rows } = await db.query<{ created_at: Date }>(
    'INSERT INTO api_keys (id, department_id, role, secret_sha256, label, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at',
    [keyId, input.department, input.role, sha256(secret), input.label ?? null, input.createdBy ?? null],
  );
  return {
    id: keyId,
    key: `govx_${keyId}_${secret}`,
    department: input.department,
    role: input.role,
    label: input.label ?? null,
    createdAt: rows[0]!.created_at.toISOString(),
  };
}

export async function getApiKey(db: Pool | PoolClient, keyId: string): Promise<ApiKeyInfo | null> {
  if (!/^[a-z0-9]{12}$/.test(keyId)) return null;
  const { rows } = await db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [keyId]);
  return rows[0] ? keyInfo(rows[0]) : null;
}

/** Keys of one department (or all), newest first; never their secrets. */
export async function listApiKeys(db: Pool | PoolClient, filter: { department?: string } = {}): Promise<ApiKeyInfo[]> {
  const { rows } = await db.query<KeyRow>(
    `SELECT ${KEY_COLUMNS} FROM api_keys WHERE $1::text IS NULL OR department_id = $1 ORDER BY created_at DESC, id`,
    [filter.department ?? null],
  );
  return rows.map(keyInfo);
}

/** Marks a live key revoked (the next request with it is refused); false when it was not live. */
export async function revokeApiKey(db: Pool | PoolClient, keyId: string, revokedBy: string | null = null, replacedBy: string | null = null): Promise<boolean> {
  const r = await db.query('UPDATE api_keys SET revoked_at = now(), revoked_by = $2, replaced_by = $3 WHERE id = $1 AND revoked_at IS NULL', [
    keyId,
    revokedBy,
    replacedBy,
  ]);
  return (r.rowCount ?? 0) > 0;
}

/** Requests a key sent in the current one-second window and the one before, and how far the current one is. */
export interface RequestWindow {
  current: number;
  previous: number;
  /** 0..1: how much of the current second has passed */
  elapsed: number;
}

export interface KeyCheck {
  principal: Principal;
  /** Present when the request was counted. */
  window?: RequestWindow;
}

/**
 * Returns the key's principal, or null for anything that is not a live key (malformed, unknown, revoked,
 * wrong secret). With `count`, the same statement adds the request to the key's shared one-second window,
 * so authentication and the rate limit cost one round trip, and only a verified key spends its budget.
 * The secret's hash is compared in SQL: a timing difference could reveal a prefix of a SHA-256 of a
 * 256-bit secret, which gives nothing towards the secret.
 */
export async function authenticateKey(db: Pool | PoolClient, presented: string, opts: { count?: boolean } = {}): Promise<KeyCheck | null> {
  const m = KEY_PATTERN.exec(presented);
  if (!m) return null;
  const [, keyId, secret] = m as unknown as [string, string, string];
  if (!opts.count) {
    const { rows } = await db.query<{ department_id: string; role: Role }>(
      'SELECT department_id, role FROM api_keys WHERE id = $1 AND revoked_at IS NULL AND secret_sha256 = $2',
      [keyId, sha256(secret)],
    );
    return rows[0] ? { principal: { department: rows[0].department_id, role: rows[0].role, keyId } } : null;
  }
  const { rows } = await db.query<{ department_id: string; role: Role; current: number; previous: number; elapsed: number }>(
    `WITH key AS (
       SELECT id, department_id, role FROM api_keys WHERE id = $1 AND revoked_at IS NULL AND secret_sha256 = $2
     ), clock AS (
       SELECT extract(epoch FROM clock_timestamp())::float8 AS t
     ), bump AS (
       INSERT INTO rate_limit_windows AS w (key_id, window_start, count)
       SELECT key.id, floor(clock.t)::bigint, 1 FROM key, clock
       ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count + 1
       RETURNING w.window_start, w.count
     )
     SELECT key.department_id, key.role, bump.count AS current,
            coalesce((SELECT p.count FROM rate_limit_windows p WHERE p.key_id = key.id AND p.window_start = bump.window_start - 1), 0) AS previous,
            (SELECT t - floor(t) FROM clock) AS elapsed
       FROM key JOIN bump ON true`,
    [keyId, sha256(secret)],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    principal: { department: row.department_id, role: row.role, keyId },
    window: { current: Number(row.current), previous: Number(row.previous), elapsed: Number(row.elapsed) },
  };
}

/**
 * Adds one request to `keyId`'s shared one-second window and returns the window. Console sessions count
 * here under their principal's key id (the key a session signed in with, or `user:<subject>` for single
 * sign-on), so a browser session spends the same budget as the key it stands for.
 */
export async function countKeyRequest(db: Pool | PoolClient, keyId: string): Promise<RequestWindow> {
  const { rows } = await db.query<{ current: number; previous: number; elapsed: number }>(
    `WITH clock AS (
       SELECT extract(epoch FROM clock_timestamp())::float8 AS t
     ), bump AS (
       INSERT INTO rate_limit_windows AS w (key_id, window_start, count)
       SELECT $1, floor(clock.t)::bigint, 1 FROM clock
       ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count + 1
       RETURNING w.window_start, w.count
     )
     SELECT bump.count AS current,
            coalesce((SELECT p.count FROM rate_limit_windows p WHERE p.key_id = $1 AND p.window_start = bump.window_start - 1), 0) AS previous,
            (SELECT t - floor(t) FROM clock) AS elapsed
       FROM bump`,
    [keyId],
  );
  const row = rows[0]!;
  return { current: Number(row.current), previous: Number(row.previous), elapsed: Number(row.elapsed) };
}

/** Forgets request windows older than a minute; any gateway may run it. */
export async function pruneRequestWindows(db: Pool | PoolClient): Promise<void> {
  await db.query('DELETE FROM rate_limit_windows WHERE window_start < floor(extract(epoch FROM clock_timestamp()))::bigint - 60');
}
