import crypto from 'node:crypto';
import type { Pool, PoolClient } from '../lib/db';
import type { Principal, Role } from './keys';

/**
 * Console sessions: the browser holds an opaque 256-bit id; PostgreSQL holds its SHA-256 with who it is, a
 * CSRF token and its expiry. Every gateway reads the row on each request, so signing out (or revoking the key
 * a session was opened with) ends the session everywhere at once.
 */

export type SessionMethod = 'api-key' | 'oidc';

export interface ConsoleSession {
  principal: Principal;
  subject: string;
  displayName: string | null;
  method: SessionMethod;
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
}

type Db = Pool | PoolClient;

const sha256 = (s: string): Buffer => crypto.createHash('sha256').update(s).digest();
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** What identifies a session holder in audit entries: the key it signed in with, or `user:<subject>`. */
export function sessionKeyId(method: SessionMethod, subject: string, keyId: string | null): string {
  return method === 'api-key' && keyId ? keyId : `user:${subject.replace(/^oidc:/, '')}`.slice(0, 200);
}

export interface NewSession {
  department: string;
  role: Role;
  subject: string;
  displayName?: string | null;
  method: SessionMethod;
  keyId?: string | null;
  ttlMinutes: number;
}

/** Opens a session; returns the id to put in the cookie (never stored) and the session. */
export async function createSession(db: Db, input: NewSession): Promise<{ id: string; session: ConsoleSession }> {
  const id = crypto.randomBytes(32).toString('base64url');
  const csrfToken = crypto.randomBytes(32).toString('base64url');
  const { rows } = await db.query<{ created_at: Date; expires_at: Date }>(
    `INSERT INTO console_sessions (id_sha256, department_id, role, subject, display_name, method, key_id, csrf_token, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(mins => $9)) RETURNING created_at, expires_at`,
    [sha256(id), input.department, input.role, input.subject, input.displayName ?? null, input.method, input.keyId ?? null, csrfToken, input.ttlMinutes],
  );
  const row = rows[0]!;
  return {
    id,
    session: {
      principal: { department: input.department, role: input.role, keyId: sessionKeyId(input.method, input.subject, input.keyId ?? null) },
      subject: input.subject,
      displayName: input.displayName ?? null,
      method: input.method,
      csrfToken,
      createdAt: row.created_at.toISOString(),
      expiresAt: row.expires_at.toISOString(),
    },
  };
}

interface SessionRow {
  department_id: string;
  role: Role;
  subject: string;
  display_name: string | null;
  method: SessionMethod;
  key_id: string | null;
  csrf_token: string;
  created_at: Date;
  expires_at: Date;
}

/**
 * The live session with this id, or null: unknown, expired, idle longer than `idleMinutes`, or opened with a key
 * that has since been revoked. Seeing it moves its idle clock (at most once a minute, to spare writes).
 */
export async function findSession(db: Db, id: string, idleMinutes: number): Promise<ConsoleSession | null> {
  if (!SESSION_ID.test(id)) return null;
  const { rows } = await db.query<SessionRow>(
    `UPDATE console_sessions s SET last_seen_at = now()
      WHERE s.id_sha256 = $1 AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(mins => $2)
        AND (s.key_id IS NULL OR EXISTS (SELECT 1 FROM api_keys k WHERE k.id = s.key_id AND k.revoked_at IS NULL))
        AND s.last_seen_at < now() - interval '1 minute'
      RETURNING s.department_id, s.role, s.subject, s.display_name, s.method, s.key_id, s.csrf_token, s.created_at, s.expires_at`,
    [sha256(id), idleMinutes],
  );
  let row = rows[0];
  if (!row) {
    const seen = await db.query<SessionRow>(
      `SELECT s.department_id, s.role, s.subject, s.display_name, s.method, s.key_id, s.csrf_token, s.created_at, s.expires_at
         FROM console_sessions s
        WHERE s.id_sha256 = $1 AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(mins => $2)
          AND (s.key_id IS NULL OR EXISTS (SELECT 1 FROM api_keys k WHERE k.id = s.key_id AND k.revoked_at IS NULL))`,
      [sha256(id), idleMinutes],
    );
    row = seen.rows[0];
  }
  if (!row) return null;
  return {
    principal: { department: row.department_id, role: row.role, keyId: sessionKeyId(row.method, row.subject, row.key_id) },
    subject: row.subject,
    displayName: row.display_name,
    method: row.method,
    csrfToken: row.csrf_token,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
  };
}

/** Ends a session (sign-out); true when there was one. */
export async function deleteSession(db: Db, id: string): Promise<boolean> {
  if (!SESSION_ID.test(id)) return false;
  const r = await db.query('DELETE FROM console_sessions WHERE id_sha256 = $1', [sha256(id)]);
  return (r.rowCount ?? 0) > 0;
}

/** Forgets expired sessions and abandoned sign-ins; any gateway may run it. */
export async function pruneSessions(db: Db): Promise<void> {
  await db.query('DELETE FROM console_sessions WHERE expires_at < now()');
  await db.query('DELETE FROM console_login_flows WHERE expires_at < now()');
}

export interface LoginFlow {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

export async function saveLoginFlow(db: Db, flow: LoginFlow, ttlMinutes = 10): Promise<void> {
  await db.query(
    `INSERT INTO console_login_flows (state, nonce, code_verifier, return_to, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(mins => $5))`,
    [flow.state, flow.nonce, flow.codeVerifier, flow.returnTo, ttlMinutes],
  );
}

/** Takes a sign-in under way out of the table (each state is good for one callback), or null when unknown or stale. */
export async function takeLoginFlow(db: Db, state: string): Promise<LoginFlow | null> {
  if (state.length < 32 || state.length > 128) return null;
  const { rows } = await db.query<{ state: string; nonce: string; code_verifier: string; return_to: string }>(
    'DELETE FROM console_login_flows WHERE state = $1 AND expires_at > now() RETURNING state, nonce, code_verifier, return_to',
    [state],
  );
  const r = rows[0];
  return r ? { state: r.state, nonce: r.nonce, codeVerifier: r.code_verifier, returnTo: r.return_to } : null;
}
