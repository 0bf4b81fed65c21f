import { type Request, type Response, Router } from 'express';
import type { Principal } from '../catalog/keys';
import {
  approveSubscription,
  findVisibleSubscription,
  httpCursorOf,
  listSubscriptions,
  parseDecision,
  parseSubscriptionRequest,
  rejectSubscription,
  requestSubscription,
  revokeSubscription,
  saveHttpCursor,
  subscriptionStatuses,
  type Subscription,
  type SubscriptionDeps,
  getSubscription,
} from '../catalog/subscriptions';
import type { Pool } from '../lib/db';
import { acquireDeliveryLease, type DeliveryKind, type DeliveryLease, releaseDeliveryLease, renewDeliveryLease } from '../catalog/deliveryLeases';
import { ForbiddenError, GovxError, InputError, NotFoundError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { ReceiptLedger } from '../catalog/receipts';
import { getDataset } from '../catalog/datasets';
import { getDepartment } from '../catalog/keys';
import type { FieldDelivery, MaskingKeys } from '../catalog/sharingPolicy';
import { previewShare } from '../distributor/sharePreview';
import { deliverySummary } from '../catalog/deliverySummary';
import { sinkGroupId } from '../connectors/runtime/sinkTask';
import { subscriptionLag } from '../distributor/subscriptionLag';
import { type KafkaPort, readKafkaForAnswer } from '../lib/kafkaPort';
import { decodeCursor, encodeCursor, httpDeliveryReceipts, type Positions, type ShareDelivery, type ShareReader, StreamReceipts } from './httpDelivery';
import { principalOf } from './middleware/auth';
import { jsonBody } from './middleware/textHygiene';

export interface SubscriptionRouteDeps extends SubscriptionDeps {
  /** masking keys for previews (lib/keyring.ts), the same the distributor masks with */
  keys: MaskingKeys;
  delivery: ShareDelivery;
  /** every pull and stream is recorded as delivery receipts */
  receipts: ReceiptLedger;
  log: Logger;
  /** concurrent SSE streams and pulls each department may hold, across gateways */
  caps: { streams: number; pulls: number };
  /** for lag: Kafka's offsets and the distributor's consumer groups' prefix */
  lag: { kafka: KafkaPort; groupPrefix: string };
}

const STREAM_LEASE_MS = 30_000;
/** A pull may wait for the consumer group to join (30 s) and then up to waitMs for records. */
const pullLeaseMs = (waitMs: number): number => waitMs + 60_000;

function objectBody(req: Request): Record<string, unknown> {
  const body = (req.body ?? {}) as unknown;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InputError('request.invalid_body', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function intQuery(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new InputError('request.invalid_query', `query parameter ${name} must be a whole number between ${min} and ${max}`);
  }
  return Number(value);
}

/**
 * Records leave govx only to the consuming department itself, through its consumer keys, and only while the
 * subscription is live; to any other department the subscription does not exist.
 */
async function deliverableTo(pool: Pool, principal: Principal, id: string): Promise<Subscription> {
  const sub = await findVisibleSubscription(pool, principal, id);
  if (sub.consumer !== principal.department) throw new NotFoundError('subscription.not_found', `no subscription "${id.slice(0, 64)}"`);
  if (principal.role !== 'consumer') throw new ForbiddenError(`receiving records needs a consumer key of ${sub.consumer}; this key is a ${principal.role}`);
  if (sub.status !== 'approved' || (sub.expiresAt !== null && Date.parse(sub.expiresAt) <= Date.now())) {
    throw new GovxError(409, 'subscription.not_active', `subscription ${sub.id} is ${sub.status}${sub.statusReason ? ` (${sub.statusReason})` : ''}; it delivers nothing`);
  }
  return sub;
}

/** POST/GET /v1/subscriptions…: the request → decision → delivery → revocation cycle. */
export function subscriptionRouter(deps: SubscriptionRouteDeps): Router {
  const router = Router();
  const json = jsonBody({ limit: '256kb' });
  const rid = (res: Response): string => String(res.locals.requestId);

  /** A place under the department's cap of concurrent deliveries of this kind, or 429. */
  const leaseOrRefuse = async (principal: Principal, sub: Subscription, kind: DeliveryKind, ttlMs: number): Promise<DeliveryLease> => {
    const cap = kind === 'stream' ? deps.caps.streams : deps.caps.pulls;
    const lease = await acquireDeliveryLease(deps.pool, { department: principal.department, kind, subscription: sub.id, cap, ttlMs });
    if (lease) return lease;
    throw new GovxError(429, `delivery.too_many_${kind}s`, `${principal.department} already has ${cap} ${kind}s open, its limit; close one or retry later`, {
      details: { limit: `${kind}s`, concurrent: cap },
      headers: { 'Retry-After': kind === 'stream' ? '5' : '1' },
    });
  };

  const clearanceOf = async (department: string): Promise<number> => (await getDepartment(deps.pool, department))?.clearance ?? 1;

  /** A consumer's preview of what a request would give it, before it asks. */
  router.post('/v1/subscriptions/preview', json, async (req, res) => {
    const principal = principalOf(res);
    const body = objectBody(req);
    const extra = Object.keys(body).filter((k) => !['dataset', 'fields', 'masking'].includes(k));
    if (extra.length) throw new InputError('subscription.invalid_request', `unknown member(s): ${extra.join(', ')}`);
    if (principal.role !== 'consumer') throw new ForbiddenError(`previewing a request needs a consumer key; this key is a ${principal.role}`);
    const input = parseSubscriptionRequest({ dataset: body.dataset, fields: body.fields, purpose: 'preview', expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    const tighten = parseDecision({ masking: body.masking }).masking;
    const dataset = await getDataset(deps.pool, input.dataset);
    if (!dataset || dataset.status === 'draft' || dataset.status === 'retired') throw new NotFoundError('dataset.not_found', `no dataset "${input.dataset}" is open for requests`);
    const unknown = input.fields.filter((f) => !dataset.fields.some((d) => d.name === f));
    if (unknown.length) throw new InputError('subscription.unknown_field', `${dataset.id} has no field(s) ${unknown.join(', ')}`, { unknown });
    if (dataset.sharingType === 'none') {
      throw new GovxError(403, 'subscription.not_shared', `${dataset.id} is not shared (不予共享). Legal basis: ${dataset.legalBasis}`, { details: { legalBasis: dataset.legalBasis } });
    }
    res.json(
      await previewShare(deps.pool, deps.keys, {
        dataset, consumer: principal.department, clearance: await clearanceOf(principal.department), fields: input.fields, tighten,
      }),
    );
  });

  /** What a decision on a request would deliver: for the owner's stewards, administrators and the requester. */
  router.post('/v1/subscriptions/:id/preview', json, async (req, res) => {
    const principal = principalOf(res);
    const sub = await findVisibleSubscription(deps.pool, principal, String(req.params.id));
    const dataset = (await getDataset(deps.pool, sub.dataset))!;
    const mayPreview =
      principal.role === 'admin' ||
      (principal.role === 'steward' && principal.department === dataset.owner) ||
      (principal.role === 'consumer' && principal.department === sub.consumer);
    if (!mayPreview) throw new ForbiddenError(`previewing a decision is for stewards of ${dataset.owner}, administrators and the requester's consumers`);
    const decision = parseDecision(objectBody(req));
    const fields = decision.fields ?? sub.fields?.map((f) => f.name) ?? sub.requestedFields;
    const beyond = fields.filter((f) => !sub.requestedFields.includes(f));
    if (beyond.length) throw new InputError('subscription.beyond_request', `a decision cannot grant fields that were not requested: ${beyond.join(', ')}`);
    res.json(
      await previewShare(deps.pool, deps.keys, {
        dataset, consumer: sub.consumer, clearance: await clearanceOf(sub.consumer), fields, tighten: decision.masking as Record<string, FieldDelivery> | undefined,
      }),
    );
  });

  router.post('/v1/subscriptions', json, async (req, res) => {
    const sub = await requestSubscription(deps, principalOf(res), parseSubscriptionRequest(objectBody(req)), rid(res));
    res.status(201).setHeader('Location', `/v1/subscriptions/${sub.id}`).json(sub);
  });

  router.get('/v1/subscriptions', async (req, res) => {
    const status = req.query.status;
    if (status !== undefined && !subscriptionStatuses.includes(status as never)) {
      throw new InputError('request.invalid_query', `status must be one of ${subscriptionStatuses.join(', ')}`);
    }
    const dataset = req.query.dataset;
    if (dataset !== undefined && (typeof dataset !== 'string' || dataset.length > 100)) throw new InputError('request.invalid_query', 'dataset must be a dataset id');
    const limit = intQuery(req.query.limit, 'limit', 50, 1, 500);
    const offset = intQuery(req.query.offset, 'offset', 0, 0, 1_000_000);
    const result = await listSubscriptions(deps.pool, principalOf(res), { dataset: dataset as string | undefined, status: status as string | undefined, limit, offset });
    res.json({ ...result, limit, offset });
  });

  router.get('/v1/subscriptions/:id', async (req, res) => {
    res.json(await findVisibleSubscription(deps.pool, principalOf(res), String(req.params.id)));
  });

  /** What has been delivered, from the subscription's delivery receipts (those who may see the subscription). */
  router.get('/v1/subscriptions/:id/deliveries', async (req, res) => {
    const sub = await findVisibleSubscription(deps.pool, principalOf(res), String(req.params.id));
    res.json(await deliverySummary(deps.pool, sub.id));
  });

  /** How far behind distribution and each reader of the subscription are (those who may see the subscription). */
  router.get('/v1/subscriptions/:id/lag', async (req, res) => {
    const sub = await findVisibleSubscription(deps.pool, principalOf(res), String(req.params.id));
    const { rows } = await deps.pool.query<{ name: string }>("SELECT name FROM connectors WHERE config->>'subscription' = $1 ORDER BY name LIMIT 20", [sub.id]);
    const httpCursor = await httpCursorOf(deps.pool, sub.id);
    const lag = await readKafkaForAnswer('reading offsets for lag', 15_000, () =>
      subscriptionLag(deps.lag.kafka, sub, { groupPrefix: deps.lag.groupPrefix, httpCursor, sinks: rows.map((r) => ({ connector: r.name, groupId: sinkGroupId(r.name) })) }),
    );
    res.setHeader('Cache-Control', 'no-store').json(lag);
  });

  router.post('/v1/subscriptions/:id/approve', json, async (req, res) => {
    res.json(await approveSubscription(deps, principalOf(res), String(req.params.id), parseDecision(objectBody(req)), rid(res)));
  });

  router.post('/v1/subscriptions/:id/reject', json, async (req, res) => {
    res.json(await rejectSubscription(deps, principalOf(res), String(req.params.id), objectBody(req), rid(res)));
  });

  router.post('/v1/subscriptions/:id/revoke', json, async (req, res) => {
    res.json(await revokeSubscription(deps, principalOf(res), String(req.params.id), objectBody(req), rid(res)));
  });

  /**
   * Pull: `?cursor=C` reads after C and commits C (at-least-once: records after C come again until the
   * consumer passes the next cursor back); without a cursor, reading starts at the last committed one.
   */
  router.get('/v1/subscriptions/:id/records', async (req, res) => {
    const principal = principalOf(res);
    const sub = await deliverableTo(deps.pool, principal, String(req.params.id));
    const limit = intQuery(req.query.limit, 'limit', 100, 1, 1000);
    const waitMs = intQuery(req.query.waitMs, 'waitMs', 1000, 0, 30_000);
    let from: Positions | null;
    if (req.query.cursor !== undefined) {
      if (typeof req.query.cursor !== 'string') throw new InputError('subscription.invalid_cursor', 'pass one cursor');
      from = decodeCursor(req.query.cursor);
      await saveHttpCursor(deps.pool, sub.id, from);
    } else {
      from = await httpCursorOf(deps.pool, sub.id);
    }
    const lease = await leaseOrRefuse(principal, sub, 'pull', pullLeaseMs(waitMs));
    try {
      const { records, next } = await deps.delivery.pull(sub, from, limit, waitMs);
      // recorded before the answer leaves: a pull that cannot be recorded is not delivered (the consumer retries its cursor)
      await deps.receipts.delivery(...httpDeliveryReceipts(sub, 'http-pull', principal, records, String(res.locals.requestId ?? '') || null));
      res.json({ subscription: sub.id, records, cursor: encodeCursor(next) });
    } finally {
      await releaseDeliveryLease(deps.pool, lease).catch(() => undefined);
    }
  });

  /** Server-Sent Events: each record is an event whose id is the cursor after it (Last-Event-ID resumes). */
  router.get('/v1/subscriptions/:id/stream', async (req, res) => {
    const principal = principalOf(res);
    const sub = await deliverableTo(deps.pool, principal, String(req.params.id));
    const resumeFrom = req.get('last-event-id') ?? (typeof req.query.cursor === 'string' ? req.query.cursor : undefined);
    const from = resumeFrom !== undefined ? decodeCursor(resumeFrom) : await httpCursorOf(deps.pool, sub.id);
    const lease = await leaseOrRefuse(principal, sub, 'stream', STREAM_LEASE_MS);
    let reader: ShareReader;
    try {
      reader = deps.delivery.reader(sub, 'sse');
    } catch (err) {
      await releaseDeliveryLease(deps.pool, lease).catch(() => undefined);
      throw err;
    }
    res.status(200).set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write(': govx share stream\n\n');
    let closed = false;
    const receipts = new StreamReceipts(deps.receipts, sub, principal, String(res.locals.requestId ?? '') || null);
    const recordSent = (): Promise<void> =>
      receipts.flush().catch((err: unknown) => deps.log.error({ subscription: sub.id, err: (err as Error).message }, 'stream delivery receipt failed'));
    const close = async (reason?: string): Promise<void> => {
      if (closed) return;
      closed = true;
      clearInterval(watch);
      await reader.stop();
      await recordSent();
      await releaseDeliveryLease(deps.pool, lease).catch(() => undefined);
      if (reason && !res.writableEnded) res.write(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
      res.end();
    };
    // Revocation or expiry ends the stream within seconds; a comment line keeps proxies from timing out.
    const watch = setInterval(() => {
      void getSubscription(deps.pool, sub.id).then(
        (current) => {
          if (!current || current.status !== 'approved' || (current.expiresAt && Date.parse(current.expiresAt) <= Date.now())) {
            void close(`subscription is ${current?.status ?? 'gone'}`);
          } else if (!closed) {
            res.write(': keep-alive\n\n');
            void recordSent();
            void renewDeliveryLease(deps.pool, lease, STREAM_LEASE_MS).catch(() => undefined);
          }
        },
        () => undefined,
      );
    }, 2000);
    req.on('close', () => void close());
    // the gateway is shutting down: the consumer resumes elsewhere from the last event id it received
    void reader.ended.then(() => close('the gateway is shutting down; reconnect with Last-Event-ID to resume'));
    // A skipped (undecodable) record moves the event id on, so a reconnect does not meet it again.
    reader.onPositions = (next) => {
      if (!closed) res.write(`id: ${encodeCursor(next)}\nevent: skipped\ndata: {}\n\n`);
    };
    try {
      await reader.start(from, (record, next) => {
        if (closed) return false;
        res.write(`id: ${encodeCursor(next)}\nevent: record\ndata: ${JSON.stringify(record)}\n\n`);
        receipts.sent(record);
        return true;
      });
    } catch (err) {
      deps.log.warn({ subscription: sub.id, err: (err as Error).message }, 'share stream failed');
      await close('the stream failed; reconnect with Last-Event-ID to resume');
    }
  });

  return router;
}
