import type { Pool, PoolClient } from '../lib/db';

/**
 * What has reached a subscription's consumer, read from its delivery receipts on the audit trail
 * (`delivery.receipt`, decision 0011): per channel, the records delivered and when the last batch went.
 */
export interface DeliverySummary {
  subscription: string;
  records: number;
  receipts: number;
  lastDeliveryAt: string | null;
  channels: Array<{ channel: string; records: number; receipts: number; lastDeliveryAt: string }>;
}

export async function deliverySummary(db: Pool | PoolClient, subscriptionId: string): Promise<DeliverySummary> {
  const { rows } = await db.query<{ channel: string; records: string; receipts: string; last: Date }>(
    `SELECT coalesce(details->>'channel', 'kafka') AS channel, coalesce(sum((details->>'count')::bigint), 0) AS records,
            count(*) AS receipts, max(at) AS last
       FROM audit_log WHERE target = $1 AND action = 'delivery.receipt'
      GROUP BY 1 ORDER BY 1`,
    [`subscription:${subscriptionId}`],
  );
  const channels = rows.map((r) => ({ channel: r.channel, records: Number(r.records), receipts: Number(r.receipts), lastDeliveryAt: r.last.toISOString() }));
  const last = channels.map((c) => c.lastDeliveryAt).sort().pop() ?? null;
  return {
    subscription: subscriptionId,
    records: channels.reduce((n, c) => n + c.records, 0),
    receipts: channels.reduce((n, c) => n + c.receipts, 0),
    lastDeliveryAt: last,
    channels,
  };
}
