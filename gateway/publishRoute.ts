import express, { type Request, type Response, Router } from 'express';
import { GovxError, InputError } from '../lib/errors';
import { principalOf } from './middleware/auth';
import { errorBody } from './middleware/errors';
import type { components } from './openapi';
import type { DepartmentRateLimiter } from './middleware/rateLimit';
import { decodePublishBody } from './publishBody';
import { admitLargeBody, type LargeBodyGate } from './middleware/largeBodies';
import { type IdempotencyScope, type IdempotencyStore, idempotencyKeyOf, requestFingerprint } from './idempotency';
import { authorizePublisher, type PublishDeps, publishRecords } from '../publish/pipeline';

export interface PublishRouteDeps extends PublishDeps {
  maxBodyBytes: number;
  maxRecordsPerRequest: number;
  maxJsonDepth: number;
  idempotency: IdempotencyStore;
  rateLimiter: DepartmentRateLimiter;
  /** How many bytes of large bodies this process works on at once (429 publish.busy beyond its queue). */
  largeBodies: LargeBodyGate;
}

type PublishResult = components['schemas']['PublishResult'];

const NDJSON = 'application/x-ndjson';
const JSON_TYPE = 'application/json';

function mediaType(req: Request): string {
  return (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

function atomicParam(value: unknown): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new InputError('request.invalid', 'query parameter atomic must be true or false', [{ path: 'query.atomic', message: 'must be true or false' }]);
}

/** A definite answer is remembered for retries; "try again later" (5xx, 429) is not. */
const isDefinite = (status: number): boolean => status < 500 && status !== 429;

/**
 * POST /v1/datasets/:id/records adapts HTTP to the publish pipeline: authenticate (upstream) → authorize
 * (the pipeline's first stage, once) → idempotency → decode the body → publishRecords → the answer. The
 * body is read as bytes and parsed here, so depth limits apply before parsing and an Idempotency-Key
 * fingerprints exactly what was sent.
 */
export function publishRouter(deps: PublishRouteDeps): Router {
  const router = Router();
  const rawBody = express.raw({ limit: deps.maxBodyBytes, type: () => true });

  router.post(
    '/v1/datasets/:id/records',
    (req, res, next) => {
      // Over its request rate, a department is refused before its body is read.
      deps.rateLimiter.take(principalOf(res).department, 'requests');
      const type = mediaType(req);
      if (type === NDJSON || type === JSON_TYPE || type === '') next();
      else next(new GovxError(415, 'request.unsupported_media_type', `send application/json or application/x-ndjson, not ${type}`));
    },
    // Then, before its body is read, a large one waits for room in this process's budget of large bodies.
    admitLargeBody(
      deps.largeBodies,
      deps.maxBodyBytes,
      (res) => principalOf(res).department,
      (res) => deps.metrics.rateLimited.inc({ department: principalOf(res).department, limit: 'large-bodies' }),
    ),
    rawBody,
    async (req: Request, res: Response) => {
      const principal = principalOf(res);
      const datasetId = String(req.params.id);
      const requestId = String(res.locals.requestId);
      // Authorization comes before decoding so a department learns nothing from body errors on a dataset it may not publish to.
      const publisher = await authorizePublisher(deps, principal, datasetId);
      const atomic = atomicParam(req.query.atomic);
      const type = mediaType(req) === NDJSON ? NDJSON : JSON_TYPE;
      // The bytes are held only until decoded: from then on only the records are (see decodePublishBody).
      let body: Buffer | undefined = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      req.body = undefined;

      const key = idempotencyKeyOf(req.get('idempotency-key'));
      const scope: IdempotencyScope | undefined = key === undefined ? undefined : { department: principal.department, dataset: datasetId, key };
      if (scope) {
        const claim = await deps.idempotency.claim(scope, requestFingerprint(type, atomic, body));
        if (claim.kind === 'replay') {
          deps.metrics.idempotentReplays.inc({ dataset: datasetId, department: principal.department });
          res.status(claim.status).setHeader('Idempotent-Replayed', 'true').json(claim.body);
          return;
        }
      }
      try {
        const decoded = decodePublishBody(body, type === NDJSON, { maxDepth: deps.maxJsonDepth, maxRecords: deps.maxRecordsPerRequest });
        body = undefined;
        deps.rateLimiter.take(principal.department, 'records', decoded.records.length);
        const outcome = await publishRecords(deps, {
          publisher,
          records: decoded.records,
          preRejected: decoded.lineErrors,
          rawLines: decoded.rawLines,
          atomic,
          requestId,
        });
        const answer: PublishResult = { accepted: outcome.accepted, rejected: outcome.rejected };
        if (scope) await remember(deps, scope, 200, answer, requestId);
        res.status(200).json(answer);
      } catch (err) {
        if (scope) {
          if (err instanceof GovxError && isDefinite(err.status)) await remember(deps, scope, err.status, errorBody(err, requestId), requestId);
          else await deps.idempotency.release(scope).catch((e: unknown) => deps.log.warn({ err: e, requestId }, 'could not release an idempotency key'));
        }
        throw err;
      }
    },
  );
  return router;
}

async function remember(deps: PublishRouteDeps, scope: IdempotencyScope, status: number, body: unknown, requestId: string): Promise<void> {
  // The records are already in Kafka: failing to remember the answer must not turn it into an error.
  await deps.idempotency.complete(scope, status, body).catch((err: unknown) => deps.log.error({ err, requestId }, 'could not record an idempotent answer'));
}
