import { appendAuditBatch, type AuditEntryInput } from './audit';
import type { Principal } from './keys';
import { withTransaction, type Pool } from '../lib/db';
import type { Logger } from '../lib/logger';

/**
 * Denied requests on the audit trail without letting a key flood it: each gateway counts denials in memory
 * per key, interval and action, adds its counts to `denial_tallies` every few seconds (no chain lock), and
 * once an interval has closed one gateway moves it into the chain as ONE entry per key (`access.denied`,
 * outcome `denied`, with the count per action). Whatever the request rate, the chain grows by at most one
 * entry per denied key per interval.
 */

export interface DenialLedgerOptions {
  /** length of an audited interval */
  intervalMs: number;
  /** how often counts go to PostgreSQL and closed intervals are sealed */
  flushMs: number;
}

interface Tally {
  keyId: string;
  department: string;
  role: string;
  intervalStart: number;
  action: string;
  count: number;
  sampleTarget: string | null;
  firstRequest: string | null;
}

const MAX_PENDING = 10_000;
const clip = (s: string | null | undefined, n: number): string | null => (s == null ? null : s.slice(0, n));

export class DenialLedger {
  private pending = new Map<string, Tally>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly opts: DenialLedgerOptions,
    private readonly log?: Logger,
  ) {}

  /** Counts one denied request of `principal`; `action` names what was refused (an audit action or a route). */
  record(principal: Principal, action: string, target: string | null, requestId: string | null): void {
    const intervalStart = Math.floor(Date.now() / this.opts.intervalMs) * this.opts.intervalMs;
    const id = `${principal.keyId}\u0001${intervalStart}\u0001${action}`;
    const tally = this.pending.get(id);
    if (tally) {
      tally.count += 1;
      return;
    }
    // A burst of distinct actions can not grow memory without bound: counts go to PostgreSQL early instead.
    if (this.pending.size >= MAX_PENDING) void this.flush();
    this.pending.set(id, {
      keyId: principal.keyId,
      department: principal.department,
      role: principal.role,
      intervalStart,
      action: clip(action, 200)!,
      count: 1,
      sampleTarget: clip(target, 300),
      firstRequest: clip(requestId, 128),
    });
  }

  /** Adds the counts held in memory to the shared tallies. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const tallies = [...this.pending.values()];
    this.pending = new Map();
    const params: unknown[] = [];
    const rows = tallies.map((t) => {
      const n = params.length;
      params.push(t.keyId, new Date(t.intervalStart).toISOString(), t.action, t.department, t.role, t.count, t.sampleTarget, t.firstRequest);
      return `($${n + 1}, $${n + 2}::timestamptz, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}::integer, $${n + 7}, $${n + 8})`;
    });
    await this.pool.query(
      `INSERT INTO denial_tallies AS d (key_id, interval_start, action, department, role, count, sample_target, first_request)
       VALUES ${rows.join(', ')}
       ON CONFLICT (key_id, interval_start, action) DO UPDATE SET count = d.count + EXCLUDED.count`,
      params,
    );
  }

  /** Flushes and seals intervals that closed at least one flush period ago (so every gateway's counts are in). */
  async tick(): Promise<void> {
    await this.flush();
    await sealDenials(this.pool, new Date(Date.now() - this.opts.intervalMs - 2 * this.opts.flushMs), this.opts.intervalMs);
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick()
        .catch((err: unknown) => this.log?.warn({ err: (err as Error).message }, 'could not record denied requests'))
        .finally(() => (this.running = null));
    }, this.opts.flushMs);
    this.timer.unref();
  }

  /** Stops the timer and hands the remaining counts to PostgreSQL (another gateway, or the next start, seals them). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.flush().catch((err: unknown) => this.log?.warn({ err: (err as Error).message }, 'could not record denied requests'));
  }
}

interface TallyRow {
  key_id: string;
  interval_start: Date;
  action: string;
  department: string;
  role: string | null;
  count: number;
  sample_target: string | null;
  first_request: string | null;
}

/**
 * Moves the tallies of intervals that started before `before` into the audit chain, one entry per key and
 * interval. The rows are deleted in the same transaction as the entries are appended, so concurrent
 * sealers (several gateways) write each interval once. Returns the number of entries appended.
 */
export async function sealDenials(pool: Pool, before: Date, intervalMs: number): Promise<number> {
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<TallyRow>(
      `DELETE FROM denial_tallies WHERE interval_start < $1 RETURNING *`,
      [before.toISOString()],
    );
    if (rows.length === 0) return 0;
    const byKey = new Map<string, TallyRow[]>();
    for (const row of rows) {
      const id = `${row.key_id}\u0001${row.interval_start.toISOString()}`;
      byKey.set(id, [...(byKey.get(id) ?? []), row]);
    }
    const entries: AuditEntryInput[] = [...byKey.values()]
      .map((group) => {
        const first = group[0]!;
        const sorted = [...group].sort((a, b) => a.action.localeCompare(b.action));
        return {
          actor: { department: first.department, keyId: first.key_id, role: first.role },
          action: 'access.denied',
          target: `key:${first.key_id}`,
          outcome: 'denied' as const,
          requestId: first.first_request,
          details: {
            from: first.interval_start.toISOString(),
            to: new Date(first.interval_start.getTime() + intervalMs).toISOString(),
            count: group.reduce((n, r) => n + r.count, 0),
            actions: sorted.map((r) => ({ action: r.action, count: r.count, sampleTarget: r.sample_target })),
          },
        };
      })
      .sort((a, b) => (a.details.from < b.details.from ? -1 : a.details.from > b.details.from ? 1 : 0));
    await appendAuditBatch(tx, entries);
    return entries.length;
  });
}
