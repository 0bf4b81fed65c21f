import crypto from 'node:crypto';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { getSchemaById } from '../catalog/registry/store';
import { shareTopic, type Subscription } from '../catalog/subscriptions';
import type { Pool } from '../lib/db';
import { InputError } from '../lib/errors';
import { decodeBounded } from '../schemas/boundedDecode';
import { compileNaturalType } from '../schemas/codec';
import { fromWireFormat } from '../publish/stages';
import type avro from 'avsc';

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

export function encodeCursor(positions: Positions): string {
  return Buffer.from(JSON.stringify(positions)).toString('base64url');
}

/** A cursor is opaque to consumers; a damaged one is a clear 400, never a crash. */
export function decodeCursor(cursor: string): Positions {
  const bad = (): InputError => new InputError('subscription.invalid_cursor', 'the cursor is not one govx handed out; pass back a cursor from a previous answer');
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

/** Decodes share records with the subscription's derived schemas (by the id in each record). */
export class ShareDecoder {
  private readonly types = new Map<number, avro.Type>();

  constructor(private readonly pool: Pool) {}

  async decode(message: KafkaMessage, partition: number): Promise<DeliveredRecord> {
    const header = (name: string): string | null => {
      const v = message.headers?.[name];
      return v === undefined ? null : String(v);
    };
    let value: Record<string, unknown> | null = null;
    let schemaId: number | null = null;
    if (message.value) {
      const wire = fromWireFormat(message.value);
      schemaId = wire.schemaId;
      let type = this.types.get(schemaId);
      if (!type) {
        const found = await getSchemaById(this.pool, schemaId);
        if (!found) throw new Error(`share schema ${schemaId} is not in the registry`);
        this.types.set(schemaId, (type = compileNaturalType(JSON.parse(found.schema))));
      }
      value = decodeBounded<Record<string, unknown>>(type, wire.body);
    }
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
}

/**
 * Reads a share topic from given positions with a throw-away consumer (no offsets are committed to
 * Kafka: the position lives in the consumer's cursor). `onRecord` returns false to stop.
 */
export class ShareReader {
  private consumer: Consumer | null = null;
  private markJoined!: () => void;
  /** Resolves once the reader has joined and is positioned: waiting for records starts from here. */
  readonly joined = new Promise<void>((resolve) => (this.markJoined = resolve));

  constructor(
    private readonly kafka: Kafka,
    private readonly decoder: ShareDecoder,
    private readonly sub: Subscription,
  ) {}

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
    const consumer = this.kafka.consumer({
      groupId: `govx-http.${this.sub.id}.${crypto.randomBytes(6).toString('hex')}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
    });
    this.consumer = consumer;
    let stopped = false;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const [p, o] of Object.entries(positions)) consumer.seek({ topic, partition: Number(p), offset: o });
      this.markJoined();
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, isStale, isRunning }) => {
        for (const message of batch.messages) {
          if (stopped || !isRunning() || isStale()) return;
          const key = String(batch.partition);
          if (BigInt(message.offset) < BigInt(positions[key] ?? '0')) continue;
          const record = await this.decoder.decode(message, batch.partition);
          positions[key] = (BigInt(message.offset) + 1n).toString();
          if (!(await onRecord(record, { ...positions }))) {
            stopped = true;
            return;
          }
        }
      },
    });
  }

  async stop(): Promise<void> {
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

/** One pull: up to `limit` records after `from`, waiting at most `waitMs` for them. */
export async function pullShareRecords(
  kafka: Kafka,
  decoder: ShareDecoder,
  sub: Subscription,
  from: Positions | null,
  limit: number,
  waitMs: number,
): Promise<{ records: DeliveredRecord[]; next: Positions }> {
  const records: DeliveredRecord[] = [];
  let next: Positions = { ...(from ?? {}) };
  const reader = new ShareReader(kafka, decoder, sub);
  let done!: () => void;
  const full = new Promise<void>((resolve) => (done = resolve));
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
    if (await within(reader.joined.then(() => true), JOIN_TIMEOUT_MS)) await within(full, waitMs);
  } finally {
    await reader.stop();
  }
  return { records, next: { ...(from ?? {}), ...next } };
}
