import fs from 'node:fs';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import YAML from 'yaml';
import { GovxError, InputError, NotFoundError } from '../lib/errors';
import { projectPath } from '../lib/paths';
import { renderDocsPage } from './docs';
import { jsonBody } from './middleware/textHygiene';

/** `gateway/openapi.yaml`: the source of truth of the HTTP API, read once. */
export interface OpenApiDocument {
  text: string;
  spec: Record<string, unknown>;
}

export function loadOpenApiDocument(file = projectPath('gateway', 'openapi.yaml')): OpenApiDocument {
  const text = fs.readFileSync(file, 'utf8');
  return { text, spec: YAML.parse(text) as Record<string, unknown> };
}

/** GET /v1/openapi.yaml and GET /docs (a page rendered here from the spec: the machine may have no internet). */
export function openApiRouter(doc: OpenApiDocument): Router {
  const router = Router();
  const page = renderDocsPage(doc.spec);
  router.get('/v1/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(doc.text);
  });
  router.get('/docs', (_req, res) => {
    res.type('text/html').send(page);
  });
  return router;
}

/** Deepest object/array nesting of a parsed value, measured without recursion; stops counting past `limit`. */
function depthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

interface ValidatorError {
  status: number;
  message?: string;
  errors: Array<{ path?: string; message?: string }>;
}

const isValidatorError = (err: unknown): err is ValidatorError =>
  typeof (err as ValidatorError)?.status === 'number' && Array.isArray((err as ValidatorError).errors);

/** `/query/limit` → `query.limit`; `/body/title/en` → `body.title.en`. */
const dottedPath = (path = ''): string => path.replace(/^\//, '').replace(/\//g, '.');

/** express-openapi-validator's errors in govx's shape, with stable codes and each problem's path. */
export function toGovxError(err: ValidatorError, req: Request): GovxError {
  const details = err.errors.map((e) => ({ path: dottedPath(e.path), message: e.message ?? 'is invalid' }));
  const summary = details.map((d) => `${d.path} ${d.message}`).join('; ');
  switch (err.status) {
    case 400: {
      const inQuery = details.length > 0 && details.every((d) => d.path.startsWith('query.'));
      return new InputError(inQuery ? 'request.invalid_query' : 'request.invalid', `the request does not match the API: ${summary}`, details);
    }
    case 404:
      return new NotFoundError('route.not_found', `no route for ${req.method} ${req.path}`);
    case 405:
      return new GovxError(405, 'route.method_not_allowed', `${req.method} is not allowed on ${req.path}`);
    case 415:
      return new GovxError(415, 'request.unsupported_media_type', `unsupported media type ${req.get('content-type') ?? '(none)'}`);
    default:
      return new GovxError(err.status >= 400 && err.status < 500 ? err.status : 400, 'request.invalid', summary || err.message || 'invalid request', { details });
  }
}

/**
 * Validates `/v1` requests against the spec before any handler runs: JSON bodies are parsed (depth-limited)
 * first, and the result is mapped to govx errors. Mounted after authentication, so 401 comes first.
 * Undocumented routes pass through untouched (routers other engineers add until they extend the spec).
 */
export function requestValidation(doc: OpenApiDocument, opts: { maxBodyBytes: number; maxJsonDepth: number }): express.RequestHandler[] {
  const json = jsonBody({ limit: opts.maxBodyBytes, type: ['application/json', 'application/merge-patch+json'] });
  const depth = (req: Request, _res: Response, next: NextFunction): void => {
    if (req.body !== undefined && depthExceeds(req.body, opts.maxJsonDepth)) {
      next(new InputError('request.too_deep', `JSON nesting is deeper than the limit of ${opts.maxJsonDepth}`));
      return;
    }
    next();
  };
  const validator = OpenApiValidator.middleware({
    apiSpec: structuredClone(doc.spec) as never,
    validateRequests: { allowUnknownQueryParameters: false },
    validateResponses: false,
    validateSecurity: false,
    validateFormats: true,
    ignoreUndocumented: true,
    ignorePaths: (path: string) => !path.startsWith('/v1/') || path === '/v1/openapi.yaml',
  });
  const mapErrors = (err: unknown, req: Request, _res: Response, next: NextFunction): void => {
    next(isValidatorError(err) && !(err instanceof GovxError) ? toGovxError(err, req) : err);
  };
  // The validator coerces query values and fills defaults into req.query; handlers parse the strings themselves.
  const keepRawQuery = (req: Request, res: Response, next: NextFunction): void => {
    res.locals.rawQuery = req.query;
    next();
  };
  const restoreRawQuery = (req: Request, res: Response, next: NextFunction): void => {
    if (res.locals.rawQuery !== undefined) {
      const own = Object.getOwnPropertyDescriptor(req, 'query');
      if (own?.writable) (req as { query: unknown }).query = res.locals.rawQuery;
      else if (!own || own.configurable) Object.defineProperty(req, 'query', { value: res.locals.rawQuery, writable: true, configurable: true, enumerable: true });
    }
    next();
  };
  const onV1 = (handler: express.RequestHandler): express.RequestHandler => (req, res, next) => {
    if (req.path.startsWith('/v1/')) handler(req, res, next);
    else next();
  };
  return [
    onV1(json),
    onV1(depth),
    onV1(keepRawQuery),
    ...(validator as express.RequestHandler[]),
    mapErrors as unknown as express.RequestHandler,
    onV1(restoreRawQuery),
  ];
}
