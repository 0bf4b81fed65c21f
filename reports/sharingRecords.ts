/**
 * What the sharing KPIs are computed from, read from govx's own records: the catalog, the registry, the
 * audit trail (publish and delivery receipts, subscription requests and decisions) and the monitor's alerts.
 * Nothing here is entered by hand.
 */
import type { Pool } from '../lib/db';

export interface DepartmentRecord {
  id: string;
  nameZh: string;
  nameEn: string;
  kind: string;
  divisionCode: string | null;
}

export interface DatasetRecord {
  id: string;
  titleZh: string;
  titleEn: string;
  owner: string;
  status: string;
  sharingType: string;
  updateCycle: string;
  schemaRegistered: boolean;
  /** when the dataset entered the catalog (its create audit entry) */
  since: Date;
  /** the last accepted publish up to the end of the evaluation, at any time before it */
  lastRecordAt: Date | null;
}

export interface PublishReceipt {
  seq: number;
  at: Date;
  dataset: string;
  publisher: string;
  accepted: number;
  rejected: number;
  deadLettered: number;
}

export interface DeliveryReceipt {
  seq: number;
  at: Date;
  subscription: string;
  dataset: string;
  consumer: string;
  channel: string;
  count: number;
}

export interface RequestRecord {
  subscription: string;
  dataset: string;
  consumer: string;
  requestedAt: Date;
  /** pinned due day, when the monitor has fixed it */
  dueOn: string | null;
  decision: { action: 'approve' | 'reject' | 'revoke'; at: Date } | null;
}

export interface AlertRecord {
  kind: string;
  subject: string;
  department: string;
  raisedAt: Date;
  clearedAt: Date | null;
  details: Record<string, unknown>;
}

export interface SharingRecords {
  departments: DepartmentRecord[];
  datasets: DatasetRecord[];
  publishes: PublishReceipt[];
  deliveries: DeliveryReceipt[];
  requests: RequestRecord[];
  alerts: AlertRecord[];
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0);

/** Records of [from, until): the period, cut at the moment of evaluation when it is still running. */
export async function loadSharingRecords(pool: Pool, from: Date, until: Date): Promise<SharingRecords> {
  const [departments, datasets, publishes, deliveries, requests, alerts] = await Promise.all([
    pool.query<{ id: string; name_zh: string; name_en: string; kind: string; division_code: string | null }>(
      'SELECT id, name_zh, name_en, kind, division_code FROM departments ORDER BY id',
    ),
    pool.query<{
      id: string; title_zh: string; title_en: string; owner: string; status: string; sharing_type: string; update_cycle: string;
      schema_registered: boolean; since: Date; last_record_at: Date | null;
    }>(
      `SELECT d.id, d.title_zh, d.title_en, d.owner, d.status, d.sharing_type, d.update_cycle,
              EXISTS (SELECT 1 FROM registry_subject_versions v WHERE v.subject = d.schema_subject AND NOT v.deleted) AS schema_registered,
              coalesce((SELECT min(a.at) FROM audit_log a WHERE a.action = 'catalog.dataset.create' AND a.target = 'dataset:' || d.id AND a.outcome = 'success'), d.created_at) AS since,
              (SELECT max(a.at) FROM audit_log a WHERE a.action = 'publish.batch' AND a.target = 'dataset:' || d.id
                 AND a.at < $1 AND (a.details->>'accepted')::bigint > 0) AS last_record_at
         FROM datasets d ORDER BY d.id`,
      [until],
    ),
    pool.query<{ seq: string; at: Date; target: string; actor_department: string; details: Record<string, unknown> }>(
      `SELECT seq, at, target, actor_department, details FROM audit_log
        WHERE action = 'publish.batch' AND outcome = 'success' AND at >= $1 AND at < $2 ORDER BY seq`,
      [from, until],
    ),
    pool.query<{ seq: string; at: Date; details: Record<string, unknown> }>(
      `SELECT seq, at, details FROM audit_log
        WHERE action = 'delivery.receipt' AND outcome = 'success' AND at >= $1 AND at < $2 ORDER BY seq`,
      [from, until],
    ),
    pool.query<{ target: string; at: Date; details: Record<string, unknown>; actor_department: string; due_on: string | null; decision: string | null; decided_at: Date | null; decided_by: string | null }>(
      `SELECT r.target, r.at, r.details, r.actor_department, to_char(dl.due_on, 'YYYY-MM-DD') AS due_on, dec.action AS decision, dec.at AS decided_at, dec.decided_by
         FROM audit_log r
         LEFT JOIN reply_deadlines dl ON 'subscription:' || dl.subscription_id = r.target
         LEFT JOIN LATERAL (
           SELECT d.action, d.at, d.details->>'by' AS decided_by FROM audit_log d
            WHERE d.target = r.target AND d.seq > r.seq AND d.at < $2 AND d.outcome = 'success'
              AND d.action IN ('subscription.approve', 'subscription.reject', 'subscription.revoke')
            ORDER BY d.seq LIMIT 1) dec ON true
        WHERE r.action = 'subscription.request' AND r.outcome = 'success' AND r.target LIKE 'subscription:%'
          AND r.at >= $1 AND r.at < $2
        ORDER BY r.seq`,
      [from, until],
    ),
    pool.query<{ kind: string; subject: string; department: string; raised_at: Date; cleared_at: Date | null; details: Record<string, unknown> }>(
      `SELECT kind, subject, department, raised_at, cleared_at, details FROM monitoring_alerts
        WHERE raised_at >= $1 AND raised_at < $2 ORDER BY raised_at, id`,
      [from, until],
    ),
  ]);
  return {
    departments: departments.rows.map((r) => ({ id: r.id, nameZh: r.name_zh, nameEn: r.name_en, kind: r.kind, divisionCode: r.division_code })),
    datasets: datasets.rows.map((r) => ({
      id: r.id, titleZh: r.title_zh, titleEn: r.title_en, owner: r.owner, status: r.status, sharingType: r.sharing_type,
      updateCycle: r.update_cycle, schemaRegistered: r.schema_registered, since: r.since, lastRecordAt: r.last_record_at,
    })),
    publishes: publishes.rows.map((r) => ({
      seq: Number(r.seq), at: r.at, dataset: r.target.replace(/^dataset:/, ''), publisher: r.actor_department,
      accepted: num(r.details.accepted), rejected: num(r.details.rejected),
      // Entries written before dead letters were counted: every reject of an answered request was dead-lettered.
      deadLettered: r.details.deadLettered === undefined ? num(r.details.rejected) : num(r.details.deadLettered),
    })),
    deliveries: deliveries.rows.map((r) => ({
      seq: Number(r.seq), at: r.at, subscription: String(r.details.subscription ?? ''), dataset: String(r.details.dataset ?? ''),
      consumer: String(r.details.consumer ?? ''), channel: String(r.details.channel ?? 'kafka'), count: num(r.details.count),
    })),
    // An unconditional dataset's request is approved by policy at once: there is no reply to measure.
    requests: requests.rows.filter((r) => !(r.decided_by ?? '').startsWith('policy:')).map((r) => ({
      subscription: r.target.replace(/^subscription:/, ''), dataset: String(r.details.dataset ?? ''), consumer: r.actor_department,
      requestedAt: r.at, dueOn: r.due_on,
      decision: r.decision && r.decided_at ? { action: r.decision.replace('subscription.', '') as 'approve' | 'reject' | 'revoke', at: r.decided_at } : null,
    })),
    alerts: alerts.rows.map((r) => ({ kind: r.kind, subject: r.subject, department: r.department, raisedAt: r.raised_at, clearedAt: r.cleared_at, details: r.details })),
  };
}
