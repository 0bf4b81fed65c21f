import type { IHeaders, Message } from 'kafkajs';
import type { Principal } from '../catalog/keys';
import { ForbiddenError, GovxError, InputError, NotFoundError } from '../lib/errors';
import { type FieldError, validateNatural } from '../schemas/codec';
import { runDomainChecks } from '../schemas/validators';
import { overlongStrings } from '../gateway/publishBody';
import type { DatasetRuntime } from './datasetRuntime';

export const DEFAULT_MAX_STRING_LENGTH = 65536;

/**
 * The publish path as named stages. Each takes what the previous one produced and returns a typed result;
 * bad records are data (per-record errors), not exceptions. Only request-level failures throw.
 */

export interface RejectedRecord {
  index: number;
  errors: Array<{ path: string; message: string; rule?: string }>;
}

export interface ValidRecord {
  index: number;
  key: string;
  value: Buffer;
}

/** authorize: only the owner's publishers may publish, and only to an active dataset. */
export function authorizePublish(principal: Principal, runtime: DatasetRuntime | null, datasetId: string): DatasetRuntime {
  if (!runtime) throw new NotFoundError('dataset.not_found', `no dataset "${datasetId}" in the catalog`);
  const { dataset } = runtime;
  if (principal.role !== 'publisher' || principal.department !== dataset.owner) {
    throw new ForbiddenError(`only publishers of ${dataset.owner} may publish to ${dataset.id}`);
  }
  if (dataset.status !== 'active' && dataset.status !== 'deprecated') {
    throw new GovxError(409, 'dataset.not_active', `dataset ${dataset.id} is ${dataset.status} and does not accept records`);
  }
  return runtime;
}

/** decode: the request body into a list of records, in JSON (`{"records":[…]}`) or NDJSON form. */
export function decodeRecords(
  body: unknown,
  contentType: string,
  maxRecords: number,
): { records: unknown[]; lineErrors: RejectedRecord[]; rawLines: Map<number, string> } {
  let records: unknown[];
  const lineErrors: RejectedRecord[] = [];
  const rawLines = new Map<number, string>();
  if (contentType === 'application/x-ndjson') {
    const text = typeof body === 'string' ? body : '';
    records = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        lineErrors.push({ index: records.length, errors: [{ path: '', message: 'line is not valid JSON', rule: 'json' }] });
        rawLines.set(records.length, line);
        records.push(undefined);
      }
    }
  } else {
    const list = (body as { records?: unknown } | null)?.records;
    if (body === null || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(list)) {
      throw new InputError('publish.invalid_body', 'the body must be a JSON object with a "records" array');
    }
    const extra = Object.keys(body).filter((k) => k !== 'records');
    if (extra.length) throw new InputError('publish.invalid_body', `unknown top-level member(s): ${extra.join(', ')}`);
    records = list;
  }
  if (records.length === 0) throw new InputError('publish.no_records', 'the request holds no records');
  if (records.length > maxRecords) {
    throw new GovxError(413, 'publish.too_many_records', `a request may hold at most ${maxRecords} records; this one holds ${records.length}`);
  }
  return { records, lineErrors, rawLines };
}

const MAGIC_BYTE = 0;

/** Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then the Avro body. */
export function toWireFormat(schemaId: number, avroBody: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + avroBody.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeInt32BE(schemaId, 1);
  avroBody.copy(out, 5);
  return out;
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/** toWireFormat(schemaId, type.toBuffer(record)) with one allocation instead of three: encoded in place after the 5-byte prefix. */
function encodeWireFormat(runtime: DatasetRuntime, record: unknown): Buffer {
  for (;;) {
    const end = runtime.type.encode(record, scratch, 5);
    if (end >= 0) {
      const out = Buffer.allocUnsafe(end);
      scratch.copy(out, 0, 0, end);
      out.writeUInt8(MAGIC_BYTE, 0);
      out.writeInt32BE(runtime.schemaId, 1);
      return out;
    }
    scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
  }
}

export function fromWireFormat(buf: Buffer): { schemaId: number; body: Buffer } {
  if (buf.length < 5 || buf.readUInt8(0) !== MAGIC_BYTE) throw new InputError('avro.bad_wire_format', 'value is not in the Confluent wire format');
  return { schemaId: buf.readInt32BE(1), body: buf.subarray(5) };
}

/** validate: schema (types, required and unknown fields) then domain checks; encode what passes. */
export function validateRecords(
  runtime: DatasetRuntime,
  records: unknown[],
  skip: ReadonlySet<number>,
  maxStringLength = DEFAULT_MAX_STRING_LENGTH,
): { valid: ValidRecord[]; rejected: RejectedRecord[] } {
  const valid: ValidRecord[] = [];
  const rejected: RejectedRecord[] = [];
  const keyField = runtime.dataset.keyField;
  records.forEach((record, index) => {
    if (skip.has(index)) return;
    const errors: FieldError[] = validateNatural(runtime.type, record);
    for (const path of overlongStrings(record, maxStringLength)) {
      errors.push({ path, message: `is longer than the limit of ${maxStringLength} characters`, rule: 'max-length' });
    }
    if (record !== null && typeof record === 'object' && !Array.isArray(record)) {
      // Domain checks add what the schema cannot say, on fields whose type was right.
      const typed = new Set(errors.map((e) => e.path));
      for (const e of runDomainChecks(runtime.checks, record as Record<string, unknown>)) if (!typed.has(e.path)) errors.push(e);
    }
    if (errors.length > 0) {
      rejected.push({ index, errors });
      return;
    }
    const key = (record as Record<string, unknown>)[keyField];
    valid.push({ index, key: String(key), value: encodeWireFormat(runtime, record) });
  });
  return { valid, rejected };
}

export interface Provenance {
  dataset: string;
  publisher: string;
  schemaId: number;
  traceId: string;
  publishedAt: string;
}

/** stamp: the provenance headers every record carries on govx topics. */
export function stampProvenance(records: ValidRecord[], p: Provenance): Message[] {
  const headers: IHeaders = {
    'govx-dataset': p.dataset,
    'govx-publisher': p.publisher,
    'govx-schema-id': String(p.schemaId),
    'govx-trace-id': p.traceId,
    'govx-published-at': p.publishedAt,
  };
  return records.map((r) => ({ key: r.key, value: r.value, headers }));
}

/** Kafka's default message.max.bytes is about 1 MiB; a dead letter stays well below it with its headers. */
const MAX_DEAD_LETTER_VALUE_BYTES = 900 * 1024;
const MAX_ERROR_HEADER_CHARS = 4000;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export interface DeadLetterContext {
  dataset: string;
  keyField: string;
  publisher: string;
  requestId: string;
  schemaId: number;
  rejectedAt: string;
}

/**
 * dead-letter: each rejected record, as the publisher sent it (JSON bytes, or the raw NDJSON line that was not
 * JSON), with why it was rejected in headers, for the dataset owner to inspect on govx.dlq.<dataset>.
 */
export function deadLetters(
  rejected: RejectedRecord[],
  records: readonly unknown[],
  rawLines: ReadonlyMap<number, string>,
  ctx: DeadLetterContext,
): Message[] {
  return rejected.map(({ index, errors }) => {
    const record = records[index];
    const raw = rawLines.get(index);
    let value = Buffer.from(raw ?? JSON.stringify(record ?? null) ?? 'null', 'utf8');
    const truncated = value.length > MAX_DEAD_LETTER_VALUE_BYTES;
    if (truncated) value = value.subarray(0, MAX_DEAD_LETTER_VALUE_BYTES);
    const keyValue = record !== null && typeof record === 'object' ? (record as Record<string, unknown>)[ctx.keyField] : undefined;
    const rules = [...new Set(errors.map((e) => e.rule ?? 'invalid'))];
    const headers: IHeaders = {
      'govx-dataset': ctx.dataset,
      'govx-publisher': ctx.publisher,
      'govx-request-id': ctx.requestId,
      'govx-record-index': String(index),
      'govx-schema-id': String(ctx.schemaId),
      'govx-rejected-at': ctx.rejectedAt,
      'govx-error-rule': clip(rules.join(','), MAX_ERROR_HEADER_CHARS),
      'govx-error-reason': clip(errors.map((e) => `${e.path || '(record)'}: ${e.message}`).join('; '), MAX_ERROR_HEADER_CHARS),
      'govx-errors': clip(JSON.stringify(errors), MAX_ERROR_HEADER_CHARS),
    };
    if (truncated) headers['govx-truncated'] = 'true';
    const key = (typeof keyValue === 'string' && keyValue.length <= 256) || typeof keyValue === 'number' ? String(keyValue) : null;
    return { key, value, headers };
  });
}
