/**
 * Freshness: each active dataset's last accepted record is compared with its declared update cycle. A dataset
 * is overdue when a whole window of its cycle passed without data (for daily and realtime datasets: the
 * previous working day); it raises `alert.freshness.raise` to the owner and clears when data arrives.
 */
import client from 'prom-client';
import type { Pool } from '../lib/db';
import { previousWindow, type UpdateCycle } from '../reports/updateCycles';
import type { WorkingCalendar } from '../reports/workingCalendar';
import type { AlertBook } from './alerts';

export interface FreshnessState {
  dataset: string;
  owner: string;
  updateCycle: UpdateCycle;
  lastRecordAt: string | null;
  stalenessSeconds: number;
  overdue: boolean;
}

export class FreshnessCheck {
  readonly staleness: client.Gauge<'dataset' | 'owner' | 'update_cycle'>;
  readonly overdue: client.Gauge<'dataset' | 'owner' | 'update_cycle'>;

  constructor(
    private readonly pool: Pool,
    private readonly alerts: AlertBook,
    private readonly calendar: WorkingCalendar,
    registry: client.Registry,
  ) {
    this.staleness = new client.Gauge({
      name: 'govx_dataset_staleness_seconds',
      help: "Seconds since an active dataset's last accepted record (since it entered the catalog, if it never had one)",
      labelNames: ['dataset', 'owner', 'update_cycle'] as const,
      registers: [registry],
    });
    this.overdue = new client.Gauge({
      name: 'govx_dataset_overdue',
      help: '1 while a whole window of the dataset\'s update cycle passed without data (an open freshness alert), else 0',
      labelNames: ['dataset', 'owner', 'update_cycle'] as const,
      registers: [registry],
    });
  }

  async run(now: Date): Promise<FreshnessState[]> {
    const { rows } = await this.pool.query<{ id: string; owner: string; update_cycle: UpdateCycle; since: Date; last_record_at: Date | null }>(
      `SELECT d.id, d.owner, d.update_cycle,
              coalesce((SELECT min(a.at) FROM audit_log a WHERE a.action = 'catalog.dataset.create' AND a.target = 'dataset:' || d.id), d.created_at) AS since,
              (SELECT max(a.at) FROM audit_log a WHERE a.action = 'publish.batch' AND a.target = 'dataset:' || d.id
                 AND a.at <= $1 AND (a.details->>'accepted')::bigint > 0) AS last_record_at
         FROM datasets d WHERE d.status = 'active' ORDER BY d.id`,
      [now],
    );
    this.staleness.reset();
    this.overdue.reset();
    const states: FreshnessState[] = [];
    for (const row of rows) {
      const seen = row.last_record_at ?? row.since;
      const expectedFrom = previousWindow(row.update_cycle, now, this.calendar).start;
      const overdue = seen < expectedFrom;
      const stalenessSeconds = Math.max(0, Math.floor((now.getTime() - seen.getTime()) / 1000));
      const labels = { dataset: row.id, owner: row.owner, update_cycle: row.update_cycle };
      this.staleness.set(labels, stalenessSeconds);
      this.overdue.set(labels, overdue ? 1 : 0);
      const subject = `dataset:${row.id}`;
      const lastRecordAt = row.last_record_at?.toISOString() ?? null;
      if (overdue) {
        await this.alerts.raise(
          { kind: 'freshness', subject, department: row.owner, notifyAdmins: false, details: { dataset: row.id, updateCycle: row.update_cycle, lastRecordAt, expectedSince: expectedFrom.toISOString(), stalenessSeconds } },
          now,
        );
      } else {
        await this.alerts.clear('freshness', subject, now, { dataset: row.id, lastRecordAt });
      }
      states.push({ dataset: row.id, owner: row.owner, updateCycle: row.update_cycle, lastRecordAt, stalenessSeconds, overdue });
    }
    return states;
  }
}
