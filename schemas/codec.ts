import avro from 'avsc';

/**
 * Natural JSON ↔ Avro. Departments send plain JSON: `null` or the value for nullable unions, ISO strings
 * for dates and timestamps, decimal strings for decimals. These logical types convert between that form
 * and the Avro encoding, so the same compiled type validates, encodes and decodes.
 */

const DAY_MS = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// RFC 3339 / ISO 8601 date-time with an explicit offset (a timestamp without a zone is ambiguous).
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function parseIsoDate(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = ISO_DATE.exec(value);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms / DAY_MS;
}

export function formatIsoDate(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

function parseTimestampMillis(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string' || !ISO_TIMESTAMP.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

class DateType extends avro.types.LogicalType {
  override _fromValue(val: number): string {
    return formatIsoDate(val);
  }
  override _toValue(any: unknown): number | undefined {
    return parseIsoDate(any);
  }
  override _resolve(type: avro.Type): ((v: unknown) => unknown) | undefined {
    if (avro.Type.isType(type, 'int', 'logical:date')) return (v) => v;
    return undefined;
  }
}

class TimestampMillisType extends avro.types.LogicalType {
  override _fromValue(val: number): string {
    return new Date(val).toISOString();
  }
  override _toValue(any: unknown): number | undefined {
    return parseTimestampMillis(any);
  }
  override _resolve(type: avro.Type): ((v: unknown) => unknown) | undefined {
    if (avro.Type.isType(type, 'long', 'logical:timestamp-millis')) return (v) => v;
    return undefined;
  }
}

class TimestampMicrosType extends avro.types.LogicalType {
  override _fromValue(val: number): string {
    return new Date(Math.floor(val / 1000)).toISOString();
  }
  override _toValue(any: unknown): number | undefined {
    const ms = parseTimestampMillis(any);
    return ms === undefined ? undefined : ms * 1000;
  }
}

/** Decimal as a string of digits: exact, unlike a JSON number, which is what money needs. */
class DecimalType extends avro.types.LogicalType {
  readonly precision: number;
  readonly scale: number;
  private readonly pattern: RegExp;

  constructor(schema: { precision?: number; scale?: number }, opts?: unknown) {
    super(schema as avro.Schema, opts as avro.ForSchemaOptions);
    this.precision = schema.precision ?? 0;
    this.scale = schema.scale ?? 0;
    if (!Number.isInteger(this.precision) || this.precision < 1) throw new Error('decimal precision must be a positive integer');
    if (!Number.isInteger(this.scale) || this.scale < 0 || this.scale > this.precision) {
      throw new Error('decimal scale must be between 0 and the precision');
    }
    this.pattern = new RegExp(`^-?\\d{1,${this.precision}}(\\.\\d{1,${Math.max(this.scale, 1)}})?$`);
  }

  override _toValue(any: unknown): Buffer | undefined {
    if (typeof any !== 'string' || !this.pattern.test(any)) return undefined;
    const negative = any.startsWith('-');
    const [intPart, fracPart = ''] = (negative ? any.slice(1) : any).split('.');
    if (fracPart.length > this.scale) return undefined;
    const digits = (intPart! + fracPart.padEnd(this.scale, '0')).replace(/^0+(?=\d)/, '');
    if (digits.length > this.precision) return undefined;
    let unscaled = BigInt(digits);
    if (negative) unscaled = -unscaled;
    return bigIntToTwosComplement(unscaled);
  }

  override _fromValue(buf: Buffer): string {
    const unscaled = twosComplementToBigInt(buf);
    const negative = unscaled < 0n;
    const digits = (negative ? -unscaled : unscaled).toString().padStart(this.scale + 1, '0');
    const text = this.scale === 0 ? digits : `${digits.slice(0, -this.scale)}.${digits.slice(-this.scale)}`;
    return negative ? `-${text}` : text;
  }

  /** A schema exported from this type (a share schema derived from a dataset's) keeps its precision and scale. */
  override _export(attrs: avro.Schema): void {
    Object.assign(attrs as object, { precision: this.precision, scale: this.scale });
  }

  override _resolve(type: avro.Type): ((v: unknown) => unknown) | undefined {
    const other = type as unknown as { precision?: number; scale?: number };
    if (avro.Type.isType(type, 'logical:decimal') && other.precision === this.precision && other.scale === this.scale) {
      return (v) => v;
    }
    return undefined;
  }
}

function bigIntToTwosComplement(n: bigint): Buffer {
  let hex = (n < 0n ? -n : n).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (n >= 0n) {
    if (bytes.length === 0 || bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return bytes;
  }
  // negative: invert and add one over a width that leaves the sign bit set
  const width = bytes.length + (bytes[0]! & 0x80 ? 1 : 0);
  const mod = 1n << BigInt(width * 8);
  let out = (mod + n).toString(16).padStart(width * 2, '0');
  if (!(parseInt(out.slice(0, 2), 16) & 0x80)) out = `ff${out}`;
  return Buffer.from(out, 'hex');
}

function twosComplementToBigInt(buf: Buffer): bigint {
  if (buf.length === 0) return 0n;
  const n = BigInt(`0x${buf.toString('hex')}`);
  return buf[0]! & 0x80 ? n - (1n << BigInt(buf.length * 8)) : n;
}

export const naturalLogicalTypes = {
  date: DateType,
  'timestamp-millis': TimestampMillisType,
  'timestamp-micros': TimestampMicrosType,
  decimal: DecimalType,
} as unknown as Record<string, new (schema: unknown, opts?: unknown) => avro.types.LogicalType>;

/** Compiles an Avro schema into a type that speaks natural JSON. */
export function compileNaturalType(schema: unknown): avro.Type {
  const type = avro.Type.forSchema(schema as avro.Schema, { logicalTypes: naturalLogicalTypes, wrapUnions: 'auto' });
  withoutPrototypeLookups(type);
  return type;
}

interface LookupTables {
  readonly _indices?: Record<string, number>;
  readonly _fieldsByName?: Record<string, unknown>;
  underlyingType?: LookupTables;
  types?: LookupTables[];
  itemsType?: LookupTables;
  valuesType?: LookupTables;
  fields?: Array<{ type: LookupTables }>;
}

/**
 * avsc looks enum symbols and record fields up in plain objects, so a name that Object.prototype has answers
 * too: the enum value "toString" passed validation and was written with a function for its index (a record
 * no reader could decode, produced into the dataset topic), and a member named "constructor" or "__proto__"
 * was taken for a declared field and crashed the unknown-field check. The tables lose their prototype once
 * per compiled type, so only declared names are found.
 */
function withoutPrototypeLookups(root: avro.Type): void {
  const seen = new Set<LookupTables>();
  const visit = (t: LookupTables | undefined): void => {
    if (!t || seen.has(t)) return;
    seen.add(t);
    // the types are frozen, their tables are not: the tables lose their prototype in place
    if (t._indices) Object.setPrototypeOf(t._indices, null);
    if (t._fieldsByName) Object.setPrototypeOf(t._fieldsByName, null);
    visit(t.underlyingType);
    t.types?.forEach(visit);
    visit(t.itemsType);
    visit(t.valuesType);
    t.fields?.forEach((f) => visit(f.type));
  };
  visit(root as unknown as LookupTables);
}

export interface FieldError {
  path: string;
  message: string;
  rule?: string;
}

/** Human description of what a value of this type must look like, for per-field error messages. */
export function describeType(type: avro.Type): string {
  if (type instanceof DateType) return 'a date in YYYY-MM-DD form';
  if (type instanceof TimestampMillisType || type instanceof TimestampMicrosType) {
    return 'an ISO 8601 timestamp with a time zone, e.g. 2024-05-01T08:30:00Z';
  }
  if (type instanceof DecimalType) {
    return `a decimal string with at most ${type.precision} digits, ${type.scale} after the point, e.g. "1234.50"`;
  }
  const t = type as unknown as { typeName: string; symbols?: string[]; types?: avro.Type[]; itemsType?: avro.Type };
  switch (t.typeName) {
    case 'null':
      return 'null';
    case 'boolean':
      return 'true or false';
    case 'int':
      return 'a 32-bit integer';
    case 'long':
      return 'an integer';
    case 'float':
    case 'double':
      return 'a number';
    case 'string':
      return 'a string';
    case 'bytes':
      return 'bytes';
    case 'enum':
      return `one of ${(t.symbols ?? []).join(', ')}`;
    case 'array':
      return 'an array';
    case 'map':
      return 'an object of values';
    case 'record':
    case 'error':
      return 'an object';
    case 'union:unwrapped':
    case 'union:wrapped':
      return (t.types ?? []).map(describeType).join(' or ');
    default:
      return t.typeName;
  }
}

function isRecordType(type: avro.Type): type is avro.types.RecordType {
  return type.typeName === 'record' || type.typeName === 'error';
}

/** The array type of a field, directly or as the array branch of a nullable union. */
function unwrapArrayUnion(type: avro.Type): avro.Type | undefined {
  if (type.typeName === 'array') return type;
  if (type.typeName === 'union:unwrapped') return (type as unknown as { types: avro.Type[] }).types.find((t) => t.typeName === 'array');
  return undefined;
}

/** Fields present in the value but not declared in the schema, at any depth reachable through records. */
function undeclaredFields(type: avro.Type, value: unknown, path: string, out: FieldError[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  if (isRecordType(type)) {
    for (const key of Object.keys(value)) {
      const field = type.field(key);
      const at = path ? `${path}.${key}` : key;
      if (!field) {
        out.push({ path: at, message: 'is not a field of this dataset', rule: 'unknown-field' });
      } else {
        const v = (value as Record<string, unknown>)[key];
        const fieldType = unwrapArrayUnion(field.type);
        if (Array.isArray(v) && fieldType) undeclaredInArrays(fieldType, v, at, out);
        else undeclaredFields(field.type, v, at, out);
      }
    }
  } else if (type.typeName === 'union:unwrapped') {
    const branch = (type as unknown as { types: avro.Type[] }).types.find((t) => isRecordType(t) || t.typeName === 'map');
    if (branch) undeclaredFields(branch, value, path, out);
  } else if (type.typeName === 'map') {
    const values = (type as unknown as { valuesType: avro.Type }).valuesType;
    for (const [key, v] of Object.entries(value)) undeclaredFields(values, v, path ? `${path}.${key}` : key, out);
  }
}

/** Like undeclaredFields, for the items of arrays (whose values are JSON arrays, not objects). */
function undeclaredInArrays(type: avro.Type, value: unknown, path: string, out: FieldError[]): void {
  if (!Array.isArray(value)) return;
  const items = (type as unknown as { itemsType?: avro.Type }).itemsType;
  if (!items) return;
  value.forEach((item, i) => {
    const at = path ? `${path}.${i}` : String(i);
    if (Array.isArray(item)) undeclaredInArrays(items, item, at, out);
    else undeclaredFields(items, item, at, out);
  });
}

/** True when the type is a date, alone or as a branch of a nullable union. */
function acceptsDate(type: avro.Type): boolean {
  if (type instanceof DateType) return true;
  const branches = (type as unknown as { types?: avro.Type[] }).types;
  return Array.isArray(branches) && branches.some((b) => b instanceof DateType);
}

/**
 * What is wrong with a value, for its per-field error. A string in the right YYYY-MM-DD form that names no real
 * day (1990-02-30) is told so, rather than being told to use the form it already has.
 */
function describeMismatch(type: avro.Type, value: unknown): string {
  if (acceptsDate(type) && typeof value === 'string' && ISO_DATE.test(value)) {
    return 'is not a real calendar date (it has the YYYY-MM-DD form, but no such day exists)';
  }
  return `must be ${describeType(type)}`;
}

/** Checks a natural-JSON value against the compiled type: every error with its field path, none thrown. */
export function validateNatural(type: avro.Type, value: unknown): FieldError[] {
  const errors: FieldError[] = [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [{ path: '', message: 'a record must be a JSON object', rule: 'type' }];
  }
  undeclaredFields(type, value, '', errors);
  type.isValid(value, {
    errorHook: (path: string[], any: unknown, t: avro.Type) => {
      const where = path.join('.');
      // a missing member whose name Object.prototype also has ("constructor") reads the prototype's value
      const inherited = any !== undefined && path.length > 0 && any === (Object.prototype as Record<string, unknown>)[path[path.length - 1]!];
      if (any === undefined || inherited) errors.push({ path: where, message: 'is required', rule: 'required' });
      else errors.push({ path: where, message: describeMismatch(t, any), rule: 'type' });
    },
  });
  return errors;
}

/** Decoding Avro from outside govx: always bounded (see boundedDecode.ts). */
export { AvroDecodeError, type AvroDecodeLimits, checkAvroBounds, decodeBounded, defaultAvroDecodeLimits } from './boundedDecode';
