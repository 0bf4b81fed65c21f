import type { KafkaHeaders, OutgoingMessage } from '../lib/kafkaPort';
import type { Principal } from '../catalog/keys';
import { ForbiddenError, GovxError, NotFoundError } from '../lib/errors';
import { type FieldError, validateNatural } from '../schemas/codec';
import { runDomainChecks } from '../schemas/validators';
import { recordWriterFor } from '../schemas/compiledRecord';
import { encodeRecord } from '../schemas/wireFormat';
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

/** Paths of string values longer than `maxLength`, found without recursion (depth is already bounded). */
export function overlongStrings(value: unknown, maxLength: number): string[] {
  const found: string[] = [];
  // Paths are built only below the top level: records are mostly flat, and this runs for every record.
  const nested: Array<[unknown, string]> = [];
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const k in value) {
      const v = (value as Record<string, unknown>)[k];
      if (typeof v === 'string') {
        if (v.length > maxLength) found.push(k);
      } else if (v !== null && typeof v === 'object') nested.push([v, k]);
    }
  } else nested.push([value, '']);
  while (nested.length) {
    const [v, path] = nested.pop()!;
    if (typeof v === 'string') {
      if (v.length > maxLength) found.push(path);
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) nested.push([v[i], path ? `${path}.${i}` : String(i)]);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) nested.push([x, path ? `${path}.${k}` : k]);
    }
  }
  return found.sort();
}

/**
 * The reference judgement of one record: schema (types, required and unknown fields), string limits, then
 * domain checks, every error worded with its path. Empty when the record is valid.
 */
export function recordErrors(runtime: DatasetRuntime, record: unknown, maxStringLength = DEFAULT_MAX_STRING_LENGTH): FieldError[] {
  const errors: FieldError[] = validateNatural(runtime.type, record);
  for (const path of overlongStrings(record, maxStringLength)) {
    errors.push({ path, message: `is longer than the limit of ${maxStringLength} characters`, rule: 'max-length' });
  }
  if (record !== null && typeof record === 'object' && !Array.isArray(record)) {
    // Domain checks add what the schema cannot say, on fields whose type was right.
    const typed = new Set(errors.map((e) => e.path));
    for (const e of runDomainChecks(runtime.checks, record as Record<string, unknown>)) if (!typed.has(e.path)) errors.push(e);
  }
  return errors;
}

/**
 * validate: schema (types, required and unknown fields, string limits) then domain checks; encode what passes.
 * The schema's compiled walk (schemas/compiledRecord.ts) accepts and encodes valid records in one pass; a
 * record it does not accept is judged by recordErrors, which alone words errors.
 */
export function validateRecords(
  runtime: DatasetRuntime,
  records: unknown[],
  skip: ReadonlySet<number>,
  maxStringLength = DEFAULT_MAX_STRING_LENGTH,
  /** validate only records[from, to) (a slice of a large request), adding to `into` */
  range: { from: number; to: number } = { from: 0, to: records.length },
  into: { valid: ValidRecord[]; rejected: RejectedRecord[] } = { valid: [], rejected: [] },
): { valid: ValidRecord[]; rejected: RejectedRecord[] } {
  const { valid, rejected } = into;
  const keyField = runtime.dataset.keyField;
  const write = recordWriterFor(runtime.type, runtime.checks, maxStringLength);
  for (let index = range.from; index < range.to; index++) {
    if (skip.has(index)) continue;
    const record = records[index];
    const compiled = write?.(record, runtime.schemaId);
    if (compiled) {
      valid.push({ index, key: String((record as Record<string, unknown>)[keyField]), value: compiled });
      continue;
    }
    const errors = recordErrors(runtime, record, maxStringLength);
    if (errors.length > 0) {
      rejected.push({ index, errors });
      continue;
    }
    const key = (record as Record<string, unknown>)[keyField];
    valid.push({ index, key: String(key), value: encodeRecord(runtime.type, runtime.schemaId, record) });
  }
  return into;
}

export interface Provenance {
  dataset: string;
  publisher: string;
  schemaId: number;
  traceId: string;
  publishedAt: string;
}

/** stamp: the provenance headers every record carries on govx topics. */
export function stampProvenance(records: ValidRecord[], p: Provenance): OutgoingMessage[] {
  const headers: KafkaHeaders = {
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
): OutgoingMessage[] {
  return rejected.map(({ index, errors }) => {
    const record = records[index];
    const raw = rawLines.get(index);
    let value = Buffer.from(raw ?? JSON.stringify(record ?? null) ?? 'null', 'utf8');
    const truncated = value.length > MAX_DEAD_LETTER_VALUE_BYTES;
    if (truncated) value = value.subarray(0, MAX_DEAD_LETTER_VALUE_BYTES);
    const keyValue = record !== null && typeof record === 'object' ? (record as Record<string, unknown>)[ctx.keyField] : undefined;
    const rules = [...new Set(errors.map((e) => e.rule ?? 'invalid'))];
    const headers: KafkaHeaders = {
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
