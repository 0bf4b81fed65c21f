import type { SchemaCache } from '../../catalog/registry/schemaCache';
import type { KafkaExchange } from '../../lib/kafkaExchange';
import type { KafkaPort } from '../../lib/kafkaPort';
import type { GatewayMetrics } from '../../lib/metrics';
import type { DatasetRuntimes } from '../../publish/datasetRuntime';
import type pg from 'pg';
import type { Pool } from '../../lib/db';
import { errorMessage } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { CommonConfig } from '../config';
import type { TargetGuard } from '../targets';
import { recordError } from './store';
import type { RetryPolicy } from './retry';

/** What a worker hands every task it runs. */
export interface TaskContext<C extends CommonConfig = CommonConfig> {
  name: string;
  /** the connector's department: a source publishes as this department */
  owner: string;
  generation: number;
  config: C;
  workerId: string;
  pool: Pool;
  /** sources: the session holding the connector's advisory lock; offsets are written through it */
  lockClient: pg.Client | null;
  kafka: KafkaPort;
  exchange: KafkaExchange;
  runtimes: DatasetRuntimes;
  /** the process's registry-backed schema cache: every value a sink reads is decoded through it */
  schemas: SchemaCache;
  metrics: GatewayMetrics;
  log: Logger;
  signal: AbortSignal;
  counters: TaskCounters;
  /** the department's own directory under the connector file root */
  fileRoot: string;
  /** where the department's connectors may connect (checked at every connection) */
  targets: TargetGuard;
}

export class TaskCounters {
  in = 0;
  out = 0;
  dead = 0;
  lag: number | null = null;

  /** What accumulated since the last call; the worker adds it to the shared totals. */
  take(): { in: number; out: number; dead: number } {
    const d = { in: this.in, out: this.out, dead: this.dead };
    this.in = this.out = this.dead = 0;
    return d;
  }

  /** Counts that could not be stored are kept for the next round. */
  putBack(d: { in: number; out: number; dead: number }): void {
    this.in += d.in;
    this.out += d.out;
    this.dead += d.dead;
  }
}

export function retryPolicyOf(ctx: TaskContext, whileWaiting?: () => Promise<void>): RetryPolicy {
  return {
    timeoutMs: ctx.config.retryTimeoutMs,
    maxDelayMs: ctx.config.retryDelayMaxMs,
    signal: ctx.signal,
    whileWaiting,
    onRetry: async (err, attempt, delayMs) => {
      ctx.log.warn({ attempt, delayMs, err: errorMessage(err) }, 'transient fault; retrying');
      // Status shows what the connector is fighting with while it keeps RUNNING.
      await recordError(ctx.pool, ctx.name, `retrying (attempt ${attempt}): ${errorMessage(err)}`, null).catch(() => undefined);
    },
  };
}

/** A running task: resolves when stopped, rejects when it failed. */
export interface ConnectorTask {
  run(): Promise<void>;
  /** Called after the signal is aborted, to interrupt what the signal cannot (a consumer's fetch loop). */
  stop(): Promise<void>;
}
