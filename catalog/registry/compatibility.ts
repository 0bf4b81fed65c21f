/**
 * Avro schema compatibility, following the specification's schema resolution rules
 * (https://avro.apache.org/docs/1.11.1/specification/#schema-resolution) the way Confluent's registry
 * (Java's SchemaCompatibility) applies them, with one addition: a decimal's precision or scale may not change.
 *
 * Pure: schemas in, findings out. Every finding names where it happened, both as a JSON-pointer-like path
 * in the reader's schema ("/fields/address/type/fields/city") and as a field path ("address.city").
 */
import {
  resolveSchema,
  type AvroSchema,
  type EnumNode,
  type FieldNode,
  type FixedNode,
  type NamedNode,
  type PrimitiveName,
  type PrimitiveNode,
  type RecordNode,
  type SchemaNode,
  type UnionNode,
} from './canonical';

export const compatibilityLevels = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;

export type CompatibilityLevel = (typeof compatibilityLevels)[number];

export function isCompatibilityLevel(value: unknown): value is CompatibilityLevel {
  return typeof value === 'string' && (compatibilityLevels as readonly string[]).includes(value);
}

export type IncompatibilityType =
  | 'TYPE_MISMATCH'
  | 'READER_FIELD_MISSING_DEFAULT_VALUE'
  | 'MISSING_UNION_BRANCH'
  | 'MISSING_ENUM_SYMBOLS'
  | 'NAME_MISMATCH'
  | 'FIXED_SIZE_MISMATCH'
  | 'DECIMAL_PRECISION_MISMATCH'
  | 'DECIMAL_SCALE_MISMATCH';

export interface Incompatibility {
  /** Where, in the reader's schema: "/fields/birth_date/type", "/" for the top level. */
  path: string;
  type: IncompatibilityType;
  message: string;
}

export interface CompatibilityResult {
  compatible: boolean;
  messages: string[];
  incompatibilities: Incompatibility[];
}

export interface SchemaChange {
  added: string[];
  removed: string[];
  retyped: Array<{ field: string; from: string; to: string }>;
}

// ---------------------------------------------------------------------------------------------------------
// Public entry points

/** Can data written with `writer` be read with `reader`? Empty when it can. */
export function readerCanRead(reader: AvroSchema, writer: AvroSchema): Incompatibility[] {
  return toIncompatibilities(compareNodes(resolveSchema(reader), resolveSchema(writer)), 'neutral', '');
}

/**
 * Checks a candidate schema against a subject's existing versions (oldest first) under `level`.
 * `options.versions` (aligned with `existingOldestFirst`) only labels the messages of transitive checks.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  candidate: AvroSchema,
  existingOldestFirst: readonly AvroSchema[],
  options: { versions?: ReadonlyArray<number | string> } = {},
): CompatibilityResult {
  if (!isCompatibilityLevel(level)) throw new RangeError(`unknown compatibility level: ${String(level)}`);
  if (level === 'NONE' || existingOldestFirst.length === 0) return { compatible: true, messages: [], incompatibilities: [] };

  const transitive = level.endsWith('_TRANSITIVE');
  const directions: Direction[] = level.startsWith('BACKWARD') ? ['backward'] : level.startsWith('FORWARD') ? ['forward'] : ['backward', 'forward'];
  const n = existingOldestFirst.length;
  const indices = transitive ? existingOldestFirst.map((_, i) => i) : [n - 1];
  const next = resolveSchema(candidate);

  const incompatibilities: Incompatibility[] = [];
  for (const i of indices) {
    const old = resolveSchema(existingOldestFirst[i]);
    const version = options.versions?.[i];
    const prefix = !transitive ? '' : version !== undefined ? `version ${version}: ` : `existing schema ${i + 1} of ${n}: `;
    for (const direction of directions) {
      const findings = direction === 'backward' ? compareNodes(next, old) : compareNodes(old, next);
      incompatibilities.push(...toIncompatibilities(findings, direction, prefix));
    }
  }
  const messages = [...new Set(incompatibilities.map((i) => i.message))];
  return { compatible: incompatibilities.length === 0, messages, incompatibilities };
}

/** What changed between the top-level fields of two record schemas (non-records have no fields). */
export function describeSchemaChange(oldSchema: AvroSchema, newSchema: AvroSchema): SchemaChange {
  const before = topLevelFields(resolveSchema(oldSchema));
  const after = topLevelFields(resolveSchema(newSchema));
  const retyped: SchemaChange['retyped'] = [];
  for (const [name, field] of after) {
    const was = before.get(name);
    if (was && typeSignature(was.type) !== typeSignature(field.type)) {
      retyped.push({ field: name, from: renderType(was.type), to: renderType(field.type) });
    }
  }
  return {
    added: [...after.keys()].filter((name) => !before.has(name)),
    removed: [...before.keys()].filter((name) => !after.has(name)),
    retyped,
  };
}

function topLevelFields(node: SchemaNode): Map<string, FieldNode> {
  return new Map(node.kind === 'record' ? node.fields.map((f) => [f.name, f]) : []);
}

// ---------------------------------------------------------------------------------------------------------
// Rendering types for people

/** A short readable form: `string`, `int(date)`, `bytes(decimal(10,2))`, `array<Address>`, `["null","string"]`. */
export function renderType(node: SchemaNode): string {
  switch (node.kind) {
    case 'primitive': {
      const decimal = decimalOf(node);
      if (decimal) return `${node.type}(decimal(${decimal.precision},${decimal.scale}))`;
      const logical = node.attrs.get('logicalType');
      return typeof logical === 'string' ? `${node.type}(${logical})` : node.type;
    }
    case 'array':
      return `array<${renderType(node.items)}>`;
    case 'map':
      return `map<${renderType(node.values)}>`;
    case 'union':
      return `[${node.branches.map((b) => JSON.stringify(renderType(b))).join(',')}]`;
    default:
      return node.shortName;
  }
}

/** Like renderType, but tells apart named types that share a short name. */
function typeSignature(node: SchemaNode): string {
  switch (node.kind) {
    case 'primitive':
      return renderType(node);
    case 'array':
      return `array<${typeSignature(node.items)}>`;
    case 'map':
      return `map<${typeSignature(node.values)}>`;
    case 'union':
      return `[${node.branches.map(typeSignature).join(',')}]`;
    default:
      return `${node.kind} ${node.fullName}${node.kind === 'fixed' ? `(${node.size})` : ''}`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Findings: incompatibilities relative to the pair of types where they were found

type Detail =
  | { kind: 'missingDefault' }
  | { kind: 'typeMismatch'; reader: string; writer: string; writerUnion?: string }
  | { kind: 'missingBranch'; reader: string; writer: string; writerUnion?: string }
  | { kind: 'enumSymbols'; name: string; missing: string[] }
  | { kind: 'name'; what: string; reader: string; writer: string }
  | { kind: 'fixedSize'; name: string; reader: number; writer: number }
  | { kind: 'decimal'; reader: Decimal; writer: Decimal };

interface Finding {
  readonly type: IncompatibilityType;
  /** Path segments in the reader's schema. */
  readonly pointer: readonly string[];
  /** Field names, with "[]" / "{}" for array items / map values. */
  readonly field: readonly string[];
  readonly detail: Detail;
}

interface Decimal {
  precision: number;
  scale: number;
}

function finding(type: IncompatibilityType, detail: Detail, pointer: string[] = []): Finding {
  return { type, pointer, field: [], detail };
}

function within(findings: readonly Finding[], pointer: readonly string[], field: readonly string[]): Finding[] {
  return findings.map((f) => ({ ...f, pointer: [...pointer, ...f.pointer], field: [...field, ...f.field] }));
}

// ---------------------------------------------------------------------------------------------------------
// The checker

interface Outcome {
  readonly findings: readonly Finding[];
  /**
   * The lowest stack depth of a pair that was assumed compatible to reach this result (recursion), or
   * Infinity when the result stands on its own. Findings never depend on assumptions: assuming only
   * ever hides problems, it never invents them.
   */
  readonly low: number;
}

const STANDS_ALONE = Number.POSITIVE_INFINITY;

function compareNodes(reader: SchemaNode, writer: SchemaNode): Finding[] {
  return [...new Checker().check(reader, writer).findings];
}

class PairMap<V> {
  private readonly byReader = new Map<SchemaNode, Map<SchemaNode, V>>();

  get(reader: SchemaNode, writer: SchemaNode): V | undefined {
    return this.byReader.get(reader)?.get(writer);
  }

  set(reader: SchemaNode, writer: SchemaNode, value: V): void {
    let inner = this.byReader.get(reader);
    if (!inner) this.byReader.set(reader, (inner = new Map()));
    inner.set(writer, value);
  }

  delete(reader: SchemaNode, writer: SchemaNode): void {
    this.byReader.get(reader)?.delete(writer);
  }
}

/**
 * Memoises every (reader, writer) pair so shared and recursive types are checked once. A pair already
 * being checked further up the stack is assumed compatible (that is what stops a linked list from
 * looping); results that leaned on such an assumption stay provisional until the assumed pair is
 * decided, and are dropped if it turns out incompatible.
 */
class Checker {
  private readonly settled = new PairMap<readonly Finding[]>();
  private readonly provisional = new PairMap<{ low: number }>();
  private readonly active = new PairMap<number>();
  /** Per active pair, the provisional results that depend on it. */
  private readonly dependants: Array<Array<[SchemaNode, SchemaNode]>> = [];
  private readonly writerFields = new WeakMap<RecordNode, Map<string, FieldNode>>();

  check(reader: SchemaNode, writer: SchemaNode): Outcome {
    const done = this.settled.get(reader, writer);
    if (done) return { findings: done, low: STANDS_ALONE };
    const pending = this.provisional.get(reader, writer);
    if (pending) return { findings: [], low: pending.low };
    const assumed = this.active.get(reader, writer);
    if (assumed !== undefined) return { findings: [], low: assumed };

    const depth = this.dependants.length;
    this.active.set(reader, writer, depth);
    this.dependants.push([]);
    const outcome = this.compare(reader, writer);
    this.active.delete(reader, writer);
    const mine = this.dependants.pop()!;

    if (outcome.findings.length === 0 && outcome.low < depth) {
      for (const [r, w] of mine) this.provisional.get(r, w)!.low = outcome.low;
      this.provisional.set(reader, writer, { low: outcome.low });
      this.dependants[outcome.low].push(...mine, [reader, writer]);
      return outcome;
    }
    for (const [r, w] of mine) {
      this.provisional.delete(r, w);
      if (outcome.findings.length === 0) this.settled.set(r, w, []);
    }
    this.settled.set(reader, writer, outcome.findings);
    return { findings: outcome.findings, low: STANDS_ALONE };
  }

  private compare(reader: SchemaNode, writer: SchemaNode): Outcome {
    // Any branch may have been written, so every one of them must be readable (as Java checks it).
    if (writer.kind === 'union') {
      return merge(writer.branches.map((branch) => this.readUnionBranch(reader, branch, writer)));
    }
    if (reader.kind === 'union') return this.readIntoUnion(reader, writer);
    if (reader.kind === 'primitive' && writer.kind === 'primitive') return alone(comparePrimitives(reader, writer));
    if (reader.kind === 'record' && writer.kind === 'record') return this.compareRecords(reader, writer);
    if (reader.kind === 'enum' && writer.kind === 'enum') return alone(compareEnums(reader, writer));
    if (reader.kind === 'fixed' && writer.kind === 'fixed') return alone(compareFixed(reader, writer));
    if (reader.kind === 'array' && writer.kind === 'array') {
      return inside(this.check(reader.items, writer.items), ['items'], ['[]']);
    }
    if (reader.kind === 'map' && writer.kind === 'map') {
      return inside(this.check(reader.values, writer.values), ['values'], ['{}']);
    }
    return alone([typeMismatch(reader, writer)]);
  }

  private readUnionBranch(reader: SchemaNode, branch: SchemaNode, union: UnionNode): Outcome {
    const outcome = this.check(reader, branch);
    const writerUnion = renderType(union);
    // Only findings about the branch itself need the union named; deeper ones are about its contents.
    const findings = outcome.findings.map((f) =>
      f.pointer.length === 0 && (f.detail.kind === 'typeMismatch' || f.detail.kind === 'missingBranch')
        ? { ...f, detail: { ...f.detail, writerUnion } }
        : f,
    );
    return { findings, low: outcome.low };
  }

  private readIntoUnion(reader: UnionNode, writer: SchemaNode): Outcome {
    const attempts: Outcome[] = [];
    for (const branch of reader.branches) {
      const attempt = this.check(branch, writer);
      if (attempt.findings.length === 0) return attempt;
      attempts.push(attempt);
    }
    // No branch reads it. If one is meant to (same kind and name), its own problems are the useful reason.
    const intended = reader.branches.findIndex((branch) => sameShape(branch, writer));
    if (intended >= 0) return alone(within(attempts[intended].findings, [String(intended)], []));
    return alone([
      finding('MISSING_UNION_BRANCH', { kind: 'missingBranch', reader: renderType(reader), writer: renderType(writer) }),
    ]);
  }

  private compareRecords(reader: RecordNode, writer: RecordNode): Outcome {
    const outcomes: Outcome[] = [alone(compareNames(reader, writer))];
    const written = this.fieldsOf(writer);
    for (const field of reader.fields) {
      const source = written.get(field.name) ?? field.aliases.map((a) => written.get(a)).find((f) => f !== undefined);
      if (source) {
        outcomes.push(inside(this.check(field.type, source.type), ['fields', field.name, 'type'], [field.name]));
      } else if (!field.hasDefault) {
        const missing = finding('READER_FIELD_MISSING_DEFAULT_VALUE', { kind: 'missingDefault' });
        outcomes.push(alone(within([missing], ['fields', field.name], [field.name])));
      }
    }
    return merge(outcomes);
  }

  private fieldsOf(record: RecordNode): Map<string, FieldNode> {
    let byName = this.writerFields.get(record);
    if (!byName) this.writerFields.set(record, (byName = new Map(record.fields.map((f) => [f.name, f]))));
    return byName;
  }
}

function alone(findings: readonly Finding[]): Outcome {
  return { findings, low: STANDS_ALONE };
}

/**
 * A type shared by many fields is reported at each place it is used, which for types that nest shared
 * types grows exponentially (2^n places for n levels). People read the first few findings; the cap keeps
 * the work linear in the schema's size.
 */
export const MAX_FINDINGS = 100;

function merge(outcomes: readonly Outcome[]): Outcome {
  const findings: Finding[] = [];
  for (const o of outcomes) {
    for (const f of o.findings) {
      if (findings.length >= MAX_FINDINGS) break;
      findings.push(f);
    }
  }
  return {
    findings,
    low: outcomes.reduce((low, o) => Math.min(low, o.low), STANDS_ALONE),
  };
}

function inside(outcome: Outcome, pointer: readonly string[], field: readonly string[]): Outcome {
  return { findings: within(outcome.findings, pointer, field), low: outcome.low };
}

// ---------------------------------------------------------------------------------------------------------
// The rules

/** Writer type → reader types it may be promoted to. */
const PROMOTIONS: Readonly<Record<PrimitiveName, readonly PrimitiveName[]>> = {
  null: [],
  boolean: [],
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  double: [],
  bytes: ['string'],
  string: ['bytes'],
};

function comparePrimitives(reader: PrimitiveNode, writer: PrimitiveNode): Finding[] {
  if (reader.type !== writer.type && !PROMOTIONS[writer.type].includes(reader.type)) return [typeMismatch(reader, writer)];
  return compareDecimals(reader, writer);
}

function compareNames(reader: NamedNode, writer: NamedNode): Finding[] {
  // The spec matches unqualified names; a reader alias must name the writer's full name (as Java does).
  if (reader.shortName === writer.shortName || reader.aliases.includes(writer.fullName)) return [];
  const detail: Detail = { kind: 'name', what: reader.kind, reader: reader.fullName, writer: writer.fullName };
  return [finding('NAME_MISMATCH', detail, ['name'])];
}

function compareEnums(reader: EnumNode, writer: EnumNode): Finding[] {
  const known = new Set(reader.symbols);
  const missing = writer.symbols.filter((s) => !known.has(s));
  const findings = compareNames(reader, writer);
  if (missing.length > 0 && reader.default === undefined) {
    findings.push(finding('MISSING_ENUM_SYMBOLS', { kind: 'enumSymbols', name: reader.fullName, missing }, ['symbols']));
  }
  return findings;
}

function compareFixed(reader: FixedNode, writer: FixedNode): Finding[] {
  const findings = compareNames(reader, writer);
  if (reader.size !== writer.size) {
    const detail: Detail = { kind: 'fixedSize', name: reader.fullName, reader: reader.size, writer: writer.size };
    findings.push(finding('FIXED_SIZE_MISMATCH', detail, ['size']));
  }
  return [...findings, ...compareDecimals(reader, writer)];
}

/** Logical types are read by their underlying type, except that a decimal's precision and scale must match. */
function compareDecimals(reader: PrimitiveNode | FixedNode, writer: PrimitiveNode | FixedNode): Finding[] {
  const r = decimalOf(reader);
  const w = decimalOf(writer);
  if (!r || !w || (r.precision === w.precision && r.scale === w.scale)) return [];
  return [finding(r.scale !== w.scale ? 'DECIMAL_SCALE_MISMATCH' : 'DECIMAL_PRECISION_MISMATCH', { kind: 'decimal', reader: r, writer: w })];
}

/** A valid decimal annotation; an invalid one is ignored, as the spec says to fall back to the underlying type. */
function decimalOf(node: SchemaNode): Decimal | undefined {
  if (!(node.kind === 'fixed' || (node.kind === 'primitive' && node.type === 'bytes'))) return undefined;
  if (node.attrs.get('logicalType') !== 'decimal') return undefined;
  const precision = node.attrs.get('precision');
  const scale = node.attrs.get('scale') ?? 0;
  if (typeof precision !== 'number' || !Number.isInteger(precision) || precision < 1) return undefined;
  if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > precision) return undefined;
  return { precision, scale };
}

function typeMismatch(reader: SchemaNode, writer: SchemaNode): Finding {
  return finding('TYPE_MISMATCH', { kind: 'typeMismatch', reader: renderType(reader), writer: renderType(writer) });
}

/** The spec's notion of a union branch "matching" a writer type, before looking inside it. */
function sameShape(reader: SchemaNode, writer: SchemaNode): boolean {
  if (reader.kind === 'primitive' && writer.kind === 'primitive') {
    return reader.type === writer.type || PROMOTIONS[writer.type].includes(reader.type);
  }
  if (reader.kind !== writer.kind) return false;
  if (reader.kind === 'record' || reader.kind === 'enum' || reader.kind === 'fixed') {
    return compareNames(reader, writer as NamedNode).length === 0;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Messages

type Direction = 'backward' | 'forward';
type Perspective = Direction | 'neutral';

const ROLES: Record<Perspective, { reader: string; writer: string }> = {
  backward: { reader: 'new', writer: 'old' },
  forward: { reader: 'old', writer: 'new' },
  neutral: { reader: "reader's", writer: "writer's" },
};

const CONSEQUENCE: Record<Perspective, string> = {
  backward: ': readers using the new schema cannot read old data',
  forward: ': readers using the old schema cannot read new data',
  neutral: '',
};

function toIncompatibilities(findings: readonly Finding[], perspective: Perspective, prefix: string): Incompatibility[] {
  return findings.map((f) => ({
    path: f.pointer.length === 0 ? '/' : `/${f.pointer.join('/')}`,
    type: f.type,
    message: `${prefix}${describe(f, perspective)} (${f.type})`,
  }));
}

function describe(f: Finding, perspective: Perspective): string {
  const field = fieldLabel(f.field);
  const d = f.detail;
  if (d.kind === 'missingDefault') {
    if (perspective === 'backward') return `field "${field}" was added without a default${CONSEQUENCE.backward}`;
    if (perspective === 'forward') return `field "${field}" was removed but has no default in the old schema${CONSEQUENCE.forward}`;
    return `field "${field}" is missing from the writer's schema and has no default in the reader's schema`;
  }
  const where = field === '' ? 'top level' : `field "${field}"`;
  return `${where}: ${explain(d, ROLES[perspective])}${CONSEQUENCE[perspective]}`;
}

function explain(d: Exclude<Detail, { kind: 'missingDefault' }>, role: { reader: string; writer: string }): string {
  switch (d.kind) {
    case 'typeMismatch':
      return d.writerUnion
        ? `the ${role.writer} union ${d.writerUnion} has a ${d.writer} branch that the ${role.reader} type ${d.reader} cannot read`
        : `the ${role.writer} type ${d.writer} cannot be read as the ${role.reader} type ${d.reader}`;
    case 'missingBranch':
      return `the ${role.reader} union ${d.reader} has no branch that can read the ${role.writer} ${d.writerUnion ? `union's ${d.writer} branch` : `type ${d.writer}`}`;
    case 'enumSymbols':
      return `the ${role.reader} enum ${d.name} has no symbol${d.missing.length > 1 ? 's' : ''} ${d.missing.join(', ')} and no default`;
    case 'name':
      return `the ${role.writer} ${d.what} ${d.writer} cannot be read as the ${role.reader} ${d.what} ${d.reader}: the names differ and no alias matches`;
    case 'fixedSize':
      return `the ${role.writer} fixed ${d.name} has size ${d.writer} but the ${role.reader} one has size ${d.reader}`;
    case 'decimal':
      return `the ${role.writer} decimal(${d.writer.precision},${d.writer.scale}) cannot be read as the ${role.reader} decimal(${d.reader.precision},${d.reader.scale}): precision and scale must not change`;
  }
}

function fieldLabel(segments: readonly string[]): string {
  return segments.reduce((label, s) => (s === '[]' || s === '{}' || label === '' ? label + s : `${label}.${s}`), '');
}
