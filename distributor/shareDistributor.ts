import type client from 'prom-client';
import { ReceiptLedger } from '../catalog/receipts';
import { SchemaCache } from '../catalog/registry/schemaCache';
import type { MaskingKeys } from '../catalog/sharingPolicy';
import { expireSubscriptions, liveSubscriptions, reviewSchemaChanges } from '../catalog/subscriptions';
import type { Pool } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { KafkaPort, KafkaProducer } from '../lib/kafkaPort';
import type { Logger } from '../lib/logger';
import { BackfillTask } from './backfillTask';
import type { DistributorContext } from './context';
import { DatasetPipe } from './datasetPipe';
import { ShareProjector } from './shareProjector';
import { type DistributorMetrics, distributorMetricsOn, ShareWriter } from './shareWriter';

export interface DistributorOptions {
  /** How often expiry, schema changes and new subscriptions are looked for. */
  refreshMs: number;
  /** Consumer groups are `<groupPrefix>.<dataset>` (live) and `<groupPrefix>-backfill.<subscription>`. */
  groupPrefix: string;
  /** Partitions of the share topics (govx creates them with GOVX_TOPIC_PARTITIONS). */
  sharePartitions?: number;
}

export interface DistributorDeps {
  kafka: KafkaPort;
  pool: Pool;
  log: Logger;
  /** The masking keys (lib/keyring.ts: derived per dataset and field from a master key outside the database). */
  keys: MaskingKeys;
  /** Shared with the rest of the process when given; the distributor makes its own otherwise. */
  schemas?: SchemaCache;
  /** Where the distributor's metrics are registered (the gateway's /metrics). */
  registry?: client.Registry;
}

/**
 * The distributor: one consumer group per dataset (`govx-distributor.<dataset>`, a DatasetPipe) reads the
 * dataset topic once and writes each live subscription's projection to its share topic. Offsets are
 * committed only after the share records are acknowledged (acks=all), so a crash redelivers rather than
 * loses.
 *
 * A subscription approved "from the beginning" gets a BackfillTask that copies what the dataset topic
 * held at approval; live delivery for it waits until that is done, so a key's older record never
 * overtakes a newer one on the share topic.
 */
export class ShareDistributor {
  private readonly pipes = new Map<string, DatasetPipe>();
  private readonly backfills = new Map<string, BackfillTask>();
  private readonly producer: KafkaProducer;
  private readonly schemas: SchemaCache;
  private context: DistributorContext | null = null;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private stopped = false;
  readonly metrics: DistributorMetrics;

  constructor(
    private readonly deps: DistributorDeps,
    readonly opts: DistributorOptions = { refreshMs: 1000, groupPrefix: 'govx-distributor' },
  ) {
    this.producer = deps.kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 3000 } });
    this.schemas = deps.schemas ?? new SchemaCache(deps.pool);
    this.metrics = distributorMetricsOn(deps.registry);
  }

  /** Starts the refresh loop; Kafka or PostgreSQL being down only delays delivery, it never stops the process. */
  start(): void {
    const tick = (): void => {
      this.refreshing = this.refresh()
        .catch((err: unknown) => this.deps.log.warn({ err: errorMessage(err) }, 'distributor refresh failed'))
        .finally(() => {
          this.refreshing = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.refreshMs);
        });
    };
    tick();
  }

  /** Stops the refresh loop, every pipe and backfill (each after its batch in flight), then the producer. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.refreshing;
    await Promise.allSettled([...this.pipes.values()].map((p) => p.stop()));
    await Promise.allSettled([...this.backfills.values()].map((b) => b.stop()));
    this.pipes.clear();
    this.backfills.clear();
    await this.producer.disconnect();
  }

  /** Connects the producer (the refresh loop does this itself). */
  async prepare(): Promise<DistributorContext> {
    if (!this.context) {
      await this.producer.connect();
      const { kafka, pool, log } = this.deps;
      const writer = new ShareWriter({
        pool,
        log,
        producer: this.producer,
        schemas: this.schemas,
        projector: new ShareProjector(this.schemas, this.deps.keys),
        metrics: this.metrics,
        sharePartitions: this.opts.sharePartitions ?? 3,
        receipts: new ReceiptLedger(pool),
      });
      this.context = { kafka, pool, log, groupPrefix: this.opts.groupPrefix, writer, stopping: () => this.stopped };
    }
    return this.context;
  }

  /** Expiry, schema-change review, and a pipe (and backfills) for every dataset with live subscriptions. */
  async refresh(): Promise<void> {
    const ctx = await this.prepare();
    const { pool, log } = this.deps;
    const expired = await expireSubscriptions(pool);
    if (expired.length) log.info({ subscriptions: expired }, 'subscriptions expired');
    const { live, paused } = await reviewSchemaChanges(pool, await liveSubscriptions(pool));
    for (const { subscription, schemaId } of paused) {
      log.info({ subscription: subscription.id, dataset: subscription.dataset, schemaId }, 'subscription paused by a schema change');
    }
    const datasets = new Set(live.map((s) => s.dataset));
    for (const dataset of datasets) {
      if (!this.pipes.has(dataset) && !this.stopped) this.startPipe(ctx, dataset);
    }
    for (const [dataset, pipe] of this.pipes) {
      if (!datasets.has(dataset)) {
        this.pipes.delete(dataset);
        await pipe.stop();
      }
    }
    for (const sub of live) {
      if (!sub.backfillDone && !this.backfills.has(sub.id) && !this.stopped) {
        const task = new BackfillTask(ctx, sub);
        this.backfills.set(sub.id, task);
        task.run().then(
          () => this.backfills.delete(sub.id),
          (err: unknown) => {
            log.warn({ subscription: sub.id, err: errorMessage(err) }, 'backfill failed; it resumes at the next refresh');
            this.backfills.delete(sub.id);
          },
        );
      }
    }
  }

  private startPipe(ctx: DistributorContext, dataset: string): void {
    const { log } = this.deps;
    const drop = (pipe: DatasetPipe): void => {
      if (this.pipes.get(dataset) === pipe) this.pipes.delete(dataset);
      void pipe.stop();
    };
    const pipe: DatasetPipe = new DatasetPipe(ctx, dataset, (err) => {
      log.error({ dataset, err: errorMessage(err) }, 'distributor pipe crashed; it restarts at the next refresh');
      drop(pipe);
    });
    this.pipes.set(dataset, pipe);
    pipe.start().catch((err: unknown) => {
      log.warn({ dataset, err: errorMessage(err) }, 'distributor pipe failed; it restarts at the next refresh');
      drop(pipe);
    });
  }
}
