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
  /** where on the dataset topic (partition → offset) delivery stopped when it paused */
  pausedOffsets: Record<string, string> | null;
  /** where the current backfill starts (null: the topic's beginning) */
  backfillFrom: Record<string, string> | null;
  /** bumped by every transition: what a compare-and-set compares, with the status */
  version: number;
  createdAt: string;
  updatedAt: string;
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
  paused_offsets: Record<string, string> | null;
  backfill_from: Record<string, string> | null;
  version: number;
  created_at: Date;
  updated_at: Date;
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
    pausedOffsets: r.paused_offsets,
    backfillFrom: r.backfill_from,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
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

/**
 * What the distributor needs to know changed before it may go on using the live set it read earlier: every
 * transition bumps a subscription's version (so the sum over the dataset's subscriptions only ever grows), a
 * new request adds a row, and a finished backfill adds to the count of finished ones. Equal fingerprints mean
 * the dataset's subscriptions are as they were, in every column delivery uses (decision 0013). Read in one
 * short statement, with the dataset's key field.
 */
export async function liveSetFingerprint(db: Db, dataset: string): Promise<{ fingerprint: string; keyField: string | null }> {
  const { rows } = await db.query<{ f: string; key_field: string | null }>(
    `SELECT coalesce(sum(version), 0) || '/' || count(*) || '/' || count(*) FILTER (WHERE backfill_done) AS f,
            (SELECT key_field FROM datasets WHERE id = $1) AS key_field
       FROM subscriptions WHERE dataset_id = $1`,
    [dataset],
  );
  return { fingerprint: rows[0]!.f, keyField: rows[0]!.key_field };
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
    return activate(deps, (await getSubscription(pool, id))!, { by: 'policy:unconditional', actor: actorOf(principal), requestId, fields: req.fields, tighten: {} });
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
    if (m === null || typeof m !== 'object' || Array.isArray(m) || !Object.values(m).every((v) => v === 'hash' || v === 'partial' || v === 'clear')) {
      throw new InputError('subscription.invalid_request', 'masking must map field names to "hash", "partial" or "clear" (clear: as the policy allows, lifting an earlier tightening)');
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

// ---------------------------------------------------------------------------------------------------------
// Transitions: the one place a subscription's status changes (decision 0016)
//
// Every transition (approve — "resume" when it re-approves a paused subscription —, reject, revoke, expire,
// pause) reads the subscription, does its slow work (registry, Kafka) outside any transaction, and then
// writes with one UPDATE that compares the status and version it started from. The audit entry is appended
// in the same transaction, and listeners (the Kafka ACLs) are told after it commits. A transition that lost a
// race answers 409 `subscription.transition_conflict` with the current state; a revocation instead starts
// again from the state it lost to, so a revoke racing anything ends revoked.

type TransitionColumn =
  | 'status_reason'
  | 'approved_fields'
  | 'expires_at'
  | 'decided_by'
  | 'decided_at'
  | 'dataset_schema_id'
  | 'derived_subject'
  | 'derived_schema_id'
  | 'start_offsets'
  | 'backfill_done'
  | 'paused_offsets'
  | 'backfill_from';

/** The database's clock, for decided_at. */
const NOW = Symbol('now()');

interface TransitionSpec {
  /** the subscription as the transition read it: the UPDATE compares its status and version */
  from: Pick<Subscription, 'id' | 'dataset' | 'consumer' | 'status' | 'version'>;
  to: SubscriptionStatus;
  set: Partial<Record<TransitionColumn, unknown>>;
  audit: { actor: AuditActor; action: string; requestId: string | null; details: Record<string, unknown> };
}

/** The compare-and-set itself: the transitioned subscription, or null when it was no longer in the state it started from. */
async function transition(pool: Pool, spec: TransitionSpec): Promise<Subscription | null> {
  const { from, to } = spec;
  const params: unknown[] = [from.id, from.status, from.version, to];
  const sets = ['status = $4', 'version = version + 1', 'updated_at = now()'];
  for (const [column, value] of Object.entries(spec.set)) {
    if (value === NOW) {
      sets.push(`${column} = now()`);
      continue;
    }
    params.push(value !== null && typeof value === 'object' && !(value instanceof Date) ? JSON.stringify(value) : value);
    sets.push(`${column} = $${params.length}`);
  }
  const row = await withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<Row>(`UPDATE subscriptions SET ${sets.join(', ')} WHERE id = $1 AND status = $2 AND version = $3 RETURNING *`, params);
    const updated = rows[0];
    if (!updated) return null;
    await appendAudit(tx, {
      actor: spec.audit.actor, action: spec.audit.action, target: `subscription:${from.id}`, outcome: 'success', requestId: spec.audit.requestId,
      details: {
        dataset: from.dataset, consumer: from.consumer, ...spec.audit.details,
        from: { status: from.status, version: from.version }, to: { status: to, version: updated.version },
      },
    });
    return updated;
  });
  if (!row) return null;
  const done = fromRow(row);
  await announceTransition(done, to);
  return done;
}

/** What a 409 tells the caller about where the subscription is now. */
function currentState(sub: Subscription | null): Record<string, unknown> | null {
  return sub && { status: sub.status, version: sub.version, statusReason: sub.statusReason, decidedBy: sub.decidedBy, decidedAt: sub.decidedAt };
}

async function lostRace(pool: Pool, id: string, what: string): Promise<ConflictError> {
  const now = await getSubscription(pool, id);
  return new ConflictError(
    'subscription.transition_conflict',
    `subscription ${id} changed while the ${what} was under way: it is now ${now?.status ?? 'gone'}; nothing was changed by this request`,
    { current: currentState(now) },
  );
}

function notInState(sub: Subscription, code: string, message: string): ConflictError {
  return new ConflictError(code, message, { current: currentState(sub) });
}

export async function approveSubscription(deps: SubscriptionDeps, principal: Principal, id: string, decision: Decision, requestId: string): Promise<Subscription> {
  const sub = await findVisibleSubscription(deps.pool, principal, id);
  await requireOwnerSteward(deps.pool, principal, sub, false);
  if (sub.status !== 'pending' && sub.status !== 'paused') {
    throw notInState(sub, 'subscription.not_pending', `subscription ${id} is ${sub.status}; only pending or paused subscriptions can be approved`);
  }
  const fields = decision.fields ?? sub.fields?.map((f) => f.name) ?? sub.requestedFields;
  const beyond = fields.filter((f) => !sub.requestedFields.includes(f));
  if (beyond.length) throw new InputError('subscription.beyond_request', `an approval cannot grant fields that were not requested: ${beyond.join(', ')}`);
  if (decision.expiresAt && decision.expiresAt > sub.requestedUntil) {
    throw new InputError('subscription.beyond_request', `an approval cannot run past the requested date ${sub.requestedUntil}`);
  }
  // A re-approval keeps the earlier decision (its masks, narrowed fields and expiry) unless the steward says otherwise.
  const earlierMasks = Object.fromEntries((sub.fields ?? []).map((f) => [f.name, f.delivery]));
  const earlierExpiry = sub.expiresAt && Date.parse(sub.expiresAt) > Date.now() ? sub.expiresAt : undefined;
  return activate(deps, sub, {
    by: principal.department,
    actor: actorOf(principal),
    requestId,
    fields,
    tighten: { ...earlierMasks, ...(decision.masking ?? {}) },
    expiresAt: decision.expiresAt ?? earlierExpiry,
  });
}

/** What changed between an earlier grant and a new one, for the audit entry of a re-approval. */
export function grantDiff(
  before: { fields: readonly GrantedField[]; expiresAt: string | null },
  after: { fields: readonly GrantedField[]; expiresAt: string },
): { added: GrantedField[]; removed: string[]; changed: Array<{ name: string; from: GrantedField; to: GrantedField }>; expiresAt?: { from: string | null; to: string } } {
  const old = new Map(before.fields.map((f) => [f.name, f]));
  const now = new Map(after.fields.map((f) => [f.name, f]));
  const diff: ReturnType<typeof grantDiff> = {
    added: after.fields.filter((f) => !old.has(f.name)),
    removed: before.fields.filter((f) => !now.has(f.name)).map((f) => f.name),
    changed: after.fields
      .filter((f) => old.has(f.name) && JSON.stringify(old.get(f.name)) !== JSON.stringify(f))
      .map((f) => ({ name: f.name, from: old.get(f.name)!, to: f })),
  };
  if (before.expiresAt === null || Date.parse(before.expiresAt) !== Date.parse(after.expiresAt)) diff.expiresAt = { from: before.expiresAt, to: after.expiresAt };
  return diff;
}

/**
 * Compiles an approval: plans the fields under the consumer's clearance, registers the derived schema,
 * creates the share topic and records where on the dataset topic live delivery starts; then the
 * compare-and-set from the state `sub` was read in. Re-approving a paused subscription ("resume") copies what
 * was published during the pause, from where it stopped, before live delivery goes on.
 */
async function activate(
  deps: SubscriptionDeps,
  sub: Subscription,
  how: { by: string; actor: AuditActor; requestId: string; fields: string[]; tighten: Record<string, FieldDelivery>; expiresAt?: string },
): Promise<Subscription> {
  const { pool } = deps;
  const id = sub.id;
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
  const endOffsets = await deps.kafka.endOffsets(datasetTopicName);
  const expiresAt = how.expiresAt ?? sub.requestedUntil;

  const resuming = sub.status === 'paused';
  // resuming: live delivery starts at today's end; the backfill copies from where the pause stopped delivery up to it
  const backfillFrom = resuming ? sub.pausedOffsets : null;
  const pending = (from: Record<string, string> | null): boolean =>
    from !== null && Object.entries(endOffsets).some(([p, end]) => BigInt(from[p] ?? '0') < BigInt(end));
  const set: TransitionSpec['set'] = {
    status_reason: null,
    approved_fields: plan.granted,
    expires_at: expiresAt,
    decided_by: how.by,
    decided_at: NOW,
    dataset_schema_id: base.id,
    derived_subject: subject,
    derived_schema_id: registration.id,
    start_offsets: resuming && backfillFrom === null ? (sub.startOffsets ?? endOffsets) : endOffsets,
    backfill_done: resuming ? !pending(backfillFrom) : sub.startFrom === 'latest',
    backfill_from: backfillFrom,
    paused_offsets: null,
  };
  const details: Record<string, unknown> = {
    fields: plan.granted, withheld: plan.withheld, expiresAt, by: how.by, derivedSchemaId: registration.id,
  };
  if (sub.fields) details.grantDiff = grantDiff({ fields: sub.fields, expiresAt: sub.expiresAt }, { fields: plan.granted, expiresAt });
  if (resuming) details.resumed = { from: backfillFrom, until: endOffsets };
  const done = await transition(pool, { from: sub, to: 'approved', set, audit: { actor: how.actor, action: 'subscription.approve', requestId: how.requestId, details } });
  if (!done) throw await lostRace(pool, id, 'approval');
  return done;
}

export async function rejectSubscription(deps: SubscriptionDeps, principal: Principal, id: string, body: Record<string, unknown>, requestId: string): Promise<Subscription> {
  onlyKnownMembers(body, ['reason']);
  const reason = text(body, 'reason', 2000, true)!;
  const sub = await findVisibleSubscription(deps.pool, principal, id);
  await requireOwnerSteward(deps.pool, principal, sub, false);
  if (sub.status !== 'pending' && sub.status !== 'paused') {
    throw notInState(sub, 'subscription.not_pending', `subscription ${id} is ${sub.status}; only pending or paused subscriptions can be rejected`);
  }
  const done = await transition(deps.pool, {
    from: sub, to: 'rejected', set: { status_reason: reason, decided_by: principal.department, decided_at: NOW },
    audit: { actor: actorOf(principal), action: 'subscription.reject', requestId, details: { reason } },
  });
  if (!done) throw await lostRace(deps.pool, id, 'rejection');
  return done;
}

const REVOCABLE: readonly SubscriptionStatus[] = ['pending', 'approved', 'paused'];
/** a revocation re-reads and tries again after losing to another transition, this many times at most */
const REVOKE_ATTEMPTS = 20;

export async function revokeSubscription(deps: SubscriptionDeps, principal: Principal, id: string, body: Record<string, unknown>, requestId: string): Promise<Subscription> {
  onlyKnownMembers(body, ['reason']);
  const reason = text(body, 'reason', 2000, false) ?? null;
  let sub = await findVisibleSubscription(deps.pool, principal, id);
  await requireOwnerSteward(deps.pool, principal, sub, true);
  for (let attempt = 1; ; attempt++) {
    if (!REVOCABLE.includes(sub.status)) throw notInState(sub, 'subscription.not_active', `subscription ${id} is ${sub.status} and cannot be revoked`);
    const done = await transition(deps.pool, {
      from: sub, to: 'revoked', set: { status_reason: reason, decided_by: principal.department, decided_at: NOW },
      audit: { actor: actorOf(principal), action: 'subscription.revoke', requestId, details: { reason, attempt } },
    });
    if (done) return done;
    if (attempt >= REVOKE_ATTEMPTS) throw await lostRace(deps.pool, id, 'revocation');
    // another transition (an approval finishing, a pause) got there first: revoke what it left
    sub = (await getSubscription(deps.pool, id))!;
  }
}

const SYSTEM: AuditActor = { department: 'govx', keyId: null, role: 'system' };

/** Marks approved and paused subscriptions past their expiry as expired (audited); returns their ids. */
export async function expireSubscriptions(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<Row>(`SELECT * FROM subscriptions WHERE status IN ('approved', 'paused') AND expires_at <= now()`);
  const expired: string[] = [];
  for (const row of rows) {
    // lost to another transition (a revocation): that one stands; a still-due expiry is seen at the next refresh
    const done = await transition(pool, {
      from: fromRow(row), to: 'expired', set: { status_reason: 'the approval reached its expiry date', decided_at: NOW },
      audit: { actor: SYSTEM, action: 'subscription.expire', requestId: null, details: { reason: 'the approval reached its expiry date' } },
    });
    if (done) expired.push(done.id);
  }
  return expired;
}

/**
 * Pauses a subscription until its owner approves it again, saying why (audited), remembering `positions`:
 * for each partition of the dataset topic, the offset from which it may not have received records. Returns
 * false when the subscription was no longer approved as read (another transition came first).
 */
export async function pauseSubscription(pool: Pool, sub: Subscription, reason: string, positions: Record<string, string> | null): Promise<boolean> {
  const done = await transition(pool, {
    from: sub, to: 'paused', set: { status_reason: reason, paused_offsets: positions },
    audit: { actor: SYSTEM, action: 'subscription.pause', requestId: null, details: { reason, positions } },
  });
  return done !== null;
}

/** Marks the backfill of the approval at `version` done (a later approval has a backfill of its own). */
export async function markBackfillDone(pool: Pool, id: string, version: number): Promise<void> {
  await pool.query('UPDATE subscriptions SET backfill_done = true, updated_at = now() WHERE id = $1 AND version = $2', [id, version]);
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
export async function reviewSchemaChanges(
  pool: Pool,
  live: Subscription[],
  /** where on the dataset topic the subscription may not have received records yet (the distributor knows) */
  positionsOf: (sub: Subscription) => Promise<Record<string, string> | null> = async () => null,
): Promise<{ live: Subscription[]; paused: Array<{ subscription: Subscription; schemaId: number }> }> {
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
      if (await pauseSubscription(pool, sub, `${reason}: approve the subscription again to resume`, await positionsOf(sub))) {
        paused.push({ subscription: sub, schemaId: latest.id });
      }
    } else {
      // not a transition: the grant stands; only while it is still the one that was read
      await pool.query('UPDATE subscriptions SET dataset_schema_id = $2 WHERE id = $1 AND status = $3 AND version = $4', [sub.id, latest.id, sub.status, sub.version]);
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
