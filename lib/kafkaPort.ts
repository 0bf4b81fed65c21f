import { type Kafka, Partitioners, type PartitionMetadata } from 'kafkajs';
import { errorMessage, GovxError, UnavailableError } from './errors';

/**
 * The Kafka calls govx makes, and nothing more: the publish path, the distributor, HTTP delivery and the
 * connectors see only these types, so another client can be measured or swapped in behind
 * `kafkajsPort` without touching them. Values are Confluent-wire-format bytes; offsets are strings.
 */

export type KafkaHeaders = { [name: string]: Buffer | string | Array<Buffer | string> | undefined };

export interface OutgoingMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  headers?: KafkaHeaders;
}

export interface IncomingMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers?: KafkaHeaders;
  offset: string;
  /** milliseconds since the epoch, as a string */
  timestamp: string;
}

export interface IncomingBatch {
  topic: string;
  partition: number;
  messages: IncomingMessage[];
  offsetLag(): string;
}

export interface BatchHandlerPayload {
  batch: IncomingBatch;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  /** true once a rebalance took the partition away: stop working on the batch */
  isStale(): boolean;
}

export interface ProducedMetadata {
  topicName: string;
  partition: number;
  baseOffset?: string;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface ProducerOptions {
  idempotent: boolean;
  maxInFlightRequests?: number;
  retry?: { retries: number; initialRetryTime: number; maxRetryTime: number };
}

export interface ConsumerOptions {
  groupId: string;
  maxWaitTimeInMs?: number;
  sessionTimeout?: number;
  heartbeatInterval?: number;
}

export interface KafkaProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** acks=all: resolves once the in-sync replicas have every message */
  send(record: { topic: string; messages: OutgoingMessage[]; acks: -1 }): Promise<ProducedMetadata[]>;
  sendBatch(batch: { acks: -1; topicMessages: Array<{ topic: string; messages: OutgoingMessage[] }> }): Promise<ProducedMetadata[]>;
}

/** A group member that commits its offsets itself, after its writes are durable. */
export interface KafkaConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: string[]; fromBeginning: boolean }): Promise<void>;
  run(config: {
    autoCommit: false;
    eachBatchAutoResolve: false;
    partitionsConsumedConcurrently?: number;
    eachBatch: (payload: BatchHandlerPayload) => Promise<void>;
  }): Promise<void>;
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  seek(position: TopicPartitionOffset): void;
  /** The consumer failed; unless `willRestart`, it is dead and must be replaced. */
  onCrash(listener: (error: Error, willRestart: boolean) => void): void;
  /** The consumer joined its group and has partitions: seeks take effect from here. */
  onGroupJoin(listener: () => void): void;
}

export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  createTopics(request: { waitForLeaders: boolean; topics: Array<{ topic: string; numPartitions: number; replicationFactor: number }> }): Promise<boolean>;
  fetchTopicMetadata(request: { topics: string[] }): Promise<{ topics: Array<{ name: string; partitions: unknown[] }> }>;
  /** per partition: `low` (oldest offset kept) and `high` (the offset the next record gets) */
  fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>>;
  /** per partition, the first offset whose record timestamp is at or after `timestamp` (ms), or the end */
  fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<Array<{ partition: number; offset: string }>>;
  /** a group's committed offsets; '-1' where it committed none */
  fetchOffsets(request: { groupId: string; topics: string[] }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
  /** sets a group's committed offsets (the group must have no running member) */
  setOffsets(request: { groupId: string; topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<void>;
  deleteGroups(groupIds: string[]): Promise<unknown>;
  /** every consumer group the broker knows (for finding a department's groups by their prefix) */
  listGroups(): Promise<{ groups: Array<{ groupId: string; protocolType: string }> }>;
  describeCluster(): Promise<unknown>;
}

export interface KafkaPort {
  producer(options: ProducerOptions): KafkaProducer;
  consumer(options: ConsumerOptions): KafkaConsumer;
  admin(): KafkaAdmin;
  /** The partition a producer would choose for `key` (murmur2, as Java clients do), so a caller knows it before sending. */
  partitionFor(topic: string, key: Buffer | string | null | undefined, partitionCount: number): number;
}

const MURMUR2_SEED = 0x9747b28c;
const MURMUR2_M = 0x5bd1e995;

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`, which kafkajs's default partitioner follows) in 32-bit
 * integer arithmetic: the same hash as kafkajs's 64-bit `Long` version, which allocates several objects per 4
 * bytes and was 4 % of a busy gateway's publish time.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = MURMUR2_SEED ^ length;
  const body = length & ~3;
  for (let i = 0; i < body; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, MURMUR2_M);
    k ^= k >>> 24;
    k = Math.imul(k, MURMUR2_M);
    h = Math.imul(h, MURMUR2_M) ^ k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= data[body + 2]! << 16;
  if (tail >= 2) h ^= data[body + 1]! << 8;
  if (tail >= 1) {
    h ^= data[body]!;
    h = Math.imul(h, MURMUR2_M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, MURMUR2_M);
  h ^= h >>> 15;
  return h | 0;
}

let asciiScratch = new Uint8Array(256);

/** The partition of a keyed record as Kafka's default partitioner places it: murmur2 of the key's UTF-8 bytes. */
export function keyPartition(key: Buffer | string, partitionCount: number): number {
  let bytes: Uint8Array;
  if (typeof key === 'string') {
    // most keys are short ASCII identifiers: their UTF-8 bytes are their char codes, no Buffer needed
    if (key.length > asciiScratch.length) asciiScratch = new Uint8Array(key.length * 2);
    let ascii = true;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c > 0x7f) {
        ascii = false;
        break;
      }
      asciiScratch[i] = c;
    }
    bytes = ascii ? asciiScratch.subarray(0, key.length) : Buffer.from(key, 'utf8');
  } else bytes = key;
  return (murmur2(bytes) & 0x7fffffff) % partitionCount;
}

/** govx's Kafka port over a kafkajs client (the one lib/kafka.ts `createKafka` configures). */
export function kafkajsPort(kafka: Kafka): KafkaPort {
  const partitioner = Partitioners.DefaultPartitioner();
  const metadataByCount = new Map<number, PartitionMetadata[]>();
  return {
    producer: (options) => kafka.producer({ ...options, createPartitioner: Partitioners.DefaultPartitioner }),
    consumer: (options) => {
      // govx creates its topics itself; a consumer never does
      const consumer = kafka.consumer({ ...options, allowAutoTopicCreation: false });
      return {
        connect: () => consumer.connect(),
        disconnect: () => consumer.disconnect(),
        subscribe: (subscription) => consumer.subscribe(subscription),
        run: (config) => consumer.run(config),
        commitOffsets: (offsets) => consumer.commitOffsets(offsets),
        seek: (position) => consumer.seek(position),
        onCrash: (listener) => {
          consumer.on(consumer.events.CRASH, ({ payload }) => listener(payload.error, payload.restart));
        },
        onGroupJoin: (listener) => {
          consumer.on(consumer.events.GROUP_JOIN, () => listener());
        },
      };
    },
    admin: () => kafka.admin(),
    partitionFor: (topic, key, partitionCount) => {
      if (key !== null && key !== undefined) return keyPartition(key, partitionCount);
      let partitionMetadata = metadataByCount.get(partitionCount);
      if (!partitionMetadata) {
        partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
        metadataByCount.set(partitionCount, partitionMetadata);
      }
      return partitioner({ topic, partitionMetadata, message: { key, value: null } });
    },
  };
}

/** partition → the offset the next record will get (the topic's end), with a short-lived admin client. */
export async function topicEndOffsets(kafka: Pick<KafkaPort, 'admin'>, topic: string): Promise<Record<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [String(o.partition), o.high]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * A read of Kafka made to answer an HTTP request: a Kafka fault, or no answer within `timeoutMs`, becomes 503
 * `kafka.unavailable` with Retry-After (never a 500); govx's own errors pass through. The read itself may
 * finish after the deadline; its clients are closed by its own `finally`.
 */
export async function readKafkaForAnswer<T>(what: string, timeoutMs: number, read: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new UnavailableError('kafka.unavailable', `Kafka did not answer within ${timeoutMs} ms (${what})`, 5)), timeoutMs);
  });
  const work = read();
  work.catch(() => undefined);
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    if (err instanceof GovxError) throw err;
    throw new UnavailableError('kafka.unavailable', `Kafka is unavailable (${what}): ${errorMessage(err)}`, 5, err);
  } finally {
    clearTimeout(timer);
  }
}
