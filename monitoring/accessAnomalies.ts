/**
 * Access anomalies (信息安全监控): each subscription's deliveries of a day, read from its delivery receipts, are
 * compared with its own trailing baseline. Three rules raise an alert to the dataset's owner and the
 * administrators, with the receipts as evidence:
 *  - volume: the day's records exceed `volumeFactor` × the baseline's daily average and `minRecords`;
 *  - first_bulk: the day reaches `bulkRecords`, which no earlier day of the subscription did;
 *  - outside_purpose: records were delivered outside the grant's window (before its approval, after its
 *    expiry, revocation or end).
 * Each rule fires at most once per subscription and day (first_bulk once per subscription).
 */
import type { Pool } from '../lib/db';
import { chinaDay, chinaDayStart, nextDay } from '../reports/workingCalendar';
import type { AlertBook, RaisedAlert } from './alerts';

export interface AnomalySettings {
  baselineDays: number;
  volumeFactor: number;
  minRecords: number;
  bulkRecords: number;
}

const MAX_EVIDENCE = 200;

interface DayDeliveries {
  subscription: string;
  dataset: string;
  owner: string;
  consumer: string;
  records: number;
  seqs: number[];
  receipts: Array<{ seq: number; at: Date; count: number }>;
}

export class AccessAnomalyCheck {
  constructor(
    private readonly pool: Pool,
    private readonly alerts: AlertBook,
    private readonly settings: AnomalySettings,
  ) {}

  /** Judges today (in China) so far, and yesterday, which the last run may have seen only in part. */
  async run(now: Date): Promise<RaisedAlert[]> {
    const today = chinaDay(now);
    const raised: RaisedAlert[] = [];
    for (const day of [nextDay(today, -1), today]) raised.push(...(await this.judgeDay(day, now)));
    return raised;
  }

  private async judgeDay(day: string, now: Date): Promise<RaisedAlert[]> {
    const start = chinaDayStart(day);
    const end = new Date(Math.min(chinaDayStart(nextDay(day)).getTime(), now.getTime() + 1));
    const { rows } = await this.pool.query<{ seq: string; at: Date; subscription: string; dataset: string; consumer: string; count: string; owner: string | null }>(
      `SELECT a.seq, a.at, a.details->>'subscription' AS subscription, a.details->>'dataset' AS dataset, a.details->>'consumer' AS consumer,
              coalesce(a.details->>'count', '0') AS count, d.owner
         FROM audit_log a LEFT JOIN datasets d ON d.id = a.details->>'dataset'
        WHERE a.action = 'delivery.receipt' AND a.outcome = 'success' AND a.at >= $1 AND a.at < $2 ORDER BY a.seq`,
      [start, end],
    );
    const bySubscription = new Map<string, DayDeliveries>();
    for (const r of rows) {
      if (!r.owner || !/^\d{1,15}$/.test(r.count)) continue;
      const d = bySubscription.get(r.subscription) ?? { subscription: r.subscription, dataset: r.dataset, owner: r.owner, consumer: r.consumer, records: 0, seqs: [], receipts: [] };
      d.records += Number(r.count);
      d.seqs.push(Number(r.seq));
      d.receipts.push({ seq: Number(r.seq), at: r.at, count: Number(r.count) });
      bySubscription.set(r.subscription, d);
    }
    const raised: RaisedAlert[] = [];
    for (const d of bySubscription.values()) {
      for (const alert of await this.judgeSubscription(d, day, start)) {
        const r = await this.alerts.raise(alert, now);
        if (r) raised.push(r);
      }
    }
    return raised;
  }

  private async judgeSubscription(d: DayDeliveries, day: string, dayStart: Date) {
    const { baselineDays, volumeFactor, minRecords, bulkRecords } = this.settings;
    const history = await this.pool.query<{ day: string; records: string }>(
      `SELECT to_char(a.at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day, sum((a.details->>'count')::bigint) AS records
         FROM audit_log a
        WHERE a.action = 'delivery.receipt' AND a.outcome = 'success' AND a.at < $2 AND a.details->>'subscription' = $1
          AND a.details->>'count' ~ '^[0-9]{1,15}$'
        GROUP BY 1 ORDER BY 1`,
      [d.subscription, dayStart],
    );
    const baselineFrom = nextDay(day, -baselineDays);
    const earlier = history.rows.map((h) => ({ day: h.day, records: Number(h.records) }));
    const firstDay = earlier[0]?.day;
    const windowDays = firstDay === undefined ? 0 : Math.min(baselineDays, daysBetween(firstDay > baselineFrom ? firstDay : baselineFrom, day));
    const baselineRecords = earlier.filter((h) => h.day >= baselineFrom).reduce((n, h) => n + h.records, 0);
    const baselineAverage = windowDays > 0 ? baselineRecords / windowDays : null;
    const evidence = { receipts: d.seqs.slice(0, MAX_EVIDENCE), receiptCount: d.seqs.length, records: d.records };
    const base = { subject: `subscription:${d.subscription}`, department: d.owner, notifyAdmins: true } as const;
    const common = { subscription: d.subscription, dataset: d.dataset, consumer: d.consumer, day };
    const alerts = [];

    if (baselineAverage !== null && d.records > minRecords && d.records > volumeFactor * baselineAverage) {
      alerts.push({
        ...base, kind: 'access_anomaly' as const, occasion: `volume:${day}`,
        details: { ...common, rule: 'volume', baselineDays: windowDays, baselineDailyAverage: Math.round(baselineAverage * 100) / 100, factor: volumeFactor, ...evidence },
      });
    }
    if (d.records >= bulkRecords && !earlier.some((h) => h.records >= bulkRecords)) {
      alerts.push({ ...base, kind: 'access_anomaly' as const, occasion: 'first_bulk', details: { ...common, rule: 'first_bulk', threshold: bulkRecords, ...evidence } });
    }
    const outside = await this.outsideGrant(d);
    if (outside.length > 0) {
      alerts.push({
        ...base, kind: 'access_anomaly' as const, occasion: `outside_purpose:${day}`,
        details: { ...common, rule: 'outside_purpose', receipts: outside.map((r) => r.seq).slice(0, MAX_EVIDENCE), receiptCount: outside.length, records: outside.reduce((n, r) => n + r.count, 0) },
      });
    }
    return alerts;
  }

  /** Receipts of the day delivered while the grant was not in force. */
  private async outsideGrant(d: DayDeliveries): Promise<Array<{ seq: number; count: number }>> {
    const { rows } = await this.pool.query<{ action: string; at: Date }>(
      `SELECT action, at FROM audit_log WHERE target = $1 AND outcome = 'success'
          AND action IN ('subscription.approve', 'subscription.revoke', 'subscription.expire', 'subscription.reject', 'subscription.pause')
        ORDER BY seq`,
      [`subscription:${d.subscription}`],
    );
    const expiry = await this.pool.query<{ expires_at: Date | null }>('SELECT expires_at FROM subscriptions WHERE id = $1', [d.subscription]);
    const expiresAt = expiry.rows[0]?.expires_at ?? null;
    // The grant is in force from each approval until the next revocation, expiry, rejection or pause.
    const live: Array<[Date, Date | null]> = [];
    for (const e of rows) {
      if (e.action === 'subscription.approve') live.push([e.at, null]);
      else if (live.length && live[live.length - 1]![1] === null) live[live.length - 1]![1] = e.at;
    }
    const inForce = (at: Date): boolean => (expiresAt === null || at < expiresAt) && live.some(([from, to]) => at >= from && (to === null || at < to));
    return d.receipts.filter((r) => !inForce(r.at));
  }
}

function daysBetween(fromDay: string, toDay: string): number {
  return Math.round((Date.parse(`${toDay}T00:00:00Z`) - Date.parse(`${fromDay}T00:00:00Z`)) / 86_400_000);
}
