/**
 * The receipt reconciler (decision 0011): what Kafka holds is the truth about what was written, so every
 * record in a dataset topic or a share topic must be covered by a receipt. A writer that dies between
 * Kafka's acknowledgement and its receipt leaves records uncovered; this finds them and writes their
 * receipts from what the records themselves carry (publisher, trace id, subscription, grant version headers),
 * marked `reconciled: true`.
 *
 * Per topic partition it starts from a watermark below which everything is known to be covered, so a run
 * reads Kafka only where a gap is. A gap younger than the grace period may be a receipt still on its way
 * (a live writer between produce and receipt), so it is left for a later run, and the watermark stops there.
 * Runs at start-up and at an interval, in one process at a time (advisory lock).
 */
import type { Pool } from '../lib/db';
import { withTransaction } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { IncomingMessage, KafkaPort } from '../lib/kafkaPort';
import { type OffsetRange, readOffsetRanges } from '../lib/kafkaRanges';
import type { Logger } from '../lib/logger';
import { datasetTopic } from './datasets';
import { appendReceipts, deliveryReceiptEntry, GOVX_RECONCILER, publishReceiptEntry, type ReceiptEntry } from './receipts';
import { shareTopic } from './subscriptions';

/** Advisory lock of the reconciler: one process reconciles at a time. */
export const RECONCILER_LOCK_ID = 4_711_3016;

export interface ReconcileOptions {
  /** records younger than this may still get their receipt from their writer */
  graceMs: number;
  /** longest a run spends reading one topic's gaps */
  readTimeoutMs?: number;
}

export interface ReconcileResult {
  topics: number;
  /** receipts written for records that had none */
  receipts: number;
  records: number;
  /** false when another process held the reconciler lock */
  ran: boolean;
}

interface Gap {
  partition: number;
  from: bigint;
  /** exclusive */
  to: bigint;
}

interface SubscriptionInfo {
  id: string;
  dataset: string;
  consumer: string;
}

const header = (m: IncomingMessage, name: string): string | null => {
  const v = m.headers?.[name];
  if (v === undefined) return null;
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? null : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

/** Offsets in [from, to) that no range covers, given ranges sorted by from_offset. */
export function uncovered(from: bigint, to: bigint, ranges: Array<{ from: bigint; to: bigint }>): Array<{ from: bigint; to: bigint }> {
  const gaps: Array<{ from: bigint; to: bigint }> = [];
  let cursor = from;
  for (const r of ranges) {
    if (cursor >= to) break;
    if (r.to < cursor) continue;
    if (r.from > cursor) gaps.push({ from: cursor, to: r.from < to ? r.from : to });
    if (r.to + 1n > cursor) cursor = r.to + 1n;
  }
  if (cursor < to) gaps.push({ from: cursor, to });
  return gaps;
}

export class ReceiptReconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: { pool: Pool; kafka: KafkaPort; log: Logger },
    private readonly opts: ReconcileOptions & { intervalMs: number },
  ) {}

  /** A run now, then one at every interval until stopped. */
  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.runOnce()
        .catch((err: unknown) => this.deps.log.warn({ err: errorMessage(err) }, 'receipt reconciliation failed; retrying at the next interval'))
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs);
        });
    };
    tick();
  }

  /** Waits a little for a pass in flight; one cut short is simply repeated by the next process to start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    let wait: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise<void>((resolve) => (wait = setTimeout(resolve, 5000)))]);
    clearTimeout(wait);
  }

  runOnce(): Promise<ReconcileResult> {
    return reconcileReceipts(this.deps, this.opts);
  }
}

/** One reconciliation pass over every dataset and share topic the catalog knows. */
export async function reconcileReceipts(deps: { pool: Pool; kafka: KafkaPort; log: Logger }, opts: ReconcileOptions): Promise<ReconcileResult> {
  const lockClient = await deps.pool.connect();
  const result: ReconcileResult = { topics: 0, receipts: 0, records: 0, ran: false };
  try {
    const got = await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [RECONCILER_LOCK_ID]);
    if (!got.rows[0]!.ok) return result;
    result.ran = true;
    try {
      const admin = deps.kafka.admin();
      await admin.connect();
      try {
        const existing = new Set(await admin.listTopics());
        const genesis = await deps.pool.query<{ at: Date | null }>('SELECT min(at) AS at FROM audit_log');
        const since = genesis.rows[0]?.at?.getTime() ?? Date.now();
        const datasets = await deps.pool.query<{ id: string }>('SELECT id FROM datasets ORDER BY id');
        const subs = await deps.pool.query<SubscriptionInfo>(
          `SELECT id, dataset_id AS dataset, consumer FROM subscriptions WHERE derived_schema_id IS NOT NULL ORDER BY id`,
        );
        const work: Array<{ topic: string; dataset: string; sub: SubscriptionInfo | null }> = [
          ...datasets.rows.map((d) => ({ topic: datasetTopic(d.id), dataset: d.id, sub: null })),
          ...subs.rows.map((s) => ({ topic: shareTopic(s.id), dataset: s.dataset, sub: s })),
        ];
        for (const w of work) {
          if (!existing.has(w.topic)) continue;
          result.topics += 1;
          const done = await reconcileTopic(deps, admin, w, since, opts);
          result.receipts += done.receipts;
          result.records += done.records;
        }
      } finally {
        await admin.disconnect();
      }
    } finally {
      await lockClient.query('SELECT pg_advisory_unlock($1)', [RECONCILER_LOCK_ID]).catch(() => undefined);
    }
  } finally {
    lockClient.release();
  }
  if (result.receipts > 0) deps.log.warn({ receipts: result.receipts, records: result.records }, 'reconciled records that had no receipt');
  return result;
}

async function reconcileTopic(
  deps: { pool: Pool; kafka: KafkaPort; log: Logger },
  admin: ReturnType<KafkaPort['admin']>,
  w: { topic: string; dataset: string; sub: SubscriptionInfo | null },
  since: number,
  opts: ReconcileOptions,
): Promise<{ receipts: number; records: number }> {
  const offsets = await admin.fetchTopicOffsets(w.topic);
  const marks = await deps.pool.query<{ partition: number; covered_to: string }>(
    'SELECT "partition", covered_to FROM audit_receipt_watermarks WHERE topic = $1',
    [w.topic],
  );
  const watermark = new Map(marks.rows.map((r) => [r.partition, BigInt(r.covered_to)]));
  // A partition never reconciled starts where this trail began: records older than the genesis entry are
  // not this installation's to account for (another database's, or history before the trail).
  const start = watermark.size < offsets.length ? new Map((await admin.fetchTopicOffsetsByTimestamp(w.topic, since)).map((o) => [o.partition, BigInt(o.offset)])) : new Map<number, bigint>();
  const gaps: Gap[] = [];
  const advance = new Map<number, bigint>();
  const ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  for (const o of offsets) {
    const low = BigInt(o.low);
    const high = BigInt(o.high);
    let from = watermark.get(o.partition) ?? start.get(o.partition) ?? high;
    if (from < low) from = low;
    if (from >= high) {
      if (watermark.get(o.partition) !== from) advance.set(o.partition, from);
      continue;
    }
    const { rows } = await deps.pool.query<{ from_offset: string; to_offset: string }>(
      `SELECT from_offset, to_offset FROM audit_receipt_ranges
        WHERE topic = $1 AND "partition" = $2 AND to_offset >= $3 AND from_offset < $4 ORDER BY from_offset`,
      [w.topic, o.partition, from.toString(), high.toString()],
    );
    const holes = uncovered(from, high, rows.map((r) => ({ from: BigInt(r.from_offset), to: BigInt(r.to_offset) })));
    if (holes.length === 0) advance.set(o.partition, high);
    else {
      advance.set(o.partition, holes[0]!.from);
      for (const h of holes) gaps.push({ partition: o.partition, ...h });
    }
  }
  let receipts: ReceiptEntry[] = [];
  let records = 0;
  if (gaps.length > 0) {
    const read = await readGaps(deps.kafka, w.topic, gaps, opts.readTimeoutMs ?? 60_000);
    const youngest = Date.now() - opts.graceMs;
    for (const gap of gaps) {
      const got = (read.get(gap.partition) ?? []).filter((m) => BigInt(m.offset) >= gap.from && BigInt(m.offset) < gap.to);
      // a gap is settled only as far as it was read and is old enough
      let settledTo = gap.from;
      const old: IncomingMessage[] = [];
      for (const m of got) {
        if (BigInt(m.offset) !== settledTo || Number(m.timestamp) > youngest) break;
        old.push(m);
        settledTo += 1n;
      }
      receipts = receipts.concat(receiptsFor(w, gap.partition, old));
      records += old.length;
      const mark = advance.get(gap.partition)!;
      if (mark === gap.from) advance.set(gap.partition, settledTo === gap.to ? nextMark(gaps, gap, ends.get(gap.partition)!) : settledTo);
    }
  }
  if (receipts.length === 0 && advance.size === 0) return { receipts: 0, records: 0 };
  await withTransaction(deps.pool, async (tx) => {
    if (receipts.length > 0) await appendReceipts(tx, receipts);
    for (const [partition, mark] of advance) {
      await tx.query(
        `INSERT INTO audit_receipt_watermarks (topic, "partition", covered_to) VALUES ($1, $2, $3)
         ON CONFLICT (topic, "partition") DO UPDATE SET covered_to = greatest(audit_receipt_watermarks.covered_to, EXCLUDED.covered_to), updated_at = now()`,
        [w.topic, partition, mark.toString()],
      );
    }
  });
  return { receipts: receipts.length, records };
}

/** After a settled gap the watermark moves to the next gap of its partition, or to its end when none is left. */
function nextMark(gaps: Gap[], settled: Gap, end: bigint): bigint {
  const next = gaps.find((g) => g.partition === settled.partition && g.from > settled.from);
  return next ? next.from : end;
}

/** One receipt per run of consecutive records written by one request (publish) or under one grant (share). */
function receiptsFor(w: { topic: string; dataset: string; sub: SubscriptionInfo | null }, partition: number, messages: IncomingMessage[]): ReceiptEntry[] {
  const out: ReceiptEntry[] = [];
  let run: IncomingMessage[] = [];
  const keyOf = (m: IncomingMessage): string =>
    w.sub ? header(m, 'govx-grant-version') ?? '' : `${header(m, 'govx-publisher') ?? ''}\u0000${header(m, 'govx-trace-id') ?? ''}`;
  const close = (): void => {
    if (run.length === 0) return;
    const first = run[0]!;
    const fromOffset = first.offset;
    const toOffset = run[run.length - 1]!.offset;
    if (w.sub) {
      const version = Number(header(first, 'govx-grant-version') ?? '0');
      out.push(
        deliveryReceiptEntry({
          subscription: { id: w.sub.id, dataset: w.sub.dataset, consumer: w.sub.consumer, grantVersion: Number.isSafeInteger(version) ? version : 0 },
          channel: 'kafka',
          actor: GOVX_RECONCILER,
          topic: w.topic,
          partition,
          fromOffset,
          toOffset,
          count: run.length,
          reconciled: true,
        }),
      );
    } else {
      const publisher = header(first, 'govx-publisher') ?? 'unknown';
      out.push(
        publishReceiptEntry({
          dataset: w.dataset,
          publisher: { department: publisher, keyId: null, role: 'publisher' },
          requestId: header(first, 'govx-trace-id'),
          topic: w.topic,
          offsets: [{ partition, baseOffset: fromOffset, count: run.length }],
          accepted: run.length,
          rejected: 0,
          deadLettered: 0,
          schemaId: Number(header(first, 'govx-schema-id')) || null,
          reconciled: true,
        }),
      );
    }
    run = [];
  };
  for (const m of messages) {
    if (run.length > 0 && keyOf(run[0]!) !== keyOf(m)) close();
    run.push(m);
  }
  close();
  return out;
}

/** Reads the records of `gaps` (offsets only; values are never decoded) with a throw-away consumer. */
async function readGaps(kafka: KafkaPort, topic: string, gaps: Gap[], timeoutMs: number): Promise<Map<number, IncomingMessage[]>> {
  const ranges = new Map<number, OffsetRange>();
  for (const g of gaps) {
    const r = ranges.get(g.partition);
    ranges.set(g.partition, r ? { from: g.from < r.from ? g.from : r.from, to: g.to > r.to ? g.to : r.to } : { from: g.from, to: g.to });
  }
  // what a deadline leaves unread stays a gap for the next pass
  return (await readOffsetRanges(kafka, topic, ranges, { group: 'govx-receipts', timeoutMs, payload: false })).records;
}
