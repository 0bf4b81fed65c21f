import express, { type Request, type Response, Router } from 'express';
import { appendAudit } from '../../catalog/audit';
import { datasetTopic } from '../../catalog/datasets';
import type { Pool } from '../../lib/db';
import { GovxError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { KafkaExchange } from '../exchange';
import type { GatewayMetrics } from '../metrics';
import { principalOf } from '../middleware/auth';
import type { DatasetRuntimes } from './datasetRuntime';
import { authorizePublish, decodeRecords, stampProvenance, validateRecords } from './stages';

export interface PublishDeps {
  pool: Pool;
  runtimes: DatasetRuntimes;
  exchange: KafkaExchange;
  metrics: GatewayMetrics;
  log: Logger;
  maxBodyBytes: number;
  maxRecordsPerRequest: number;
}

function mediaType(req: Request): string {
  return (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** POST /v1/datasets/:id/records — authenticate (upstream) → authorize → decode → validate → stamp → produce. */
export function publishRouter(deps: PublishDeps): Router {
  const router = Router();
  const jsonBody = express.json({ limit: deps.maxBodyBytes, strict: true, type: () => true });
  const ndjsonBody = express.text({ limit: deps.maxBodyBytes, type: () => true });

  router.post(
    '/v1/datasets/:id/records',
    (req, res, next) => {
      const type = mediaType(req);
      if (type === 'application/x-ndjson') ndjsonBody(req, res, next);
      else if (type === 'application/json' || type === '') jsonBody(req, res, next);
      else next(new GovxError(415, 'request.unsupported_media_type', `send application/json or application/x-ndjson, not ${type}`));
    },
    async (req: Request, res: Response) => {
      const principal = principalOf(res);
      const datasetId = String(req.params.id);
      const runtime = authorizePublish(principal, await deps.runtimes.get(datasetId), datasetId);
      const { records, lineErrors } = decodeRecords(req.body, mediaType(req), deps.maxRecordsPerRequest);
      const { valid, rejected } = validateRecords(runtime, records, new Set(lineErrors.map((e) => e.index)));
      const allRejected = [...lineErrors, ...rejected].sort((a, b) => a.index - b.index);
      const labels = { dataset: runtime.dataset.id, department: principal.department };
      const atomic = req.query.atomic === 'true';

      if (atomic && allRejected.length > 0) {
        deps.metrics.publishRecords.inc({ ...labels, outcome: 'rejected' }, records.length);
        deps.metrics.publishBatches.inc({ ...labels, outcome: 'rejected' });
        throw new GovxError(422, 'publish.rejected', `${allRejected.length} of ${records.length} records are invalid; none were published (atomic)`, {
          details: { accepted: 0, rejected: allRejected },
        });
      }

      const topic = datasetTopic(runtime.dataset.id);
      const messages = stampProvenance(valid, {
        dataset: runtime.dataset.id,
        publisher: principal.department,
        schemaId: runtime.schemaId,
        traceId: String(res.locals.requestId),
        publishedAt: new Date().toISOString(),
      });
      const started = process.hrtime.bigint();
      let offsets: Array<{ partition: number; baseOffset: string }> = [];
      try {
        const metadata = await deps.exchange.produce(topic, messages);
        offsets = metadata.map((m) => ({ partition: m.partition, baseOffset: String(m.baseOffset) }));
      } catch (err) {
        deps.metrics.publishBatches.inc({ ...labels, outcome: 'unavailable' });
        throw err;
      }
      deps.metrics.produceDuration.observe({ dataset: runtime.dataset.id }, Number(process.hrtime.bigint() - started) / 1e9);
      deps.metrics.publishRecords.inc({ ...labels, outcome: 'accepted' }, valid.length);
      if (allRejected.length) deps.metrics.publishRecords.inc({ ...labels, outcome: 'rejected' }, allRejected.length);
      deps.metrics.publishBatches.inc({ ...labels, outcome: allRejected.length === 0 ? 'ok' : valid.length ? 'partial' : 'rejected' });

      if (valid.length > 0) {
        await appendAudit(deps.pool, {
          actor: { department: principal.department, keyId: principal.keyId, role: principal.role },
          action: 'publish.batch',
          target: `dataset:${runtime.dataset.id}`,
          outcome: 'success',
          requestId: String(res.locals.requestId),
          details: { accepted: valid.length, rejected: allRejected.length, schemaId: runtime.schemaId, topic, offsets },
        }).catch((err: unknown) => deps.log.error({ err, requestId: res.locals.requestId }, 'audit append failed for an accepted batch'));
      }
      deps.log.debug({ dataset: runtime.dataset.id, accepted: valid.length, rejected: allRejected.length }, 'published');
      res.status(200).json({ accepted: valid.length, rejected: allRejected });
    },
  );
  return router;
}
