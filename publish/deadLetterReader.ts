import { dlqTopic } from '../catalog/datasets';
import { UnavailableError } from '../lib/errors';
import type { IncomingMessage, KafkaHeaders, KafkaPort } from '../lib/kafkaPort';
import { readOffsetRanges } from '../lib/kafkaRanges';

/**
 * Reading a dataset's dead-letter topic (`govx.dlq.<dataset>`) for its stewards, newest first, a page at a
 * time (docs/decisions/0009-console.md, "Dead letters for stewards"). Two writers put records there: the publish path
 * (HTTP publish: `govx-publisher`, `govx-request-id`, `govx-record-index`, `govx-error-rule`,
 * `govx-error-reason`, `govx-errors`) and source connectors with errors.tolerance=all (`govx-connector`,
 * `govx-source`, `govx-error-class`, `govx-error-message`). A page reads at most `limit` records per
 * partition below the cursor, never the whole topic, with a throw-away consumer and a deadline. The record
 * itself (the rejected payload and its key) is returned only when asked for, clipped, and never logged.
 */

/** partition → read below this offset */
export type DeadLetterPositions = Record<string, string>;

export interface DeadLetterError {
  path: string;
  message: string;
  rule?: string;
}

export interface DeadLetterRecord {
  partition: number;
  offset: string;
  /** when it was rejected (the publish path's stamp, else the record's Kafka timestamp) */
  at: string;
  source: 'publish' | 'connector';
  /** the publishing department (publish) */
  publisher: string | null;
  /** the source connector's name (connector) */
  connector: string | null;
  /** where a connector read it: table and position, or file and record number */
  origin: string | null;
  requestId: string | null;
  /** its index in the publish request */
  recordIndex: number | null;
  /** stable: the failed rules (`date`, `required`, `json`, …) for publish; `parse` or `validation` for connectors */
  reasonCode: string;
  reason: string;
  errors: DeadLetterError[];
  schemaId: number | null;
  /** the producer cut the record to fit Kafka's message size */
  truncated: boolean;
  /** size of the dead-lettered record as stored */
  payloadBytes: number;
  /** with `payload`: the record's key (the dataset's key field) and its first bytes as text */
  key?: string | null;
  payload?: string;
  payloadClipped?: boolean;
}

export interface DeadLetterPage {
  topic: string;
  items: DeadLetterRecord[];
  /** where the next (older) page starts, or null at the oldest record the topic keeps */
  next: DeadLetterPositions | null;
}

export interface DeadLetterQuery {
  limit: number;
  before: DeadLetterPositions | null;
  payload: boolean;
  /** longest a page may take to read (joining the consumer group included) */
  timeoutMs: number;
}

/** What a page returns of the record itself: enough to recognise it, not a bulk export. */
export const PAYLOAD_PREVIEW_BYTES = 4096;
const MAX_HEADER_CHARS = 4000;
const MAX_ERRORS = 50;

function headerOf(headers: KafkaHeaders | undefined, name: string): string | null {
  const v = headers?.[name];
  if (v === undefined) return null;
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined) return null;
  const text = Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
  return text.length > MAX_HEADER_CHARS ? `${text.slice(0, MAX_HEADER_CHARS - 1)}…` : text;
}

function parseErrors(text: string | null): DeadLetterError[] {
  if (!text) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return []; // clipped by the writer: the reason header still says it all
  }
  if (!Array.isArray(parsed)) return [];
  const out: DeadLetterError[] = [];
  for (const e of parsed.slice(0, MAX_ERRORS)) {
    if (!e || typeof e !== 'object') continue;
    const { path, message, rule } = e as Record<string, unknown>;
    if (typeof path !== 'string' || typeof message !== 'string') continue;
    out.push({ path: path.slice(0, 500), message: message.slice(0, 1000), ...(typeof rule === 'string' ? { rule: rule.slice(0, 100) } : {}) });
  }
  return out;
}

const wholeNumber = (s: string | null): number | null => (s !== null && /^\d{1,9}$/.test(s) ? Number(s) : null);

/** A dead letter as a steward sees it; `payload` adds the record's key and its first bytes. */
export function describeDeadLetter(message: IncomingMessage, partition: number, payload: boolean): DeadLetterRecord {
  const h = (name: string): string | null => headerOf(message.headers, name);
  const connector = h('govx-connector');
  const rejectedAt = h('govx-rejected-at');
  const stamped = rejectedAt !== null && !Number.isNaN(Date.parse(rejectedAt)) ? new Date(rejectedAt).toISOString() : null;
  const value = message.value ?? Buffer.alloc(0);
  const record: DeadLetterRecord = {
    partition,
    offset: message.offset,
    at: stamped ?? new Date(Number(message.timestamp)).toISOString(),
    source: connector !== null ? 'connector' : 'publish',
    publisher: h('govx-publisher'),
    connector,
    origin: h('govx-source'),
    requestId: h('govx-request-id'),
    recordIndex: wholeNumber(h('govx-record-index')),
    reasonCode: h('govx-error-rule') ?? h('govx-error-class') ?? 'unknown',
    reason: h('govx-error-reason') ?? h('govx-error-message') ?? '',
    errors: parseErrors(h('govx-errors')),
    schemaId: wholeNumber(h('govx-schema-id')),
    truncated: h('govx-truncated') === 'true',
    payloadBytes: value.length,
  };
  if (payload) {
    const clipped = value.length > PAYLOAD_PREVIEW_BYTES;
    record.key = message.key ? message.key.toString('utf8').slice(0, 256) : null;
    record.payload = value.subarray(0, PAYLOAD_PREVIEW_BYTES).toString('utf8');
    record.payloadClipped = clipped;
  }
  return record;
}

interface Range {
  from: bigint;
  /** exclusive */
  to: bigint;
  low: bigint;
}

/**
 * Newest first across partitions: repeatedly takes the newest remaining record of whichever partition has
 * it, walking each partition downwards from its end, so what a page takes of a partition is always a run at
 * its top and the cursor (the lowest offset taken) never skips a record.
 */
export function newestFirst(byPartition: Map<number, DeadLetterRecord[]>, limit: number): DeadLetterRecord[] {
  const queues = [...byPartition.values()].map((list) => [...list].sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1)));
  const out: DeadLetterRecord[] = [];
  while (out.length < limit) {
    let best: DeadLetterRecord[] | undefined;
    for (const q of queues) {
      if (q.length === 0) continue;
      if (!best || Date.parse(q[q.length - 1]!.at) > Date.parse(best[best.length - 1]!.at)) best = q;
    }
    if (!best) break;
    out.push(best.pop()!);
  }
  return out;
}

export async function readDeadLetters(kafka: KafkaPort, dataset: string, q: DeadLetterQuery): Promise<DeadLetterPage> {
  const topic = dlqTopic(dataset);
  const admin = kafka.admin();
  const ranges = new Map<number, Range>();
  await admin.connect();
  try {
    // a dataset nothing was ever rejected from may have no dead-letter topic yet
    if (!(await admin.listTopics()).includes(topic)) return { topic, items: [], next: null };
    for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
      const asked = q.before?.[String(partition)];
      const end = asked !== undefined && BigInt(asked) < BigInt(high) ? BigInt(asked) : BigInt(high);
      const floor = BigInt(low);
      const from = end - BigInt(q.limit) > floor ? end - BigInt(q.limit) : floor;
      ranges.set(partition, { from, to: end, low: floor });
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const { records: read, complete } = await readOffsetRanges(kafka, topic, ranges, { group: 'govx-dlq-read', timeoutMs: q.timeoutMs, payload: true });
  if (!complete) throw new UnavailableError('dead_letters.unavailable', 'the dead-letter topic could not be read in time; try again shortly', 5);
  const byPartition = new Map<number, DeadLetterRecord[]>();
  for (const [partition, messages] of read) byPartition.set(partition, messages.map((m) => describeDeadLetter(m, partition, q.payload)));
  const items = newestFirst(byPartition, q.limit);
  const next: DeadLetterPositions = {};
  let more = false;
  for (const [partition, r] of ranges) {
    const taken = items.filter((i) => i.partition === partition).map((i) => BigInt(i.offset));
    const below = taken.length ? taken.reduce((a, b) => (a < b ? a : b)) : r.to;
    next[String(partition)] = below.toString();
    if (below > r.low) more = true;
  }
  return { topic, items, next: more ? next : null };
}
