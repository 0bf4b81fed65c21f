import type { Subscription } from '../catalog/subscriptions';
import type { Pool } from '../lib/db';
import type { KafkaPort } from '../lib/kafkaPort';
import type { Logger } from '../lib/logger';
import type { ShareWriter } from './shareWriter';

/** What the distributor hands its pipes and backfill tasks: nothing else of it is theirs to reach into. */
export interface DistributorContext {
  kafka: KafkaPort;
  pool: Pool;
  log: Logger;
  /** Consumer groups are `<groupPrefix>.<dataset>` (live) and `<groupPrefix>-backfill.<subscription>`. */
  groupPrefix: string;
  writer: ShareWriter;
  /** true once the distributor stops: waits end, and no new work begins */
  stopping(): boolean;
}

export const liveGroupId = (ctx: Pick<DistributorContext, 'groupPrefix'>, dataset: string): string => `${ctx.groupPrefix}.${dataset}`;
/**
 * A backfill's consumer group remembers how far it got. A re-approval after a pause backfills a range of its
 * own (from where the pause stopped delivery), so it gets a group of its own, named by the approval's version.
 */
export const backfillGroupId = (ctx: Pick<DistributorContext, 'groupPrefix'>, sub: Pick<Subscription, 'id' | 'backfillFrom' | 'version'>): string =>
  `${ctx.groupPrefix}-backfill.${sub.id}${sub.backfillFrom ? `.v${sub.version}` : ''}`;
