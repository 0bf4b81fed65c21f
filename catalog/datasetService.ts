import type { Pool } from '../lib/db';
import { withTransaction } from '../lib/db';
import { ConflictError, GovxError, InputError, NotFoundError } from '../lib/errors';
import { appendAudit, type AuditActor } from './audit';
import { type DatasetInput, planDataset } from './catalogFile';
import {
  type CatalogField,
  type Dataset,
  type DatasetDefinition,
  categories,
  datasetHistory,
  getDataset,
  insertDataset,
  maskings,
  sharingTypes,
  statuses,
  updateCycles,
  updateDataset,
} from './datasets';
import { parseAvroSchema } from './registry/canonical';
import { describeSchemaChange, type SchemaChange } from './registry/compatibility';
import { getSubjectVersion, IncompatibleSchemaError, type Registration, registerSchema } from './registry/store';
import { sensitiveFieldsAdded } from './sharingPolicy';

/**
 * Catalog operations behind the HTTP API: each one checks its input, changes the catalog and the registry,
 * and leaves an audit entry in the same transaction as the catalog change.
 */

export interface Actor extends AuditActor {
  department: string;
}

function schemaTextOf(schema: unknown): string {
  if (typeof schema === 'string') return schema;
  if (schema && typeof schema === 'object') return JSON.stringify(schema);
  throw new InputError('catalog.invalid_dataset', 'schema must be an Avro schema (a JSON object or its text)');
}

function incompatible(err: IncompatibleSchemaError, earlier = "the dataset's earlier versions"): GovxError {
  return new ConflictError('schema.incompatible', `the schema is not ${err.level}-compatible with ${earlier}: ${err.messages.join('; ')}`, {
    level: err.level,
    reasons: err.incompatibilities,
  });
}

export async function createDataset(pool: Pool, input: DatasetInput & { schema: unknown }, actor: Actor, requestId: string): Promise<Dataset> {
  const planned = planDataset({ ...input, schema: '' }, schemaTextOf(input.schema));
  if (await getDataset(pool, planned.definition.id)) {
    throw new ConflictError('catalog.dataset_exists', `dataset "${planned.definition.id}" already exists`);
  }
  let registration;
  try {
    registration = await registerSchema(pool, planned.definition.schemaSubject!, planned.schemaText);
  } catch (err) {
    if (err instanceof IncompatibleSchemaError) throw incompatible(err);
    throw err;
  }
  return withTransaction(pool, async (tx) => {
    const created = await insertDataset(tx, planned.definition, actor.department, requestId);
    await appendAudit(tx, {
      actor, action: 'catalog.dataset.create', target: `dataset:${created.id}`, outcome: 'success', requestId,
      details: { schemaId: registration.id, schemaVersion: registration.version },
    });
    return created;
  });
}

const PATCHABLE = new Set(['title', 'owner', 'category', 'abstract', 'fields', 'sharingType', 'sharingConditions', 'legalBasis', 'updateCycle', 'keyField', 'status']);

function checkEnum(value: unknown, allowed: readonly string[], name: string, problems: string[]): void {
  if (value !== undefined && (typeof value !== 'string' || !allowed.includes(value))) {
    problems.push(`${name} must be one of ${allowed.join(', ')}`);
  }
}

/** Applies a JSON merge patch to the editable metadata; field entries update fields by name. */
export function applyPatch(current: Dataset, patch: Record<string, unknown>): DatasetDefinition {
  const problems: string[] = [];
  for (const key of Object.keys(patch)) if (!PATCHABLE.has(key)) problems.push(`"${key}" cannot be changed with PATCH`);
  checkEnum(patch.category, categories, 'category', problems);
  checkEnum(patch.sharingType, sharingTypes, 'sharingType', problems);
  checkEnum(patch.updateCycle, updateCycles, 'updateCycle', problems);
  checkEnum(patch.status, statuses, 'status', problems);
  for (const key of ['abstract', 'owner', 'keyField'] as const) {
    if (patch[key] !== undefined && typeof patch[key] !== 'string') problems.push(`${key} must be a string`);
  }
  for (const key of ['sharingConditions', 'legalBasis'] as const) {
    if (patch[key] !== undefined && patch[key] !== null && typeof patch[key] !== 'string') problems.push(`${key} must be a string or null`);
  }
  const title = patch.title as { zh?: unknown; en?: unknown } | undefined;
  if (title !== undefined && (typeof title !== 'object' || title === null || [title.zh, title.en].some((t) => t !== undefined && typeof t !== 'string'))) {
    problems.push('title must be {"zh"?: string, "en"?: string}');
  }
  let fields = current.fields;
  if (patch.fields !== undefined) {
    if (!Array.isArray(patch.fields)) problems.push('fields must be a list of {name, sensitivity?, masking?, description?}');
    else {
      const byName = new Map(current.fields.map((f) => [f.name, { ...f }]));
      for (const [i, raw] of (patch.fields as Array<Record<string, unknown>>).entries()) {
        const field = raw && typeof raw === 'object' ? byName.get(String(raw.name)) : undefined;
        if (!field) {
          problems.push(`fields[${i}].name must name a field of the dataset's schema`);
          continue;
        }
        if (raw.sensitivity !== undefined) {
          if (![1, 2, 3, 4].includes(raw.sensitivity as number)) problems.push(`fields[${i}].sensitivity must be 1, 2, 3 or 4`);
          else field.sensitivity = raw.sensitivity as CatalogField['sensitivity'];
        }
        if (raw.masking !== undefined) {
          if (!(maskings as readonly unknown[]).includes(raw.masking)) problems.push(`fields[${i}].masking must be one of ${maskings.join(', ')}`);
          else field.masking = raw.masking as CatalogField['masking'];
        }
        if (raw.description !== undefined) {
          if (typeof raw.description !== 'string') problems.push(`fields[${i}].description must be a string`);
          else field.description = raw.description;
        }
      }
      fields = current.fields.map((f) => byName.get(f.name)!);
    }
  }
  if (problems.length) throw new InputError('catalog.invalid_patch', `the patch is not valid: ${problems.join('; ')}`, problems);
  const pick = <K extends keyof Dataset>(k: K): Dataset[K] => (patch[k] === undefined ? current[k] : (patch[k] as Dataset[K]));
  return {
    id: current.id,
    title: { zh: (title?.zh as string | undefined) ?? current.title.zh, en: (title?.en as string | undefined) ?? current.title.en },
    owner: pick('owner'),
    category: pick('category'),
    abstract: pick('abstract'),
    fields,
    sharingType: pick('sharingType'),
    sharingConditions: pick('sharingConditions'),
    legalBasis: pick('legalBasis'),
    updateCycle: pick('updateCycle'),
    keyField: pick('keyField'),
    status: pick('status'),
  };
}

export async function patchDataset(
  pool: Pool,
  id: string,
  patch: Record<string, unknown>,
  expectedVersion: number,
  actor: Actor,
  requestId: string,
): Promise<Dataset> {
  return withTransaction(pool, async (tx) => {
    const current = await getDataset(tx, id);
    if (!current) throw new NotFoundError('dataset.not_found', `no dataset "${id}" in the catalog`);
    if (current.version !== expectedVersion) {
      throw new GovxError(412, 'catalog.stale_etag', `dataset "${id}" is at version ${current.version}, not ${expectedVersion}; fetch it again and reapply your change`);
    }
    const updated = await updateDataset(tx, applyPatch(current, patch), expectedVersion, actor.department, requestId);
    if (!updated) throw new GovxError(412, 'catalog.stale_etag', `dataset "${id}" changed concurrently; fetch it again`);
    await appendAudit(tx, {
      actor, action: 'catalog.dataset.update', target: `dataset:${id}`, outcome: 'success', requestId,
      details: { changed: Object.keys(patch), version: updated.version },
    });
    return updated;
  });
}

export interface SchemaRegistrationResult {
  subject: string;
  id: number;
  version: number;
  created: boolean;
  changes: SchemaChange & { sensitiveAdded: string[] };
  dataset: Dataset;
}

/**
 * Registers a new schema version of a dataset (compatibility enforced by the registry) and brings the
 * catalog's field list along: existing fields keep their metadata, new ones take what the caller gave.
 */
/** The top-level field names of a schema text, or null when it is not a record (planDataset then says why). */
function fieldNamesOf(schemaText: string): Set<string> | null {
  try {
    const fields = (JSON.parse(schemaText) as { fields?: Array<{ name?: unknown }> }).fields;
    return Array.isArray(fields) ? new Set(fields.map((f) => String(f.name))) : null;
  } catch {
    return null;
  }
}

export async function registerDatasetSchema(
  pool: Pool,
  dataset: Dataset,
  body: { schema?: unknown; fields?: Record<string, { sensitivity?: number; masking?: string; description?: string }> },
  actor: Actor,
  requestId: string,
): Promise<SchemaRegistrationResult> {
  const schemaText = schemaTextOf(body.schema);
  const previous = await getSubjectVersion(pool, dataset.schemaSubject, 'latest');
  // a field the new version drops leaves the catalog with it (its metadata is not carried over)
  const kept = fieldNamesOf(schemaText);
  // planDataset reports a schema that does not parse as an InputError, so it runs before anything else parses it.
  const planned = planDataset(
    {
      id: dataset.id, title: dataset.title, owner: dataset.owner, category: dataset.category, abstract: dataset.abstract,
      sharing: { type: dataset.sharingType, conditions: dataset.sharingConditions ?? undefined, legalBasis: dataset.legalBasis ?? undefined },
      updateCycle: dataset.updateCycle, keyField: dataset.keyField, status: dataset.status, schema: '',
      fields: {
        ...Object.fromEntries(
          dataset.fields.filter((f) => !kept || kept.has(f.name)).map((f) => [f.name, { sensitivity: f.sensitivity, masking: f.masking, description: f.description }]),
        ),
        ...(body.fields ?? {}),
      },
    },
    schemaText,
  );
  const newSchema = parseAvroSchema(schemaText).schema;
  let registration;
  try {
    registration = await registerSchema(pool, dataset.schemaSubject, schemaText);
  } catch (err) {
    if (err instanceof IncompatibleSchemaError) {
      await appendAudit(pool, {
        actor, action: 'registry.schema.register', target: `dataset:${dataset.id}`, outcome: 'failure', requestId,
        details: { subject: dataset.schemaSubject, reason: 'incompatible', level: err.level, messages: err.messages.slice(0, 20) },
      });
      throw incompatible(err);
    }
    throw err;
  }
  const change = previous ? describeSchemaChange(parseAvroSchema(previous.schema).schema, newSchema) : { added: [], removed: [], retyped: [] };
  const newFields = planned.definition.fields.map((f) => {
    const old = dataset.fields.find((o) => o.name === f.name);
    return old && !body.fields?.[f.name] ? { ...old, type: f.type, required: f.required } : f;
  });
  const sensitiveAdded = sensitiveFieldsAdded(change, newFields);

  const updated = await withTransaction(pool, async (tx) => {
    let current = dataset;
    if (registration.created || JSON.stringify(newFields) !== JSON.stringify(dataset.fields)) {
      const next = await updateDataset(tx, { ...planned.definition, fields: newFields }, dataset.version, actor.department, requestId);
      if (!next) throw new GovxError(412, 'catalog.stale_etag', `dataset "${dataset.id}" changed concurrently; try again`);
      current = next;
    }
    await appendAudit(tx, {
      actor, action: 'registry.schema.register', target: `dataset:${dataset.id}`, outcome: 'success', requestId,
      details: { subject: dataset.schemaSubject, id: registration.id, version: registration.version, created: registration.created, ...change, sensitiveAdded },
    });
    return current;
  });
  return { subject: dataset.schemaSubject, ...registration, changes: { ...change, sensitiveAdded }, dataset: updated };
}

/** The dataset whose schema subject is `subject`, if any: its stewards may write that subject. */
export async function datasetOfSubject(db: Pool, subject: string): Promise<Dataset | null> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM datasets WHERE schema_subject = $1', [subject]);
  return rows[0] ? getDataset(db, rows[0].id) : null;
}

export interface SubjectRegistration extends Registration {
  /** Set when the subject is a dataset's: its catalog entry followed the new schema. */
  dataset?: string;
}

/**
 * Registers a schema under any subject. A dataset's subject goes through registerDatasetSchema, so the
 * registry API and `POST /v1/datasets/{id}/schemas` enforce and record exactly the same thing.
 */
export async function registerSubjectSchema(
  pool: Pool,
  subject: string,
  schemaText: string,
  actor: Actor,
  requestId: string,
): Promise<SubjectRegistration> {
  const dataset = await datasetOfSubject(pool, subject);
  if (dataset) {
    const result = await registerDatasetSchema(pool, dataset, { schema: schemaText }, actor, requestId);
    return { id: result.id, version: result.version, created: result.created, dataset: dataset.id };
  }
  try {
    parseAvroSchema(schemaText);
  } catch (err) {
    throw new InputError('schema.invalid', `the schema is not a valid Avro schema: ${(err as Error).message}`);
  }
  let registration: Registration;
  try {
    registration = await registerSchema(pool, subject, schemaText);
  } catch (err) {
    if (err instanceof IncompatibleSchemaError) {
      await appendAudit(pool, {
        actor, action: 'registry.schema.register', target: `subject:${subject}`, outcome: 'failure', requestId,
        details: { subject, reason: 'incompatible', level: err.level, messages: err.messages.slice(0, 20) },
      });
      throw incompatible(err, `the earlier versions of subject "${subject}"`);
    }
    throw err;
  }
  await appendAudit(pool, {
    actor, action: 'registry.schema.register', target: `subject:${subject}`, outcome: 'success', requestId,
    details: { subject, id: registration.id, version: registration.version, created: registration.created },
  });
  return registration;
}

export { datasetHistory };
