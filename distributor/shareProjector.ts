import type avro from 'avsc';
import type { CachedSchema } from '../catalog/registry/schemaCache';
import { type GrantedField, Masker, type MaskingKeys } from '../catalog/sharingPolicy';
import type { Subscription } from '../catalog/subscriptions';
import type { IncomingMessage, KafkaHeaders, OutgoingMessage } from '../lib/kafkaPort';
import { AvroDecodeError, decodeBounded, recordFieldSpans } from '../schemas/boundedDecode';
import { encodeWireFormat, WIRE_HEADER_BYTES, writeWireHeader } from '../schemas/wireFormat';

/** Header names carried from the dataset record onto every share record. */
const PROVENANCE = ['govx-dataset', 'govx-publisher', 'govx-trace-id', 'govx-published-at'] as const;

/** The granted fields of one decoded record, each masked as granted: what a consumer receives (and what a preview shows). */
export function projectValue(masker: Masker, granted: readonly GrantedField[], decoded: Record<string, unknown>): Record<string, unknown> {
  return masker.project(granted, decoded);
}

type RecordType = avro.Type & { typeName: string; fields: Array<{ name: string; type: avro.Type }> };
type UnionType = avro.Type & { typeName: string; types: avro.Type[] };

/** How a masked field's value is read and written: strings (the common case) directly, anything else by avsc. */
type StringShape = 'string' | 'null-string' | 'other';

function shapeOf(type: avro.Type): StringShape {
  const t = type as UnionType;
  if (t.typeName === 'string') return 'string';
  if (t.typeName.startsWith('union') && t.types.length === 2 && t.types[0]!.typeName === 'null' && t.types[1]!.typeName === 'string') return 'null-string';
  return 'other';
}

/** One field of a share record: the writer's bytes as they are, or the writer's value masked and encoded as the share schema says. */
type Piece =
  | { copy: true; from: number }
  | { copy: false; from: number; grant: GrantedField; read: avro.Type; readShape: StringShape; write: avro.Type; writeShape: StringShape };

/**
 * A projection from records written with one dataset schema version straight to the bytes of one derived
 * share schema: a field delivered in the clear is copied byte for byte (its type in both schemas is the
 * same, so its encoding is too), a masked field alone is decoded, masked and encoded. Null when the two
 * schemas do not line up that simply (a granted field the writer lacks, a clear field whose type differs):
 * such records take the general path (decode, project, encode).
 */
export type CompiledProjection = (body: Buffer, spans: Int32Array, masker: Masker, schemaId: number) => Buffer;

// logical types and their parameters included: a date is copied as a date, a decimal only at the same scale
const schemaText = (t: avro.Type): string => JSON.stringify(t.schema({ exportAttrs: true }));

/** A zig-zag varint at `pos` of bytes the bounded walk already checked: [value, position after it]. */
function readLong(buf: Buffer, pos: number): [number, number] {
  let n = 0;
  let shift = 1;
  for (;;) {
    const b = buf[pos++]!;
    n += (b & 0x7f) * shift;
    if (!(b & 0x80)) return [n % 2 === 0 ? n / 2 : -(n + 1) / 2, pos];
    shift *= 128;
  }
}

function longSize(n: number): number {
  let z = n * 2; // lengths are never negative
  let size = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

function writeLong(buf: Buffer, pos: number, n: number): number {
  let z = n * 2;
  while (z >= 0x80) {
    buf[pos++] = (z & 0x7f) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[pos++] = z;
  return pos;
}

function readMasked(p: Extract<Piece, { copy: false }>, body: Buffer, start: number): unknown {
  if (p.readShape === 'other') {
    try {
      return p.read.decode(body, start).value;
    } catch (err) {
      throw new AvroDecodeError('invalid', `value does not decode: ${(err as Error).message}`);
    }
  }
  let pos = start;
  if (p.readShape === 'null-string') {
    const [branch, next] = readLong(body, pos);
    if (branch === 0) return null;
    pos = next;
  }
  const [length, at] = readLong(body, pos);
  return body.toString('utf8', at, at + length);
}

export function compileProjection(writer: avro.Type, derived: avro.Type, granted: readonly GrantedField[]): CompiledProjection | null {
  const w = writer as RecordType;
  const d = derived as RecordType;
  if (w.typeName !== 'record' || d.typeName !== 'record' || d.fields.length !== granted.length) return null;
  const grants = new Map(granted.map((g) => [g.name, g]));
  const pieces: Piece[] = [];
  for (const field of d.fields) {
    const grant = grants.get(field.name);
    const from = w.fields.findIndex((f) => f.name === field.name);
    if (!grant || from < 0) return null;
    const read = w.fields[from]!.type;
    if (grant.delivery === 'clear') {
      if (schemaText(read) !== schemaText(field.type)) return null;
      pieces.push({ copy: true, from });
    } else {
      pieces.push({ copy: false, from, grant, read, readShape: shapeOf(read), write: field.type, writeShape: shapeOf(field.type) });
    }
  }
  const n = pieces.length;
  return (body, spans, masker, schemaId) => {
    // first the masked values and the size of the whole, then one buffer written in place
    const masked: unknown[] = new Array(n);
    const encoded: Array<Buffer | null> = new Array(n).fill(null);
    let size = WIRE_HEADER_BYTES;
    for (let i = 0; i < n; i++) {
      const p = pieces[i]!;
      const start = spans[2 * p.from]!;
      if (p.copy) {
        size += spans[2 * p.from + 1]! - start;
        continue;
      }
      const value = masker.apply(p.grant, readMasked(p, body, start));
      masked[i] = value;
      if (typeof value === 'string' && p.writeShape !== 'other') {
        const bytes = Buffer.byteLength(value, 'utf8');
        size += (p.writeShape === 'null-string' ? 1 : 0) + longSize(bytes) + bytes;
      } else if (value === null && p.writeShape === 'null-string') {
        size += 1;
      } else {
        encoded[i] = p.write.toBuffer(value);
        size += encoded[i]!.length;
      }
    }
    const out = Buffer.allocUnsafe(size);
    writeWireHeader(out, schemaId);
    let at = WIRE_HEADER_BYTES;
    for (let i = 0; i < n; i++) {
      const p = pieces[i]!;
      if (p.copy) {
        at += body.copy(out, at, spans[2 * p.from]!, spans[2 * p.from + 1]!);
        continue;
      }
      const e = encoded[i];
      if (e) {
        at += e.copy(out, at);
        continue;
      }
      const value = masked[i];
      if (p.writeShape === 'null-string') out[at++] = value === null ? 0 : 2;
      if (typeof value === 'string') {
        at = writeLong(out, at, Buffer.byteLength(value, 'utf8'));
        at += out.write(value, at, 'utf8');
      }
    }
    return out;
  };
}

/**
 * One dataset record on its way to the share topics of several subscriptions: what every subscription's
 * projection shares (the provenance headers, the keyed hash of the key, the field spans or the decoded value)
 * is worked out once, on first need.
 */
export class DatasetRecord {
  private provenanceHeaders: Record<string, string> | null = null;
  private hashedKey: string | null | undefined;
  private spansOf: Int32Array | null = null;
  private decodedValue: Record<string, unknown> | null = null;

  constructor(
    readonly source: Pick<IncomingMessage, 'key' | 'value' | 'headers'>,
    /** the Avro body (after the wire header), null for a tombstone */
    readonly body: Buffer | null,
    readonly writer: CachedSchema | null,
  ) {}

  provenance(): Record<string, string> {
    if (!this.provenanceHeaders) {
      const headers: Record<string, string> = {};
      for (const name of PROVENANCE) {
        const v = this.source.headers?.[name];
        if (v !== undefined) headers[name] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
      }
      this.provenanceHeaders = headers;
    }
    return this.provenanceHeaders;
  }

  key(masker: Masker, keyField: string, clear: boolean): string | null {
    if (!this.source.key) return null;
    if (clear) return this.source.key.toString('utf8');
    if (this.hashedKey === undefined) this.hashedKey = masker.hash(keyField, this.source.key.toString('utf8'));
    return this.hashedKey;
  }

  /** Checks the body's bounds (AvroDecodeError when it fails) and says where its fields lie. */
  spans(): Int32Array {
    if (!this.spansOf) this.spansOf = recordFieldSpans(this.writer!.type, this.body!);
    return this.spansOf;
  }

  decoded(): Record<string, unknown> {
    if (!this.decodedValue) this.decodedValue = decodeBounded<Record<string, unknown>>(this.writer!.type, this.body!);
    return this.decodedValue;
  }
}

/**
 * Turns one dataset record into what one subscription may see: keep the granted fields, mask what must be
 * masked, encode with the subscription's derived schema, and pseudonymize the key unless the key field is
 * granted in clear. Synchronous: the caller resolves the schemas (writer and derived) before a batch.
 */
export class ShareProjector {
  private readonly maskers = new Map<string, Masker>();
  private readonly projections = new Map<string, CompiledProjection | null>();

  constructor(private readonly keys: MaskingKeys) {}

  maskerOf(dataset: string): Masker {
    let m = this.maskers.get(dataset);
    if (!m) this.maskers.set(dataset, (m = new Masker(this.keys, dataset)));
    return m;
  }

  private projectionOf(sub: Subscription, writer: CachedSchema, derived: CachedSchema): CompiledProjection | null {
    // a subscription's version changes with every transition, and with it, possibly, its grant
    const id = `${writer.id}/${derived.id}/${sub.id}/${sub.version}`;
    let p = this.projections.get(id);
    if (p === undefined) {
      if (this.projections.size > 10_000) this.projections.clear();
      this.projections.set(id, (p = compileProjection(writer.type, derived.type, sub.fields ?? [])));
    }
    return p;
  }

  /** Throws AvroDecodeError when the record's body does not decode with its writer's schema. */
  project(sub: Subscription, keyField: string, record: DatasetRecord, derived: CachedSchema): OutgoingMessage {
    const masker = this.maskerOf(sub.dataset);
    const granted = sub.fields ?? [];
    const keyClear = granted.some((g) => g.name === keyField && g.delivery === 'clear');
    const key = record.key(masker, keyField, keyClear);
    const headers: KafkaHeaders = { 'govx-subscription': sub.id, ...record.provenance() };
    if (record.body === null || record.writer === null) return { key, value: null, headers };

    headers['govx-schema-id'] = String(derived.id);
    const compiled = this.projectionOf(sub, record.writer, derived);
    if (compiled) return { key, value: compiled(record.body, record.spans(), masker, derived.id), headers };
    const projected = projectValue(masker, granted, record.decoded());
    return { key, value: encodeWireFormat(derived.id, derived.type.toBuffer(projected)), headers };
  }
}
