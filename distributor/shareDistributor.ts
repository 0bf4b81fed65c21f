import type client from 'prom-client';
import { ReceiptLedger } from '../catalog/receipts';
import { SchemaCache } from '../catalog/registry/schemaCache';
import type { MaskingKeys } from '../catalog/sharingPolicy';
import { datasetTopic } from '../catalog/datasets';
import { expireSubscriptions, liveSubscriptions, reviewSchemaChanges, type Subscription } from '../catalog/subscriptions';
import type { Pool } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { KafkaPort, KafkaProducer } from '../lib/kafkaPort';
import type { Logger } from '../lib/logger';
import { BackfillTask } from './backfillTask';
import { backfillGroupId, type DistributorContext, liveGroupId } from './context';
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
        projector: new ShareProjector(this.deps.keys),
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
    const { live, paused } = await reviewSchemaChanges(pool, await liveSubscriptions(pool), (sub) => this.pausePositions(ctx, sub));
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

  /**
   * Where on the dataset topic a subscription that is about to pause may not have received records yet, per
   * partition: its live group's committed position (what is below it was delivered and acknowledged), or,
   * while its backfill is unfinished, the backfill's; never below where its delivery started. Records at or
   * after the position may also have been delivered before the pause took effect: a re-approval may deliver
   * them twice (at least once), never not at all. Null when Kafka cannot say (the pause still happens; a
   * re-approval then starts at the topic's end, as before 0013).
   */
  private async pausePositions(ctx: DistributorContext, sub: Subscription): Promise<Record<string, string> | null> {
    const admin = ctx.kafka.admin();
    try {
      await admin.connect();
      const topic = datasetTopic(sub.dataset);
      const offsets = await admin.fetchTopicOffsets(topic);
      const committed = async (groupId: string): Promise<Map<number, string>> =>
        new Map(((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
      const live = await committed(liveGroupId(ctx, sub.dataset));
      const backfill = sub.backfillDone ? new Map<number, string>() : await committed(backfillGroupId(ctx, sub));
      const positions: Record<string, string> = {};
      for (const { partition, low } of offsets) {
        const start = BigInt(sub.startOffsets?.[String(partition)] ?? '0');
        const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
        const liveAt = live.get(partition);
        let at = max(liveAt === undefined || liveAt === '-1' ? BigInt(low) : BigInt(liveAt), start);
        if (!sub.backfillDone) {
          const backfillAt = backfill.get(partition);
          const from = BigInt(sub.backfillFrom?.[String(partition)] ?? low);
          const copied = backfillAt === undefined || backfillAt === '-1' ? from : BigInt(backfillAt);
          if (copied < start) at = copied;
        }
        positions[String(partition)] = at.toString();
      }
      return positions;
    } catch (err) {
      this.deps.log.warn({ subscription: sub.id, err: errorMessage(err) }, 'could not read where a pausing subscription stopped');
      return null;
    } finally {
      await admin.disconnect().catch(() => undefined);
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
