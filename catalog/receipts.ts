/**
 * Receipts: the data plane on the audit trail (decision 0011). Every channel that moves records calls this
 * one module: the publish path (`publish.batch`), and every delivery channel (`delivery.receipt`: the
 * distributor's writes to share topics, HTTP pull, SSE, sink connectors). One receipt covers a batch, never
 * a single record, so the chain grows with batches, not with records.
 *
 * A receipt is an ordinary audit entry (hash-chained like every other) plus, for writes into Kafka, the
 * offset ranges it covers (`audit_receipt_ranges`), in the same transaction. Those ranges are what the
 * reconciler (`receiptReconciler.ts`) compares with what Kafka holds to cover records whose writer died
 * between Kafka's acknowledgement and the receipt.
 */
import type { Pool, PoolClient } from '../lib/db';
import { withTransaction } from '../lib/db';
import { type AuditActor, type AuditEntryInput, appendAuditBatch } from './audit';

export type DeliveryChannel = 'kafka' | 'http-pull' | 'sse' | 'sink';

export const GOVX_DISTRIBUTOR: AuditActor = { department: 'govx', keyId: null, role: 'distributor' };
export const GOVX_RECONCILER: AuditActor = { department: 'govx', keyId: null, role: 'reconciler' };

/** Records of one topic partition, fromOffset..toOffset inclusive (offsets as decimal strings: Kafka's are 64-bit). */
export interface OffsetRange {
  topic: string;
  partition: number;
  fromOffset: string;
  toOffset: string;
  count: number;
}

/** What a delivery receipt says about the grant it delivered under. */
export interface GrantRef {
  id: string;
  dataset: string;
  consumer: string;
  grantVersion: number;
}

export interface DeliveryReceipt extends OffsetRange {
  subscription: GrantRef;
  channel: DeliveryChannel;
  /** the sink connector's name (channel sink) */
  connector?: string;
  /** who moved the records: the consumer's key for pull/SSE, the connector for sinks, govx for share topics */
  actor: AuditActor;
  requestId?: string | null;
  /** written by the reconciler from what Kafka holds, not by the writer itself */
  reconciled?: boolean;
}

export interface PublishReceipt {
  dataset: string;
  publisher: AuditActor;
  requestId: string | null;
  topic: string;
  /** where the accepted records landed: `count` records from `baseOffset` on each partition */
  offsets: Array<{ partition: number; baseOffset: string; count: number }>;
  accepted: number;
  rejected: number;
  deadLettered: number;
  schemaId: number | null;
  reconciled?: boolean;
}

/** One audit entry and the Kafka ranges it accounts for (none for reads: pull, SSE, sinks). */
export interface ReceiptEntry {
  entry: AuditEntryInput;
  ranges: OffsetRange[];
}

/** The grant a record is delivered under: the subscription and its decision version (every transition increments it). */
export function grantRef(sub: { id: string; dataset: string; consumer: string; version: number }): GrantRef {
  return { id: sub.id, dataset: sub.dataset, consumer: sub.consumer, grantVersion: sub.version };
}

export function deliveryReceiptEntry(r: DeliveryReceipt): ReceiptEntry {
  const details: Record<string, unknown> = {
    subscription: r.subscription.id,
    dataset: r.subscription.dataset,
    consumer: r.subscription.consumer,
    grantVersion: r.subscription.grantVersion,
    channel: r.channel,
    topic: r.topic,
    partition: r.partition,
    fromOffset: r.fromOffset,
    toOffset: r.toOffset,
    count: r.count,
  };
  if (r.connector !== undefined) details.connector = r.connector;
  if (r.reconciled) details.reconciled = true;
  return {
    entry: { actor: r.actor, action: 'delivery.receipt', target: `subscription:${r.subscription.id}`, outcome: 'success', requestId: r.requestId ?? null, details },
    // a write into a share topic accounts for those offsets; a read (pull, SSE, sink) accounts for nothing in Kafka
    ranges: r.channel === 'kafka' ? [pick(r)] : [],
  };
}

export function publishReceiptEntry(r: PublishReceipt): ReceiptEntry {
  const offsets = r.offsets.map((o) => ({ ...o, fromOffset: o.baseOffset, toOffset: (BigInt(o.baseOffset) + BigInt(o.count) - 1n).toString() }));
  const details: Record<string, unknown> = {
    dataset: r.dataset,
    publisher: r.publisher.department,
    accepted: r.accepted,
    rejected: r.rejected,
    deadLettered: r.deadLettered,
    schemaId: r.schemaId,
    topic: r.topic,
    offsets,
    count: r.offsets.reduce((n, o) => n + o.count, 0),
  };
  if (r.reconciled) details.reconciled = true;
  return {
    entry: { actor: r.publisher, action: 'publish.batch', target: `dataset:${r.dataset}`, outcome: 'success', requestId: r.requestId, details },
    ranges: offsets.filter((o) => o.count > 0).map((o) => ({ topic: r.topic, partition: o.partition, fromOffset: o.fromOffset, toOffset: o.toOffset, count: o.count })),
  };
}

function pick(r: OffsetRange): OffsetRange {
  return { topic: r.topic, partition: r.partition, fromOffset: r.fromOffset, toOffset: r.toOffset, count: r.count };
}

/**
 * Groups records read from one topic into one range per partition (lowest to highest offset read). A
 * consumer reads a partition in order, so the range holds exactly the records read, `count` of them.
 */
export function rangesOf(topic: string, records: Iterable<{ partition: number; offset: string }>): OffsetRange[] {
  const byPartition = new Map<number, OffsetRange>();
  for (const r of records) {
    const seen = byPartition.get(r.partition);
    if (!seen) byPartition.set(r.partition, { topic, partition: r.partition, fromOffset: r.offset, toOffset: r.offset, count: 1 });
    else {
      if (BigInt(r.offset) < BigInt(seen.fromOffset)) seen.fromOffset = r.offset;
      if (BigInt(r.offset) > BigInt(seen.toOffset)) seen.toOffset = r.offset;
      seen.count += 1;
    }
  }
  return [...byPartition.values()].sort((a, b) => a.partition - b.partition);
}

/** Appends receipts and their ranges in the caller's transaction. */
export async function appendReceipts(client: PoolClient, receipts: ReceiptEntry[]): Promise<number[]> {
  const appended = await appendAuditBatch(client, receipts.map((r) => r.entry));
  const params: unknown[] = [];
  const rows: string[] = [];
  receipts.forEach((r, i) => {
    for (const range of r.ranges) {
      const n = params.length;
      rows.push(`($${n + 1}, $${n + 2}, $${n + 3}::bigint, $${n + 4}::bigint, $${n + 5})`);
      params.push(range.topic, range.partition, range.fromOffset, range.toOffset, appended[i]!.seq);
    }
  });
  if (rows.length > 0) {
    await client.query(
      `INSERT INTO audit_receipt_ranges (topic, "partition", from_offset, to_offset, audit_seq) VALUES ${rows.join(', ')} ON CONFLICT DO NOTHING`,
      params,
    );
  }
  return appended.map((e) => e.seq);
}

interface Waiting {
  receipts: ReceiptEntry[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The one writer of receipts in a process, with group commit: while one transaction appends, the receipts
 * that arrive wait and go into the next one, so the chain lock and the COMMIT are paid once per group, not
 * once per batch. A caller resolves only once its receipts are committed; a group that fails is retried
 * caller by caller, so one bad receipt does not take the others down.
 */
export class ReceiptLedger {
  private readonly queue: Waiting[] = [];
  private draining: Promise<void> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly maxGroup = 200,
  ) {}

  record(receipts: ReceiptEntry[]): Promise<void> {
    if (receipts.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ receipts, resolve, reject });
      if (!this.draining) this.draining = this.drain().finally(() => (this.draining = null));
    });
  }

  delivery(...receipts: DeliveryReceipt[]): Promise<void> {
    return this.record(receipts.map(deliveryReceiptEntry));
  }

  publish(receipt: PublishReceipt): Promise<void> {
    return this.record([publishReceiptEntry(receipt)]);
  }

  /** Resolves once every receipt handed in so far is committed (or has failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group: Waiting[] = [];
      let size = 0;
      while (this.queue.length > 0 && (group.length === 0 || size + this.queue[0]!.receipts.length <= this.maxGroup)) {
        const next = this.queue.shift()!;
        group.push(next);
        size += next.receipts.length;
      }
      try {
        await withTransaction(this.pool, (client) => appendReceipts(client, group.flatMap((w) => w.receipts)));
        for (const w of group) w.resolve();
      } catch {
        for (const w of group) {
          await withTransaction(this.pool, (client) => appendReceipts(client, w.receipts)).then(() => w.resolve(), w.reject);
        }
      }
    }
  }
}
