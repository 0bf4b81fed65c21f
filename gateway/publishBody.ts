import { InputError } from '../lib/errors';

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
