import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { GovxError, InputError } from '../../lib/errors';

/**
 * Text govx cannot store or compare faithfully is refused at the door with 400 `request.invalid_text`,
 * naming where it was: NUL characters (PostgreSQL text refuses them), unpaired UTF-16 surrogates (stored as
 * U+FFFD or refused, so what was checked is not what is kept), bytes that are not UTF-8, and in the request
 * line and headers any control character. Checked once, here, on the path, the query, the headers govx
 * reads and every JSON body, so no handler meets such text.
 */

export const INVALID_TEXT = 'request.invalid_text';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const CONTROL = /[\u0000-\u001f\u007f]/;
const isHex = (c: number | undefined): boolean => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
const isSurrogateSecond = (c: number | undefined): boolean => c === 0x38 || c === 0x39 || (c !== undefined && ((c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)));

/**
 * Outside strings JSON has no NUL or surrogate; inside, only as escapes (`\u0000`, `\uD800`–`\uDFFF`). Their
 * absence skips the full scan. Searched in the bytes (memchr-fast, no copy of the body as a string).
 */
export function hasSuspectEscape(raw: Buffer): boolean {
  for (let i = raw.indexOf('\\u'); i !== -1; i = raw.indexOf('\\u', i + 2)) {
    const a = raw[i + 2];
    if (a === 0x30 && raw[i + 3] === 0x30 && raw[i + 4] === 0x30 && raw[i + 5] === 0x30) return true;
    if ((a === 0x64 || a === 0x44) && isSurrogateSecond(raw[i + 3]) && isHex(raw[i + 4]) && isHex(raw[i + 5])) return true;
  }
  return false;
}

/** Headers whose values govx reads; any other header is passed through unread. */
const READ_HEADERS = ['authorization', 'if-match', 'idempotency-key', 'last-event-id', 'content-type', 'x-request-id'];

/** What is wrong with a string of a body, or null. Line breaks and tabs are fine in body text. */
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(value)) return 'contains an unpaired UTF-16 surrogate';
  return null;
}

function lineProblem(value: string): string | null {
  if (CONTROL.test(value)) return 'contains a control character';
  return textProblem(value);
}

const shown = (key: string): string => JSON.stringify(key).slice(1, -1).slice(0, 64);

/** The first string or member name in a parsed JSON value that is invalid text, with its path; iterative. */
export function findInvalidText(value: unknown, root = 'body'): { path: string; problem: string } | null {
  const stack: Array<[unknown, string]> = [[value, root]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return { path, problem };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const problem = textProblem(k);
        if (problem) return { path: `${path}.${shown(k)}`, problem: `has a member name that ${problem}` };
        stack.push([x, `${path}.${shown(k)}`]);
      }
    }
  }
  return null;
}

export function invalidText(path: string, problem: string): InputError {
  return new InputError(INVALID_TEXT, `${path} ${problem}; send well-formed UTF-8 text`, [{ path, message: problem }]);
}

/** Throws request.invalid_text for a body that is not UTF-8 or holds invalid text once parsed. */
export function assertCleanJsonBytes(raw: Buffer): void {
  if (!isUtf8(raw)) throw invalidText('body', 'is not valid UTF-8');
}

/** Throws request.invalid_text for a NUL or lone surrogate in `parsed`; `raw`, its bytes, lets a clean body skip the walk. */
export function assertCleanJson(parsed: unknown, raw?: Buffer, root = 'body'): void {
  if (raw !== undefined && !hasSuspectEscape(raw)) return;
  const bad = findInvalidText(parsed, root);
  if (bad) throw invalidText(bad.path, bad.problem);
}

function decodeComponent(raw: string, where: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalidText(where, 'is not percent-encoded UTF-8');
  }
}

/** The request line (path and query, after percent-decoding) and the headers govx reads. */
export function checkRequestText(req: Request, _res: Response, next: NextFunction): void {
  const url = req.originalUrl ?? req.url;
  // Bytes beyond ASCII must be percent-encoded in a request target (RFC 3986); raw ones arrive as latin1 guesses.
  if (/[^\x21-\x7e]/.test(url)) return next(invalidText('url', 'has characters that are not percent-encoded'));
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  for (const segment of path.split('/')) {
    const decoded = decodeComponent(segment, 'path');
    const problem = lineProblem(decoded);
    if (problem) return next(invalidText('path', problem));
  }
  if (q >= 0) {
    for (const pair of url.slice(q + 1).split('&')) {
      const eq = pair.indexOf('=');
      const name = decodeComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '), 'query');
      const value = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1).replace(/\+/g, ' '), `query.${shown(name)}`);
      const problem = lineProblem(name) ?? lineProblem(value);
      if (problem) return next(invalidText(`query.${shown(name)}`, problem));
    }
  }
  for (const header of READ_HEADERS) {
    const value = req.headers[header];
    if (typeof value === 'string' && /[^\t\x20-\x7e]/.test(value)) return next(invalidText(`header.${header}`, 'has characters other than printable ASCII'));
  }
  next();
}

/**
 * express.json that refuses bodies that are not UTF-8 (415 for another declared charset) or that hold
 * invalid text once parsed. Every JSON body of the API is read through it.
 */
export function jsonBody(opts: { limit: number | string; type?: string | string[] | ((req: IncomingMessage) => boolean) }): RequestHandler {
  const parse = express.json({
    limit: opts.limit,
    type: opts.type ?? 'application/json',
    verify: (req, _res, buf, encoding) => {
      if (encoding && encoding.toLowerCase() !== 'utf-8' && encoding.toLowerCase() !== 'utf8') {
        throw new GovxError(415, 'request.unsupported_encoding', `JSON bodies are UTF-8, not ${encoding}`);
      }
      assertCleanJsonBytes(buf);
      (req as Request & { rawBodyBytes?: Buffer }).rawBodyBytes = buf;
    },
  });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      const raw = (req as Request & { rawBodyBytes?: Buffer }).rawBodyBytes;
      try {
        if (raw !== undefined) assertCleanJson(req.body, raw);
        next();
      } catch (e) {
        next(e);
      }
    });
  };
}
