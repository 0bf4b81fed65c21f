import { GovxError, InputError } from '../lib/errors';
import type { RejectedRecord } from '../publish/stages';

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/**
 * Refuses JSON nested deeper than `maxDepth` before it is parsed, in one pass over the bytes and without
 * recursion, so no later step (validators, JSON.stringify of a dead letter) ever meets a pathological value.
 * With `perLine`, each NDJSON line is measured on its own (a newline ends any string: JSON strings hold none).
 */
export function assertJsonDepth(buf: Buffer, maxDepth: number, perLine = false): void {
  let depth = 0;
  let inString = false;
  let line = 1;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      else if (c === NEWLINE && perLine) {
        inString = false;
        depth = 0;
        line++;
      }
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        throw new InputError(
          'request.too_deep',
          `JSON nesting is deeper than the limit of ${maxDepth}${perLine ? ` (line ${line})` : ''}`,
        );
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth > 0) depth--;
    } else if (c === NEWLINE && perLine) {
      depth = 0;
      line++;
    }
  }
}

/** The request body as JSON, after the depth check. */
export function parseJsonBody(buf: Buffer, maxDepth: number): unknown {
  assertJsonDepth(buf, maxDepth);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new InputError('request.malformed_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
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
