import avro from 'avsc';
import { InputError } from '../lib/errors';

/**
 * Avro bytes from outside govx (Kafka values, clients) decoded with bounds. avsc trusts the lengths and
 * counts it reads from the wire: a few hostile bytes can announce a 2 GiB string or 10^15 array items and
 * make it allocate or loop until the process dies. `decodeBounded` first walks the buffer against the
 * writer's schema, checking every length and count against the bytes that remain and against `limits`,
 * without allocating; only a buffer that passes is handed to avsc.
 */

export interface AvroDecodeLimits {
  /** Largest buffer accepted at all. */
  maxBytes: number;
  /** Longest single string, bytes or fixed value. */
  maxStringBytes: number;
  /** Most array items plus map entries in one value, across all collections. */
  maxItems: number;
  /** Deepest nesting of records, arrays, maps and unions (recursive schemas). */
  maxDepth: number;
}

export const defaultAvroDecodeLimits: Readonly<AvroDecodeLimits> = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxStringBytes: 1024 * 1024,
  maxItems: 1_000_000,
  maxDepth: 64,
});

/** A malformed or oversized Avro value: `reason` says which check failed, for logs and dead letters. */
export class AvroDecodeError extends InputError {
  constructor(
    readonly reason: 'truncated' | 'negative-length' | 'limit' | 'invalid' | 'trailing-bytes',
    message: string,
  ) {
    super(reason === 'limit' ? 'avro.limit_exceeded' : 'avro.malformed', message, { reason });
  }
}

class BoundedReader {
  pos = 0;
  items = 0;

  constructor(
    readonly buf: Buffer,
    readonly limits: AvroDecodeLimits,
  ) {}

  remaining(): number {
    return this.buf.length - this.pos;
  }

  skip(n: number, what: string): void {
    if (n > this.remaining()) throw new AvroDecodeError('truncated', `${what} needs ${n} bytes at offset ${this.pos}, ${this.remaining()} remain`);
    this.pos += n;
  }

  /** A zig-zag varint of at most 10 bytes; refuses values beyond 2^53, which no length or count can be. */
  readLong(what: string): number {
    let n = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new AvroDecodeError('truncated', `${what} ends inside a number at offset ${this.pos}`);
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * shift;
      if (!(b & 0x80)) {
        if (n > Number.MAX_SAFE_INTEGER) throw new AvroDecodeError('invalid', `${what} is too large a number`);
        return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      }
      shift *= 128;
    }
    throw new AvroDecodeError('invalid', `${what} is a number longer than 10 bytes`);
  }

  length(what: string): number {
    const n = this.readLong(what);
    if (n < 0) throw new AvroDecodeError('negative-length', `${what} has a negative length (${n})`);
    if (n > this.limits.maxStringBytes) throw new AvroDecodeError('limit', `${what} is ${n} bytes long, over the limit of ${this.limits.maxStringBytes}`);
    return n;
  }
}

type AnyType = avro.Type & {
  typeName: string;
  fields?: Array<{ name: string; type: avro.Type }>;
  itemsType?: avro.Type;
  valuesType?: avro.Type;
  types?: avro.Type[];
  symbols?: string[];
  size?: number;
  underlyingType?: avro.Type;
};

function walk(type: avro.Type, r: BoundedReader, path: string, depth: number): void {
  const t = type as AnyType;
  if (depth > r.limits.maxDepth) throw new AvroDecodeError('limit', `${path || 'value'} is nested deeper than ${r.limits.maxDepth}`);
  const where = path || 'value';
  if (t.underlyingType) return walk(t.underlyingType, r, path, depth);
  switch (t.typeName) {
    case 'null':
      return;
    case 'boolean': {
      r.skip(1, where);
      const b = r.buf[r.pos - 1]!;
      if (b > 1) throw new AvroDecodeError('invalid', `${where} is a boolean byte ${b}`);
      return;
    }
    case 'int':
    case 'long':
      r.readLong(where);
      return;
    case 'float':
      r.skip(4, where);
      return;
    case 'double':
      r.skip(8, where);
      return;
    case 'string':
    case 'bytes':
      r.skip(r.length(where), where);
      return;
    case 'fixed':
      r.skip(t.size ?? 0, where);
      return;
    case 'enum': {
      const i = r.readLong(where);
      if (i < 0 || i >= (t.symbols?.length ?? 0)) throw new AvroDecodeError('invalid', `${where} has enum index ${i} of ${t.symbols?.length ?? 0}`);
      return;
    }
    case 'record':
    case 'error':
      for (const f of t.fields ?? []) walk(f.type, r, path ? `${path}.${f.name}` : f.name, depth + 1);
      return;
    case 'union:unwrapped':
    case 'union:wrapped': {
      const i = r.readLong(where);
      const branch = t.types?.[i];
      if (i < 0 || !branch) throw new AvroDecodeError('invalid', `${where} has union branch ${i} of ${t.types?.length ?? 0}`);
      walk(branch, r, path, depth + 1);
      return;
    }
    case 'array':
    case 'map': {
      let index = 0;
      for (;;) {
        let count = r.readLong(`${where} block count`);
        if (count === 0) return;
        if (count < 0) {
          count = -count;
          const size = r.readLong(`${where} block size`);
          if (size < 0) throw new AvroDecodeError('negative-length', `${where} has a negative block size (${size})`);
          if (size > r.remaining()) throw new AvroDecodeError('truncated', `${where} announces a block of ${size} bytes, ${r.remaining()} remain`);
        }
        r.items += count;
        if (r.items > r.limits.maxItems) throw new AvroDecodeError('limit', `${where} holds more than ${r.limits.maxItems} items`);
        for (let k = 0; k < count; k++, index++) {
          if (t.typeName === 'map') r.skip(r.length(`${where} key`), `${where} key`);
          walk(t.typeName === 'map' ? t.valuesType! : t.itemsType!, r, `${where}[${index}]`, depth + 1);
        }
      }
    }
    default:
      throw new AvroDecodeError('invalid', `cannot check values of Avro type ${t.typeName}`);
  }
}

/** Checks that `buf` is exactly one value of `type` within `limits`, without allocating; throws AvroDecodeError. */
export function checkAvroBounds(type: avro.Type, buf: Buffer, limits: Partial<AvroDecodeLimits> = {}): void {
  const all = { ...defaultAvroDecodeLimits, ...limits };
  if (buf.length > all.maxBytes) throw new AvroDecodeError('limit', `value is ${buf.length} bytes, over the limit of ${all.maxBytes}`);
  const reader = new BoundedReader(buf, all);
  walk(type, reader, '', 0);
  if (reader.pos !== buf.length) throw new AvroDecodeError('trailing-bytes', `${buf.length - reader.pos} bytes follow the value`);
}

/**
 * Checks `buf` exactly as `checkAvroBounds` does, for a record type, and says where each of its fields'
 * encoded bytes lie: `[start0, end0, start1, end1, …]` in the writer's field order. What a copy of a field's
 * bytes needs, without decoding the record.
 */
export function recordFieldSpans(recordType: avro.Type, buf: Buffer, limits?: Partial<AvroDecodeLimits>): Int32Array {
  const t = recordType as AnyType;
  if (t.typeName !== 'record' || !t.fields) throw new AvroDecodeError('invalid', 'field spans need a record type');
  const all: AvroDecodeLimits = limits ? { ...defaultAvroDecodeLimits, ...limits } : defaultAvroDecodeLimits;
  if (buf.length > all.maxBytes) throw new AvroDecodeError('limit', `value is ${buf.length} bytes, over the limit of ${all.maxBytes}`);
  const reader = new BoundedReader(buf, all);
  const spans = new Int32Array(t.fields.length * 2);
  for (let i = 0; i < t.fields.length; i++) {
    const f = t.fields[i]!;
    spans[2 * i] = reader.pos;
    walk(f.type, reader, f.name, 1);
    spans[2 * i + 1] = reader.pos;
  }
  if (reader.pos !== buf.length) throw new AvroDecodeError('trailing-bytes', `${buf.length - reader.pos} bytes follow the value`);
  return spans;
}
/**
 * Decodes an Avro body written with `writerType` after checking its bounds. With `resolver` (from
 * `readerType.createResolver(writerType)`), the value is read into the reader's schema.
 */
export function decodeBounded<T = unknown>(
  writerType: avro.Type,
  buf: Buffer,
  limits: Partial<AvroDecodeLimits> = {},
  resolver?: avro.Resolver,
  readerType?: avro.Type,
): T {
  checkAvroBounds(writerType, buf, limits);
  try {
    return (resolver && readerType ? readerType.fromBuffer(buf, resolver, true) : writerType.fromBuffer(buf)) as T;
  } catch (err) {
    throw new AvroDecodeError('invalid', `value does not decode: ${(err as Error).message}`);
  }
}
