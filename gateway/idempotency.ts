import crypto from 'node:crypto';
import type { Pool } from '../lib/db';
import { ConflictError, GovxError, InputError, UnavailableError, errorMessage } from '../lib/errors';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The Idempotency-Key header, if sent: 1–255 visible ASCII characters (a UUID is a good choice). */
export function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!KEY_PATTERN.test(header)) {
    throw new InputError('request.invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 visible ASCII characters, e.g. a UUID');
  }
  return header;
}

/** What makes two requests "the same": media type, atomicity and the exact body bytes. */
export function requestFingerprint(mediaType: string, atomic: boolean, body: Buffer): string {
  return crypto.createHash('sha256').update(`${mediaType}\n${atomic}\n`).update(body).digest('hex');
}

export interface IdempotencyScope {
  department: string;
  dataset: string;
  key: string;
}

export type Claim = { kind: 'claimed' } | { kind: 'replay'; status: number; body: unknown };

/**
 * Idempotency keys in PostgreSQL, so every gateway process behind the load balancer sees the same keys.
 * `claim` either makes this request the owner of the key or answers how the key was already used.
 */
export class IdempotencyStore {
  private claims = 0;

  constructor(
    private readonly pool: Pool,
    private readonly opts: { ttlSeconds: number; leaseMs: number; sweepEvery?: number },
  ) {}

  /** PostgreSQL unreachable: the request cannot be made safe to retry, so it is refused with 503, not run. */
  async claim(scope: IdempotencyScope, fingerprint: string): Promise<Claim> {
    try {
      return await this.tryClaim(scope, fingerprint);
    } catch (err) {
      if (err instanceof GovxError) throw err;
      throw new UnavailableError('database.unavailable', `idempotency keys cannot be checked: ${errorMessage(err)}`, 5, err);
    }
  }

  private async tryClaim(scope: IdempotencyScope, fingerprint: string): Promise<Claim> {
    if (++this.claims % (this.opts.sweepEvery ?? 500) === 0) void this.sweep().catch(() => undefined);
    for (let attempt = 0; attempt < 3; attempt++) {
      // A new key is claimed; an expired one, or a stale claim of the same request (its gateway died), is taken over.
      const claimed = await this.pool.query(
        `INSERT INTO publish_idempotency (department, dataset, idempotency_key, fingerprint, state, locked_until, expires_at)
         VALUES ($1, $2, $3, $4, 'in_flight', now() + $5 * interval '1 millisecond', now() + $6 * interval '1 second')
         ON CONFLICT (department, dataset, idempotency_key) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, state = 'in_flight', status = NULL, response = NULL, created_at = now(),
               locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at
           WHERE publish_idempotency.expires_at < now()
              OR (publish_idempotency.state = 'in_flight' AND publish_idempotency.locked_until < now()
                  AND publish_idempotency.fingerprint = EXCLUDED.fingerprint)
         RETURNING 1`,
        [scope.department, scope.dataset, scope.key, fingerprint, this.opts.leaseMs, this.opts.ttlSeconds],
      );
      if (claimed.rowCount === 1) return { kind: 'claimed' };
      const { rows } = await this.pool.query<{ fingerprint: string; state: string; status: number | null; response: unknown }>(
        `SELECT fingerprint, state, status, response FROM publish_idempotency
          WHERE department = $1 AND dataset = $2 AND idempotency_key = $3`,
        [scope.department, scope.dataset, scope.key],
      );
      const row = rows[0];
      if (!row) continue;
      if (row.fingerprint !== fingerprint) {
        throw new GovxError(422, 'publish.idempotency_key_reused', 'this Idempotency-Key was already used for a different request body; use a new key for new records');
      }
      if (row.state === 'in_flight') {
        throw new ConflictError('publish.idempotency_in_flight', 'a request with this Idempotency-Key is still being processed; retry after it has finished');
      }
      return { kind: 'replay', status: row.status!, body: row.response };
    }
    throw new ConflictError('publish.idempotency_in_flight', 'this Idempotency-Key is changing hands; retry shortly');
  }

  /** Records the answer that every retry with this key gets from now on. */
  async complete(scope: IdempotencyScope, status: number, body: unknown): Promise<void> {
    await this.pool.query(
      `UPDATE publish_idempotency SET state = 'done', status = $4, response = $5
        WHERE department = $1 AND dataset = $2 AND idempotency_key = $3`,
      [scope.department, scope.dataset, scope.key, status, JSON.stringify(body)],
    );
  }

  /** Forgets a claim whose request had no definite answer (e.g. Kafka unavailable), so a retry runs again. */
  async release(scope: IdempotencyScope): Promise<void> {
    await this.pool.query(
      `DELETE FROM publish_idempotency WHERE department = $1 AND dataset = $2 AND idempotency_key = $3 AND state = 'in_flight'`,
      [scope.department, scope.dataset, scope.key],
    );
  }

  async sweep(): Promise<number> {
    const r = await this.pool.query('DELETE FROM publish_idempotency WHERE expires_at < now()');
    return r.rowCount ?? 0;
  }
}
