import { UnavailableError, errorMessage } from './errors';
import type { KafkaAdmin, KafkaPort, KafkaProducer, OutgoingMessage } from './kafkaPort';
import type { Logger } from './logger';

/** A broker whose metadata cache has not caught up with a topic just created (kafkajs error types, or the broker's words). */
function isMetadataLag(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError, depth++) {
    const { type, message } = e as { type?: string; message?: string };
    if (type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'LEADER_NOT_AVAILABLE') return true;
    if (typeof message === 'string' && /does not host this topic-partition|no leader for this topic-partition/i.test(message)) return true;
  }
  return false;
}

export interface ExchangeOptions {
  partitions: number;
  replicationFactor: number;
  /** A publish waits this long for Kafka before it is answered 503. */
  timeoutMs: number;
  /** Concurrent produces to one topic are collected this long into one produce request (default 2 ms). */
  lingerMs?: number;
  /** Largest produce request; a batch that reaches it is sent at once (default 900 KiB, below message.max.bytes). */
  maxBatchBytes?: number;
}

/** Where a caller's messages landed: on `partition`, offsets baseOffset … baseOffset + count - 1. */
export interface ProducedRange {
  partition: number;
  baseOffset: string;
  count: number;
}

interface Waiting {
  messages: OutgoingMessage[];
  bytes: number;
  /** Its caller already got 503 (deadline passed or another piece failed): never send it after that. */
  abandoned?: boolean;
  resolve: (ranges: ProducedRange[]) => void;
  reject: (err: unknown) => void;
}

/** Messages of concurrent callers waiting for one topic's next produce request. */
interface TopicQueue {
  waiting: Waiting[];
  bytes: number;
  timer: NodeJS.Timeout | null;
  sending: boolean;
}

/** The messages of one request share one headers object: measured once, not once per message. */
let lastHeaders: OutgoingMessage['headers'] | undefined;
let lastHeaderBytes = 0;

function headerBytes(headers: OutgoingMessage['headers']): number {
  if (headers === lastHeaders) return lastHeaderBytes;
  let n = 0;
  for (const [k, v] of Object.entries(headers ?? {})) n += k.length + (v ? String(v).length : 0);
  lastHeaders = headers;
  lastHeaderBytes = n;
  return n;
}

function messageBytes(m: OutgoingMessage): number {
  return 64 + (m.value ? (m.value as Buffer).length : 0) + (m.key ? m.key.length : 0) + headerBytes(m.headers);
}

/** Splits one caller's messages into pieces no larger than a produce request may be. */
function chunkByBytes(messages: OutgoingMessage[], maxBytes: number): Array<{ messages: OutgoingMessage[]; bytes: number }> {
  const chunks: Array<{ messages: OutgoingMessage[]; bytes: number }> = [];
  let current: OutgoingMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = messageBytes(m);
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push({ messages: current, bytes });
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length) chunks.push({ messages: current, bytes });
  return chunks;
}

/**
 * govx's side of Kafka: creates its topics (auto-creation is off on the broker) and produces with an
 * idempotent producer and acks=all, within a bounded time. Kafka faults surface as 503 with Retry-After.
 */
export class KafkaExchange {
  private readonly admin: KafkaAdmin;
  private readonly producer: KafkaProducer;
  private readonly partitionCounts = new Map<string, number>();
  private readonly queues = new Map<string, TopicQueue>();
  /** Produce requests sent and messages in them, to observe coalescing. */
  readonly stats = { produceRequests: 0, messages: 0 };
  private readonly pendingTopics = new Map<string, Promise<void>>();
  private connected: Promise<void> | null = null;

  constructor(
    private readonly kafka: KafkaPort,
    private readonly opts: ExchangeOptions,
    private readonly log: Logger,
  ) {
    this.admin = kafka.admin();
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 } });
  }

  /** Connects lazily and again after a failure, so the gateway recovers by itself when the broker returns. */
  private connect(): Promise<void> {
    if (!this.connected) {
      this.connected = Promise.all([this.admin.connect(), this.producer.connect()]).then(
        () => undefined,
        (err: unknown) => {
          this.connected = null;
          throw err;
        },
      );
    }
    return this.connected;
  }

  private async bounded<T>(what: string, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new UnavailableError('kafka.unavailable', `Kafka did not answer within ${this.opts.timeoutMs} ms (${what})`, 5)),
        this.opts.timeoutMs,
      );
    });
    try {
      return await Promise.race([work(), deadline]);
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      this.log.warn({ err: errorMessage(err), what }, 'kafka operation failed');
      throw new UnavailableError('kafka.unavailable', `Kafka is unavailable (${what}): ${errorMessage(err)}`, 5, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A topic just created can be unknown for a moment to the broker answering the metadata request (its
   * metadata cache lags the controller, more so while many topics are created at once): ask again until the
   * deadline of the caller's bounded operation, instead of answering 503 for a topic that exists.
   */
  private async topicMetadata(topic: string): Promise<Awaited<ReturnType<KafkaAdmin['fetchTopicMetadata']>>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.admin.fetchTopicMetadata({ topics: [topic] });
      } catch (err) {
        if (!isMetadataLag(err) || attempt >= 40) throw err;
        await new Promise((r) => setTimeout(r, Math.min(50 * attempt, 500)));
      }
    }
  }

  async ensureTopic(topic: string): Promise<void> {
    if (this.partitionCounts.has(topic)) return;
    let pending = this.pendingTopics.get(topic);
    if (!pending) {
      pending = this.bounded(`create topic ${topic}`, async () => {
        await this.connect();
        // asking first keeps kafkajs from logging an error for every topic that already exists
        if (!(await this.admin.listTopics()).includes(topic)) {
          const created = await this.admin
            .createTopics({
              waitForLeaders: true,
              topics: [{ topic, numPartitions: this.opts.partitions, replicationFactor: this.opts.replicationFactor }],
            })
            // created, but the wait for its leaders asked a broker whose metadata lags: topicMetadata waits on
            .catch((err: unknown) => {
              if (isMetadataLag(err)) return true;
              throw err;
            });
          if (created) this.log.info({ topic }, 'created topic');
        }
        const metadata = await this.topicMetadata(topic);
        this.partitionCounts.set(topic, metadata.topics[0]?.partitions.length || this.opts.partitions);
      }).finally(() => this.pendingTopics.delete(topic));
      this.pendingTopics.set(topic, pending);
    }
    await pending;
  }

  /**
   * Produces with acks=all; resolves only once every message is acknowledged by the in-sync replicas, with
   * the offsets of this caller's messages. Concurrent callers on one topic share produce requests.
   */
  async produce(topic: string, messages: OutgoingMessage[]): Promise<ProducedRange[]> {
    if (messages.length === 0) return [];
    await this.ensureTopic(topic);
    const partitions = this.partitionCounts.get(topic)!;
    // The partition is chosen here (as the producer would: murmur2 of the key) so each caller knows its offsets in a shared batch.
    // (fields named, not spread: a spread copy of every message was 2 % of a busy gateway's publish time)
    const placed: OutgoingMessage[] = messages.map((m) => ({
      key: m.key,
      value: m.value,
      headers: m.headers,
      partition: m.partition ?? this.kafka.partitionFor(topic, m.key, partitions),
    }));
    const maxBytes = this.opts.maxBatchBytes ?? 900 * 1024;
    const mine: Waiting[] = [];
    try {
      return await this.bounded(`produce to ${topic}`, async () => {
        const pieces = await Promise.all(chunkByBytes(placed, maxBytes).map((c) => this.enqueue(topic, c.messages, c.bytes, mine)));
        return pieces.flat();
      });
    } catch (err) {
      // What has not been sent yet stays unsent, so a 503 rarely leaves records behind in Kafka.
      for (const w of mine) w.abandoned = true;
      throw err;
    }
  }

  private enqueue(topic: string, messages: OutgoingMessage[], bytes: number, owner: Waiting[]): Promise<ProducedRange[]> {
    let queue = this.queues.get(topic);
    if (!queue) {
      queue = { waiting: [], bytes: 0, timer: null, sending: false };
      this.queues.set(topic, queue);
    }
    const q = queue;
    return new Promise<ProducedRange[]>((resolve, reject) => {
      const waiting: Waiting = { messages, bytes, resolve, reject };
      owner.push(waiting);
      q.waiting.push(waiting);
      q.bytes += bytes;
      if (q.sending) return;
      if (q.bytes >= (this.opts.maxBatchBytes ?? 900 * 1024) || (this.opts.lingerMs ?? 2) === 0) this.flush(topic, q);
      else q.timer ??= setTimeout(() => this.flush(topic, q), this.opts.lingerMs ?? 2);
    });
  }

  /** One produce request at a time per topic; whatever arrives meanwhile rides in the next one. */
  private flush(topic: string, q: TopicQueue): void {
    if (q.timer) clearTimeout(q.timer);
    q.timer = null;
    if (q.sending || q.waiting.length === 0) return;
    const maxBytes = this.opts.maxBatchBytes ?? 900 * 1024;
    const batch: Waiting[] = [];
    let bytes = 0;
    let taken = 0;
    while (q.waiting.length && (batch.length === 0 || bytes + q.waiting[0]!.bytes <= maxBytes)) {
      const w = q.waiting.shift()!;
      taken += w.bytes;
      if (w.abandoned) continue;
      batch.push(w);
      bytes += w.bytes;
    }
    q.bytes -= taken;
    if (batch.length === 0) {
      this.queues.delete(topic);
      return;
    }
    q.sending = true;
    this.send(topic, batch).finally(() => {
      q.sending = false;
      if (q.waiting.length) this.flush(topic, q);
      else this.queues.delete(topic);
    });
  }

  private async send(topic: string, batch: Waiting[]): Promise<void> {
    try {
      await this.connect();
      this.stats.produceRequests++;
      for (const w of batch) this.stats.messages += w.messages.length;
      const metadata = await this.producer.send({ topic, messages: batch.flatMap((w) => w.messages), acks: -1 });
      // Within a partition the broker assigns offsets in the order the messages were sent.
      const next = new Map(metadata.map((m) => [m.partition, BigInt(m.baseOffset ?? '0')]));
      for (const w of batch) {
        const counts = new Map<number, number>();
        for (const m of w.messages) counts.set(m.partition!, (counts.get(m.partition!) ?? 0) + 1);
        const ranges: ProducedRange[] = [];
        for (const [partition, count] of [...counts].sort((a, b) => a[0] - b[0])) {
          const base = next.get(partition) ?? 0n;
          ranges.push({ partition, baseOffset: String(base), count });
          next.set(partition, base + BigInt(count));
        }
        w.resolve(ranges);
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  /** Readiness: the broker answers a metadata request. */
  async ping(): Promise<void> {
    await this.bounded('metadata', async () => {
      await this.connect();
      await this.admin.describeCluster();
    });
  }

  async close(): Promise<void> {
    for (const [topic, q] of this.queues) this.flush(topic, q);
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}
