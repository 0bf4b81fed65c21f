import { type Request, type Response, Router } from 'express';
import type { DatasetInput } from '../catalog/catalogFile';
import { createDataset, patchDataset, registerDatasetSchema, type Actor } from '../catalog/datasetService';
import { datasetHistory, etagOf, getDataset, listDatasets } from '../catalog/datasets';
import type { Principal } from '../catalog/keys';
import { getSubjectVersion, listVersions } from '../catalog/registry/store';
import { subjectVisibleTo } from '../catalog/registry/visibility';
import type { Pool } from '../lib/db';
import { ForbiddenError, GovxError, InputError, NotFoundError } from '../lib/errors';
import type { DatasetRuntimes } from '../publish/datasetRuntime';
import { principalOf } from './middleware/auth';
import { jsonBody } from './middleware/textHygiene';
import { markDenied } from './middleware/denials';

function intParam(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max) {
    throw new InputError('request.invalid_query', `query parameter ${name} must be a whole number between ${min} and ${max}`);
  }
  return n;
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 200) throw new InputError('request.invalid_query', `query parameter ${name} must be one short string`);
  return value;
}

function objectBody(req: Request): Record<string, unknown> {
  const body = req.body as unknown;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InputError('request.invalid_body', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

export const actorOf = (p: Principal): Actor => ({ department: p.department, keyId: p.keyId, role: p.role });

/** `If-Match: "v3"` → 3. Without the header, 428; with one that names another version, the caller is stale (412). */
function expectedVersion(req: Request): number {
  const header = req.get('if-match');
  if (!header) throw new GovxError(428, 'catalog.precondition_required', 'send If-Match with the ETag of the dataset you edited (GET it first)');
  const m = /^(?:W\/)?"v(\d{1,9})"$/.exec(header.trim());
  if (!m) throw new GovxError(412, 'catalog.stale_etag', `If-Match ${header} does not match the dataset's current ETag`);
  return Number(m[1]);
}

export interface CatalogRouteDeps {
  pool: Pool;
  runtimes: DatasetRuntimes;
  maxBodyBytes: number;
}

/** The catalog: any valid key reads its public metadata; admins edit it; owners' stewards register schemas. */
export function catalogRouter(deps: CatalogRouteDeps): Router {
  const router = Router();
  const json = jsonBody({ limit: Math.min(deps.maxBodyBytes, 4 * 1024 * 1024) });
  /** Refused, and counted for the aggregate audit of denials (access.denied). */
  const denied = async (res: Response, action: string, target: string, message: string): Promise<never> => {
    markDenied(res, action, target);
    throw new ForbiddenError(message);
  };

  router.get('/v1/datasets', async (req, res) => {
    const limit = intParam(req.query.limit, 'limit', 50, 1, 500);
    const offset = intParam(req.query.offset, 'offset', 0, 0, 1_000_000);
    const result = await listDatasets(deps.pool, {
      category: optionalString(req.query.category, 'category'),
      owner: optionalString(req.query.owner, 'owner'),
      sharingType: optionalString(req.query.sharingType, 'sharingType'),
      status: optionalString(req.query.status, 'status'),
      q: optionalString(req.query.q, 'q'),
      limit,
      offset,
    });
    res.json({ items: result.items, total: result.total, limit, offset });
  });

  router.post('/v1/datasets', json, async (req, res) => {
    const principal = principalOf(res);
    const body = objectBody(req);
    if (principal.role !== 'admin') await denied(res, 'catalog.dataset.create', `dataset:${String(body.id)}`, 'only administrators create datasets');
    const created = await createDataset(deps.pool, body as unknown as DatasetInput & { schema: unknown }, actorOf(principal), String(res.locals.requestId));
    res.status(201).setHeader('ETag', etagOf(created)).setHeader('Location', `/v1/datasets/${created.id}`).json(created);
  });

  router.get('/v1/datasets/:id', async (req, res) => {
    const dataset = await getDataset(deps.pool, String(req.params.id));
    if (!dataset) throw new NotFoundError('dataset.not_found', `no dataset "${req.params.id}" in the catalog`);
    res.setHeader('ETag', etagOf(dataset));
    res.json(dataset);
  });

  router.patch('/v1/datasets/:id', jsonBody({ limit: 1024 * 1024, type: ['application/json', 'application/merge-patch+json'] }), async (req, res) => {
    const principal = principalOf(res);
    const id = String(req.params.id);
    if (principal.role !== 'admin') await denied(res, 'catalog.dataset.update', `dataset:${id}`, 'only administrators edit the catalog');
    const version = expectedVersion(req);
    const updated = await patchDataset(deps.pool, id, objectBody(req), version, actorOf(principal), String(res.locals.requestId));
    deps.runtimes.invalidate(id);
    res.setHeader('ETag', etagOf(updated));
    res.json(updated);
  });

  router.get('/v1/datasets/:id/history', async (req, res) => {
    const id = String(req.params.id);
    if (!(await getDataset(deps.pool, id))) throw new NotFoundError('dataset.not_found', `no dataset "${id}" in the catalog`);
    res.json({ items: await datasetHistory(deps.pool, id) });
  });

  /** Schema versions of a dataset, for those who may read its registry subject (its department, administrators). */
  router.get('/v1/datasets/:id/schemas', async (req, res) => {
    const id = String(req.params.id);
    const dataset = await getDataset(deps.pool, id);
    const notFound = new NotFoundError('schema.not_found', `no schema versions of "${id.slice(0, 100)}" that this key may read`);
    if (!dataset || !(await subjectVisibleTo(deps.pool, principalOf(res), dataset.schemaSubject))) throw notFound;
    const items = [];
    for (const version of await listVersions(deps.pool, dataset.schemaSubject)) {
      const v = await getSubjectVersion(deps.pool, dataset.schemaSubject, version);
      if (v) items.push({ version: v.version, id: v.id, schema: JSON.parse(v.schema) as unknown });
    }
    res.json({ subject: dataset.schemaSubject, items: items.reverse() });
  });

  router.post('/v1/datasets/:id/schemas', json, async (req, res) => {
    const principal = principalOf(res);
    const id = String(req.params.id);
    const dataset = await getDataset(deps.pool, id);
    if (!dataset) throw new NotFoundError('dataset.not_found', `no dataset "${id}" in the catalog`);
    const mayRegister = principal.role === 'admin' || (principal.role === 'steward' && principal.department === dataset.owner);
    if (!mayRegister) await denied(res, 'registry.schema.register', `dataset:${id}`, `only administrators and stewards of ${dataset.owner} register schemas of ${id}`);
    const body = objectBody(req);
    const result = await registerDatasetSchema(deps.pool, dataset, body as { schema?: unknown }, actorOf(principal), String(res.locals.requestId));
    deps.runtimes.invalidate(id);
    res.status(result.created ? 201 : 200).json(result);
  });

  return router;
}

