import crypto from 'node:crypto';
import type { Principal } from '../../catalog/keys';
import { authorizePublisher, publishRecords, type PublishOutcome } from '../../publish/pipeline';
import type { RejectedRecord } from '../../publish/stages';
import { GovxError, errorMessage } from '../../lib/errors';
import type { SourceCommonConfig } from '../config';
import { sendDeadLetters, sourceDeadLetterMessage } from './deadLetter';
import { ConnectorFailure, TaskStopped, retrying, sleep } from './retry';
import { writeOffset } from './store';
import { type ConnectorTask, retryPolicyOf, type TaskContext } from './task';

export interface SourceRecord {
  /** natural JSON for the publish path */
  value: unknown;
  /** what to store as the source offset once this record and all before it are in Kafka */
  position: unknown;
  /** where it came from, for errors and dead letters: "public.residents (2024-05-01 08:00:00+00, 17)", "a.csv record 12" */
  origin: string;
  /** problems found before the publish path (a line that is not JSON); the record is rejected with them */
  preRejected?: RejectedRecord['errors'];
  /** the source text, for the dead-letter topic, when `value` is not what was read */
  raw?: string;
}

export interface SourceBatch {
  /** offsets are stored per partition: the table, or one file */
  partition: string;
  records: SourceRecord[];
  /** stored after the batch instead of the last record's position (a file's end) */
  endPosition?: unknown;
}

/** A connector-specific reader; the task around it does publishing, dead letters, offsets and retries. */
export interface SourceReader {
  open(): Promise<void>;
  /** The next batch after the last one returned, or null when caught up. */
  poll(maxRecords: number): Promise<SourceBatch | null>;
  /**
   * Whether the next batch may be read while the one before is still being published: the reader keeps its
   * position in memory and goes back to the stored offsets only when it reopens after a failed read.
   */
  readonly readsAhead?: boolean;
  close(): Promise<void>;
}

/** A read ahead of the publishing that failed; the batch is read again once the one before is stored. */
class ReadAheadFailed {
  readonly failed = true;
}

/**
 * A rejection as status, logs and dead-letter headers show it: each field and the rule it broke, never the
 * validator's message (which may quote part of the value, such as a check digit).
 */
const describeErrors = (errors: RejectedRecord['errors']): string =>
  errors.map((e) => `${e.path || '(record)'}: ${e.rule ?? 'invalid'}`).join('; ');

/**
 * Runs a source: read a batch → publish it through the governed path (as the owning department's
 * publisher, acks=all) → dead-letter the rejects (errors.tolerance=all) → store the offset. The offset is
 * stored only after Kafka acknowledged, so a crash re-sends at most the batch in flight. The next batch is
 * read from the source while one is published, and published only once that one's offset is stored, so
 * batches reach Kafka in order and nothing after a rejected record (errors.tolerance=none) is ever sent.
 */
export class SourceTask implements ConnectorTask {
  private readonly principal: Principal;

  constructor(
    private readonly ctx: TaskContext<SourceCommonConfig>,
    private readonly reader: SourceReader,
  ) {
    this.principal = { department: ctx.owner, role: 'publisher', keyId: `connector:${ctx.name}` };
  }

  async run(): Promise<void> {
    const { ctx } = this;
    const policy = retryPolicyOf(ctx);
    try {
      await retrying('opening the source', policy, () => this.reader.open());
      let ahead: Promise<SourceBatch | null | ReadAheadFailed> | null = null;
      while (!ctx.signal.aborted) {
        let batch = ahead ? await ahead : null;
        ahead = null;
        // A read-ahead that failed is read again now: the reader reopens at the stored offset, which is where publishing stands.
        if (batch === null || batch instanceof ReadAheadFailed) batch = await retrying('reading the source', policy, () => this.reader.poll(ctx.config.batchMaxRows));
        if (!batch) {
          await sleep(ctx.config.pollIntervalMs, ctx.signal);
          continue;
        }
        // The next batch is read while this one is published (if the reader can); it is published only after this one's offset is stored.
        if (this.reader.readsAhead) ahead = this.reader.poll(ctx.config.batchMaxRows).catch(() => new ReadAheadFailed());
        await this.deliver(batch);
      }
    } catch (err) {
      if (err instanceof TaskStopped) return;
      throw err;
    } finally {
      await this.reader.close().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    // The abort signal interrupts the poll wait and the retries; a publish in flight finishes first.
  }

  private publish(records: unknown[], preRejected: RejectedRecord[], atomic: boolean): Promise<PublishOutcome> {
    const { ctx } = this;
    const deps = { pool: ctx.pool, runtimes: ctx.runtimes, exchange: ctx.exchange, metrics: ctx.metrics, log: ctx.log };
    return retrying('publishing', retryPolicyOf(ctx), async () =>
      publishRecords(
        deps,
        {
          publisher: await authorizePublisher(deps, this.principal, ctx.config.dataset),
          records,
          preRejected,
          atomic,
          requestId: `connect-${ctx.name}-${crypto.randomUUID()}`,
        },
      ),
    );
  }

  private async commit(partition: string, position: unknown): Promise<void> {
    const { ctx } = this;
    let stored: boolean;
    try {
      stored = await retrying('storing the offset', retryPolicyOf(ctx), () => writeOffset(ctx.lockClient ?? ctx.pool, ctx.name, partition, position));
    } catch (err) {
      if (err instanceof TaskStopped) throw err;
      // The session holding the source's lock is gone, so another worker may own the source now: stop,
      // and let this worker's next round compete for the lock again.
      ctx.log.warn({ err: errorMessage(err) }, 'could not store the source offset through the lock session; stopping the task');
      throw new TaskStopped();
    }
    if (!stored) throw new TaskStopped();
  }

  private async deliver(batch: SourceBatch): Promise<void> {
    const { ctx } = this;
    const { records } = batch;
    ctx.counters.in += records.length;
    if (records.length === 0) {
      if (batch.endPosition !== undefined) await this.commit(batch.partition, batch.endPosition);
      return;
    }
    const values = records.map((r) => r.value);
    const preRejected: RejectedRecord[] = records.flatMap((r, index) => (r.preRejected ? [{ index, errors: r.preRejected }] : []));
    const endPosition = batch.endPosition ?? records[records.length - 1]!.position;

    if (ctx.config.errorsTolerance === 'all') {
      const outcome = await this.publish(values, preRejected, false);
      if (outcome.rejected.length > 0) await this.deadLetter(records, outcome.rejected);
      ctx.counters.out += outcome.accepted;
      ctx.counters.dead += outcome.rejected.length;
      await this.commit(batch.partition, endPosition);
      return;
    }

    // errors.tolerance=none: nothing after a rejected record is published, and the offset stops right before it.
    try {
      const outcome = await this.publish(values, preRejected, true);
      ctx.counters.out += outcome.accepted;
      await this.commit(batch.partition, endPosition);
    } catch (err) {
      const cause = err instanceof ConnectorFailure ? err.cause : err;
      if (!(cause instanceof GovxError) || cause.code !== 'publish.rejected') throw err;
      const rejected = (cause.details as { rejected: RejectedRecord[] }).rejected;
      const first = rejected[0]!;
      if (first.index > 0) {
        const outcome = await this.publish(values.slice(0, first.index), [], true);
        ctx.counters.out += outcome.accepted;
        await this.commit(batch.partition, records[first.index - 1]!.position);
      }
      throw new ConnectorFailure(
        `record ${records[first.index]!.origin} was rejected by the publish path (errors.tolerance=none): ${describeErrors(first.errors)}`,
      );
    }
  }

  private async deadLetter(records: SourceRecord[], rejected: RejectedRecord[]): Promise<void> {
    const { ctx } = this;
    const runtime = await ctx.runtimes.get(ctx.config.dataset);
    const keyField = runtime?.dataset.keyField;
    const messages = rejected.map((r) => {
      const record = records[r.index]!;
      const keyValue = keyField && record.value && typeof record.value === 'object' ? (record.value as Record<string, unknown>)[keyField] : undefined;
      return sourceDeadLetterMessage(ctx.name, {
        dataset: ctx.config.dataset,
        origin: record.origin,
        key: typeof keyValue === 'string' ? keyValue : null,
        record: record.raw ?? record.value,
        errorClass: r.errors.some((e) => e.rule === 'json') ? 'parse' : 'validation',
        errorMessage: describeErrors(r.errors),
      });
    });
    await retrying('writing to the dead-letter topic', retryPolicyOf(ctx), () => sendDeadLetters(ctx.exchange, ctx.config.deadLetterTopic!, messages));
    ctx.log.warn({ dataset: ctx.config.dataset, count: messages.length, topic: ctx.config.deadLetterTopic }, 'records dead-lettered');
  }
}
