import express, { type Request, Router } from 'express';
import type { Principal } from '../catalog/keys';
import type { GovxConfig } from '../lib/config';
import type { Pool } from '../lib/db';
import { ForbiddenError, InputError, NotFoundError } from '../lib/errors';
import { pendingReplyDeadlines } from '../monitoring/replyDeadlines';
import { parseReportPeriod } from '../reports/period';
import { computeSharingReport } from '../reports/sharingKpis';
import { loadSharingRecords } from '../reports/sharingRecords';
import type { WorkingCalendar } from '../reports/workingCalendar';
import { principalOf } from './middleware/auth';
import { openDefaultKeyring } from '../lib/keyring';
import { webhookSealContext } from '../monitoring/notifier';

export interface ReportRouteDeps {
  pool: Pool;
  config: GovxConfig;
  calendar: WorkingCalendar;
}

const query = (req: Request, name: string): string | undefined => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);

/** Administrators see every department; a department's stewards see their own. */
function reportScope(principal: Principal, requested: string | undefined): string[] | undefined {
  if (principal.role === 'admin') return requested ? [requested] : undefined;
  if (principal.role !== 'steward') throw new ForbiddenError('reports are for administrators and stewards');
  if (requested !== undefined && requested !== principal.department) throw new ForbiddenError(`a steward of ${principal.department} sees only its own department`);
  return [principal.department];
}

/** The owner's stewards and administrators manage where a department's alerts go; to others it does not exist. */
function mayManageWebhook(principal: Principal, department: string): boolean {
  return principal.role === 'admin' || (principal.role === 'steward' && principal.department === department);
}

const webhookNotFound = (department: string): NotFoundError =>
  new NotFoundError('webhook.not_found', `no alert webhook for department "${department.slice(0, 64)}"`);

/** GET /v1/reports/…, GET /v1/alerts, and the departments' alert webhooks. */
export function reportRouter(deps: ReportRouteDeps): Router {
  const router = Router();
  const json = express.json({ limit: '16kb' });

  router.get('/v1/reports/sharing', async (req, res) => {
    const scope = reportScope(principalOf(res), query(req, 'department'));
    const period = parseReportPeriod({ quarter: query(req, 'quarter'), from: query(req, 'from'), to: query(req, 'to') });
    const now = new Date();
    const records = await loadSharingRecords(deps.pool, period.from, now < period.to ? now : period.to);
    if (scope && !records.departments.some((d) => d.id === scope[0])) throw new InputError('report.unknown_department', `no department "${scope[0]!.slice(0, 64)}"`);
    res.json(computeSharingReport(records, period, now, { calendar: deps.calendar, replyDeadlineWorkingDays: deps.config.replyDeadlineWorkingDays }, scope));
  });

  router.get('/v1/reports/reply-deadlines', async (req, res) => {
    const principal = principalOf(res);
    if (principal.role !== 'admin' && principal.role !== 'steward') throw new ForbiddenError('reply deadlines are for administrators and the owners\' stewards');
    const all = await pendingReplyDeadlines(
      deps.pool,
      deps.calendar,
      { workingDays: deps.config.replyDeadlineWorkingDays, reminderWorkingDays: deps.config.replyReminderWorkingDays },
      new Date(),
    );
    const visible = all.filter((d) => principal.role === 'admin' || d.owner === principal.department);
    const items = query(req, 'overdue') === 'true' ? visible.filter((d) => d.overdue) : visible;
    res.json({ items, overdue: visible.filter((d) => d.overdue).length });
  });

  router.get('/v1/alerts', async (req, res) => {
    const principal = principalOf(res);
    if (principal.role !== 'admin' && principal.role !== 'steward') throw new ForbiddenError('alerts are for administrators and stewards');
    const limit = Number(query(req, 'limit') ?? 100);
    const { rows } = await deps.pool.query<{ id: string; kind: string; subject: string; occasion: string; department: string; raised_at: Date; cleared_at: Date | null; details: Record<string, unknown> }>(
      `SELECT id, kind, subject, occasion, department, raised_at, cleared_at, details FROM monitoring_alerts
        WHERE ($1::text IS NULL OR department = $1) AND ($2::text IS NULL OR kind = $2) AND (NOT $3 OR cleared_at IS NULL)
        ORDER BY raised_at DESC, id DESC LIMIT $4`,
      [principal.role === 'admin' ? null : principal.department, query(req, 'kind') ?? null, query(req, 'open') === 'true', limit],
    );
    res.json({
      items: rows.map((r) => ({
        id: Number(r.id), kind: r.kind, subject: r.subject, occasion: r.occasion, department: r.department,
        raisedAt: r.raised_at.toISOString(), clearedAt: r.cleared_at?.toISOString() ?? null, details: r.details,
      })),
    });
  });

  router.get('/v1/departments/:department/webhook', async (req, res) => {
    const department = String(req.params.department);
    if (!mayManageWebhook(principalOf(res), department)) throw webhookNotFound(department);
    const { rows } = await deps.pool.query<{ url: string; updated_at: Date }>('SELECT url, updated_at FROM notification_webhooks WHERE department = $1', [department]);
    if (!rows[0]) throw webhookNotFound(department);
    res.json({ department, url: rows[0].url, updatedAt: rows[0].updated_at.toISOString() });
  });

  router.put('/v1/departments/:department/webhook', json, async (req, res) => {
    const department = String(req.params.department);
    if (!mayManageWebhook(principalOf(res), department)) throw webhookNotFound(department);
    const { url, secret } = req.body as { url: string; secret: string };
    try {
      new URL(url);
    } catch {
      throw new InputError('webhook.invalid_url', 'url must be an absolute http(s) URL');
    }
    const { rows } = await deps.pool.query<{ updated_at: Date }>(
      `INSERT INTO notification_webhooks (department, url, secret) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM departments WHERE id = $1)
       ON CONFLICT (department) DO UPDATE SET url = excluded.url, secret = excluded.secret, updated_at = now() RETURNING updated_at`,
      // sealed with the keyring (key outside the database), bound to the department: a dump shows no secret
      [department, url, openDefaultKeyring().seal(secret, webhookSealContext(department))],
    );
    if (!rows[0]) throw webhookNotFound(department);
    res.json({ department, url, updatedAt: rows[0].updated_at.toISOString() });
  });

  router.delete('/v1/departments/:department/webhook', async (req, res) => {
    const department = String(req.params.department);
    if (!mayManageWebhook(principalOf(res), department)) throw webhookNotFound(department);
    const result = await deps.pool.query('DELETE FROM notification_webhooks WHERE department = $1', [department]);
    if (!result.rowCount) throw webhookNotFound(department);
    res.status(204).end();
  });

  return router;
}
