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

export interface CreatedKey {
  department: string;
  role: Role;
  keyId: string;
  key: string;
}

export async function createApiKey(
  db: Pool | PoolClient,
  input: { department: string; role: string; label?: string },
): Promise<CreatedKey> {
  if (!isRole(input.role)) {
    throw new InputError('key.invalid_role', `role must be one of ${roles.join(', ')}, got "${input.role}"`);
  }
  if (!(await getDepartment(db, input.department))) {
    throw new NotFoundError('department.not_found', `no department "${input.department}"`);
  }
  const keyId = newKeyId();
  const secret = crypto.randomBytes(32).toString('base64url');
  await db.query('INSERT INTO api_keys (id, department_id, role, secret_sha256, label) VALUES ($1, $2, $3, $4, $5)', [
    keyId,
    input.department,
    input.role,
    sha256(secret),
    input.label ?? null,
  ]);
  return { department: input.department, role: input.role, keyId, key: `govx_${keyId}_${secret}` };
}

export async function revokeApiKey(db: Pool | PoolClient, keyId: string): Promise<boolean> {
  const r = await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [keyId]);
  return (r.rowCount ?? 0) > 0;
}

/** Returns the key's principal, or null for anything that is not a live key (malformed, unknown, revoked, wrong secret). */
export async function authenticateKey(db: Pool | PoolClient, presented: string): Promise<Principal | null> {
  const m = KEY_PATTERN.exec(presented);
  if (!m) return null;
  const [, keyId, secret] = m as unknown as [string, string, string];
  const { rows } = await db.query<{ department_id: string; role: Role; secret_sha256: Buffer }>(
    'SELECT department_id, role, secret_sha256 FROM api_keys WHERE id = $1 AND revoked_at IS NULL',
    [keyId],
  );
  const row = rows[0];
  if (!row) return null;
  if (!crypto.timingSafeEqual(row.secret_sha256, sha256(secret))) return null;
  return { department: row.department_id, role: row.role, keyId };
}
