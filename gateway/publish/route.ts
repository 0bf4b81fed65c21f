import express, { type Request, type Response, Router } from 'express';
import { GovxError } from '../../lib/errors';
import { principalOf } from '../middleware/auth';
import { authorizePublisher, type PublishDeps, publishRecords } from './pipeline';
import { decodeRecords } from './stages';

export interface PublishRouteDeps extends PublishDeps {
  maxBodyBytes: number;
  maxRecordsPerRequest: number;
}

function mediaType(req: Request): string {
  return (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** POST /v1/datasets/:id/records — authenticate (upstream) → decode the body → the governed publish pipeline. */
export function publishRouter(deps: PublishRouteDeps): Router {
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
      // Authorization comes before decoding so a department learns nothing from body errors on a dataset it may not publish to.
      await authorizePublisher(deps, principal, datasetId);
      const { records, lineErrors, rawLines } = decodeRecords(req.body, mediaType(req), deps.maxRecordsPerRequest);
      const outcome = await publishRecords(deps, {
        principal,
        datasetId,
        records,
        preRejected: lineErrors,
        rawLines,
        atomic: req.query.atomic === 'true',
        requestId: String(res.locals.requestId),
      });
      res.status(200).json({ accepted: outcome.accepted, rejected: outcome.rejected });
    },
  );
  return router;
}
