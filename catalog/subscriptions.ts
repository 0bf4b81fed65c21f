import crypto from 'node:crypto';
import { appendAudit, type AuditActor } from './audit';
import { datasetTopic, getDataset, type Dataset } from './datasets';
import { getDepartment, type Principal } from './keys';
import { parseAvroSchema } from './registry/canonical';
import { describeSchemaChange } from './registry/compatibility';
import { getSchemaById, setCompatibility, getSubjectVersion, registerSchema, type SubjectVersion } from './registry/store';
import {
  deriveShareSchema,
  identifierFieldsOf,
  planFields,
  rebuildableIdentifiers,
  schemaChangeNeedsApproval,
  type FieldDelivery,
  type FieldPlan,
  type GrantedField,
  type IdentifierFields,
} from './sharingPolicy';
import { withTransaction, type Pool, type PoolClient } from '../lib/db';
import { ConflictError, ForbiddenError, GovxError, InputError, NotFoundError } from '../lib/errors';

/**
 * The subscription workflow: a consuming department requests fields of a dataset for a purpose until a
 * date; the sharing type decides what happens next (unconditional: approved at once; conditional: the
 * owner's stewards decide; none: refused with the legal basis). Every step is audited. A department that
 * may not see a subscription gets the same 404 as for one that does not exist.
 */

export const subscriptionStatuses = ['pending', 'approved', 'rejected', 'revoked', 'expired', 'paused'] as const;
export type SubscriptionStatus = (typeof subscriptionStatuses)[number];
export const deliveries = ['kafka', 'http', 'connector'] as const;
export type Delivery = (typeof deliveries)[number];

export interface Subscription {
  id: string;
  dataset: string;
  consumer: string;
  requestedFields: string[];
  purpose: string;
  legalBasis: string | null;
  requestedUntil: string;
  delivery: Delivery;
  startFrom: 'earliest' | 'latest';
  status: SubscriptionStatus;
  statusReason: string | null;
  fields: GrantedField[] | null;
  expiresAt: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  datasetSchemaId: number | null;
  derivedSubject: string | null;
  derivedSchemaId: number | null;
  topic: string;
  startOffsets: Record<string, string> | null;
  backfillDone: boolean;
  createdAt: string;
  updatedAt: string;
  /** the decision version: every transition increments it (compare-and-set); receipts name it as the grant version */
  version: number;
}

export const shareTopic = (subscriptionId: string): string => `govx.share.${subscriptionId}`;
export const shareSubject = (subscriptionId: string): string => `${shareTopic(subscriptionId)}-value`;

/** What approval needs from Kafka: the share topic created, and the dataset topic's end offsets. */
export interface SubscriptionKafka {
  ensureTopic(topic: string): Promise<void>;
  endOffsets(topic: string): Promise<Record<string, string>>;
}

/** A status change, told after it committed (the Kafka ACLs follow it: catalog/kafkaAccess.ts). */
export interface SubscriptionTransition {
  subscription: string;
  consumer: string;
  to: SubscriptionStatus;
}
type TransitionListener = (transition: SubscriptionTransition) => Promise<void>;
const transitionListeners = new Set<TransitionListener>();

/** Calls `listener` after every committed transition in this process (it handles its own failures); returns how to stop. */
export function onSubscriptionTransition(listener: TransitionListener): () => void {
  transitionListeners.add(listener);
  return () => void transitionListeners.delete(listener);
}

async function announceTransition(sub: Pick<Subscription, 'id' | 'consumer'>, to: SubscriptionStatus): Promise<void> {
  await Promise.all([...transitionListeners].map((listen) => listen({ subscription: sub.id, consumer: sub.consumer, to }).catch(() => undefined)));
}

export interface SubscriptionDeps {
  pool: Pool;
  kafka: SubscriptionKafka;
}

const MAX_TERM_MS = 5 * 366 * 86_400_000;
const ID_PATTERN = /^sub-[a-z0-9]{20}$/;

function newSubscriptionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.randomBytes(20);
  return `sub-${Array.from(bytes, (b) => alphabet[b % 36]).join('')}`;
}

interface Row {
  id: string;
  dataset_id: string;
  consumer: string;
  requested_fields: string[];
  purpose: string;
  legal_basis: string | null;
  requested_until: Date;
  delivery: Delivery;
  start_from: 'earliest' | 'latest';
  status: SubscriptionStatus;
  status_reason: string | null;
  approved_fields: GrantedField[] | null;
  expires_at: Date | null;
  decided_by: string | null;
  decided_at: Date | null;
  dataset_schema_id: number | null;
  derived_subject: string | null;
  derived_schema_id: number | null;
  start_offsets: Record<string, string> | null;
  backfill_done: boolean;
  created_at: Date;
  updated_at: Date;
  version: number;
}

function fromRow(r: Row): Subscription {
  return {
    id: r.id,
    dataset: r.dataset_id,
    consumer: r.consumer,
    requestedFields: r.requested_fields,
    purpose: r.purpose,
    legalBasis: r.legal_basis,
    requestedUntil: r.requested_until.toISOString(),
    delivery: r.delivery,
    startFrom: r.start_from,
    status: r.status,
    statusReason: r.status_reason,
    fields: r.approved_fields,
    expiresAt: r.expires_at?.toISOString() ?? null,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at?.toISOString() ?? null,
    datasetSchemaId: r.dataset_schema_id,
    derivedSubject: r.derived_subject,
    derivedSchemaId: r.derived_schema_id,
    topic: shareTopic(r.id),
    startOffsets: r.start_offsets,
    backfillDone: r.backfill_done,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    version: r.version,
  };
}

type Db = Pool | PoolClient;

export async function getSubscription(db: Db, id: string): Promise<Subscription | null> {
  if (!ID_PATTERN.test(id)) return null;
  const { rows } = await db.query<Row>('SELECT * FROM subscriptions WHERE id = $1', [id]);
  return rows[0] ? fromRow(rows[0]) : null;
}

/** Subscriptions whose records flow now (approved and not expired), for the distributor. */
export async function liveSubscriptions(db: Db, filter: { dataset?: string; id?: string } = {}): Promise<Subscription[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM subscriptions WHERE status = 'approved' AND expires_at > now()
       AND ($1::text IS NULL OR dataset_id = $1) AND ($2::text IS NULL OR id = $2) ORDER BY created_at`,
    [filter.dataset ?? null, filter.id ?? null],
  );
  return rows.map(fromRow);
}

/** Who may see a subscription: its consumer, the dataset's owner, and administrators. */
async function visibleTo(db: Db, principal: Principal, sub: Subscription): Promise<boolean> {
  if (principal.role === 'admin' || principal.department === sub.consumer) return true;
  const dataset = await getDataset(db, sub.dataset);
  return dataset?.owner === principal.department;
}

export async function findVisibleSubscription(db: Db, principal: Principal, id: string): Promise<Subscription> {
  const sub = await getSubscription(db, id);
  if (!sub || !(await visibleTo(db, principal, sub))) throw notFound(id);
  return sub;
}

const notFound = (id: string): NotFoundError => new NotFoundError('subscription.not_found', `no subscription "${id.slice(0, 64)}"`);

export async function listSubscriptions(
  db: Db,
  principal: Principal,
  filters: { dataset?: string; status?: string; limit: number; offset: number },
): Promise<{ items: Subscription[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (principal.role !== 'admin') {
    params.push(principal.department);
    where.push(`(s.consumer = $${params.length} OR d.owner = $${params.length})`);
  }
  if (filters.dataset) {
    params.push(filters.dataset);
    where.push(`s.dataset_id = $${params.length}`);
  }
  if (filters.status) {
    params.push(filters.status);
    where.push(`s.status = $${params.length}`);
  }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = await db.query<{ n: string }>(`SELECT count(*) AS n FROM subscriptions s JOIN datasets d ON d.id = s.dataset_id ${clause}`, params);
  params.push(filters.limit, filters.offset);
  const { rows } = await db.query<Row>(
    `SELECT s.* FROM subscriptions s JOIN datasets d ON d.id = s.dataset_id ${clause}
     ORDER BY s.created_at DESC, s.id LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return { items: rows.map(fromRow), total: Number(total.rows[0]!.n) };
}

// ---------------------------------------------------------------------------------------------------------
// Input

export interface SubscriptionRequest {
  dataset: string;
  fields: string[];
  purpose: string;
  legalBasis?: string;
  expiresAt: string;
  delivery: Delivery;
  startFrom: 'earliest' | 'latest';
}

function text(body: Record<string, unknown>, name: string, max: number, required: boolean): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw new InputError('subscription.invalid_request', `${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > max) {
    throw new InputError('subscription.invalid_request', `${name} must be a non-empty string of at most ${max} characters`);
  }
  return v.trim();
}

function futureTimestamp(value: unknown, name: string): Date {
  const d = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) ? new Date(value) : null;
  if (!d || Number.isNaN(d.getTime())) throw new InputError('subscription.invalid_request', `${name} must be an ISO 8601 date or timestamp`);
  if (d.getTime() <= Date.now()) throw new InputError('subscription.invalid_request', `${name} must be in the future`);
  if (d.getTime() - Date.now() > MAX_TERM_MS) throw new InputError('subscription.invalid_request', `${name} may be at most 5 years ahead`);
  return d;
}

function fieldList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 500 || !value.every((f) => typeof f === 'string' && f.length <= 128)) {
    throw new InputError('subscription.invalid_request', `${name} must be a non-empty array of field names`);
  }
  const list = value as string[];
  if (new Set(list).size !== list.length) throw new InputError('subscription.invalid_request', `${name} lists a field twice`);
  return list;
}

function onlyKnownMembers(body: Record<string, unknown>, known: readonly string[]): void {
  const extra = Object.keys(body).filter((k) => !known.includes(k));
  if (extra.length) throw new InputError('subscription.invalid_request', `unknown member(s): ${extra.join(', ')}`);
}

export function parseSubscriptionRequest(body: Record<string, unknown>): SubscriptionRequest {
  onlyKnownMembers(body, ['dataset', 'fields', 'purpose', 'legalBasis', 'expiresAt', 'delivery', 'startFrom']);
  const delivery = body.delivery ?? 'kafka';
  if (!deliveries.includes(delivery as Delivery)) throw new InputError('subscription.invalid_request', `delivery must be one of ${deliveries.join(', ')}`);
  const startFrom = body.startFrom ?? 'earliest';
  if (startFrom !== 'earliest' && startFrom !== 'latest') throw new InputError('subscription.invalid_request', 'startFrom must be earliest or latest');
  return {
    dataset: text(body, 'dataset', 100, true)!,
    fields: fieldList(body.fields, 'fields'),
    purpose: text(body, 'purpose', 2000, true)!,
    legalBasis: text(body, 'legalBasis', 2000, false),
    expiresAt: futureTimestamp(body.expiresAt, 'expiresAt').toISOString(),
    delivery: delivery as Delivery,
    startFrom,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The workflow

/** The structured identifiers of a dataset (ID numbers, credit codes), from its latest schema's annotations. */
async function identifiersOf(db: Db, dataset: Dataset): Promise<IdentifierFields> {
  const latest = await getSubjectVersion(db as Pool, dataset.schemaSubject, 'latest');
  return latest ? identifierFieldsOf(JSON.parse(latest.schema)) : {};
}

/**
 * Masks are judged on what the consumer receives as a whole: this grant together with its other live grants
 * on the dataset must not rebuild an identifier the consumer may not see in clear (decision 0016).
 */
async function refuseRebuildableCombination(
  db: Db,
  dataset: Dataset,
  identifiers: IdentifierFields,
  clearance: number,
  consumer: string,
  plan: FieldPlan,
  self: string | null,
): Promise<void> {
  if (Object.keys(identifiers).length === 0) return;
  const { rows } = await db.query<{ approved_fields: GrantedField[] | null }>(
    `SELECT approved_fields FROM subscriptions WHERE consumer = $1 AND dataset_id = $2 AND status IN ('approved', 'paused') AND id IS DISTINCT FROM $3`,
    [consumer, dataset.id, self],
  );
  const delivered = [...plan.granted, ...rows.flatMap((r) => r.approved_fields ?? [])];
  const rebuilt = rebuildableIdentifiers(dataset, identifiers, clearance, delivered);
  if (rebuilt.length > 0) {
    const first = rebuilt[0]!;
    throw new GovxError(
      403,
      'subscription.mask_undone',
      `${first.from.join(' + ')} together would rebuild ${first.field} (${first.identifier}), which ${consumer} may not receive in clear; leave out or mask one of them`,
      { details: { rebuildable: rebuilt } },
    );
  }
}

const actorOf = (p: Principal): AuditActor => ({ department: p.department, keyId: p.keyId, role: p.role });

async function clearanceOf(db: Db, department: string): Promise<number> {
  return (await getDepartment(db as Pool, department))?.clearance ?? 1;
}

export async function requestSubscription(deps: SubscriptionDeps, principal: Principal, req: SubscriptionRequest, requestId: string): Promise<Subscription> {
  const { pool } = deps;
  if (principal.role !== 'consumer') throw new ForbiddenError(`requesting data needs a consumer key; this key is a ${principal.role}`);
  const dataset = await getDataset(pool, req.dataset);
  if (!dataset || dataset.status === 'draft' || dataset.status === 'retired') {
    throw new NotFoundError('dataset.not_found', `no dataset "${req.dataset}" is open for requests`);
  }
  const known = new Set(dataset.fields.map((f) => f.name));
  const unknown = req.fields.filter((f) => !known.has(f));
  if (unknown.length) throw new InputError('subscription.unknown_field', `${dataset.id} has no field(s) ${unknown.join(', ')}`, { unknown });

  // Refused requests are audited in aggregate with every other denial (access.denied), so a loop of them cannot flood the chain.
  if (dataset.sharingType === 'none') {
    throw new GovxError(403, 'subscription.not_shared', `${dataset.id} is not shared (不予共享). Legal basis: ${dataset.legalBasis}`, {
      details: { legalBasis: dataset.legalBasis },
    });
  }
  const clearance = await clearanceOf(pool, principal.department);
  const identifiers = await identifiersOf(pool, dataset);
  const plan = planFields(dataset, req.fields, clearance, {}, identifiers);
  await refuseRebuildableCombination(pool, dataset, identifiers, clearance, principal.department, plan, null);
  if (plan.granted.length === 0) {
    throw new GovxError(403, 'subscription.clearance', `your department's clearance allows none of the requested fields of ${dataset.id}`, {
      details: { withheld: plan.withheld },
    });
  }

  const id = newSubscriptionId();
  await withTransaction(pool, async (tx) => {
    await tx.query(
      `INSERT INTO subscriptions (id, dataset_id, consumer, requested_fields, purpose, legal_basis, requested_until, delivery, start_from, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')`,
      [id, dataset.id, principal.department, req.fields, req.purpose, req.legalBasis ?? null, req.expiresAt, req.delivery, req.startFrom],
    );
    await appendAudit(tx, {
      actor: actorOf(principal), action: 'subscription.request', target: `subscription:${id}`, outcome: 'success', requestId,
      details: { dataset: dataset.id, fields: req.fields, purpose: req.purpose, expiresAt: req.expiresAt, withheld: plan.withheld },
    });
  });
  if (dataset.sharingType === 'unconditional') {
    return activate(deps, id, { by: 'policy:unconditional', actor: actorOf(principal), requestId, fields: req.fields, tighten: {} });
  }
  return (await getSubscription(pool, id))!;
}

export interface Decision {
  fields?: string[];
  masking?: Record<string, FieldDelivery>;
  expiresAt?: string;
}

export function parseDecision(body: Record<string, unknown>): Decision {
  onlyKnownMembers(body, ['fields', 'masking', 'expiresAt']);
  const decision: Decision = {};
  if (body.fields !== undefined) decision.fields = fieldList(body.fields, 'fields');
  if (body.masking !== undefined) {
    const m = body.masking;
    if (m === null || typeof m !== 'object' || Array.isArray(m) || !Object.values(m).every((v) => v === 'hash' || v === 'partial')) {
      throw new InputError('subscription.invalid_request', 'masking must map field names to "hash" or "partial"');
    }
    decision.masking = m as Record<string, FieldDelivery>;
  }
  if (body.expiresAt !== undefined) decision.expiresAt = futureTimestamp(body.expiresAt, 'expiresAt').toISOString();
  return decision;
}

/** The owner's stewards decide on requests for their datasets. */
async function requireOwnerSteward(db: Db, principal: Principal, sub: Subscription, alsoAdmin: boolean): Promise<Dataset> {
  const dataset = (await getDataset(db, sub.dataset))!;
  const isOwnerSteward = principal.role === 'steward' && principal.department === dataset.owner;
  if (!isOwnerSteward && !(alsoAdmin && principal.role === 'admin')) {
    throw new ForbiddenError(`only stewards of ${dataset.owner}${alsoAdmin ? ' or administrators' : ''} may do this`);
  }
  return dataset;
}

export async function approveSubscription(deps: SubscriptionDeps, principal: Principal, id: string, decision: Decision, requestId: string): Promise<Subscription> {
  const sub = await findVisibleSubscription(deps.pool, principal, id);
  await requireOwnerSteward(deps.pool, principal, sub, false);
  if (sub.status !== 'pending' && sub.status !== 'paused') {
    throw new ConflictError('subscription.not_pending', `subscription ${id} is ${sub.status}; only pending or paused subscriptions can be approved`);
  }
  const fields = decision.fields ?? sub.fields?.map((f) => f.name) ?? sub.requestedFields;
  const beyond = fields.filter((f) => !sub.requestedFields.includes(f));
  if (beyond.length) throw new InputError('subscription.beyond_request', `an approval cannot grant fields that were not requested: ${beyond.join(', ')}`);
  if (decision.expiresAt && decision.expiresAt > sub.requestedUntil) {
    throw new InputError('subscription.beyond_request', `an approval cannot run past the requested date ${sub.requestedUntil}`);
  }
  return activate(deps, id, { by: principal.department, actor: actorOf(principal), requestId, fields, tighten: decision.masking ?? {}, expiresAt: decision.expiresAt });
}

/**
 * Compiles an approval: plans the fields under the consumer's clearance, registers the derived schema,
 * creates the share topic and records where on the dataset topic live delivery starts.
 */
async function activate(
  deps: SubscriptionDeps,
  id: string,
  how: { by: string; actor: AuditActor; requestId: string; fields: string[]; tighten: Record<string, FieldDelivery>; expiresAt?: string },
): Promise<Subscription> {
  const { pool } = deps;
  const sub = (await getSubscription(pool, id))!;
  const dataset = (await getDataset(pool, sub.dataset))!;
  const base = await getSubjectVersion(pool, dataset.schemaSubject, 'latest');
  if (!base) throw new GovxError(409, 'dataset.no_schema', `${dataset.id} has no schema registered`);
  const identifiers = identifierFieldsOf(JSON.parse(base.schema));
  const clearance = await clearanceOf(pool, sub.consumer);
  const plan = planFields(dataset, how.fields, clearance, how.tighten, identifiers);
  if (plan.granted.length === 0) throw new InputError('subscription.nothing_granted', 'the approval grants no field the consumer may receive');
  await refuseRebuildableCombination(pool, dataset, identifiers, clearance, sub.consumer, plan, id);
  const derived = deriveShareSchema(JSON.parse(base.schema), plan.granted, id);
  const subject = shareSubject(id);
  // govx re-derives the share schema on every approval; readers take the schema id from each message.
  await setCompatibility(pool, subject, 'NONE');
  const registration = await registerSchema(pool, subject, JSON.stringify(derived));
  await deps.kafka.ensureTopic(shareTopic(id));
  const datasetTopicName = datasetTopic(dataset.id);
  await deps.kafka.ensureTopic(datasetTopicName);
  const startOffsets = await deps.kafka.endOffsets(datasetTopicName);
  const expiresAt = how.expiresAt ?? sub.requestedUntil;

  await withTransaction(pool, async (tx) => {
    await tx.query(
      `UPDATE subscriptions SET status = 'approved', status_reason = NULL, approved_fields = $2, expires_at = $3, decided_by = $4,
         decided_at = now(), dataset_schema_id = $5, derived_subject = $6, derived_schema_id = $7,
         start_offsets = coalesce(start_offsets, $8), backfill_done = backfill_done OR start_from = 'latest',
         version = version + 1, updated_at = now()
       WHERE id = $1`,
      [id, JSON.stringify(plan.granted), expiresAt, how.by, base.id, subject, registration.id, JSON.stringify(startOffsets)],
    );
    await appendAudit(tx, {
      actor: how.actor, action: 'subscription.approve', target: `subscription:${id}`, outcome: 'success', requestId: how.requestId,
      details: { dataset: dataset.id, consumer: sub.consumer, fields: plan.granted, withheld: plan.withheld, expiresAt, by: how.by, derivedSchemaId: registration.id },
    });
  });
  await announceTransition(sub, 'approved');
  return (await getSubscription(pool, id))!;
}

export async function rejectSubscription(deps: SubscriptionDeps, principal: Principal, id: string, body: Record<string, unknown>, requestId: string): Promise<Subscription> {
  onlyKnownMembers(body, ['reason']);
  const reason = text(body, 'reason', 2000, true)!;
  const sub = await findVisibleSubscription(deps.pool, principal, id);
  await requireOwnerSteward(deps.pool, principal, sub, false);
  if (sub.status !== 'pending' && sub.status !== 'paused') {
    throw new ConflictError('subscription.not_pending', `subscription ${id} is ${sub.status}; only pending or paused subscriptions can be rejected`);
  }
  return setFinalStatus(deps.pool, sub, 'rejected', reason, actorOf(principal), 'subscription.reject', requestId);
}

export async function revokeSubscription(deps: SubscriptionDeps, principal: Principal, id: string, body: Record<string, unknown>, requestId: string): Promise<Subscription> {
  onlyKnownMembers(body, ['reason']);
  const reason = text(body, 'reason', 2000, false) ?? null;
  const sub = await findVisibleSubscription(deps.pool, principal, id);
  await requireOwnerSteward(deps.pool, principal, sub, true);
  if (sub.status !== 'approved' && sub.status !== 'paused' && sub.status !== 'pending') {
    throw new ConflictError('subscription.not_active', `subscription ${id} is ${sub.status} and cannot be revoked`);
  }
  return setFinalStatus(deps.pool, sub, 'revoked', reason, actorOf(principal), 'subscription.revoke', requestId);
}

async function setFinalStatus(
  pool: Pool,
  sub: Subscription,
  status: SubscriptionStatus,
  reason: string | null,
  actor: AuditActor,
  action: string,
  requestId: string | null,
): Promise<Subscription> {
  await withTransaction(pool, async (tx) => {
    await tx.query(
      `UPDATE subscriptions SET status = $2, status_reason = $3, decided_by = coalesce($4, decided_by), decided_at = now(),
         version = version + 1, updated_at = now() WHERE id = $1`,
      [sub.id, status, reason, actor.department],
    );
    await appendAudit(tx, { actor, action, target: `subscription:${sub.id}`, outcome: 'success', requestId, details: { dataset: sub.dataset, consumer: sub.consumer, reason } });
  });
  await announceTransition(sub, status);
  return (await getSubscription(pool, sub.id))!;
}

const SYSTEM: AuditActor = { department: 'govx', keyId: null, role: 'system' };

/** Marks approved subscriptions past their expiry as expired (audited); returns their ids. */
export async function expireSubscriptions(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<Row>(`SELECT * FROM subscriptions WHERE status IN ('approved', 'paused') AND expires_at <= now()`);
  for (const row of rows) await setFinalStatus(pool, fromRow(row), 'expired', 'the approval reached its expiry date', SYSTEM, 'subscription.expire', null);
  return rows.map((r) => r.id);
}

/** Pauses a subscription until its owner approves it again, saying why (audited). */
export async function pauseSubscription(pool: Pool, sub: Subscription, reason: string): Promise<void> {
  const paused = await withTransaction(pool, async (tx) => {
    const r = await tx.query(
      `UPDATE subscriptions SET status = 'paused', status_reason = $2, version = version + 1, updated_at = now() WHERE id = $1 AND status = 'approved'`,
      [sub.id, reason],
    );
    if ((r.rowCount ?? 0) > 0) {
      await appendAudit(tx, { actor: SYSTEM, action: 'subscription.pause', target: `subscription:${sub.id}`, outcome: 'success', details: { dataset: sub.dataset, reason } });
    }
    return (r.rowCount ?? 0) > 0;
  });
  if (paused) await announceTransition(sub, 'paused');
}

export async function markBackfillDone(pool: Pool, id: string): Promise<void> {
  await pool.query('UPDATE subscriptions SET backfill_done = true, updated_at = now() WHERE id = $1', [id]);
}

/** Whether a subscription's backfill is done; a subscription that is gone has nothing left to wait for. */
export async function isBackfillDone(pool: Pool, id: string): Promise<boolean> {
  const { rows } = await pool.query<{ backfill_done: boolean }>('SELECT backfill_done FROM subscriptions WHERE id = $1', [id]);
  return !rows[0] || rows[0].backfill_done;
}

/**
 * Reviews live subscriptions against their dataset's latest schema (sharing policy:
 * schemaChangeNeedsApproval): a change that needs a new approval pauses the subscription, saying why;
 * any other change is adopted. Returns the subscriptions that stay live, and those it paused.
 */
export async function reviewSchemaChanges(pool: Pool, live: Subscription[]): Promise<{ live: Subscription[]; paused: Array<{ subscription: Subscription; schemaId: number }> }> {
  const still: Subscription[] = [];
  const paused: Array<{ subscription: Subscription; schemaId: number }> = [];
  // one catalog and registry lookup per dataset, however many subscriptions it has
  const current = new Map<string, Promise<{ dataset: Dataset | null; latest: SubjectVersion | null }>>();
  const lookup = async (id: string) => {
    const dataset = await getDataset(pool, id);
    return { dataset, latest: dataset && (await getSubjectVersion(pool, dataset.schemaSubject, 'latest')) };
  };
  for (const sub of live) {
    if (!current.has(sub.dataset)) current.set(sub.dataset, lookup(sub.dataset));
    const { dataset, latest } = await current.get(sub.dataset)!;
    if (!dataset || !latest || latest.id === sub.datasetSchemaId || sub.datasetSchemaId === null) {
      still.push(sub);
      continue;
    }
    const approvedOn = await getSchemaById(pool, sub.datasetSchemaId);
    const change = describeSchemaChange(parseAvroSchema(approvedOn!.schema).schema, parseAvroSchema(latest.schema).schema);
    const reason = schemaChangeNeedsApproval(sub.fields ?? [], change, dataset.fields, latest.version);
    if (reason) {
      await pauseSubscription(pool, sub, `${reason}: approve the subscription again to resume`);
      paused.push({ subscription: sub, schemaId: latest.id });
    } else {
      await pool.query('UPDATE subscriptions SET dataset_schema_id = $2 WHERE id = $1', [sub.id, latest.id]);
      still.push({ ...sub, datasetSchemaId: latest.id });
    }
  }
  return { live: still, paused };
}

export async function saveHttpCursor(pool: Pool, id: string, cursor: Record<string, string>): Promise<void> {
  await pool.query('UPDATE subscriptions SET http_cursor = $2 WHERE id = $1', [id, JSON.stringify(cursor)]);
}

export async function httpCursorOf(pool: Pool, id: string): Promise<Record<string, string> | null> {
  const { rows } = await pool.query<{ http_cursor: Record<string, string> | null }>('SELECT http_cursor FROM subscriptions WHERE id = $1', [id]);
  return rows[0]?.http_cursor ?? null;
}
