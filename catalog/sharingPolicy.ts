import crypto from 'node:crypto';
import avro from 'avsc';
import type { CatalogField, Dataset } from './datasets';
import type { SchemaChange } from './registry/compatibility';
import { compileNaturalType } from '../schemas/codec';
import type { Pool } from '../lib/db';

/**
 * The sharing policy: which fields a consuming department receives and how. A field whose sensitivity
 * is within the department's clearance is delivered in clear; above it, as the catalog's masking rule
 * says (a keyed hash, or a partial mask), or not at all when the field has no masking rule. An approval
 * can only tighten this: drop fields, or mask a field the policy would deliver in clear.
 */

export type FieldDelivery = 'clear' | 'hash' | 'partial';

export interface GrantedField {
  name: string;
  delivery: FieldDelivery;
}

export interface FieldPlan {
  granted: GrantedField[];
  /** Requested fields that the consumer's clearance rules out entirely (no masking rule to fall back on). */
  withheld: string[];
}

const STRICTNESS: Record<FieldDelivery, number> = { clear: 0, partial: 1, hash: 2 };

/** The most a department may receive of one field. */
export function policyDelivery(field: CatalogField, clearance: number): FieldDelivery | null {
  if (field.sensitivity <= clearance) return 'clear';
  if (field.masking === 'hash' || field.masking === 'partial') return field.masking;
  return null;
}

/** Plans delivery of `requested` for a department of `clearance`; `tighten` may only make fields stricter. */
export function planFields(
  dataset: Pick<Dataset, 'fields'>,
  requested: readonly string[],
  clearance: number,
  tighten: Readonly<Record<string, FieldDelivery>> = {},
): FieldPlan {
  const byName = new Map(dataset.fields.map((f) => [f.name, f]));
  const granted: GrantedField[] = [];
  const withheld: string[] = [];
  for (const name of requested) {
    const field = byName.get(name);
    if (!field) continue;
    const allowed = policyDelivery(field, clearance);
    if (!allowed) {
      withheld.push(name);
      continue;
    }
    const asked = tighten[name];
    granted.push({ name, delivery: asked && STRICTNESS[asked] > STRICTNESS[allowed] ? asked : allowed });
  }
  return { granted, withheld };
}

/** Fields of sensitivity 3 and 4 need a masking rule, and adding one to a schema needs a new approval. */
export function isSensitive(field: Pick<CatalogField, 'sensitivity'>): boolean {
  return field.sensitivity >= 3;
}

/** The fields a schema change adds that are sensitive (by the catalog's field list after the change). */
export function sensitiveFieldsAdded(change: Pick<SchemaChange, 'added'>, fields: readonly CatalogField[]): string[] {
  return change.added.filter((name) => {
    const field = fields.find((f) => f.name === name);
    return field !== undefined && isSensitive(field);
  });
}

/**
 * Whether a subscription stays approved across a new schema version of its dataset: a change that drops or
 * retypes an approved field, or adds a sensitive field, needs the owner's approval again. Returns why, or
 * null when the change is taken in stride (the derived schema holds only approved fields, so consumers see
 * no change).
 */
export function schemaChangeNeedsApproval(
  granted: readonly GrantedField[],
  change: SchemaChange,
  fields: readonly CatalogField[],
  version: number,
): string | null {
  const approved = new Set(granted.map((f) => f.name));
  const touched = [...change.removed, ...change.retyped.map((r) => r.field)].filter((f) => approved.has(f));
  const sensitiveAdded = sensitiveFieldsAdded(change, fields);
  const reasons = [
    touched.length ? `schema version ${version} changes approved field(s) ${touched.join(', ')}` : '',
    sensitiveAdded.length ? `schema version ${version} adds sensitive field(s) ${sensitiveAdded.join(', ')}` : '',
  ].filter(Boolean);
  return reasons.length ? reasons.join('; ') : null;
}

// ---------------------------------------------------------------------------------------------------------
// Masks

/**
 * A keyed hash that is stable per dataset (the same value always hashes the same within one dataset, so
 * consumers can still join and count) and cannot be reversed or recomputed without govx's masking key.
 */
export class Masker {
  private readonly datasetKey: Buffer;

  constructor(masterKey: Buffer, datasetId: string) {
    this.datasetKey = crypto.createHmac('sha256', masterKey).update(`govx-mask:${datasetId}`).digest();
  }

  hash(value: unknown): string {
    return crypto.createHmac('sha256', this.datasetKey).update(canonicalText(value)).digest('hex').slice(0, 32);
  }

  apply(delivery: FieldDelivery, value: unknown): unknown {
    if (value === null || value === undefined || delivery === 'clear') return value ?? null;
    if (delivery === 'hash') return this.hash(value);
    return typeof value === 'string' ? partialMask(value) : this.hash(value);
  }
}

function canonicalText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const ID_NUMBER = /^\d{17}[\dXx]$/;
const PHONE = /^\+?\d{7,15}$/;

/**
 * Keeps just enough to recognise a value by eye: `张*明`, `110105********1234`, `138****5678`,
 * `北京市海淀区******`. Length is preserved, so the mask says nothing more than the length.
 */
export function partialMask(value: string): string {
  const chars = Array.from(value);
  const n = chars.length;
  const keep = (head: number, tail: number): string =>
    chars.slice(0, head).join('') + '*'.repeat(Math.max(n - head - tail, 0)) + (tail > 0 ? chars.slice(n - tail).join('') : '');
  if (n === 0) return value;
  if (ID_NUMBER.test(value)) return keep(6, 4);
  if (PHONE.test(value)) return keep(3, 4);
  if (n === 1) return '*';
  if (n === 2) return keep(1, 0);
  if (n <= 4) return keep(1, 1);
  if (n <= 8) return keep(2, 1);
  return keep(Math.ceil(n / 3), 0);
}

/** The masking key, generated once per installation and kept in PostgreSQL so every process shares it. */
export async function loadMaskingKey(pool: Pool): Promise<Buffer> {
  await pool.query(`INSERT INTO govx_secrets (name, value) VALUES ('masking-key', $1) ON CONFLICT (name) DO NOTHING`, [crypto.randomBytes(32)]);
  const { rows } = await pool.query<{ value: Buffer }>(`SELECT value FROM govx_secrets WHERE name = 'masking-key'`);
  return rows[0]!.value;
}

// ---------------------------------------------------------------------------------------------------------
// The derived schema

interface RecordSchemaJson {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: Array<{ name: string; type: unknown; doc?: string; default?: unknown; [attribute: string]: unknown }>;
}

function isNullable(type: unknown): boolean {
  return Array.isArray(type) && type.some((t) => t === 'null');
}

/**
 * The Avro schema a subscription's consumer reads: only the granted fields, in the dataset's order;
 * masked fields keep their name and become strings (nullable where the original was). Named types that
 * the granted fields use are carried along, wherever the dataset schema defined them.
 */
export function deriveShareSchema(datasetSchema: unknown, granted: readonly GrantedField[], subscriptionId: string): object {
  const base = compileNaturalType(datasetSchema) as avro.types.RecordType;
  if (base.typeName !== 'record') throw new Error('a dataset schema must be a record');
  const source = JSON.parse(JSON.stringify(datasetSchema)) as RecordSchemaJson;
  const delivery = new Map(granted.map((g) => [g.name, g.delivery]));
  const fields: RecordSchemaJson['fields'] = [];
  for (const field of base.fields) {
    const how = delivery.get(field.name);
    if (!how) continue;
    const original = source.fields.find((f) => f.name === field.name)!;
    if (how === 'clear') {
      const entry: RecordSchemaJson['fields'][number] = { name: field.name, type: field.type };
      if (original.doc !== undefined) entry.doc = original.doc;
      if (original.default !== undefined) entry.default = original.default;
      // govx's own annotations (e.g. "govx.check": "geojson-geometry") tell sinks what a value is
      for (const [k, v] of Object.entries(original)) if (k.startsWith('govx.')) (entry as Record<string, unknown>)[k] = v;
      fields.push(entry);
    } else {
      const nullable = isNullable(original.type);
      fields.push({
        name: field.name,
        type: nullable ? ['null', 'string'] : 'string',
        doc: `${original.doc ? `${original.doc} — ` : ''}masked (${how === 'hash' ? 'keyed hash' : 'partial'})`,
        ...(nullable ? { default: null } : {}),
      });
    }
  }
  // avsc writes each named type in full at its first use and by name afterwards, as Avro requires.
  const record = avro.Type.forSchema(
    {
      type: 'record',
      name: base.name ?? 'Record',
      doc: `govx share of ${subscriptionId}: only the fields approved for this subscription`,
      fields: fields as never,
    } as avro.Schema,
    { wrapUnions: 'auto' },
  );
  const exported = record.schema({ exportAttrs: true }) as RecordSchemaJson;
  // avsc does not carry arbitrary field attributes through; put ours back on the exported fields
  for (const f of exported.fields) {
    const mine = fields.find((g) => g.name === f.name)!;
    for (const [k, v] of Object.entries(mine)) if (k.startsWith('govx.')) f[k] = v;
  }
  return exported;
}
