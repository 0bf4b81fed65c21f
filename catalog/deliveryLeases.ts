import crypto from 'node:crypto';
import { withTransaction, type Pool } from '../lib/db';

/**
 * Per-department caps on concurrent HTTP deliveries (SSE streams, pulls), shared by every gateway: each
 * running delivery holds a lease row until it ends, renewing it while it runs; the lease of a gateway that
 * died lapses at its expiry. Taking a lease counts the department's live leases under a per-department
 * advisory lock, so two gateways cannot both take the last place.
 */

export type DeliveryKind = 'stream' | 'pull';

export interface DeliveryLease {
  id: string;
  department: string;
  kind: DeliveryKind;
}

/** A lease, or null when the department already holds `cap` live ones of this kind. */
export async function acquireDeliveryLease(
  pool: Pool,
  input: { department: string; kind: DeliveryKind; subscription: string; cap: number; ttlMs: number },
): Promise<DeliveryLease | null> {
  return withTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`delivery-lease:${input.kind}:${input.department}`]);
    await tx.query('DELETE FROM delivery_leases WHERE department = $1 AND kind = $2 AND expires_at <= now()', [input.department, input.kind]);
    const { rows } = await tx.query<{ n: number }>('SELECT count(*)::integer AS n FROM delivery_leases WHERE department = $1 AND kind = $2', [
      input.department,
      input.kind,
    ]);
    if (rows[0]!.n >= input.cap) return null;
    const id = crypto.randomUUID();
    await tx.query(
      `INSERT INTO delivery_leases (id, department, kind, subscription, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::float8 / 1000))`,
      [id, input.department, input.kind, input.subscription, input.ttlMs],
    );
    return { id, department: input.department, kind: input.kind };
  });
}

export async function renewDeliveryLease(pool: Pool, lease: DeliveryLease, ttlMs: number): Promise<void> {
  await pool.query('UPDATE delivery_leases SET expires_at = now() + make_interval(secs => $2::float8 / 1000) WHERE id = $1', [lease.id, ttlMs]);
}

export async function releaseDeliveryLease(pool: Pool, lease: DeliveryLease): Promise<void> {
  await pool.query('DELETE FROM delivery_leases WHERE id = $1', [lease.id]);
}
