import { type NextFunction, type Request, type Response, Router } from 'express';
import { appendAudit } from '../catalog/audit';
import { type Actor, datasetOfSubject, registerSubjectSchema } from '../catalog/datasetService';
import type { Dataset } from '../catalog/datasets';
import { MAX_SCHEMA_BYTES, parseAvroSchema } from '../catalog/registry/canonical';
import { type CompatibilityLevel, compatibilityLevels, isCompatibilityLevel } from '../catalog/registry/compatibility';
import {
  deleteCompatibility,
  deleteSubject,
  deleteSubjectVersion,
  getCompatibility,
  getSchemaById,
  getSubjectVersion,
  listSubjects,
  listVersions,
  lookupSchema,
  setCompatibility,
  subjectsOfSchema,
  testCompatibility,
  versionStates,
} from '../catalog/registry/store';
import type { Pool } from '../lib/db';
import { ConflictError, GovxError, InputError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { type KeyAuthenticator, authenticate, principalOf } from './middleware/auth';
import { RegistryError, registryErrorHandler, registryErrors, registryNotFoundRoute, sendRegistry } from './middleware/confluentErrors';
import type { DatasetRuntimes } from '../publish/datasetRuntime';
import { filterVisibleSubjects, schemaVisibleTo, subjectVisibleTo } from '../catalog/registry/visibility';
import { checkRequestText, INVALID_TEXT, jsonBody } from './middleware/textHygiene';
import { markDenied } from './middleware/denials';

/**
 * The schema registry over HTTP, speaking the Confluent Schema Registry REST API (paths, media type, error
 * codes) so Confluent serializers and clients work against `/registry` unchanged. Any valid key reads;
 * admins write any subject, a dataset owner's stewards write their datasets' subjects. A dataset's subject
 * is registered through the catalog (`registerSubjectSchema`), exactly as `POST /v1/datasets/{id}/schemas`.
 */

export interface RegistryRouteDeps {
  pool: Pool;
  keys: KeyAuthenticator;
  runtimes: DatasetRuntimes;
  log: Logger;
}

/** The media types Confluent's resources consume; a request without a Content-Type is read as JSON too. */
const ACCEPTED_MEDIA_TYPES = [
  'application/vnd.schemaregistry.v1+json',
  'application/vnd.schemaregistry+json',
  'application/json',
  'application/octet-stream',
];
/** A schema of MAX_SCHEMA_BYTES may double when escaped into the request's JSON string. */
const MAX_BODY_BYTES = 2 * MAX_SCHEMA_BYTES + 64 * 1024;
const MAX_SUBJECT_LENGTH = 255;
const MAX_VERSION = 2 ** 31 - 1;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const actorOf = (res: Response): Actor => {
  const p = principalOf(res);
  return { department: p.department, keyId: p.keyId, role: p.role };
};
const requestIdOf = (res: Response): string => String(res.locals.requestId);

function subjectParam(req: Request): string {
  const subject = String(req.params.subject);
  if (subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
    throw registryErrors.invalidSubject(`Invalid subject: a subject name has 1 to ${MAX_SUBJECT_LENGTH} characters`);
  }
  if (CONTROL_CHARS.test(subject) || LONE_SURROGATE.test(subject)) {
    throw registryErrors.invalidSubject('Invalid subject: a subject name may not contain control characters or unpaired surrogates');
  }
  return subject;
}

/** A version in a path: 1..2^31-1, or `latest` (also spelled -1, as Confluent allows). */
function versionParam(req: Request): number | 'latest' {
  const raw = String(req.params.version);
  if (raw === 'latest' || raw === '-1') return 'latest';
  if (!/^\d{1,10}$/.test(raw)) throw registryErrors.invalidVersion(raw);
  const n = Number(raw);
  if (n < 1 || n > MAX_VERSION) throw registryErrors.invalidVersion(raw);
  return n;
}

function schemaIdParam(req: Request): number {
  const raw = String(req.params.id);
  const n = Number(raw);
  if (!/^\d{1,10}$/.test(raw) || n < 1 || n > MAX_VERSION) throw registryErrors.schemaNotFound(raw.slice(0, 40));
  return n;
}

/** Confluent reads boolean query flags with Boolean.parseBoolean: only "true" (any case) is true. */
function flag(req: Request, name: string): boolean {
  const value = req.query[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first.toLowerCase() === 'true';
}

function bodyObject(req: Request): Record<string, unknown> {
  const body = req.body as unknown;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RegistryError(400, 400, 'The request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/**
 * `{"schema": "...", "schemaType"?: "AVRO", "references"?: []}`: the schema's text, checked to be a valid
 * Avro schema within the size and depth bounds. Other members (metadata, ruleSet, normalize) are ignored.
 */
function schemaOfBody(req: Request): string {
  const body = bodyObject(req);
  const { schema, schemaType, references } = body;
  if (typeof schema !== 'string' || schema.trim() === '') {
    throw registryErrors.invalidSchema('Invalid schema: the body needs "schema", the Avro schema as a JSON string');
  }
  if (schemaType !== undefined && schemaType !== null && schemaType !== 'AVRO') {
    throw registryErrors.invalidSchema(`Invalid schema: schemaType ${JSON.stringify(schemaType).slice(0, 40)} is not supported; this registry holds AVRO schemas`);
  }
  if (references !== undefined && references !== null && !(Array.isArray(references) && references.length === 0)) {
    throw registryErrors.invalidSchema('Invalid schema: schema references are not supported; inline the referenced types');
  }
  if (Buffer.byteLength(schema, 'utf8') > MAX_SCHEMA_BYTES) {
    throw registryErrors.schemaTooLarge(`Schema too large: the limit is ${MAX_SCHEMA_BYTES} bytes`);
  }
  try {
    parseAvroSchema(schema);
  } catch (err) {
    throw registryErrors.invalidSchema(`Invalid schema: ${(err as Error).message}`);
  }
  return schema;
}

function compatibilityOfBody(req: Request): CompatibilityLevel {
  const { compatibility } = bodyObject(req);
  const level = typeof compatibility === 'string' ? compatibility.toUpperCase() : compatibility;
  if (!isCompatibilityLevel(level)) {
    throw registryErrors.invalidCompatibility(`Invalid compatibility level. Valid values are ${compatibilityLevels.join(', ')}`);
  }
  return level;
}

/** Reads JSON bodies of the media types Confluent consumes (and of none), refusing any other with 415. */
function registryBody() {
  const parse = jsonBody({ limit: MAX_BODY_BYTES, type: () => true });
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.get('content-type');
    const mediaType = header?.split(';')[0]!.trim().toLowerCase();
    if (mediaType && !ACCEPTED_MEDIA_TYPES.includes(mediaType)) {
      next(new RegistryError(415, 415, `Unsupported media type ${mediaType.slice(0, 80)}; send ${ACCEPTED_MEDIA_TYPES[0]}`));
      return;
    }
    parse(req, res, next);
  };
}

export function registryRouter(deps: RegistryRouteDeps): Router {
  const { pool } = deps;
  const router = Router();
  const body = registryBody();

  /** The dataset behind a subject, so a change to it reaches the publish path without waiting for the cache. */
  const touched = (dataset: Dataset | null): void => {
    if (dataset) deps.runtimes.invalidate(dataset.id);
  };

  /**
   * Admins may change any subject and the global config; stewards the subjects of their department's
   * datasets. Everyone else gets the same 40301 whether or not the subject exists. Denials are audited in
   * aggregate (access.denied).
   */
  async function requireWrite(res: Response, subject: string | null, action: string): Promise<Dataset | null> {
    const principal = principalOf(res);
    const dataset = subject === null ? null : await datasetOfSubject(pool, subject);
    const allowed = principal.role === 'admin' || (principal.role === 'steward' && dataset !== null && dataset.owner === principal.department);
    if (!allowed) {
      markDenied(res, action, targetOf(subject, dataset));
      throw registryErrors.forbidden(subject);
    }
    return dataset;
  }

  const targetOf = (subject: string | null, dataset: Dataset | null): string =>
    dataset ? `dataset:${dataset.id}` : subject === null ? 'registry:config' : `subject:${subject}`;

  async function audit(res: Response, action: string, subject: string | null, dataset: Dataset | null, details: Record<string, unknown>): Promise<void> {
    await appendAudit(pool, {
      actor: actorOf(res), action, target: targetOf(subject, dataset), outcome: 'success', requestId: requestIdOf(res),
      details: { subject, ...details },
    });
  }

  /** 40401 when the subject may not be read by this key, as for one that does not exist. */
  async function requireVisible(res: Response, subject: string): Promise<void> {
    if (!(await subjectVisibleTo(pool, principalOf(res), subject))) throw registryErrors.subjectNotFound(subject);
  }

  /** 40401 when the subject is not visible or has no versions at all (live or soft-deleted, as `deleted` says). */
  async function requireSubject(res: Response, subject: string, includeDeleted = false): Promise<number[]> {
    await requireVisible(res, subject);
    const versions = await listVersions(pool, subject, includeDeleted);
    if (versions.length === 0) throw registryErrors.subjectNotFound(subject);
    return versions;
  }

  // Bad text in the path is in a subject name (ids and versions are numbers): Confluent's "invalid subject".
  router.use((req, res, next) =>
    checkRequestText(req, res, (err?: unknown) =>
      next(err instanceof GovxError && err.code === INVALID_TEXT && /^(path|url)/.test((err.details as Array<{ path: string }>)[0]?.path ?? '')
        ? registryErrors.invalidSubject(`Invalid subject: ${err.message}`)
        : err),
    ),
  );
  router.use(authenticate(deps.keys));

  router.get('/', (_req, res) => sendRegistry(res, 200, {}));
  router.get('/schemas/types', (_req, res) => sendRegistry(res, 200, ['AVRO']));
  router.get('/mode', (_req, res) => sendRegistry(res, 200, { mode: 'READWRITE' }));

  router.get('/subjects', async (req, res) => {
    const prefix = typeof req.query.subjectPrefix === 'string' ? req.query.subjectPrefix : '';
    const subjects = await filterVisibleSubjects(pool, principalOf(res), await listSubjects(pool, flag(req, 'deleted')));
    sendRegistry(res, 200, prefix ? subjects.filter((s) => s.startsWith(prefix)) : subjects);
  });

  router.get('/subjects/:subject/versions', async (req, res) => {
    sendRegistry(res, 200, await requireSubject(res, subjectParam(req), flag(req, 'deleted')));
  });

  async function findVersion(req: Request, res: Response) {
    const subject = subjectParam(req);
    const version = versionParam(req);
    await requireVisible(res, subject);
    const found = await getSubjectVersion(pool, subject, version, flag(req, 'deleted'));
    if (found) return found;
    await requireSubject(res, subject, flag(req, 'deleted'));
    throw registryErrors.versionNotFound(version);
  }

  router.get('/subjects/:subject/versions/:version', async (req, res) => {
    const found = await findVersion(req, res);
    sendRegistry(res, 200, { subject: found.subject, version: found.version, id: found.id, schema: found.schema });
  });

  router.get('/subjects/:subject/versions/:version/schema', async (req, res) => {
    sendRegistry(res, 200, (await findVersion(req, res)).schema);
  });

  // Schema references are not supported, so no version is ever referenced by another.
  router.get('/subjects/:subject/versions/:version/referencedby', async (req, res) => {
    await findVersion(req, res);
    sendRegistry(res, 200, []);
  });

  router.post('/subjects/:subject/versions', body, async (req, res) => {
    const subject = subjectParam(req);
    const dataset = await requireWrite(res, subject, 'registry.schema.register');
    let registration;
    try {
      registration = await registerSubjectSchema(pool, subject, schemaOfBody(req), actorOf(res), requestIdOf(res));
    } catch (err) {
      // Incompatible schemas are audited where they are detected; refused input is audited here.
      if (err instanceof ConflictError && err.code === 'schema.incompatible') {
        throw registryErrors.incompatible(`Schema being registered is incompatible with an earlier schema for subject "${subject}": ${err.message}`);
      }
      const refused = err instanceof RegistryError ? err : err instanceof InputError ? registryErrors.invalidSchema(`Invalid schema: ${err.message}`) : null;
      if (!refused) throw err;
      await appendAudit(pool, {
        actor: actorOf(res), action: 'registry.schema.register', target: targetOf(subject, dataset), outcome: 'failure', requestId: requestIdOf(res),
        details: { subject, reason: refused.code, message: refused.message.slice(0, 300) },
      });
      throw refused;
    }
    if (registration.created) touched(dataset);
    sendRegistry(res, 200, { id: registration.id });
  });

  router.post('/subjects/:subject', body, async (req, res) => {
    const subject = subjectParam(req);
    const schema = schemaOfBody(req);
    await requireSubject(res, subject);
    const found = await lookupSchema(pool, subject, schema);
    if (!found) throw registryErrors.schemaNotFound();
    sendRegistry(res, 200, { subject: found.subject, id: found.id, version: found.version, schema: found.schema });
  });

  router.delete('/subjects/:subject', async (req, res) => {
    const subject = subjectParam(req);
    const permanent = flag(req, 'permanent');
    const dataset = await requireWrite(res, subject, 'registry.subject.delete');
    const states = await versionStates(pool, subject);
    if (states.length === 0) throw registryErrors.subjectNotFound(subject);
    const live = states.some((s) => !s.deleted);
    if (!permanent && !live) throw registryErrors.subjectSoftDeleted(subject);
    if (permanent && live) throw registryErrors.subjectNotSoftDeleted(subject);
    const versions = await deleteSubject(pool, subject, permanent);
    if (permanent) await deleteCompatibility(pool, subject);
    await audit(res, 'registry.subject.delete', subject, dataset, { permanent, versions });
    touched(dataset);
    sendRegistry(res, 200, versions);
  });

  router.delete('/subjects/:subject/versions/:version', async (req, res) => {
    const subject = subjectParam(req);
    const requested = versionParam(req);
    const permanent = flag(req, 'permanent');
    const dataset = await requireWrite(res, subject, 'registry.version.delete');
    const states = await versionStates(pool, subject);
    if (states.length === 0) throw registryErrors.subjectNotFound(subject);
    const state = requested === 'latest' ? states.filter((s) => !s.deleted).pop() : states.find((s) => s.version === requested);
    if (!state) throw registryErrors.versionNotFound(requested);
    if (!permanent && state.deleted) throw registryErrors.versionSoftDeleted(subject, state.version);
    if (permanent && !state.deleted) throw registryErrors.versionNotSoftDeleted(subject, state.version);
    if (!(await deleteSubjectVersion(pool, subject, state.version, permanent))) throw registryErrors.versionNotFound(state.version);
    await audit(res, 'registry.version.delete', subject, dataset, { permanent, version: state.version });
    touched(dataset);
    sendRegistry(res, 200, state.version);
  });

  async function requireSchema(req: Request, res: Response): Promise<{ id: number; schema: string }> {
    const id = schemaIdParam(req);
    const found = await getSchemaById(pool, id);
    if (!found || !(await schemaVisibleTo(pool, principalOf(res), id))) throw registryErrors.schemaNotFound(id);
    return found;
  }

  router.get('/schemas/ids/:id', async (req, res) => {
    sendRegistry(res, 200, { schema: (await requireSchema(req, res)).schema });
  });

  router.get('/schemas/ids/:id/schema', async (req, res) => {
    sendRegistry(res, 200, (await requireSchema(req, res)).schema);
  });

  router.get('/schemas/ids/:id/subjects', async (req, res) => {
    const { id } = await requireSchema(req, res);
    const versions = await subjectsOfSchema(pool, id);
    const visible = new Set(await filterVisibleSubjects(pool, principalOf(res), [...new Set(versions.map((v) => v.subject))]));
    sendRegistry(res, 200, [...visible]);
  });

  router.get('/schemas/ids/:id/versions', async (req, res) => {
    const { id } = await requireSchema(req, res);
    const versions = await subjectsOfSchema(pool, id);
    const visible = new Set(await filterVisibleSubjects(pool, principalOf(res), [...new Set(versions.map((v) => v.subject))]));
    sendRegistry(res, 200, versions.filter((v) => visible.has(v.subject)));
  });

  async function compatibilityAnswer(req: Request, res: Response, against: number | 'latest' | 'all'): Promise<void> {
    const subject = subjectParam(req);
    const schema = schemaOfBody(req);
    await requireVisible(res, subject);
    if (typeof against === 'number' && !(await getSubjectVersion(pool, subject, against))) {
      await requireSubject(res, subject);
      throw registryErrors.versionNotFound(against);
    }
    const verdict = await testCompatibility(pool, subject, schema, against);
    sendRegistry(res, 200, flag(req, 'verbose') ? { is_compatible: verdict.compatible, messages: verdict.messages } : { is_compatible: verdict.compatible });
  }

  router.post('/compatibility/subjects/:subject/versions/:version', body, async (req, res) => {
    await compatibilityAnswer(req, res, versionParam(req));
  });

  router.post('/compatibility/subjects/:subject/versions', body, async (req, res) => {
    await compatibilityAnswer(req, res, 'all');
  });

  const globalLevel = async (): Promise<CompatibilityLevel> => (await getCompatibility(pool, null)) ?? 'BACKWARD';

  router.get('/config', async (_req, res) => {
    sendRegistry(res, 200, { compatibilityLevel: await globalLevel() });
  });

  router.put('/config', body, async (req, res) => {
    await requireWrite(res, null, 'registry.config.update');
    const level = compatibilityOfBody(req);
    await setCompatibility(pool, null, level);
    await audit(res, 'registry.config.update', null, null, { compatibility: level });
    sendRegistry(res, 200, { compatibility: level });
  });

  router.delete('/config', async (_req, res) => {
    await requireWrite(res, null, 'registry.config.delete');
    const previous = await globalLevel();
    await setCompatibility(pool, null, 'BACKWARD');
    await audit(res, 'registry.config.delete', null, null, { previous });
    sendRegistry(res, 200, { compatibilityLevel: previous });
  });

  router.get('/config/:subject', async (req, res) => {
    const subject = subjectParam(req);
    // A subject this key may not read answers as one without a subject-level setting.
    const level = (await subjectVisibleTo(pool, principalOf(res), subject)) ? await getCompatibility(pool, subject) : null;
    if (level) return sendRegistry(res, 200, { compatibilityLevel: level });
    if (flag(req, 'defaultToGlobal')) return sendRegistry(res, 200, { compatibilityLevel: await globalLevel() });
    throw registryErrors.subjectConfigNotSet(subject);
  });

  router.put('/config/:subject', body, async (req, res) => {
    const subject = subjectParam(req);
    const dataset = await requireWrite(res, subject, 'registry.config.update');
    const level = compatibilityOfBody(req);
    await setCompatibility(pool, subject, level);
    await audit(res, 'registry.config.update', subject, dataset, { compatibility: level });
    sendRegistry(res, 200, { compatibility: level });
  });

  router.delete('/config/:subject', async (req, res) => {
    const subject = subjectParam(req);
    const dataset = await requireWrite(res, subject, 'registry.config.delete');
    const previous = await getCompatibility(pool, subject);
    if (!previous || !(await deleteCompatibility(pool, subject))) throw registryErrors.subjectConfigNotSet(subject);
    await audit(res, 'registry.config.delete', subject, dataset, { previous });
    sendRegistry(res, 200, { compatibilityLevel: previous });
  });

  router.use(registryNotFoundRoute);
  router.use(registryErrorHandler(deps.log));
  return router;
}
