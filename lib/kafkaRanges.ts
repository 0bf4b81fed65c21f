import crypto from 'node:crypto';
import type { IncomingMessage, KafkaPort } from './kafkaPort';

/** Offsets `from` (inclusive) to `to` (exclusive) of one partition. */
export interface OffsetRange {
  from: bigint;
  to: bigint;
}

export interface RangeRead {
  /** per partition, in offset order, each offset once (a re-delivery after a rebalance is not counted twice) */
  records: Map<number, IncomingMessage[]>;
  /** every range was read to its end before the deadline */
  complete: boolean;
}

/**
 * Reads the given offset ranges of a topic, and nothing beyond them, with a throw-away consumer group that is
 * deleted afterwards: what audit verification, the receipt reconciler and the stewards' dead-letter pages
 * need. Stops at the deadline with what it has (`complete: false`); the caller decides whether a partial
 * read is an answer. Without `payload`, keys and values are dropped as they arrive (only headers, offset and
 * timestamp are kept).
 */
export async function readOffsetRanges(
  kafka: KafkaPort,
  topic: string,
  ranges: ReadonlyMap<number, OffsetRange>,
  opts: { group: string; timeoutMs: number; payload: boolean },
): Promise<RangeRead> {
  const records = new Map<number, IncomingMessage[]>();
  const next = new Map<number, bigint>();
  for (const [partition, r] of ranges) {
    if (r.from >= r.to) continue;
    next.set(partition, r.from);
    records.set(partition, []);
  }
  if (next.size === 0) return { records, complete: true };
  const pending = new Set(next.keys());
  const groupId = `${opts.group}.${crypto.randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    consumer.onGroupJoin(() => {
      for (const [partition, from] of next) if (pending.has(partition)) consumer.seek({ topic, partition, offset: from.toString() });
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch }) => {
        const { partition } = batch;
        const range = ranges.get(partition);
        if (!range || !pending.has(partition)) return;
        const list = records.get(partition)!;
        for (const m of batch.messages) {
          const offset = BigInt(m.offset);
          if (offset < next.get(partition)!) continue;
          if (offset >= range.to) break;
          list.push(opts.payload ? { key: m.key, value: m.value, headers: m.headers, offset: m.offset, timestamp: m.timestamp } : { key: null, value: null, headers: m.headers, offset: m.offset, timestamp: m.timestamp });
          next.set(partition, offset + 1n);
        }
        const last = batch.messages[batch.messages.length - 1];
        if (last && BigInt(last.offset) + 1n >= range.to) {
          pending.delete(partition);
          if (pending.size === 0) finished();
        }
      },
    });
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.timeoutMs)))]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => admin.disconnect().catch(() => undefined));
  }
  return { records, complete: pending.size === 0 };
}
