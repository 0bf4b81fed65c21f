/**
 * One error family for govx. Every error a caller can see carries a stable `code`; the HTTP status
 * follows from the class. Handlers throw these; one middleware turns them into the shared error shape
 * `{"error":{"code","message","details"?},"requestId"}`.
 */
export class GovxError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    opts: { details?: unknown; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = opts.details;
    this.headers = opts.headers;
  }
}

export class InputError extends GovxError {
  constructor(code: string, message: string, details?: unknown) {
    super(400, code, message, { details });
  }
}

export class UnauthenticatedError extends GovxError {
  constructor(message = 'a valid API key is required (Authorization: Bearer <key>)', code = 'auth.unauthenticated') {
    super(401, code, message, { headers: { 'WWW-Authenticate': 'Bearer realm="govx"' } });
  }
}

export class ForbiddenError extends GovxError {
  constructor(message: string, code = 'auth.forbidden') {
    super(403, code, message);
  }
}

export class NotFoundError extends GovxError {
  constructor(code: string, message: string) {
    super(404, code, message);
  }
}

export class ConflictError extends GovxError {
  constructor(code: string, message: string, details?: unknown) {
    super(409, code, message, { details });
  }
}

export class PayloadTooLargeError extends GovxError {
  constructor(message: string) {
    super(413, 'request.too_large', message);
  }
}

export class UnavailableError extends GovxError {
  constructor(code: string, message: string, retryAfterSeconds: number, cause?: unknown) {
    super(503, code, message, { cause, headers: { 'Retry-After': String(retryAfterSeconds) } });
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
