import { datasetTopic } from '../catalog/datasets';
import { shareTopic, type Subscription } from '../catalog/subscriptions';
import type { KafkaAdmin, KafkaPort } from '../lib/kafkaPort';
import { liveGroupId } from './context';

/**
 * How far behind a subscription is, from what Kafka and the catalog already hold (nothing new is recorded):
 *
 * - **distribution**: records on the dataset topic, from where the subscription's delivery started, that the
 *   distributor's live consumer group for the dataset has not yet committed (it commits after writing them to
 *   the share topic); while a backfill runs the copy is still catching up, so it is flagged.
 * - **consumers**: records on the share topic each reader of the subscription has not yet taken — HTTP pull (the
 *   cursor govx keeps), each sink connector on the subscription (its consumer group), and the consumer
 *   department's own Kafka groups (`dept.<department>.…`) that committed a position on the share topic.
 * - **lag**: the headline, for the channel the subscription was asked for: the reader furthest ahead on it, or
 *   everything the share topic holds when no reader has taken anything yet.
 *
 * Offsets are positions, so a lag is a count of records only where nothing was deleted by retention in between;
 * it is never negative.
 */

export interface ConsumerLag {
  channel: 'http' | 'connector' | 'kafka';
  /** the connector or the Kafka consumer group; null for HTTP pull */
  name: string | null;
  lag: number;
}

export interface SubscriptionLag {
  subscription: string;
  measuredAt: string;
  /** null when the subscription does not deliver (pending, rejected, revoked, expired) or Kafka does not know it */
  distribution: { lag: number; backfilling: boolean } | null;
  /** records the share topic holds */
  shareRecords: number | null;
  consumers: ConsumerLag[];
  lag: number | null;
}

export interface LagSources {
  groupPrefix: string;
  /** where HTTP pull stands (partition → next offset), or null when it never pulled */
  httpCursor: Record<string, string> | null;
  /** sink connectors on this subscription and their consumer groups */
  sinks: Array<{ connector: string; groupId: string }>;
  /** at most this many of the department's own groups are looked at */
  maxGroups?: number;
}

type Offsets = Array<{ partition: number; low: string; high: string }>;

const big = (s: string | undefined): bigint | undefined => (s === undefined || s === '-1' ? undefined : BigInt(s));
const maxOf = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** Σ over partitions of end − max(position, floor); a partition without a position counts from `floor`. */
export function behind(offsets: Offsets, position: (p: number) => bigint | undefined, floor: (p: number, low: bigint) => bigint = (_p, low) => low): number {
  let total = 0n;
  for (const o of offsets) {
    const high = BigInt(o.high);
    const from = maxOf(position(o.partition) ?? floor(o.partition, BigInt(o.low)), floor(o.partition, BigInt(o.low)));
    if (high > from) total += high - from;
  }
  return Number(total);
}

async function committed(admin: KafkaAdmin, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const partitions = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
  const out = new Map<number, bigint>();
  for (const p of partitions) {
    const at = big(p.offset);
    if (at !== undefined) out.set(p.partition, at);
  }
  return out;
}

export async function subscriptionLag(kafka: KafkaPort, sub: Subscription, sources: LagSources): Promise<SubscriptionLag> {
  const result: SubscriptionLag = { subscription: sub.id, measuredAt: new Date().toISOString(), distribution: null, shareRecords: null, consumers: [], lag: null };
  if (sub.status !== 'approved' && sub.status !== 'paused') return result;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = new Set(await admin.listTopics());
    const share = shareTopic(sub.id);
    const dataset = datasetTopic(sub.dataset);
    if (sub.status === 'approved' && topics.has(dataset)) {
      const live = await committed(admin, liveGroupId({ groupPrefix: sources.groupPrefix }, sub.dataset), dataset);
      const start = (p: number, low: bigint): bigint => maxOf(big(sub.startOffsets?.[String(p)]) ?? low, low);
      result.distribution = { lag: behind(await admin.fetchTopicOffsets(dataset), (p) => live.get(p), start), backfilling: !sub.backfillDone };
    }
    if (!topics.has(share)) return result;
    const offsets = await admin.fetchTopicOffsets(share);
    result.shareRecords = behind(offsets, () => undefined);
    if (sources.httpCursor) {
      const cursor = sources.httpCursor;
      result.consumers.push({ channel: 'http', name: null, lag: behind(offsets, (p) => big(cursor[String(p)])) });
    }
    for (const sink of sources.sinks) {
      const at = await committed(admin, sink.groupId, share);
      result.consumers.push({ channel: 'connector', name: sink.connector, lag: behind(offsets, (p) => at.get(p)) });
    }
    const prefix = `dept.${sub.consumer}.`;
    const groups = (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((g) => g.startsWith(prefix))
      .sort()
      .slice(0, sources.maxGroups ?? 20);
    for (const groupId of groups) {
      const at = await committed(admin, groupId, share);
      if (at.size > 0) result.consumers.push({ channel: 'kafka', name: groupId, lag: behind(offsets, (p) => at.get(p)) });
    }
    const channel = sub.delivery === 'http' ? 'http' : sub.delivery === 'connector' ? 'connector' : 'kafka';
    const onChannel = result.consumers.filter((c) => c.channel === channel).map((c) => c.lag);
    result.lag = onChannel.length ? Math.min(...onChannel) : result.shareRecords;
    return result;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
