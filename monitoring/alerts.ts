/**
 * Alerts of the sharing monitor: raised once, recorded in the audit trail (`alert.<kind>.raise|clear`), kept in
 * `monitoring_alerts` while open, and sent to the webhooks of the departments concerned. The open-alert index
 * makes a raise idempotent across gateways: only the process whose INSERT lands records and notifies.
 */
import { appendAudit, type AuditActor } from '../catalog/audit';
import { withTransaction, type Pool } from '../lib/db';
import type { AlertNotifier } from './notifier';

export type AlertKind = 'freshness' | 'reply_reminder' | 'reply_deadline' | 'access_anomaly';

export interface AlertInput {
  kind: AlertKind;
  subject: string;
  occasion?: string;
  /** the owner department the alert is about */
  department: string;
  /** also tell the administrators */
  notifyAdmins: boolean;
  details: Record<string, unknown>;
}

export interface RaisedAlert extends AlertInput {
  id: number;
  raisedAt: string;
}

export const MONITOR_ACTOR: AuditActor = { department: 'govx', keyId: null, role: 'system' };

export class AlertBook {
  constructor(
    private readonly pool: Pool,
    private readonly notifier: AlertNotifier,
  ) {}

  /** Raises the alert unless the same one is open; returns it when this call raised it. */
  async raise(alert: AlertInput, now: Date): Promise<RaisedAlert | null> {
    const occasion = alert.occasion ?? '';
    const raised = await withTransaction(this.pool, async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO monitoring_alerts (kind, subject, occasion, department, raised_at, details) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kind, subject, occasion) WHERE cleared_at IS NULL DO NOTHING RETURNING id`,
        [alert.kind, alert.subject, occasion, alert.department, now, JSON.stringify(alert.details)],
      );
      if (!rows[0]) return null;
      await appendAudit(tx, {
        actor: MONITOR_ACTOR, action: `alert.${alert.kind}.raise`, target: alert.subject, outcome: 'success',
        details: { ...alert.details, alert: Number(rows[0].id), department: alert.department, occasion },
      });
      return { ...alert, occasion, id: Number(rows[0].id), raisedAt: now.toISOString() };
    });
    if (raised) await this.notifier.send('alert.raised', raised, raised.notifyAdmins);
    return raised;
  }

  /** Clears the open alert of that kind and subject, if any (audited, and the owner is told). */
  async clear(kind: AlertKind, subject: string, now: Date, details: Record<string, unknown> = {}, occasion = ''): Promise<boolean> {
    const cleared = await withTransaction(this.pool, async (tx) => {
      const { rows } = await tx.query<{ id: string; department: string; raised_at: Date }>(
        `UPDATE monitoring_alerts SET cleared_at = $4 WHERE kind = $1 AND subject = $2 AND occasion = $3 AND cleared_at IS NULL
         RETURNING id, department, raised_at`,
        [kind, subject, occasion, now],
      );
      const row = rows[0];
      if (!row) return null;
      await appendAudit(tx, {
        actor: MONITOR_ACTOR, action: `alert.${kind}.clear`, target: subject, outcome: 'success',
        details: { ...details, alert: Number(row.id), department: row.department, occasion },
      });
      return { kind, subject, occasion, department: row.department, notifyAdmins: false, details, id: Number(row.id), raisedAt: row.raised_at.toISOString() };
    });
    if (cleared) await this.notifier.send('alert.cleared', { ...cleared, clearedAt: now.toISOString() }, false);
    return cleared !== null;
  }

  /** Subjects with an open alert of this kind. */
  async openSubjects(kind: AlertKind): Promise<Array<{ subject: string; occasion: string }>> {
    const { rows } = await this.pool.query<{ subject: string; occasion: string }>(
      'SELECT subject, occasion FROM monitoring_alerts WHERE kind = $1 AND cleared_at IS NULL',
      [kind],
    );
    return rows;
  }
}
