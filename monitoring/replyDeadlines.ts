/**
 * Reply deadlines of conditional requests: each pending request's due day is fixed (reply_deadlines) from its
 * request time and the working-day calendar; the owner is reminded a few working days before it, and a request
 * still undecided after it is overdue (owner and administrators are told). Both clear once the owner decides.
 */
import type { Pool } from '../lib/db';
import { chinaDay, type WorkingCalendar } from '../reports/workingCalendar';
import type { AlertBook } from './alerts';

export interface ReplyDeadline {
  subscription: string;
  dataset: string;
  owner: string;
  consumer: string;
  purpose: string;
  requestedAt: string;
  dueOn: string;
  /** working days left after today up to the due day; negative once overdue */
  workingDaysLeft: number;
  overdue: boolean;
}

export interface ReplyDeadlineSettings {
  workingDays: number;
  reminderWorkingDays: number;
}

/** Pins the due day of every pending conditional request that has none yet, then lists them all. */
export async function pendingReplyDeadlines(pool: Pool, calendar: WorkingCalendar, settings: ReplyDeadlineSettings, now: Date): Promise<ReplyDeadline[]> {
  const unpinned = await pool.query<{ id: string; requested_at: Date }>(
    `SELECT s.id, coalesce((SELECT min(a.at) FROM audit_log a WHERE a.action = 'subscription.request' AND a.target = 'subscription:' || s.id), s.created_at) AS requested_at
       FROM subscriptions s JOIN datasets d ON d.id = s.dataset_id
      WHERE s.status = 'pending' AND d.sharing_type = 'conditional'
        AND NOT EXISTS (SELECT 1 FROM reply_deadlines r WHERE r.subscription_id = s.id)`,
  );
  for (const row of unpinned.rows) {
    await pool.query(
      'INSERT INTO reply_deadlines (subscription_id, requested_at, working_days, due_on) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [row.id, row.requested_at, settings.workingDays, calendar.addWorkingDays(row.requested_at, settings.workingDays)],
    );
  }
  const { rows } = await pool.query<{ id: string; dataset_id: string; owner: string; consumer: string; purpose: string; requested_at: Date; due_on: string }>(
    `SELECT s.id, s.dataset_id, d.owner, s.consumer, s.purpose, r.requested_at, to_char(r.due_on, 'YYYY-MM-DD') AS due_on
       FROM subscriptions s JOIN datasets d ON d.id = s.dataset_id JOIN reply_deadlines r ON r.subscription_id = s.id
      WHERE s.status = 'pending' AND d.sharing_type = 'conditional' ORDER BY r.due_on, r.requested_at`,
  );
  const today = chinaDay(now);
  return rows.map((r) => {
    const left = today <= r.due_on ? calendar.workingDaysIn(today, r.due_on).filter((d) => d > today).length : -calendar.workingDaysIn(r.due_on, today).filter((d) => d > r.due_on).length;
    return {
      subscription: r.id, dataset: r.dataset_id, owner: r.owner, consumer: r.consumer, purpose: r.purpose,
      requestedAt: r.requested_at.toISOString(), dueOn: r.due_on, workingDaysLeft: left, overdue: today > r.due_on,
    };
  });
}

export class ReplyDeadlineCheck {
  constructor(
    private readonly pool: Pool,
    private readonly alerts: AlertBook,
    private readonly calendar: WorkingCalendar,
    private readonly settings: ReplyDeadlineSettings,
  ) {}

  async run(now: Date): Promise<ReplyDeadline[]> {
    const pending = await pendingReplyDeadlines(this.pool, this.calendar, this.settings, now);
    // Decisions first: a request decided since the last run no longer needs reminding.
    const stillPending = new Set(pending.map((p) => `subscription:${p.subscription}`));
    for (const kind of ['reply_reminder', 'reply_deadline'] as const) {
      for (const open of await this.alerts.openSubjects(kind)) {
        if (!stillPending.has(open.subject)) await this.alerts.clear(kind, open.subject, now, { reason: 'decided' });
      }
    }
    for (const p of pending) {
      const subject = `subscription:${p.subscription}`;
      const details = { subscription: p.subscription, dataset: p.dataset, consumer: p.consumer, requestedAt: p.requestedAt, dueOn: p.dueOn, workingDaysLeft: p.workingDaysLeft };
      if (p.overdue) {
        await this.alerts.raise({ kind: 'reply_deadline', subject, department: p.owner, notifyAdmins: true, details }, now);
      } else if (p.workingDaysLeft <= this.settings.reminderWorkingDays) {
        await this.alerts.raise({ kind: 'reply_reminder', subject, department: p.owner, notifyAdmins: false, details }, now);
      }
    }
    return pending;
  }
}
