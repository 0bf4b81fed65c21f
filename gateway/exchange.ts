import { CompressionTypes, type Admin, type Kafka, type Message, Partitioners, type Producer, type RecordMetadata } from 'kafkajs';
import { UnavailableError, errorMessage } from '../lib/errors';
import type { Logger } from '../lib/logger';

export interface ExchangeOptions {
  partitions: number;
  replicationFactor: number;
  /** A publish waits this long for Kafka before it is answered 503. */
  timeoutMs: number;
}

/**
 * govx's side of Kafka: creates its topics (auto-creation is off on the broker) and produces with an
 * idempotent producer and acks=all, within a bounded time. Kafka faults surface as 503 with Retry-After.
 */
export class KafkaExchange {
  private readonly admin: Admin;
  private readonly producer: Producer;
  private readonly knownTopics = new Set<string>();
  private readonly pendingTopics = new Map<string, Promise<void>>();
  private connected: Promise<void> | null = null;

  constructor(
    kafka: Kafka,
    private readonly opts: ExchangeOptions,
    private readonly log: Logger,
  ) {
    this.admin = kafka.admin();
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
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

  async ensureTopic(topic: string): Promise<void> {
    if (this.knownTopics.has(topic)) return;
    let pending = this.pendingTopics.get(topic);
    if (!pending) {
      pending = this.bounded(`create topic ${topic}`, async () => {
        await this.connect();
        const created = await this.admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic, numPartitions: this.opts.partitions, replicationFactor: this.opts.replicationFactor }],
        });
        if (created) this.log.info({ topic }, 'created topic');
        this.knownTopics.add(topic);
      }).finally(() => this.pendingTopics.delete(topic));
      this.pendingTopics.set(topic, pending);
    }
    await pending;
  }

  /** Produces with acks=all; resolves only once every message is acknowledged by the in-sync replicas. */
  async produce(topic: string, messages: Message[]): Promise<RecordMetadata[]> {
    if (messages.length === 0) return [];
    await this.ensureTopic(topic);
    return this.bounded(`produce to ${topic}`, async () => {
      await this.connect();
      return this.producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
    });
  }

  /** Readiness: the broker answers a metadata request. */
  async ping(): Promise<void> {
    await this.bounded('metadata', async () => {
      await this.connect();
      await this.admin.describeCluster();
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}
