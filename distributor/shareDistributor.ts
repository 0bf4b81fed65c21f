import client from 'prom-client';
import type { Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import { type Dataset, datasetTopic, getDataset } from '../catalog/datasets';
import { getSchemaById, getSubjectVersion, type SubjectVersion } from '../catalog/registry/store';
import { parseAvroSchema } from '../catalog/registry/canonical';
import { describeSchemaChange } from '../catalog/registry/compatibility';
import { loadMaskingKey } from '../catalog/sharingPolicy';
import {
  expireSubscriptions,
  liveSubscriptions,
  markBackfillDone,
  pauseSubscription,
  shareTopic,
  type Subscription,
} from '../catalog/subscriptions';
import type { Pool } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { ShareProjector, UndecodableRecordError } from './shareProjector';

export interface DistributorOptions {
  /** How often expiry, schema changes and new subscriptions are looked for. */
  refreshMs: number;
  /** Consumer groups are `<groupPrefix>.<dataset>` (live) and `<groupPrefix>-backfill.<subscription>`. */
  groupPrefix: string;
  /** Partitions of the share topics (govx creates them with GOVX_TOPIC_PARTITIONS). */
  sharePartitions?: number;
}

interface DistributorMetrics {
  records: client.Counter<'dataset' | 'outcome'>;
}

function metricsOn(registry: client.Registry | undefined): DistributorMetrics {
  return {
    records: new client.Counter({
      name: 'govx_distributor_records_total',
      help: 'Share records written by the distributor, by dataset and outcome (delivered, undecodable)',
      labelNames: ['dataset', 'outcome'] as const,
      registers: registry ? [registry] : [],
    }),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Well below the broker's default message.max.bytes (1 MiB), which applies per partition batch. */
const MAX_REQUEST_BYTES = 512 * 1024;

function sizeOf(m: Message): number {
  let n = 64 + (m.value ? (m.value as Buffer).length : 0) + (m.key ? Buffer.byteLength(m.key as string | Buffer) : 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + (v ? String(v).length : 0);
  return n;
}

/**
 * The distributor: one consumer group per dataset (`govx-distributor.<dataset>`) reads the dataset topic
 * once and writes each live subscription's projection to its share topic. Offsets are committed only
 * after the share records are acknowledged (acks=all), so a crash redelivers rather than loses.
 *
 * A subscription approved "from the beginning" gets a backfill task that copies what the dataset topic
 * held at approval (offsets below its `startOffsets`); live delivery for it waits until that is done,
 * so a key's older record never overtakes a newer one on the share topic.
 *
 * The live set is read from PostgreSQL at every batch, so revocation and expiry stop delivery at the
 * next batch, and a subscription approved before a record was published always sees it.
 */
export class ShareDistributor {
  private readonly pipes = new Map<string, DatasetPipe>();
  private readonly backfills = new Map<string, BackfillTask>();
  private readonly producer: Producer;
  private projector: ShareProjector | null = null;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private stopped = false;
  readonly metrics: DistributorMetrics;
  private readonly sharePartitions: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly pool: Pool,
    private readonly log: Logger,
    readonly opts: DistributorOptions = { refreshMs: 1000, groupPrefix: 'govx-distributor' },
    registry?: client.Registry,
  ) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 3000 } });
    this.metrics = metricsOn(registry);
    this.sharePartitions = opts.sharePartitions ?? 3;
  }

  /** Starts the refresh loop; Kafka or PostgreSQL being down only delays delivery, it never stops the process. */
  start(): void {
    const tick = (): void => {
      this.refreshing = this.refresh()
        .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'distributor refresh failed'))
        .finally(() => {
          this.refreshing = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.refreshMs);
        });
    };
    tick();
  }

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

  /** Expiry, schema-change review, and a pipe (and backfills) for every dataset with live subscriptions. */
  /** Connects the producer and loads the masking key (the refresh loop does this itself). */
  async prepare(): Promise<void> {
    if (!this.projector) {
      await this.producer.connect();
      this.projector = new ShareProjector(this.pool, await loadMaskingKey(this.pool));
    }
  }

  async refresh(): Promise<void> {
    await this.prepare();
    const expired = await expireSubscriptions(this.pool);
    if (expired.length) this.log.info({ subscriptions: expired }, 'subscriptions expired');
    const live = await this.reviewSchemaChanges(await liveSubscriptions(this.pool));
    const datasets = new Set(live.map((s) => s.dataset));
    for (const dataset of datasets) {
      if (!this.pipes.has(dataset) && !this.stopped) {
        const pipe = new DatasetPipe(this, dataset);
        this.pipes.set(dataset, pipe);
        pipe.start().catch((err: unknown) => {
          this.log.warn({ dataset, err: errorMessage(err) }, 'distributor pipe failed; it restarts at the next refresh');
          this.pipes.delete(dataset);
          void pipe.stop();
        });
      }
    }
    for (const [dataset, pipe] of this.pipes) {
      if (!datasets.has(dataset)) {
        this.pipes.delete(dataset);
        await pipe.stop();
      }
    }
    for (const sub of live) {
      if (!sub.backfillDone && !this.backfills.has(sub.id) && !this.stopped) {
        const task = new BackfillTask(this, sub);
        this.backfills.set(sub.id, task);
        task.run().then(
          () => this.backfills.delete(sub.id),
          (err: unknown) => {
            this.log.warn({ subscription: sub.id, err: errorMessage(err) }, 'backfill failed; it resumes at the next refresh');
            this.backfills.delete(sub.id);
          },
        );
      }
    }
  }

  /**
   * A new dataset schema version that drops or retypes an approved field, or adds a sensitive field,
   * pauses the subscription until the owner approves it again; other changes are taken in stride.
   */
  private async reviewSchemaChanges(live: Subscription[]): Promise<Subscription[]> {
    const still: Subscription[] = [];
    // one catalog and registry lookup per dataset, however many subscriptions it has
    const current = new Map<string, Promise<{ dataset: Dataset | null; latest: SubjectVersion | null }>>();
    const lookup = async (id: string) => {
      const dataset = await getDataset(this.pool, id);
      return { dataset, latest: dataset && (await getSubjectVersion(this.pool, dataset.schemaSubject, 'latest')) };
    };
    for (const sub of live) {
      if (!current.has(sub.dataset)) current.set(sub.dataset, lookup(sub.dataset));
      const { dataset, latest } = await current.get(sub.dataset)!;
      if (!dataset || !latest || latest.id === sub.datasetSchemaId || sub.datasetSchemaId === null) {
        still.push(sub);
        continue;
      }
      const approvedOn = await getSchemaById(this.pool, sub.datasetSchemaId);
      const change = describeSchemaChange(parseAvroSchema(approvedOn!.schema).schema, parseAvroSchema(latest.schema).schema);
      const granted = new Set((sub.fields ?? []).map((f) => f.name));
      const touched = [...change.removed, ...change.retyped.map((r) => r.field)].filter((f) => granted.has(f));
      const sensitiveAdded = change.added.filter((name) => (dataset.fields.find((f) => f.name === name)?.sensitivity ?? 1) >= 3);
      if (touched.length || sensitiveAdded.length) {
        const reasons = [
          touched.length ? `schema version ${latest.version} changes approved field(s) ${touched.join(', ')}` : '',
          sensitiveAdded.length ? `schema version ${latest.version} adds sensitive field(s) ${sensitiveAdded.join(', ')}` : '',
        ].filter(Boolean);
        await pauseSubscription(this.pool, sub, `${reasons.join('; ')}: approve the subscription again to resume`);
        this.log.info({ subscription: sub.id, dataset: sub.dataset, schemaId: latest.id }, 'subscription paused by a schema change');
      } else {
        await this.pool.query('UPDATE subscriptions SET dataset_schema_id = $2 WHERE id = $1', [sub.id, latest.id]);
        still.push({ ...sub, datasetSchemaId: latest.id });
      }
    }
    return still;
  }

  /** @internal */
  get internals(): { kafka: Kafka; pool: Pool; log: Logger; producer: Producer; projector: ShareProjector } {
    return { kafka: this.kafka, pool: this.pool, log: this.log, producer: this.producer, projector: this.projector! };
  }

  /** @internal */
  pipeCrashed(dataset: string, pipe: DatasetPipe, err: unknown): void {
    this.log.error({ dataset, err: errorMessage(err) }, 'distributor pipe crashed; it restarts at the next refresh');
    if (this.pipes.get(dataset) === pipe) this.pipes.delete(dataset);
    void pipe.stop();
  }

  /** @internal live delivery waits for a subscription's backfill, heartbeating meanwhile. */
  async waitForBackfill(subscriptionId: string, heartbeat: () => Promise<void>): Promise<void> {
    for (;;) {
      const { rows } = await this.pool.query<{ backfill_done: boolean }>('SELECT backfill_done FROM subscriptions WHERE id = $1', [subscriptionId]);
      if (!rows[0] || rows[0].backfill_done || this.stopped) return;
      await sleep(250);
      await heartbeat();
    }
  }

  /**
   * Projects `messages` of one dataset partition for `subs` and writes them with acks=all. `include`
   * says which subscriptions a record at an offset belongs to (live delivery vs backfill).
   */
  async deliver(
    dataset: string,
    partition: number,
    messages: EachBatchPayload['batch']['messages'],
    subs: Subscription[],
    include: (sub: Subscription, offset: string) => boolean,
  ): Promise<void> {
    const { projector, producer, log } = this.internals;
    const keyField = (await getDataset(this.pool, dataset))?.keyField ?? '';
    let byTopic = new Map<string, Message[]>();
    let bytes = 0;
    let delivered = 0;
    // One produce request per ~MAX_REQUEST_BYTES: a batch fanned out to many subscriptions would
    // otherwise exceed the broker's message.max.bytes and be refused whole.
    const flush = async (): Promise<void> => {
      if (byTopic.size === 0) return;
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })) });
      byTopic = new Map();
      bytes = 0;
    };
    for (const message of messages) {
      const targets = subs.filter((s) => include(s, message.offset));
      if (targets.length === 0) continue;
      let decoded: Record<string, unknown> | null = null;
      if (message.value !== null) {
        try {
          decoded = (await projector.decode(message.value)).record;
        } catch (err) {
          if (!(err instanceof UndecodableRecordError)) throw err;
          this.metrics.records.inc({ dataset, outcome: 'undecodable' });
          log.warn({ dataset, partition, offset: message.offset, err: err.message }, 'skipping an undecodable dataset record');
          continue;
        }
      }
      for (const sub of targets) {
        const out = await projector.project(sub, keyField, message, decoded);
        // share topics have the dataset topic's partition count: keeping the partition keeps per-key order
        // without re-hashing every key
        out.partition = partition % this.sharePartitions;
        const topic = shareTopic(sub.id);
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, (list = []));
        list.push(out);
        delivered++;
        bytes += sizeOf(out);
        if (bytes >= MAX_REQUEST_BYTES) await flush();
      }
    }
    await flush();
    if (delivered > 0) this.metrics.records.inc({ dataset, outcome: 'delivered' }, delivered);
  }
}

async function liveFor(pool: Pool, dataset: string): Promise<Subscription[]> {
  return liveSubscriptions(pool, { dataset });
}

/** Live delivery for one dataset: its consumer group, reading from the committed position. */
class DatasetPipe {
  private consumer: Consumer | null = null;

  constructor(
    private readonly distributor: ShareDistributor,
    private readonly dataset: string,
  ) {}

  async start(): Promise<void> {
    const { kafka, pool } = this.distributor.internals;
    const topic = datasetTopic(this.dataset);
    this.consumer = kafka.consumer({ groupId: `${this.distributor.opts.groupPrefix}.${this.dataset}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
    // a consumer that kafkajs will not restart is dropped, and the next refresh starts a new one
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.distributor.pipeCrashed(this.dataset, this, payload.error);
    });
    await this.consumer.connect();
    // A new group starts at the beginning: records below a subscription's start offsets are skipped
    // without decoding, so nothing published after an approval can be missed.
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        const subs = await liveFor(pool, this.dataset);
        const live = (sub: Subscription, offset: string): boolean => BigInt(offset) >= BigInt(sub.startOffsets?.[String(batch.partition)] ?? '0');
        for (const sub of subs) {
          if (!sub.backfillDone && batch.messages.some((m) => live(sub, m.offset))) await this.distributor.waitForBackfill(sub.id, heartbeat);
        }
        await this.distributor.deliver(this.dataset, batch.partition, batch.messages, subs, live);
        const last = batch.messages[batch.messages.length - 1]!.offset;
        resolveOffset(last);
        await this.consumer!.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
        await heartbeat();
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

/** Copies what the dataset topic held when a subscription was approved, then marks the backfill done. */
class BackfillTask {
  private consumer: Consumer | null = null;

  constructor(
    private readonly distributor: ShareDistributor,
    private readonly sub: Subscription,
  ) {}

  async run(): Promise<void> {
    const { kafka, pool, log } = this.distributor.internals;
    const topic = datasetTopic(this.sub.dataset);
    const admin = kafka.admin();
    await admin.connect();
    let pending: Map<number, bigint>;
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      // partition → last offset to copy, for partitions that hold anything below the start offset
      pending = new Map(
        offsets
          .map((o) => [o.partition, BigInt(this.sub.startOffsets?.[String(o.partition)] ?? '0') - 1n, BigInt(o.low)] as const)
          .filter(([, last, low]) => last >= low)
          .map(([p, last]) => [p, last]),
      );
      // after a restart, partitions this backfill already copied past its end need nothing more
      const committed = await admin.fetchOffsets({ groupId: `${this.distributor.opts.groupPrefix}-backfill.${this.sub.id}`, topics: [topic] });
      for (const { partition, offset } of committed[0]?.partitions ?? []) {
        const last = pending.get(partition);
        if (last !== undefined && offset !== '-1' && BigInt(offset) > last) pending.delete(partition);
      }
    } finally {
      await admin.disconnect();
    }
    if (pending.size > 0) await this.copy(topic, pending);
    await markBackfillDone(pool, this.sub.id);
    log.info({ subscription: this.sub.id, dataset: this.sub.dataset }, 'backfill done');
  }

  private async copy(topic: string, pending: Map<number, bigint>): Promise<void> {
    const { kafka, pool } = this.distributor.internals;
    const consumer = kafka.consumer({ groupId: `${this.distributor.opts.groupPrefix}-backfill.${this.sub.id}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    let finish!: () => void;
    let fail!: (err: unknown) => void;
    const finished = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, heartbeat, resolveOffset }) => {
          try {
            const last = pending.get(batch.partition);
            if (last === undefined || batch.messages.length === 0) return;
            const current = (await liveSubscriptionById(pool, this.sub.id)) ?? null;
            if (!current) {
              finish();
              return;
            }
            const wanted = batch.messages.filter((m) => BigInt(m.offset) <= last);
            await this.distributor.deliver(this.sub.dataset, batch.partition, wanted, [current], () => true);
            const end = batch.messages[batch.messages.length - 1]!.offset;
            resolveOffset(end);
            await consumer.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(end) + 1n).toString() }]);
            await heartbeat();
            if (BigInt(end) >= last) pending.delete(batch.partition);
            if (pending.size === 0) finish();
          } catch (err) {
            fail(err);
            throw err;
          }
        },
      });
      await finished;
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

async function liveSubscriptionById(pool: Pool, id: string): Promise<Subscription | undefined> {
  return (await liveSubscriptions(pool, { id }))[0];
}
