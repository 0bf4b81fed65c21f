import crypto from 'node:crypto';
import type { Principal } from '../catalog/keys';
import { type DeliveryReceipt, grantRef, rangesOf, type ReceiptLedger } from '../catalog/receipts';
import type { SchemaCache } from '../catalog/registry/schemaCache';
import { shareTopic, type Subscription } from '../catalog/subscriptions';
import { InputError, UnavailableError } from '../lib/errors';
import type { IncomingMessage, KafkaConsumer, KafkaPort } from '../lib/kafkaPort';
import { UndecodableValueError } from '../schemas/wireFormat';

/** partition → the next offset to read */
export type Positions = Record<string, string>;

export interface DeliveredRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Record<string, unknown> | null;
  schemaId: number | null;
  publishedAt: string | null;
  traceId: string | null;
}

const MAX_CURSOR_CHARS = 4096;

export type DeliveryChannel = 'http-pull' | 'sse';

/** A share record HTTP delivery stepped over because it does not decode (never a record's bytes: where it is, and why). */
export interface SkippedRecord {
  subscription: string;
  channel: DeliveryChannel;
  partition: number;
  offset: string;
  errorClass: string;
}

/** Told of each record skipped, to count and report it; never awaited by the delivery. */
export type SkippedRecordReporter = (skipped: SkippedRecord) => void;

export function encodeCursor(positions: Positions): string {
  return Buffer.from(JSON.stringify(positions)).toString('base64url');
}

/** A cursor is opaque to consumers; a damaged one is a clear 400, never a crash. */
export function decodeCursor(cursor: string, code = 'subscription.invalid_cursor'): Positions {
  const bad = (): InputError => new InputError(code, 'the cursor is not one govx handed out; pass back a cursor from a previous answer');
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad();
  for (const [p, o] of Object.entries(parsed)) {
    if (!/^\d{1,5}$/.test(p) || typeof o !== 'string' || !/^\d{1,19}$/.test(o)) throw bad();
  }
  return parsed as Positions;
}

/** A share record as HTTP delivery hands it out, decoded with the subscription's derived schema (by the id in the record). */
async function deliveredRecord(schemas: SchemaCache, message: IncomingMessage, partition: number): Promise<DeliveredRecord> {
  const header = (name: string): string | null => {
    const v = message.headers?.[name];
    return v === undefined ? null : String(v);
  };
  const { schemaId, value } = await schemas.decode(message.value);
  return {
    partition,
    offset: message.offset,
    key: message.key?.toString('utf8') ?? null,
    value,
    schemaId,
    publishedAt: header('govx-published-at'),
    traceId: header('govx-trace-id'),
  };
}

/**
 * Reads a share topic from given positions with a throw-away consumer (no offsets are committed to
 * Kafka: the position lives in the consumer's cursor). `onRecord` returns false to stop.
 */
export class ShareReader {
  private consumer: KafkaConsumer | null = null;
  private stopped = false;
  private markJoined!: () => void;
  private markEnded!: () => void;
  /** Resolves once the reader has joined and is positioned: waiting for records starts from here. */
  readonly joined = new Promise<void>((resolve) => (this.markJoined = resolve));
  /** Resolves once the reader is stopped, by its caller or because the gateway shuts down. */
  readonly ended = new Promise<void>((resolve) => (this.markEnded = resolve));

  constructor(
    private readonly kafka: KafkaPort,
    private readonly schemas: SchemaCache,
    private readonly sub: Subscription,
    private readonly channel: DeliveryChannel,
    private readonly onSkipped: SkippedRecordReporter,
  ) {}

  /** Told when the position moves without a record to hand out (a skipped one). */
  onPositions: ((next: Positions) => void) | null = null;

  async start(from: Positions | null, onRecord: (r: DeliveredRecord, next: Positions) => boolean | Promise<boolean>): Promise<void> {
    const topic = shareTopic(this.sub.id);
    const admin = this.kafka.admin();
    await admin.connect();
    let positions: Positions;
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      positions = {};
      for (const o of offsets) {
        const asked = from?.[String(o.partition)];
        // a position below what retention kept starts at the oldest record still there
        positions[String(o.partition)] = asked !== undefined && BigInt(asked) >= BigInt(o.low) ? asked : o.low;
      }
    } finally {
      await admin.disconnect();
    }
    if (this.stopped) return;
    const consumer = this.kafka.consumer({ groupId: `govx-http.${this.sub.id}.${crypto.randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 250 });
    this.consumer = consumer;
    let done = false;
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    consumer.onGroupJoin(() => {
      for (const [p, o] of Object.entries(positions)) consumer.seek({ topic, partition: Number(p), offset: o });
      this.markJoined();
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, isStale, isRunning }) => {
        for (const message of batch.messages) {
          if (done || this.stopped || !isRunning() || isStale()) return;
          const key = String(batch.partition);
          if (BigInt(message.offset) < BigInt(positions[key] ?? '0')) continue;
          let record: DeliveredRecord;
          try {
            record = await deliveredRecord(this.schemas, message, batch.partition);
          } catch (err) {
            if (!(err instanceof UndecodableValueError)) throw err;
            // One record that cannot decode must not stall the subscription: step over it, report it, and
            // move the cursor past it (the consumer's next cursor no longer points at it).
            positions[key] = (BigInt(message.offset) + 1n).toString();
            this.onSkipped({ subscription: this.sub.id, channel: this.channel, partition: batch.partition, offset: message.offset, errorClass: err.errorClass });
            this.onPositions?.({ ...positions });
            continue;
          }
          positions[key] = (BigInt(message.offset) + 1n).toString();
          if (!(await onRecord(record, { ...positions }))) {
            done = true;
            return;
          }
        }
      },
    });
    // a stop that arrived while the consumer was starting finds it running only now
    if (this.stopped) await this.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.markEnded();
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

const JOIN_TIMEOUT_MS = 30_000;

/** Resolves with what `p` gives, or with undefined after `ms`; never leaves a timer behind. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * HTTP delivery of share topics (pull and Server-Sent Events). It knows every reader it started, so the
 * gateway's shutdown ends open streams and pending pulls (each answers with what it has: the consumer's
 * cursor makes this at-least-once) instead of leaving their Kafka consumers behind.
 */
export class ShareDelivery {
  private readonly readers = new Set<ShareReader>();
  private closing = false;

  constructor(
    private readonly kafka: KafkaPort,
    private readonly schemas: SchemaCache,
    private readonly onSkipped: SkippedRecordReporter = () => undefined,
  ) {}

  /** A reader of the subscription's share topic, stopped with the gateway if its caller has not stopped it before. */
  reader(sub: Subscription, channel: DeliveryChannel = 'sse'): ShareReader {
    if (this.closing) throw new UnavailableError('gateway.shutting_down', 'the gateway is shutting down; try another one or again shortly', 1);
    const reader = new ShareReader(this.kafka, this.schemas, sub, channel, this.onSkipped);
    this.readers.add(reader);
    void reader.ended.then(() => this.readers.delete(reader));
    return reader;
  }

  /** One pull: up to `limit` records after `from`, waiting at most `waitMs` for them. */
  async pull(sub: Subscription, from: Positions | null, limit: number, waitMs: number): Promise<{ records: DeliveredRecord[]; next: Positions }> {
    const records: DeliveredRecord[] = [];
    let next: Positions = { ...(from ?? {}) };
    const reader = this.reader(sub, 'http-pull');
    let done!: () => void;
    const full = new Promise<void>((resolve) => (done = resolve));
    reader.onPositions = (positions) => (next = positions);
    try {
      await reader.start(from, (r, positions) => {
        records.push(r);
        next = positions;
        if (records.length >= limit) {
          done();
          return false;
        }
        return true;
      });
      const joined = reader.joined.then(() => true);
      if (await within(Promise.race([joined, reader.ended.then(() => false)]), JOIN_TIMEOUT_MS)) await within(Promise.race([full, reader.ended]), waitMs);
    } finally {
      await reader.stop();
    }
    return { records, next: { ...(from ?? {}), ...next } };
  }

  /** Ends every open stream and pending pull, and refuses new ones. */
  async stop(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.readers].map((r) => r.stop()));
  }
}

/** The receipts of records handed to a consumer over HTTP: one per share topic partition read. */
export function httpDeliveryReceipts(
  sub: Subscription,
  channel: 'http-pull' | 'sse',
  principal: Principal,
  records: Iterable<{ partition: number; offset: string }>,
  requestId: string | null,
): DeliveryReceipt[] {
  return rangesOf(shareTopic(sub.id), records).map((range) => ({
    ...range,
    subscription: grantRef(sub),
    channel,
    actor: { department: principal.department, keyId: principal.keyId, role: principal.role },
    requestId,
  }));
}

/**
 * Receipts of a Server-Sent Events stream: the records written to the stream are collected and recorded a
 * batch at a time (at every keep-alive tick and when the stream ends), not one entry per record.
 */
export class StreamReceipts {
  private pending: Array<{ partition: number; offset: string }> = [];

  constructor(
    private readonly ledger: ReceiptLedger,
    private readonly sub: Subscription,
    private readonly principal: Principal,
    private readonly requestId: string | null,
  ) {}

  sent(record: { partition: number; offset: string }): void {
    this.pending.push({ partition: record.partition, offset: record.offset });
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    await this.ledger.delivery(...httpDeliveryReceipts(this.sub, 'sse', this.principal, batch, this.requestId));
  }
}
