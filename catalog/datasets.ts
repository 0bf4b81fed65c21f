import type { Pool, PoolClient } from '../lib/db';
import { ConflictError, InputError } from '../lib/errors';
import { isSensitive } from './sharingPolicy';

/** The sharing catalog: one entry per dataset, with the core metadata of the government resource catalog. */

export const categories = [
  'population',
  'legal-entity',
  'natural-resources-geospatial',
  'macro-economy',
  'credit',
  'electronic-license',
  'social-services',
  'other',
] as const;
export const sharingTypes = ['unconditional', 'conditional', 'none'] as const;
export const updateCycles = ['realtime', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly'] as const;
export const statuses = ['draft', 'active', 'deprecated', 'retired'] as const;
export const maskings = ['none', 'hash', 'partial'] as const;

export type SharingType = (typeof sharingTypes)[number];
export type Masking = (typeof maskings)[number];

export interface CatalogField {
  name: string;
  type: string;
  description: string;
  /** 1 public · 2 internal · 3 sensitive · 4 highly sensitive (personal identifiers) */
  sensitivity: 1 | 2 | 3 | 4;
  masking: Masking;
  required: boolean;
}

export interface Dataset {
  id: string;
  title: { zh: string; en: string };
  owner: string;
  category: (typeof categories)[number];
  abstract: string;
  fields: CatalogField[];
  sharingType: SharingType;
  sharingConditions: string | null;
  legalBasis: string | null;
  updateCycle: (typeof updateCycles)[number];
  keyField: string;
  status: (typeof statuses)[number];
  schemaSubject: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** What an administrator may set; identity, versions and times are govx's. */
export type DatasetDefinition = Omit<Dataset, 'version' | 'createdAt' | 'updatedAt' | 'schemaSubject'> & { schemaSubject?: string };

export const datasetTopic = (id: string): string => `govx.dataset.${id}`;
export const dlqTopic = (id: string): string => `govx.dlq.${id}`;
/** Confluent's TopicNameStrategy, so ordinary Confluent deserializers find the schema by topic. */
export const defaultSchemaSubject = (id: string): string => `${datasetTopic(id)}-value`;
export const etagOf = (d: Pick<Dataset, 'version'>): string => `"v${d.version}"`;

type Db = Pool | PoolClient;

const SELECT = `SELECT id, title_zh, title_en, owner, category, abstract, fields, sharing_type, sharing_conditions, legal_basis,
  update_cycle, key_field, status, schema_subject, version, created_at, updated_at FROM datasets`;

interface Row {
  id: string;
  title_zh: string;
  title_en: string;
  owner: string;
  category: Dataset['category'];
  abstract: string;
  fields: CatalogField[];
  sharing_type: SharingType;
  sharing_conditions: string | null;
  legal_basis: string | null;
  update_cycle: Dataset['updateCycle'];
  key_field: string;
  status: Dataset['status'];
  schema_subject: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

function fromRow(r: Row): Dataset {
  return {
    id: r.id,
    title: { zh: r.title_zh, en: r.title_en },
    owner: r.owner,
    category: r.category,
    abstract: r.abstract,
    fields: r.fields,
    sharingType: r.sharing_type,
    sharingConditions: r.sharing_conditions,
    legalBasis: r.legal_basis,
    updateCycle: r.update_cycle,
    keyField: r.key_field,
    status: r.status,
    schemaSubject: r.schema_subject,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function getDataset(db: Db, id: string): Promise<Dataset | null> {
  const { rows } = await db.query<Row>(`${SELECT} WHERE id = $1`, [id]);
  return rows[0] ? fromRow(rows[0]) : null;
}

export interface DatasetFilters {
  category?: string;
  owner?: string;
  sharingType?: string;
  status?: string;
  q?: string;
  limit?: number;
  offset?: number;
}

export async function listDatasets(db: Db, f: DatasetFilters = {}): Promise<{ items: Dataset[]; total: number }> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown): void => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (f.category) add('category = ?', f.category);
  if (f.owner) add('owner = ?', f.owner);
  if (f.sharingType) add('sharing_type = ?', f.sharingType);
  if (f.status) add('status = ?', f.status);
  if (f.q) {
    args.push(`%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    const p = `$${args.length}`;
    where.push(`(id ILIKE ${p} OR title_zh ILIKE ${p} OR title_en ILIKE ${p} OR abstract ILIKE ${p})`);
  }
  const clause = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 500);
  const offset = Math.max(f.offset ?? 0, 0);
  const [{ rows }, count] = await Promise.all([
    db.query<Row>(`${SELECT}${clause} ORDER BY id LIMIT ${limit} OFFSET ${offset}`, args),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM datasets${clause}`, args),
  ]);
  return { items: rows.map(fromRow), total: Number(count.rows[0]!.n) };
}

/** Catalog-level rules that the database constraints cannot express with a clear message. */
export function validateDefinition(d: DatasetDefinition): void {
  const problems: Array<{ path: string; message: string }> = [];
  if (d.sharingType === 'none' && !d.legalBasis?.trim()) {
    problems.push({ path: 'legalBasis', message: 'a dataset that is not shared must state its legal basis' });
  }
  const names = new Set<string>();
  for (const [i, field] of d.fields.entries()) {
    if (names.has(field.name)) problems.push({ path: `fields[${i}].name`, message: `field "${field.name}" is listed twice` });
    names.add(field.name);
    if (isSensitive(field) && field.masking === 'none') {
      problems.push({ path: `fields[${i}].masking`, message: `field "${field.name}" has sensitivity ${field.sensitivity} and needs a masking rule` });
    }
  }
  if (!names.has(d.keyField)) problems.push({ path: 'keyField', message: `key field "${d.keyField}" is not one of the dataset's fields` });
  if (problems.length) throw new InputError('catalog.invalid_dataset', `dataset "${d.id}" is not valid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
}

function snapshotOf(d: Dataset): Record<string, unknown> {
  return { ...d } as unknown as Record<string, unknown>;
}

async function recordHistory(db: Db, d: Dataset, change: 'created' | 'updated', actor: string, requestId?: string): Promise<void> {
  await db.query(
    'INSERT INTO dataset_history (dataset_id, version, snapshot, change, changed_by, request_id) VALUES ($1, $2, $3, $4, $5, $6)',
    [d.id, d.version, JSON.stringify(snapshotOf(d)), change, actor, requestId ?? null],
  );
}

/** Must run inside a transaction (the entry and its history row commit together). */
export async function insertDataset(tx: PoolClient, def: DatasetDefinition, actor: string, requestId?: string): Promise<Dataset> {
  validateDefinition(def);
  try {
    const { rows } = await tx.query<Row>(
      `INSERT INTO datasets (id, title_zh, title_en, owner, category, abstract, fields, sharing_type, sharing_conditions,
         legal_basis, update_cycle, key_field, status, schema_subject)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
       RETURNING id, title_zh, title_en, owner, category, abstract, fields, sharing_type, sharing_conditions, legal_basis,
         update_cycle, key_field, status, schema_subject, version, created_at, updated_at`,
      [
        def.id, def.title.zh, def.title.en, def.owner, def.category, def.abstract, JSON.stringify(def.fields), def.sharingType,
        def.sharingConditions, def.legalBasis, def.updateCycle, def.keyField, def.status, def.schemaSubject ?? defaultSchemaSubject(def.id),
      ],
    );
    const created = fromRow(rows[0]!);
    await recordHistory(tx, created, 'created', actor, requestId);
    return created;
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23505') throw new ConflictError('catalog.dataset_exists', `dataset "${def.id}" already exists`);
    if (e.code === '23503') throw new InputError('catalog.unknown_owner', `owner department "${def.owner}" does not exist`);
    if (e.code === '23514') throw new InputError('catalog.invalid_dataset', `dataset "${def.id}" violates ${e.constraint}`);
    throw err;
  }
}

/**
 * Replaces the editable metadata of a dataset if its version is still `expectedVersion` (optimistic
 * concurrency); returns null when the version moved on. Must run inside a transaction.
 */
export async function updateDataset(
  tx: PoolClient,
  def: DatasetDefinition,
  expectedVersion: number,
  actor: string,
  requestId?: string,
): Promise<Dataset | null> {
  validateDefinition(def);
  try {
    const { rows } = await tx.query<Row>(
      `UPDATE datasets SET title_zh=$2, title_en=$3, owner=$4, category=$5, abstract=$6, fields=$7, sharing_type=$8,
         sharing_conditions=$9, legal_basis=$10, update_cycle=$11, key_field=$12, status=$13, version=version+1, updated_at=now()
       WHERE id=$1 AND version=$14
       RETURNING id, title_zh, title_en, owner, category, abstract, fields, sharing_type, sharing_conditions, legal_basis,
         update_cycle, key_field, status, schema_subject, version, created_at, updated_at`,
      [
        def.id, def.title.zh, def.title.en, def.owner, def.category, def.abstract, JSON.stringify(def.fields), def.sharingType,
        def.sharingConditions, def.legalBasis, def.updateCycle, def.keyField, def.status, expectedVersion,
      ],
    );
    if (!rows[0]) return null;
    const updated = fromRow(rows[0]);
    await recordHistory(tx, updated, 'updated', actor, requestId);
    return updated;
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23503') throw new InputError('catalog.unknown_owner', `owner department "${def.owner}" does not exist`);
    if (e.code === '23514') throw new InputError('catalog.invalid_dataset', `dataset "${def.id}" violates ${e.constraint}`);
    throw err;
  }
}

export interface HistoryEntry {
  version: number;
  change: 'created' | 'updated';
  changedBy: string;
  changedAt: string;
  requestId: string | null;
  snapshot: Dataset;
}

export async function datasetHistory(db: Db, id: string): Promise<HistoryEntry[]> {
  const { rows } = await db.query<{ version: number; change: 'created' | 'updated'; changed_by: string; changed_at: Date; request_id: string | null; snapshot: Dataset }>(
    'SELECT version, change, changed_by, changed_at, request_id, snapshot FROM dataset_history WHERE dataset_id = $1 ORDER BY version DESC',
    [id],
  );
  return rows.map((r) => ({
    version: r.version,
    change: r.change,
    changedBy: r.changed_by,
    changedAt: r.changed_at.toISOString(),
    requestId: r.request_id,
    snapshot: r.snapshot,
  }));
}
