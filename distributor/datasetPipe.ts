import { datasetTopic } from '../catalog/datasets';
import { isBackfillDone, liveSetFingerprint, liveSubscriptions, type Subscription } from '../catalog/subscriptions';
import type { KafkaConsumer } from '../lib/kafkaPort';
import { type DistributorContext, liveGroupId } from './context';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Live delivery for one dataset: its consumer group, reading from the committed position. Before every
 * batch, after it was fetched, one short statement checks the dataset's subscriptions against the live set
 * read earlier (`liveSetFingerprint`) and reads the set again only when a transition, a new request or a
 * finished backfill changed it; expiry is checked on the clock. So a revocation or pause committed before
 * a record was published stops its delivery at the batch that holds it, and a subscription approved before a
 * record was published always sees it.
 */
export class DatasetPipe {
  private consumer: KafkaConsumer | null = null;
  private stopped = false;
  private liveSet: { fingerprint: string; keyField: string; subs: Subscription[] } | null = null;

  constructor(
    private readonly ctx: DistributorContext,
    readonly dataset: string,
    /** a consumer that will not restart by itself: the distributor drops the pipe and starts a new one */
    private readonly onDead: (err: unknown) => void,
  ) {}

  async start(): Promise<void> {
    const { kafka, writer } = this.ctx;
    const topic = datasetTopic(this.dataset);
    const consumer = kafka.consumer({ groupId: liveGroupId(this.ctx, this.dataset), maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    consumer.onCrash((error, willRestart) => {
      if (!willRestart && !this.stopped) this.onDead(error);
    });
    await consumer.connect();
    // A new group starts at the beginning: records below a subscription's start offsets are skipped
    // without decoding, so nothing published after an approval can be missed.
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        const { subs, keyField } = await this.currentLiveSet();
        const live = (sub: Subscription, offset: string): boolean => BigInt(offset) >= BigInt(sub.startOffsets?.[String(batch.partition)] ?? '0');
        for (const sub of subs) {
          if (!sub.backfillDone && batch.messages.some((m) => live(sub, m.offset))) await this.waitForBackfill(sub.id, heartbeat);
        }
        // stopping while waiting: the batch is neither delivered nor committed, so it comes again
        if (this.ctx.stopping()) return;
        await writer.deliver(this.dataset, batch.partition, batch.messages, subs, live, keyField);
        const last = batch.messages[batch.messages.length - 1]!.offset;
        resolveOffset(last);
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
        await heartbeat();
      },
    });
    // a stop that arrived while the consumer was starting finds it running only now
    if (this.stopped) await this.stop();
  }

  /** The dataset's live subscriptions as of now: read again only when the fingerprint says they changed. */
  private async currentLiveSet(): Promise<{ subs: Subscription[]; keyField: string }> {
    const { fingerprint, keyField } = await liveSetFingerprint(this.ctx.pool, this.dataset);
    if (this.liveSet?.fingerprint !== fingerprint) {
      this.liveSet = { fingerprint, keyField: keyField ?? '', subs: await liveSubscriptions(this.ctx.pool, { dataset: this.dataset }) };
    }
    const now = Date.now();
    return { subs: this.liveSet.subs.filter((s) => s.expiresAt !== null && Date.parse(s.expiresAt) > now), keyField: this.liveSet.keyField };
  }

  /** Live delivery waits for a subscription's backfill, heartbeating meanwhile, so an older record never overtakes a newer one. */
  private async waitForBackfill(subscriptionId: string, heartbeat: () => Promise<void>): Promise<void> {
    while (!this.ctx.stopping() && !(await isBackfillDone(this.ctx.pool, subscriptionId))) {
      await sleep(250);
      await heartbeat();
    }
  }

  /** Leaves the group once the batch in flight is written and committed. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
