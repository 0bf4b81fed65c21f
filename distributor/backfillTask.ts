import { datasetTopic } from '../catalog/datasets';
import { liveSubscriptions, markBackfillDone, type Subscription } from '../catalog/subscriptions';
import type { KafkaConsumer } from '../lib/kafkaPort';
import { backfillGroupId, type DistributorContext } from './context';

/**
 * Copies what the dataset topic held when a subscription was approved (offsets below its start offsets) —
 * from the beginning, or, when a paused subscription is approved again, from where the pause stopped its
 * delivery (`backfillFrom`) — then marks the backfill done. Its own consumer group remembers how far it got,
 * so a stopped or crashed backfill resumes where it left off.
 */
export class BackfillTask {
  private consumer: KafkaConsumer | null = null;
  private stopped = false;
  /** the subscription moved on (paused, revoked, approved again): this round's backfill is not its backfill any more */
  private superseded = false;
  private interrupt: (() => void) | null = null;

  constructor(
    private readonly ctx: DistributorContext,
    readonly sub: Subscription,
  ) {}

  /** Resolves when the backfill is done or stopped; rejects when it failed (it resumes at the next refresh). */
  async run(): Promise<void> {
    const topic = datasetTopic(this.sub.dataset);
    const pending = await this.pendingPartitions(topic);
    if (pending.size > 0 && !(await this.copy(topic, pending))) return;
    if (this.stopped || this.superseded) return;
    await markBackfillDone(this.ctx.pool, this.sub.id, this.sub.version);
    this.ctx.log.info({ subscription: this.sub.id, dataset: this.sub.dataset }, 'backfill done');
  }

  /** partition → last offset to copy, for partitions that hold anything below the start offset and are not copied yet */
  private async pendingPartitions(topic: string): Promise<Map<number, bigint>> {
    const admin = this.ctx.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      const first = (p: number, low: bigint): bigint => {
        const from = this.sub.backfillFrom?.[String(p)];
        return from !== undefined && BigInt(from) > low ? BigInt(from) : low;
      };
      const pending = new Map(
        offsets
          .map((o) => [o.partition, BigInt(this.sub.startOffsets?.[String(o.partition)] ?? '0') - 1n, first(o.partition, BigInt(o.low))] as const)
          .filter(([, last, from]) => last >= from)
          .map(([p, last]) => [p, last]),
      );
      // after a restart, partitions this backfill already copied past its end need nothing more
      const groupId = backfillGroupId(this.ctx, this.sub);
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      const unstarted: Array<{ partition: number; offset: string }> = [];
      for (const { partition, offset } of committed[0]?.partitions ?? []) {
        const last = pending.get(partition);
        if (last !== undefined && offset !== '-1' && BigInt(offset) > last) pending.delete(partition);
        const from = this.sub.backfillFrom?.[String(partition)];
        if (offset === '-1' && from !== undefined) unstarted.push({ partition, offset: from });
      }
      // a backfill after a pause starts where the pause stopped delivery, not at the topic's beginning
      if (unstarted.length > 0) await admin.setOffsets({ groupId, topic, partitions: unstarted });
      return pending;
    } finally {
      await admin.disconnect();
    }
  }

  /** true once every pending partition is copied, false when stopped first */
  private async copy(topic: string, pending: Map<number, bigint>): Promise<boolean> {
    const { kafka, pool, writer } = this.ctx;
    const consumer = kafka.consumer({ groupId: backfillGroupId(this.ctx, this.sub), maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    let finish!: (completed: boolean) => void;
    let fail!: (err: unknown) => void;
    const finished = new Promise<boolean>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    this.interrupt = () => finish(false);
    if (this.stopped) return false;
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale }) => {
          try {
            const last = pending.get(batch.partition);
            if (last === undefined || batch.messages.length === 0 || !isRunning() || isStale()) return;
            const current = (await liveSubscriptions(pool, { id: this.sub.id }))[0];
            if (!current || current.version !== this.sub.version) {
              this.superseded = true;
              finish(true);
              return;
            }
            const from = BigInt(this.sub.backfillFrom?.[String(batch.partition)] ?? '0');
            const wanted = batch.messages.filter((m) => BigInt(m.offset) <= last && BigInt(m.offset) >= from);
            await writer.deliver(this.sub.dataset, batch.partition, wanted, [current], () => true);
            const end = batch.messages[batch.messages.length - 1]!.offset;
            resolveOffset(end);
            await consumer.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(end) + 1n).toString() }]);
            await heartbeat();
            if (BigInt(end) >= last) pending.delete(batch.partition);
            if (pending.size === 0) finish(true);
          } catch (err) {
            fail(err);
            throw err;
          }
        },
      });
      return await finished;
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  /** Stops after the batch in flight (its offsets are committed only once its share records are acknowledged). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt?.();
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
