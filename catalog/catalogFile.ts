import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { Pool } from '../lib/db';
import { withTransaction } from '../lib/db';
import { InputError } from '../lib/errors';
import { projectPath } from '../lib/paths';
import { appendAudit } from './audit';
import {
  type CatalogField,
  type Dataset,
  type DatasetDefinition,
  categories,
  defaultSchemaSubject,
  getDataset,
  insertDataset,
  listDatasets,
  maskings,
  sharingTypes,
  statuses,
  updateCycles,
  updateDataset,
} from './datasets';
import { getSubjectVersion, registerSchema } from './registry/store';
import { canonicalJson, canonicalSchemaString, type JsonValue, parseAvroSchema } from './registry/canonical';

/**
 * The catalog as a readable YAML file, applied declaratively: each dataset is created, changed or left
 * alone, and its Avro schema (a file under schemas/) is registered when it differs from the latest version.
 */

export const seedCatalogFile = projectPath('catalog', 'seed', 'catalog.yaml');

interface FileField {
  sensitivity?: number;
  masking?: string;
  description?: string;
}

interface FileDataset {
  id: string;
  title: { zh: string; en: string };
  owner: string;
  category: string;
  abstract?: string;
  sharing: { type: string; conditions?: string; legalBasis?: string };
  updateCycle: string;
  keyField: string;
  status?: string;
  /** A file under schemas/, or the Avro schema itself (as `catalog export` writes it). */
  schema: string | Record<string, unknown>;
  fields?: Record<string, FileField>;
}

export interface PlannedDataset {
  definition: DatasetDefinition;
  schemaText: string;
}

interface AvroField {
  name: string;
  type: unknown;
  doc?: string;
  default?: unknown;
}

export function typeLabel(t: unknown): string {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.map(typeLabel).join(' | ');
  if (t && typeof t === 'object') {
    const o = t as Record<string, unknown>;
    if (typeof o.logicalType === 'string') return `${String(o.type)} (${o.logicalType})`;
    if (o.type === 'enum') return `enum ${String(o.name)}`;
    if (o.type === 'array') return `array<${typeLabel(o.items)}>`;
    if (o.type === 'map') return `map<${typeLabel(o.values)}>`;
    if (o.type === 'record') return `record ${String(o.name)}`;
    return typeLabel(o.type);
  }
  return String(t);
}

function oneOf<T extends string>(allowed: readonly T[], value: unknown, where: string, problems: string[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    problems.push(`${where} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** Builds the catalog fields from the Avro schema's top-level fields and the file's per-field metadata. */
function catalogFields(id: string, schema: unknown, meta: Record<string, FileField>, problems: string[]): CatalogField[] {
  const fields = (schema as { type?: string; fields?: AvroField[] }).fields;
  if ((schema as { type?: string }).type !== 'record' || !Array.isArray(fields)) {
    problems.push(`${id}: the schema must be an Avro record`);
    return [];
  }
  for (const name of Object.keys(meta)) {
    if (!fields.some((f) => f.name === name)) problems.push(`${id}.fields.${name} is not a field of the schema`);
  }
  return fields.map((f) => {
    const m = meta[f.name] ?? {};
    const sensitivity = m.sensitivity ?? 1;
    if (![1, 2, 3, 4].includes(sensitivity)) problems.push(`${id}.fields.${f.name}.sensitivity must be 1, 2, 3 or 4`);
    const masking = oneOf(maskings, m.masking ?? 'none', `${id}.fields.${f.name}.masking`, problems);
    const nullable = Array.isArray(f.type) && f.type.includes('null');
    return {
      name: f.name,
      type: typeLabel(f.type),
      description: m.description ?? f.doc ?? '',
      sensitivity: sensitivity as CatalogField['sensitivity'],
      masking,
      required: !nullable && f.default === undefined,
    };
  });
}

/** A dataset as a catalog file or `POST /v1/datasets` describes it; `schema` names a file or holds the schema. */
export type DatasetInput = FileDataset;

function buildDefinition(d: DatasetInput, where: string, schema: unknown, problems: string[]): DatasetDefinition {
  if (typeof d.id !== 'string' || !/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/.test(d.id) || d.id.length > 100) {
    problems.push(`${where}.id must look like "area.name" (lowercase letters, digits, dashes; dot-separated)`);
  }
  if (!d.title?.zh?.trim() || !d.title?.en?.trim()) problems.push(`${where}.title needs both zh and en`);
  if (typeof d.owner !== 'string' || !d.owner) problems.push(`${where}.owner must name a department`);
  if (typeof d.keyField !== 'string' || !d.keyField) problems.push(`${where}.keyField must name the key field`);
  return {
    id: d.id,
    title: { zh: d.title?.zh?.trim() ?? '', en: d.title?.en?.trim() ?? '' },
    owner: d.owner,
    category: oneOf(categories, d.category, `${where}.category`, problems),
    abstract: d.abstract?.trim() ?? '',
    fields: schema ? catalogFields(where, schema, d.fields ?? {}, problems) : [],
    sharingType: oneOf(sharingTypes, d.sharing?.type, `${where}.sharing.type`, problems),
    sharingConditions: d.sharing?.conditions?.trim() || null,
    legalBasis: d.sharing?.legalBasis?.trim() || null,
    updateCycle: oneOf(updateCycles, d.updateCycle, `${where}.updateCycle`, problems),
    keyField: d.keyField,
    status: oneOf(statuses, d.status ?? 'active', `${where}.status`, problems),
    schemaSubject: defaultSchemaSubject(d.id),
  };
}

/** Checks one dataset given with its schema text; every problem is reported at once. */
export function planDataset(d: DatasetInput, schemaText: string): PlannedDataset {
  const problems: string[] = [];
  let schema: unknown = null;
  try {
    schema = parseAvroSchema(schemaText).schema;
  } catch (err) {
    problems.push(`schema: ${(err as Error).message}`);
  }
  const definition = buildDefinition(d, d?.id ?? 'dataset', schema, problems);
  if (problems.length) throw new InputError('catalog.invalid_dataset', `dataset is not valid: ${problems.join('; ')}`, problems);
  return { definition, schemaText };
}

/** Reads and checks a catalog file; every problem is reported at once. */
export function readCatalogFile(file: string): PlannedDataset[] {
  let doc: { datasets?: FileDataset[] };
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { datasets?: FileDataset[] };
  } catch (err) {
    throw new InputError('catalog.file_invalid', `cannot read catalog file ${file}: ${(err as Error).message}`);
  }
  if (!doc || !Array.isArray(doc.datasets)) throw new InputError('catalog.file_invalid', `${file} must have a "datasets" list`);
  const problems: string[] = [];
  const schemasDir = projectPath('schemas');
  const planned = doc.datasets.map((d, i): PlannedDataset => {
    const where = d?.id ?? `datasets[${i}]`;
    let schemaText = '';
    let schema: unknown = null;
    try {
      schemaText =
        d.schema !== null && typeof d.schema === 'object' ? JSON.stringify(d.schema) : fs.readFileSync(path.resolve(schemasDir, String(d.schema)), 'utf8');
      schema = parseAvroSchema(schemaText).schema;
    } catch (err) {
      problems.push(`${where}.schema: ${(err as Error).message}`);
    }
    return { definition: buildDefinition(d, where, schema, problems), schemaText };
  });
  if (problems.length) throw new InputError('catalog.file_invalid', `catalog file ${file} has problems:\n  - ${problems.join('\n  - ')}`, problems);
  return planned;
}

export type ApplyAction = 'created' | 'changed' | 'unchanged';
export interface ApplyResult {
  id: string;
  action: ApplyAction;
  changes: string[];
}

const EDITABLE: Array<keyof DatasetDefinition> = [
  'title', 'owner', 'category', 'abstract', 'fields', 'sharingType', 'sharingConditions', 'legalBasis', 'updateCycle', 'keyField', 'status',
];

/** Compared with sorted keys: PostgreSQL's jsonb does not keep the key order the fields were written in. */
function differences(current: Dataset, wanted: DatasetDefinition): string[] {
  const same = (a: unknown, b: unknown): boolean => canonicalJson((a ?? null) as JsonValue) === canonicalJson((b ?? null) as JsonValue);
  return EDITABLE.filter((k) => !same(current[k], wanted[k])).map((k) => String(k));
}

export async function applyCatalog(
  pool: Pool,
  planned: PlannedDataset[],
  opts: { dryRun?: boolean; actor?: string; requestId?: string } = {},
): Promise<ApplyResult[]> {
  // Several processes may start at once (gateway replicas, test workers): applies take turns.
  const lock = await pool.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [CATALOG_APPLY_LOCK_ID]);
    return await applyCatalogLocked(pool, planned, opts);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [CATALOG_APPLY_LOCK_ID]).catch(() => undefined);
    lock.release();
  }
}

const CATALOG_APPLY_LOCK_ID = 4_711_3002;

async function applyCatalogLocked(
  pool: Pool,
  planned: PlannedDataset[],
  opts: { dryRun?: boolean; actor?: string; requestId?: string },
): Promise<ApplyResult[]> {
  const actor = opts.actor ?? 'info-office';
  const results: ApplyResult[] = [];
  for (const { definition, schemaText } of planned) {
    const current = await getDataset(pool, definition.id);
    const latest = current ? await getSubjectVersion(pool, current.schemaSubject, 'latest') : null;
    const schemaChanged =
      !latest || canonicalSchemaString(parseAvroSchema(latest.schema).schema) !== canonicalSchemaString(parseAvroSchema(schemaText).schema);
    const changes = current ? differences(current, definition) : [];
    if (current && schemaChanged) changes.push('schema');
    const action: ApplyAction = !current ? 'created' : changes.length ? 'changed' : 'unchanged';
    results.push({ id: definition.id, action, changes });
    if (opts.dryRun || action === 'unchanged') continue;

    // The schema goes first: a refused (incompatible) schema leaves the catalog entry untouched.
    const subject = current?.schemaSubject ?? definition.schemaSubject ?? defaultSchemaSubject(definition.id);
    const registration = schemaChanged ? await registerSchema(pool, subject, schemaText) : null;
    await withTransaction(pool, async (tx) => {
      const auditActor = { department: actor, role: 'admin' };
      if (registration?.created) {
        await appendAudit(tx, {
          actor: auditActor, action: 'registry.schema.register', target: `subject:${subject}`, outcome: 'success',
          requestId: opts.requestId ?? null, details: { id: registration.id, version: registration.version, via: 'catalog-apply' },
        });
      }
      if (!current) {
        await insertDataset(tx, definition, actor, opts.requestId);
        await appendAudit(tx, {
          actor: auditActor, action: 'catalog.dataset.create', target: `dataset:${definition.id}`, outcome: 'success',
          requestId: opts.requestId ?? null, details: { via: 'catalog-apply' },
        });
      } else if (changes.some((c) => c !== 'schema')) {
        const updated = await updateDataset(tx, definition, current.version, actor, opts.requestId);
        if (!updated) throw new InputError('catalog.concurrent_edit', `dataset "${definition.id}" changed while applying; apply again`);
        await appendAudit(tx, {
          actor: auditActor, action: 'catalog.dataset.update', target: `dataset:${definition.id}`, outcome: 'success',
          requestId: opts.requestId ?? null, details: { via: 'catalog-apply', changed: changes, version: updated.version },
        });
      }
    });
  }
  return results;
}

/**
 * The catalog as a file that `applyCatalog` accepts and finds unchanged: each schema is written inline as
 * its subject's latest version, so schemas evolved through the API (or datasets without a file) survive.
 */
export async function exportCatalog(pool: Pool): Promise<string> {
  const items: Dataset[] = [];
  for (let total = Infinity; items.length < total; ) {
    const page = await listDatasets(pool, { limit: 500, offset: items.length });
    if (page.items.length === 0) break;
    items.push(...page.items);
    total = page.total;
  }
  const latest = new Map<string, unknown>();
  for (const d of items) {
    const version = await getSubjectVersion(pool, d.schemaSubject, 'latest');
    if (version) latest.set(d.id, JSON.parse(version.schema));
  }
  const datasets = items.map((d) => ({
    id: d.id,
    title: d.title,
    owner: d.owner,
    category: d.category,
    abstract: d.abstract,
    sharing: {
      type: d.sharingType,
      ...(d.sharingConditions ? { conditions: d.sharingConditions } : {}),
      ...(d.legalBasis ? { legalBasis: d.legalBasis } : {}),
    },
    updateCycle: d.updateCycle,
    keyField: d.keyField,
    status: d.status,
    schema: latest.get(d.id) ?? `${d.id}.avsc`,
    fields: Object.fromEntries(
      d.fields.map((f) => [f.name, { sensitivity: f.sensitivity, masking: f.masking, description: f.description }]),
    ),
  }));
  return YAML.stringify({ datasets }, { lineWidth: 120 });
}
