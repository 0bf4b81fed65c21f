import type { NextFunction, Request, Response } from 'express';
import { GovxError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';

/**
 * The schema registry answers in Confluent's error shape, `{"error_code": N, "message": "..."}`, because
 * Confluent clients parse `error_code`. Codes follow Confluent's `Errors.java`; an HTTP failure that has no
 * registry-specific code (bad JSON, unknown route, wrong media type) carries its HTTP status as the code,
 * as Confluent's own REST layer does.
 */

export const REGISTRY_MEDIA_TYPE = 'application/vnd.schemaregistry.v1+json';

export class RegistryError extends GovxError {
  constructor(
    status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(status, `registry.${errorCode}`, message);
  }
}

export const registryErrors = {
  unauthorized: (message = 'Unauthorized: a valid API key is required (HTTP Basic: department id and key)') => new RegistryError(401, 40101, message),
  forbidden: (subject: string | null) =>
    new RegistryError(403, 40301, subject === null ? 'Forbidden: this key may not change the global configuration' : `Forbidden: this key may not change subject '${subject}'`),
  subjectNotFound: (subject: string) => new RegistryError(404, 40401, `Subject '${subject}' not found.`),
  versionNotFound: (version: number | string) => new RegistryError(404, 40402, `Version ${version} not found.`),
  schemaNotFound: (id?: number | string) => new RegistryError(404, 40403, id === undefined ? 'Schema not found' : `Schema ${id} not found`),
  subjectSoftDeleted: (subject: string) =>
    new RegistryError(404, 40404, `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`),
  subjectNotSoftDeleted: (subject: string) =>
    new RegistryError(404, 40405, `Subject '${subject}' was not deleted first before being permanently deleted`),
  versionSoftDeleted: (subject: string, version: number) =>
    new RegistryError(404, 40406, `Subject '${subject}' Version ${version} was soft deleted. Set permanent=true to delete permanently`),
  versionNotSoftDeleted: (subject: string, version: number) =>
    new RegistryError(404, 40407, `Subject '${subject}' Version ${version} was not deleted first before being permanently deleted`),
  subjectConfigNotSet: (subject: string) =>
    new RegistryError(404, 40408, `Subject '${subject}' does not have subject-level compatibility configured`),
  incompatible: (message: string) => new RegistryError(409, 409, message),
  invalidSchema: (message: string) => new RegistryError(422, 42201, message),
  invalidVersion: (version: string) =>
    new RegistryError(
      422,
      42202,
      `The specified version '${version.slice(0, 40)}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    ),
  invalidCompatibility: (message: string) => new RegistryError(422, 42203, message),
  invalidSubject: (message: string) => new RegistryError(422, 42208, message),
  schemaTooLarge: (message: string) => new RegistryError(422, 42209, message),
};

export interface ConfluentError {
  status: number;
  body: { error_code: number; message: string };
  headers: Record<string, string>;
}

/** body-parser errors carry a `type`; everything else a govx error or an unexpected failure. */
export function confluentErrorOf(err: unknown, requestId: string): ConfluentError | null {
  const plain = (status: number, errorCode: number, message: string, headers: Record<string, string> = {}): ConfluentError => ({
    status,
    body: { error_code: errorCode, message },
    headers,
  });
  if (err instanceof RegistryError) {
    const headers: Record<string, string> = err.status === 401 ? { 'WWW-Authenticate': 'Basic realm="govx-registry"' } : {};
    return plain(err.status, err.errorCode, err.message, headers);
  }
  if (err instanceof GovxError) {
    if (err.status === 401) {
      const invalid = err.code === 'auth.invalid_key';
      return confluentErrorOf(registryErrors.unauthorized(invalid ? 'Unauthorized: the credentials are not valid' : undefined), requestId);
    }
    if (err.status === 403) return plain(403, 40301, `Forbidden: ${err.message}`);
    if (err.status < 500) return plain(err.status, err.status, err.message, err.headers ?? {});
    return null;
  }
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string; limit?: number };
  switch (e?.type) {
    case 'entity.too.large':
      return plain(413, 413, `The request body is larger than the limit of ${e.limit ?? '?'} bytes`);
    case 'entity.parse.failed':
      return plain(400, 400, `The request body is not valid JSON: ${e.message ?? ''}`.trim());
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return plain(415, 415, e.message ?? 'Unsupported encoding');
    case 'request.aborted':
      return plain(400, 400, 'The client aborted the request');
    default:
      break;
  }
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return plain(status, status, e.message ?? `HTTP ${status}`);
  return null;
}

/** Sent as bytes, so express does not append `; charset=utf-8` to Confluent's media type. */
export function sendRegistry(res: Response, status: number, body: unknown): void {
  res.status(status).setHeader('Content-Type', REGISTRY_MEDIA_TYPE);
  res.send(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8'));
}

export function registryNotFoundRoute(req: Request, _res: Response, next: NextFunction): void {
  next(new RegistryError(404, 404, `HTTP 404 Not Found: no registry route for ${req.method} ${req.path}`));
}

export function registryErrorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const requestId = String(res.locals.requestId ?? '');
    if (err instanceof GovxError) res.locals.errorCode = err.code;
    let rendered = confluentErrorOf(err, requestId);
    if (!rendered) {
      log.error({ err, requestId, method: req.method, path: req.path }, 'registry request failed');
      rendered = {
        status: 500,
        body: { error_code: 50001, message: `Error in the backend datastore; it has been logged with request id ${requestId}` },
        headers: {},
      };
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(rendered.headers)) res.setHeader(k, v);
    sendRegistry(res, rendered.status, rendered.body);
  };
}
