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
export const backfillGroupId = (ctx: Pick<DistributorContext, 'groupPrefix'>, subscription: string): string => `${ctx.groupPrefix}-backfill.${subscription}`;
