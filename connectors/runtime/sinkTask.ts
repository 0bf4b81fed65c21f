import { grantRef, rangesOf, ReceiptLedger } from '../../catalog/receipts';
import { getSubscription } from '../../catalog/subscriptions';
import { errorMessage } from '../../lib/errors';
import type { BatchHandlerPayload, IncomingMessage, KafkaConsumer } from '../../lib/kafkaPort';
import { UndecodableValueError } from '../../schemas/wireFormat';
import type { SinkCommonConfig } from '../config';
import { sendDeadLetters, sinkDeadLetterMessage } from './deadLetter';
import { ConnectorFailure, TaskStopped, retrying } from './retry';
import { type ConnectorTask, retryPolicyOf, type TaskContext } from './task';

export type SinkConfig = SinkCommonConfig;

/** One record as sinks see it: the value decoded to natural JSON (null for a tombstone), with its origin. */
export interface SinkRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka's record timestamp, ISO 8601 */
  timestamp: string;
  key: string | null;
  schemaId: number | null;
  value: unknown;
  headers: Record<string, string>;
}

export interface SinkWriteResult {
  /** records that can never be written (a constraint violation, a value the target cannot hold), by index */
  failed: Array<{ index: number; errorClass: string; message: string }>;
}

/**
 * A connector-specific writer. `write` resolves only once the records are durable (fsync, COMMIT);
 * any error it throws counts as transient and is retried with backoff, so a permanent per-record problem
 * must be reported in `failed` instead.
 */
export interface SinkWriter {
  open(): Promise<void>;
  write(records: SinkRecord[]): Promise<SinkWriteResult>;
  close(): Promise<void>;
}

export const sinkGroupId = (connector: string): string => `govx-connect-${connector}`;

interface Failure {
  index: number;
  errorClass: string;
  message: string;
}

interface DecodedChunk {
  records: Array<{ index: number; record: SinkRecord }>;
  /** values that could not be decoded, by chunk index */
  failures: Failure[];
}

interface ChunkFailure extends Failure {
  /** how many records of the chunk are durably written and may be committed */
  commitUpTo: number;
}

/**
 * Runs a sink: a consumer in group govx-connect-<name> (several workers share the partitions), without
 * auto-commit. Each chunk of a batch is decoded, written, and only then its offsets are committed, so a
 * crash at any moment re-delivers what was not durably written (at-least-once). Undecodable values and
 * records the writer can never write go to the dead-letter topic (errors.tolerance=all) or fail the connector.
 */
export class SinkTask implements ConnectorTask {
  private consumer: KafkaConsumer | null = null;
  private readonly lags = new Map<string, number>();
  private failure: Error | null = null;
  private settle: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private readonly receipts: ReceiptLedger;

  constructor(
    private readonly ctx: TaskContext<SinkConfig>,
    private readonly writer: SinkWriter,
  ) {
    this.receipts = new ReceiptLedger(ctx.pool);
  }

  async run(): Promise<void> {
    const { ctx } = this;
    const policy = retryPolicyOf(ctx);
    const finished = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    const onAbort = (): void => this.settle?.resolve();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await retrying('opening the sink', policy, () => this.writer.open());
      const consumer = ctx.kafka.consumer({ groupId: sinkGroupId(ctx.name), sessionTimeout: 10_000, heartbeatInterval: 1_000 });
      this.consumer = consumer;
      consumer.onCrash((error, willRestart) => {
        if (!willRestart) this.fail(new ConnectorFailure(`the Kafka consumer stopped: ${errorMessage(error)}`));
      });
      await retrying('subscribing to the topics', policy, async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: ctx.config.topics, fromBeginning: true });
      });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (payload) => this.onBatch(payload) });
      await finished;
    } catch (err) {
      if (!(err instanceof TaskStopped)) throw err;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      await this.consumer?.disconnect().catch(() => undefined);
      await this.writer.close().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.settle?.resolve();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.settle?.reject(err);
  }

  private async onBatch(payload: BatchHandlerPayload): Promise<void> {
    try {
      await this.handleBatch(payload);
    } catch (err) {
      // Never thrown back into kafkajs, which would retry the batch on its own terms.
      if (err instanceof TaskStopped) return;
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * A batch is written chunk by chunk, pipelined: chunk n+1 is decoded while chunk n is written, and
   * the receipt and Kafka commit of chunk n (in order, after its target COMMIT) run while chunk n+1 is
   * written. A crash anywhere re-delivers from the last Kafka commit; the writer skips what it already holds.
   */
  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: BatchHandlerPayload): Promise<void> {
    const { ctx } = this;
    const { topic, partition } = batch;
    const chunks: IncomingMessage[][] = [];
    for (let i = 0; i < batch.messages.length; i += ctx.config.batchMaxRows) chunks.push(batch.messages.slice(i, i + ctx.config.batchMaxRows));
    const decode = (chunk: IncomingMessage[] | undefined): Promise<DecodedChunk> | null => {
      if (!chunk) return null;
      const p = this.decodeChunk(chunk, topic, partition, heartbeat);
      p.catch(() => undefined); // awaited below, or dropped when the batch stops early
      return p;
    };
    let settling: Promise<void> = Promise.resolve();
    // what settling the chunks so far came to (set by the chain, read by the loop)
    const state: { settled: 'ok' | 'uncommitted' | Error } = { settled: 'ok' };
    let next = decode(chunks[0]);
    for (let c = 0; c < chunks.length; c++) {
      if (state.settled !== 'ok' || this.failure || ctx.signal.aborted || !isRunning() || isStale()) break;
      const chunk = chunks[c]!;
      const decoded = await next!;
      next = decode(chunks[c + 1]);
      const { failure, delivered } = await this.writeChunk(topic, partition, chunk, decoded, heartbeat);
      const committed = failure ? failure.commitUpTo : chunk.length;
      settling = settling.then(async () => {
        if (state.settled !== 'ok') return;
        try {
          state.settled = await this.settleChunk(topic, partition, chunk, committed, delivered, resolveOffset, heartbeat);
        } catch (err) {
          state.settled = err instanceof Error ? err : new Error(String(err));
        }
      });
      if (failure) {
        await settling;
        throw new ConnectorFailure(`${topic}/${partition}@${chunk[failure.index]!.offset}: ${failure.errorClass}: ${failure.message} (errors.tolerance=none)`);
      }
      try {
        await heartbeat();
      } catch (err) {
        // The group is rebalancing (another worker joined or left): the consumer rejoins on its own, and the rest of
        // the batch is re-delivered to the partition's owner from the last commit (the writer skips what it holds).
        ctx.log.warn({ topic, partition, err: errorMessage(err) }, 'heartbeat refused during a rebalance; leaving the rest of the batch to the partition owner');
        break;
      }
    }
    await settling;
    if (state.settled instanceof Error) throw state.settled;
    if (state.settled !== 'ok') return;
    this.lags.set(`${topic}/${partition}`, Number(batch.offsetLag()));
    ctx.counters.lag = [...this.lags.values()].reduce((a, b) => a + b, 0);
  }

  /**
   * After a chunk's target COMMIT: its receipt, then the Kafka commit. The receipt comes first, so a crash in
   * between re-delivers the chunk and records it again (an overlapping receipt, never a missing one).
   */
  private async settleChunk(
    topic: string,
    partition: number,
    chunk: IncomingMessage[],
    committed: number,
    delivered: Array<{ offset: string; index: number }>,
    resolveOffset: (offset: string) => void,
    heartbeat: () => Promise<void>,
  ): Promise<'ok' | 'uncommitted'> {
    const { ctx } = this;
    await retrying('recording the delivery receipt', retryPolicyOf(ctx, heartbeat), () => this.recordDelivery(topic, partition, delivered));
    if (committed === 0) return 'ok';
    const last = chunk[committed - 1]!.offset;
    try {
      await this.consumer!.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
    } catch (err) {
      // Typically a rebalance: the partition's new owner re-delivers from the last commit (duplicates, never a loss).
      ctx.log.warn({ topic, partition, offset: last, err: errorMessage(err) }, 'offset commit failed; records will be re-delivered');
      return 'uncommitted';
    }
    resolveOffset(last);
    return 'ok';
  }

  /** delivery.receipt (channel sink) for records of a share topic written durably into the connector's target */
  private async recordDelivery(topic: string, partition: number, delivered: Array<{ offset: string; index: number }>): Promise<void> {
    if (delivered.length === 0 || !topic.startsWith('govx.share.')) return;
    const sub = await getSubscription(this.ctx.pool, topic.slice('govx.share.'.length));
    if (!sub) return;
    await this.receipts.delivery(
      ...rangesOf(topic, delivered.map((d) => ({ partition, offset: d.offset }))).map((range) => ({
        ...range,
        subscription: grantRef(sub),
        channel: 'sink' as const,
        connector: this.ctx.name,
        actor: { department: this.ctx.owner, keyId: `connector:${this.ctx.name}`, role: 'connector' },
      })),
    );
  }

  /** Decodes a chunk's values through the schema cache; undecodable ones are failures of their own (dead letters). */
  private async decodeChunk(chunk: IncomingMessage[], topic: string, partition: number, heartbeat: () => Promise<void>): Promise<DecodedChunk> {
    const { ctx } = this;
    const policy = retryPolicyOf(ctx, heartbeat);
    const records: DecodedChunk['records'] = [];
    const failures: Failure[] = [];
    for (const [index, m] of chunk.entries()) {
      const decoded = await retrying('reading the schema', policy, () =>
        ctx.schemas.decode<unknown>(m.value).catch((err: unknown) => {
          if (err instanceof UndecodableValueError) return err;
          throw err; // a database fault: transient
        }),
      );
      if (decoded instanceof UndecodableValueError) {
        failures.push({ index, errorClass: `undecodable:${decoded.errorClass}`, message: decoded.message });
        if (ctx.config.errorsTolerance === 'none') break;
        continue;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
      records.push({
        index,
        record: {
          topic,
          partition,
          offset: m.offset,
          timestamp: new Date(Number(m.timestamp)).toISOString(),
          key: m.key === null ? null : m.key.toString('utf8'),
          schemaId: decoded.schemaId,
          value: decoded.value,
          headers,
        },
      });
    }
    return { records, failures };
  }

  /**
   * Writes one decoded chunk durably; returns the first failure when errors.tolerance=none (records before it are
   * written), and which records reached the target (by chunk index).
   */
  private async writeChunk(
    topic: string,
    partition: number,
    chunk: IncomingMessage[],
    { records, failures }: DecodedChunk,
    heartbeat: () => Promise<void>,
  ): Promise<{ failure: ChunkFailure | null; delivered: Array<{ offset: string; index: number }> }> {
    const { ctx } = this;
    const policy = retryPolicyOf(ctx, heartbeat);
    ctx.counters.in += chunk.length;
    const firstDecodeFailure = ctx.config.errorsTolerance === 'none' ? failures[0] : undefined;
    const toWrite = firstDecodeFailure ? records.filter((r) => r.index < firstDecodeFailure.index) : records;
    const result = toWrite.length ? await retrying('writing', policy, () => this.writer.write(toWrite.map((r) => r.record))) : { failed: [] };
    for (const f of result.failed) failures.push({ ...f, index: toWrite[f.index]!.index });
    failures.sort((a, b) => a.index - b.index);
    ctx.counters.out += toWrite.length - result.failed.length;
    const failedWrites = new Set(result.failed.map((f) => toWrite[f.index]!.index));
    const delivered = toWrite.filter((r) => !failedWrites.has(r.index)).map((r) => ({ offset: r.record.offset, index: r.index }));
    if (failures.length === 0) return { failure: null, delivered };
    if (ctx.config.errorsTolerance === 'none') {
      // Records before an undecodable one are written and may be committed; after a failed write, none of the chunk is.
      const first = failures[0]!;
      const commitUpTo = firstDecodeFailure && result.failed.length === 0 ? first.index : 0;
      return { failure: { ...first, commitUpTo }, delivered: delivered.filter((d) => d.index < commitUpTo) };
    }
    const messages = failures.map((f) => {
      const m = chunk[f.index]!;
      return sinkDeadLetterMessage(ctx.name, {
        key: m.key,
        value: m.value,
        headers: m.headers,
        topic,
        partition,
        offset: m.offset,
        errorClass: f.errorClass,
        errorMessage: f.message,
      });
    });
    await retrying('writing to the dead-letter topic', policy, () => sendDeadLetters(ctx.exchange, ctx.config.deadLetterTopic!, messages));
    ctx.counters.dead += messages.length;
    ctx.log.warn({ topic, partition, count: messages.length, dlq: ctx.config.deadLetterTopic }, 'records dead-lettered');
    return { failure: null, delivered };
  }
}
