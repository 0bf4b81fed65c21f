import { GovxError, InputError } from '../lib/errors';
import type { RejectedRecord } from '../publish/stages';
import { assertCleanJson, assertCleanJsonBytes, hasSuspectEscape } from './middleware/textHygiene';

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

const COMMA = 0x2c;
const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const RECORDS_KEY = Buffer.from('records');

const isJsonSpace = (c: number): boolean => c === SPACE || c === NEWLINE || c === CR || c === TAB;

export function tooManyRecords(maxRecords: number, held?: number): GovxError {
  return new GovxError(413, 'publish.too_many_records', `a request may hold at most ${maxRecords} records; this one holds ${held ?? 'more'}`);
}

/**
 * One pass over the bytes, before anything is parsed and without recursion: refuses JSON nested deeper than
 * `maxDepth` (400 request.too_deep), so no later step (validators, JSON.stringify of a dead letter) ever meets
 * a pathological value, and more than `maxRecords` records (413 publish.too_many_records), so a body of a
 * million tiny records is refused without building a million objects. Records are the elements of the
 * top-level "records" array, or with `perLine` (NDJSON) the non-blank lines, each line measured on its own (a
 * newline ends any string: JSON strings hold none).
 */
export function assertBodyLimits(buf: Buffer, limits: { maxDepth: number; maxRecords?: number }, perLine = false): void {
  const { maxDepth } = limits;
  const maxRecords = limits.maxRecords ?? Infinity;
  let depth = 0;
  let inString = false;
  let line = 1;
  let records = 0;
  // NDJSON: whether the current line holds anything but blanks
  let lineHasContent = false;
  // JSON: the top-level value is an object; the last string that closed at depth 1 was the key "records";
  // we are inside that member's array (whose elements are counted by the commas between them)
  let topIsObject = false;
  let stringStart = -1;
  let lastKeyIsRecords = false;
  let inRecords = false;
  const countLine = (): void => {
    if (lineHasContent && ++records > maxRecords) throw tooManyRecords(maxRecords);
    lineHasContent = false;
  };
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) {
        inString = false;
        if (depth === 1 && topIsObject && !perLine) lastKeyIsRecords = i - stringStart - 1 === RECORDS_KEY.length && buf.compare(RECORDS_KEY, 0, RECORDS_KEY.length, stringStart + 1, i) === 0;
      } else if (c === NEWLINE && perLine) {
        inString = false;
        depth = 0;
        countLine();
        line++;
      }
      continue;
    }
    if (perLine) {
      if (c === NEWLINE) {
        depth = 0;
        countLine();
        line++;
        continue;
      }
      if (!isJsonSpace(c)) lineHasContent = true;
    } else if (inRecords && depth === 2 && c === COMMA && ++records >= maxRecords) {
      throw tooManyRecords(maxRecords);
    }
    if (c === QUOTE) {
      inString = true;
      stringStart = i;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        throw new InputError('request.too_deep', `JSON nesting is deeper than the limit of ${maxDepth}${perLine ? ` (line ${line})` : ''}`);
      }
      if (!perLine) {
        if (depth === 1) topIsObject = c === OPEN_BRACE;
        else if (depth === 2 && c === OPEN_BRACKET && topIsObject && lastKeyIsRecords) {
          inRecords = true;
          records = 0;
        }
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth === 2) inRecords = false;
      if (depth > 0) depth--;
    }
  }
  if (perLine) countLine();
}

/** Refuses JSON nested deeper than `maxDepth` before it is parsed (see assertBodyLimits). */
export function assertJsonDepth(buf: Buffer, maxDepth: number, perLine = false): void {
  assertBodyLimits(buf, { maxDepth }, perLine);
}

/** The request body as JSON, after the depth and record-count checks. */
export function parseJsonBody(buf: Buffer, maxDepth: number, maxRecords?: number): unknown {
  assertBodyLimits(buf, { maxDepth, maxRecords });
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new InputError('request.malformed_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * NDJSON bytes into records, a line at a time: each line is decoded and parsed on its own, so the body never
 * exists as one string beside its bytes (a UTF-8 sequence never holds a newline byte).
 */
export function splitNdjson(buf: Buffer): { records: unknown[]; lineErrors: RejectedRecord[]; rawLines: Map<number, string> } {
  const records: unknown[] = [];
  const lineErrors: RejectedRecord[] = [];
  const rawLines = new Map<number, string>();
  for (let start = 0; start < buf.length; ) {
    let end = buf.indexOf(NEWLINE, start);
    if (end < 0) end = buf.length;
    const line = buf.toString('utf8', start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      lineErrors.push({ index: records.length, errors: [{ path: '', message: 'line is not valid JSON', rule: 'json' }] });
      rawLines.set(records.length, line);
      records.push(undefined);
    }
  }
  return { records, lineErrors, rawLines };
}

/** decode: the request body into a list of records, in JSON (`{"records":[…]}`) or NDJSON form. */
export function decodeRecords(
  body: unknown,
  contentType: string,
  maxRecords: number,
): { records: unknown[]; lineErrors: RejectedRecord[]; rawLines: Map<number, string> } {
  let records: unknown[];
  let lineErrors: RejectedRecord[] = [];
  let rawLines = new Map<number, string>();
  if (contentType === 'application/x-ndjson') {
    ({ records, lineErrors, rawLines } = splitNdjson(Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : '', 'utf8')));
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
  if (records.length > maxRecords) throw tooManyRecords(maxRecords, records.length);
  return { records, lineErrors, rawLines };
}

/**
 * The publish body's bytes into records, every check that needs only the bytes first (UTF-8, depth, record
 * count) and nothing kept longer than needed: JSON is decoded to text once and parsed, NDJSON a line at a
 * time; the caller drops the bytes as soon as this returns.
 */
export function decodePublishBody(
  body: Buffer,
  ndjson: boolean,
  limits: { maxDepth: number; maxRecords: number },
): { records: unknown[]; lineErrors: RejectedRecord[]; rawLines: Map<number, string> } {
  assertCleanJsonBytes(body);
  const suspect = hasSuspectEscape(body);
  let decoded;
  if (ndjson) {
    assertBodyLimits(body, limits, true);
    decoded = decodeRecords(body, 'application/x-ndjson', limits.maxRecords);
  } else {
    if (body.length === 0) throw new InputError('publish.invalid_body', 'the body must be a JSON object with a "records" array');
    decoded = decodeRecords(parseJsonBody(body, limits.maxDepth, limits.maxRecords), 'application/json', limits.maxRecords);
  }
  if (suspect) assertCleanJson(decoded.records, undefined, 'records');
  return decoded;
}
