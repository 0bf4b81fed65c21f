import type { NextFunction, Request, Response } from 'express';
import { GovxError, NotFoundError, PayloadTooLargeError, InputError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';

export function errorBody(err: GovxError, requestId: string): Record<string, unknown> {
  return {
    error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) },
    requestId,
  };
}

/** body-parser and friends throw errors with a `type` or `status`; they become govx errors with stable codes. */
function normalize(err: unknown): GovxError | null {
  if (err instanceof GovxError) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
  switch (e?.type) {
    case 'entity.too.large':
      return new PayloadTooLargeError(`request body is larger than the limit of ${(e as { limit?: number }).limit ?? '?'} bytes`);
    case 'entity.parse.failed':
      return new InputError('request.malformed_json', `request body is not valid JSON: ${e.message ?? ''}`.trim());
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new GovxError(415, 'request.unsupported_encoding', e.message ?? 'unsupported encoding');
    case 'request.aborted':
      return new InputError('request.aborted', 'the client aborted the request');
    default:
      break;
  }
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new GovxError(status, 'request.invalid', e.message ?? 'invalid request');
  }
  return null;
}

export function notFoundRoute(req: Request, _res: Response, next: NextFunction): void {
  next(new NotFoundError('route.not_found', `no route for ${req.method} ${req.path}`));
}

export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const requestId = String(res.locals.requestId ?? '');
    let govx = normalize(err);
    if (!govx) {
      log.error({ err, requestId, method: req.method, path: req.path }, 'unhandled error');
      govx = new GovxError(500, 'internal', 'an internal error occurred; it has been logged with this request id');
    } else if (govx.status >= 500) {
      log.warn({ code: govx.code, requestId, path: req.path, msg: govx.message }, 'request failed');
    }
    res.locals.errorCode = govx.code;
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(govx.headers ?? {})) res.setHeader(k, v);
    res.status(govx.status).json(errorBody(govx, requestId));
  };
}
