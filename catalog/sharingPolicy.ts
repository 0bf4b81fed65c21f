import crypto from 'node:crypto';
import avro from 'avsc';
import type { CatalogField, Dataset } from './datasets';
import type { SchemaChange } from './registry/compatibility';
import { compileNaturalType } from '../schemas/codec';
import { identifierKindOf, identifierKinds, identifierModels, maskSegments, type IdentifierKind } from '../schemas/validators/identifierSegments';

/**
 * The sharing policy: which fields a consuming department receives and how. A field whose sensitivity
 * is within the department's clearance is delivered in clear; above it, as the catalog's masking rule
 * says (a keyed hash, or a partial mask), or not at all when the field has no masking rule. An approval
 * can only tighten this: drop fields, or mask a field the policy would deliver in clear.
 *
 * Masks are judged on what a consumer receives as a whole (decision 0016): a partial mask of a structured
 * identifier (ID number, unified social credit code) keeps only parts that nothing else the consumer may
 * receive of the dataset completes, and a grant whose fields together rebuild an identifier the consumer may
 * not see in clear is refused.
 */

export type FieldDelivery = 'clear' | 'hash' | 'partial';

export interface GrantedField {
  name: string;
  delivery: FieldDelivery;
  /** a partial mask of a structured identifier: which of its segments are kept (the rest become `*`) */
  partial?: { identifier: IdentifierKind; keep: string[] };
}

/** The structured identifiers among a dataset's fields (field name → kind), from the schema's `govx.check`. */
export type IdentifierFields = Readonly<Record<string, IdentifierKind>>;

export function identifierFieldsOf(datasetSchema: unknown): IdentifierFields {
  const found: Record<string, IdentifierKind> = {};
  const fields = (datasetSchema as { fields?: Array<Record<string, unknown>> } | null)?.fields ?? [];
  for (const f of fields) {
    const check = f['govx.check'];
    if (typeof f.name === 'string' && typeof check === 'string' && (identifierKinds as readonly string[]).includes(check)) found[f.name] = check as IdentifierKind;
  }
  return found;
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
  identifiers: IdentifierFields = {},
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
    const delivery = asked && STRICTNESS[asked] > STRICTNESS[allowed] ? asked : allowed;
    const kind = identifiers[name];
    if (delivery === 'partial' && kind) {
      granted.push({ name, delivery, partial: { identifier: kind, keep: safePartialKeep(kind, revealedSegments(kind, receivableFields(dataset, clearance, name))) } });
    } else {
      granted.push({ name, delivery });
    }
  }
  return { granted, withheld };
}

// ---------------------------------------------------------------------------------------------------------
// Mask composition

/**
 * Fields that give away segments of an identifier when delivered in clear or partially, by name. A birth
 * date (or an age, which narrows it to a year) fills the ID number's birth segment; a district code or the
 * registering authority fills the credit code's division; the entity type its authority and type; an
 * organization code its organization segment. (Gender gives only the parity of the sequence: half of it.)
 */
const SEGMENT_REVEALERS: Readonly<Record<IdentifierKind, Readonly<Record<string, RegExp>>>> = {
  'cn-id-number': {
    region: /^(household_district|household_division|native_place_code|birth_place_code)$/,
    birth: /^(birth_?date|date_of_birth|birthday|dob|birth_year|birth_month|age|age_years|age_group)$/,
  },
  'cn-uscc': {
    authority: /^(entity_type|organi[sz]ation_type|registration_authority_code)$/,
    type: /^(entity_type|organi[sz]ation_type)$/,
    division: /^(district|division|division_code|registration_authority|registration_division)$/,
    organization: /^(organi[sz]ation_code|org_code|subject_identifier)$/,
  },
};

/** The segments of an identifier that these fields (delivered in clear or partially) give away. */
export function revealedSegments(kind: IdentifierKind, fields: Iterable<string>): Set<string> {
  const revealed = new Set<string>();
  const revealers = SEGMENT_REVEALERS[kind];
  for (const f of fields) for (const [segment, pattern] of Object.entries(revealers)) if (pattern.test(f)) revealed.add(segment);
  return revealed;
}

/** Every field of the dataset the department may receive in clear or partially, but `except`. */
function receivableFields(dataset: Pick<Dataset, 'fields'>, clearance: number, except: string): string[] {
  return dataset.fields.filter((f) => f.name !== except && (policyDelivery(f, clearance) === 'clear' || policyDelivery(f, clearance) === 'partial')).map((f) => f.name);
}

/** Fewer candidates than this left after the check character narrows them, and the check is not kept. */
const MIN_CANDIDATES = 1000;

/**
 * What a partial mask of an identifier may keep when `revealed` segments come from elsewhere: at least one
 * secret segment stays hidden, neither kept nor revealed, and the check character is kept only while what
 * stays hidden still leaves MIN_CANDIDATES candidates. Keeps nothing when the other fields alone give away
 * every secret (the grant is then refused: see rebuildableIdentifiers).
 */
export function safePartialKeep(kind: IdentifierKind, revealed: ReadonlySet<string>): string[] {
  const model = identifierModels[kind];
  const derived = new Set(model.segments.filter((s) => s.derived).map((s) => s.name));
  let keep = model.defaultKeep.filter((s) => !derived.has(s));
  const hidden = (): string[] => model.secrets.filter((s) => !keep.includes(s) && !revealed.has(s));
  for (const secret of model.secrets) {
    if (hidden().length > 0) break;
    keep = keep.filter((k) => k !== secret);
  }
  if (hidden().length === 0) return [];
  const space = hidden().reduce((n, s) => n * model.segments.find((x) => x.name === s)!.space, 1);
  for (const check of model.defaultKeep.filter((s) => derived.has(s))) {
    if (space / model.segments.find((x) => x.name === check)!.space >= MIN_CANDIDATES) keep.push(check);
  }
  return model.segments.map((s) => s.name).filter((s) => keep.includes(s));
}

export interface RebuildableIdentifier {
  field: string;
  identifier: IdentifierKind;
  /** the delivered fields that together give away every secret segment */
  from: string[];
}

/**
 * The identifiers that a consumer could rebuild beyond its grant from `delivered` (everything it receives
 * of the dataset: this grant and its other live ones): an identifier it may not receive in clear, whose
 * secret segments the delivered fields and masks give away between them.
 */
export function rebuildableIdentifiers(
  dataset: Pick<Dataset, 'fields'>,
  identifiers: IdentifierFields,
  clearance: number,
  delivered: readonly GrantedField[],
): RebuildableIdentifier[] {
  const found: RebuildableIdentifier[] = [];
  const visible = delivered.filter((g) => g.delivery !== 'hash');
  for (const [name, kind] of Object.entries(identifiers)) {
    const field = dataset.fields.find((f) => f.name === name);
    if (!field || policyDelivery(field, clearance) === 'clear') continue;
    if (delivered.some((g) => g.name === name && g.delivery === 'clear')) continue;
    const others = visible.filter((g) => g.name !== name).map((g) => g.name);
    const revealed = revealedSegments(kind, others);
    const own = visible.find((g) => g.name === name);
    for (const s of own?.partial?.keep ?? []) revealed.add(s);
    if (identifierModels[kind].secrets.every((s) => revealed.has(s))) {
      const from = others.filter((f) => revealedSegments(kind, [f]).size > 0);
      found.push({ field: name, identifier: kind, from: own ? [name, ...from] : from });
    }
  }
  return found;
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

/** Where masking keys come from: lib/keyring.ts (derived from a master key kept outside the database). */
export interface MaskingKeys {
  derive(purpose: string): Buffer;
}

/** The purpose name of the keyed hash of one field of one dataset. */
export const maskingKeyPurpose = (datasetId: string, field: string): string => `masking:${datasetId}:${field}`;

/**
 * Masks one dataset's values. A keyed hash is stable per dataset and field (the same value always hashes
 * the same in one field, so consumers can still join and count) and cannot be reversed or recomputed
 * without govx's master key; equal values in different fields or datasets hash apart, so they cannot be
 * joined across fields.
 */
export class Masker {
  private readonly fieldKeys = new Map<string, HmacSha256>();

  constructor(
    private readonly keys: MaskingKeys,
    readonly datasetId: string,
  ) {}

  private keyOf(field: string): HmacSha256 {
    let key = this.fieldKeys.get(field);
    if (!key) this.fieldKeys.set(field, (key = new HmacSha256(this.keys.derive(maskingKeyPurpose(this.datasetId, field)))));
    return key;
  }

  hash(field: string, value: unknown): string {
    return this.keyOf(field).hex(canonicalText(value)).slice(0, 32);
  }

  apply(grant: GrantedField, value: unknown): unknown {
    if (value === null || value === undefined || grant.delivery === 'clear') return value ?? null;
    if (grant.delivery === 'hash' || typeof value !== 'string') return this.hash(grant.name, value);
    return grant.partial ? maskSegments(value, grant.partial.identifier, grant.partial.keep) : partialMask(value);
  }

  /** Only the granted fields of a record, each as its grant says. */
  project(granted: readonly GrantedField[], record: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const projected: Record<string, unknown> = {};
    for (const g of granted) projected[g.name] = this.apply(g, record[g.name]);
    return projected;
  }
}

/**
 * HMAC-SHA256 (RFC 2104) under one key, with the key's inner and outer pads hashed once: each message then
 * costs two copies of a hash state instead of a new HMAC context (a third of the time, on the distributor's
 * path, where every delivered key is hashed). Same output as `crypto.createHmac('sha256', key)`.
 */
export class HmacSha256 {
  private readonly inner: crypto.Hash;
  private readonly outer: crypto.Hash;

  constructor(key: Buffer) {
    const block = Buffer.alloc(64);
    (key.length > 64 ? crypto.createHash('sha256').update(key).digest() : key).copy(block);
    const pad = (byte: number): Buffer => Buffer.from(block.map((b) => b ^ byte));
    this.inner = crypto.createHash('sha256').update(pad(0x36));
    this.outer = crypto.createHash('sha256').update(pad(0x5c));
  }

  hex(message: string): string {
    return this.outer.copy().update(this.inner.copy().update(message).digest()).digest('hex');
  }
}

function canonicalText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const PHONE = /^\+?\d{7,15}$/;

/**
 * Keeps just enough to recognise a value by eye: `张*明`, `138****5678`, `北京市海淀区******`. Length is
 * preserved, so the mask says nothing more than the length. A value shaped like an ID number or a credit
 * code in a field the schema does not mark as one keeps only its region (its authority, type and
 * division): nothing that another field could complete.
 */
export function partialMask(value: string): string {
  const chars = Array.from(value);
  const n = chars.length;
  const keep = (head: number, tail: number): string =>
    chars.slice(0, head).join('') + '*'.repeat(Math.max(n - head - tail, 0)) + (tail > 0 ? chars.slice(n - tail).join('') : '');
  if (n === 0) return value;
  const kind = identifierKindOf(value);
  if (kind === 'cn-id-number') return maskSegments(value, kind, ['region']);
  if (kind === 'cn-uscc') return maskSegments(value, kind, ['authority', 'type', 'division']);
  if (PHONE.test(value)) return keep(3, 4);
  if (n === 1) return '*';
  if (n === 2) return keep(1, 0);
  if (n <= 4) return keep(1, 1);
  if (n <= 8) return keep(2, 1);
  return keep(Math.ceil(n / 3), 0);
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
