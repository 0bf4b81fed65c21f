import crypto from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import cliProgress from 'cli-progress';
import { GovxError } from '../lib/errors';

/**
 * `govx publish DATASET FILE`: streams an NDJSON or CSV file of any size to the gateway in batches, with
 * retries (same Idempotency-Key, so a retried batch is never published twice), a progress bar on a terminal,
 * rejects written to FILE.rejects.ndjson, and a summary. CSV cells are converted by the dataset's field types.
 */

export interface PublishFileOptions {
  url: string;
  key: string;
  dataset: string;
  file: string;
  batchSize: number;
  format?: 'ndjson' | 'csv';
  out?: (line: string) => void;
  progress?: boolean;
}

export interface PublishFileSummary {
  records: number;
  accepted: number;
  rejected: number;
  rejectsFile: string | null;
}

interface CatalogField {
  name: string;
  type: string;
  required: boolean;
}

/** One record of the file: what is sent (an NDJSON line), where it came from, and what to show if rejected. */
interface Pending {
  line: string;
  lineNumber: number;
  original: unknown;
}

type RejectedRecord = { index: number; errors: Array<{ path: string; message: string; rule?: string }> };

/** A CSV cell (always a string) as the field's type wants it: the gateway then judges the value itself. */
export function csvCellConverter(typeLabel: string): (cell: string) => unknown {
  const parts = typeLabel.split('|').map((p) => p.trim());
  const nullable = parts.includes('null');
  const base = parts.find((p) => p !== 'null') ?? 'null';
  const convert = (cell: string): unknown => {
    if (base === 'int' || base === 'long') return /^-?\d+$/.test(cell.trim()) ? Number(cell) : cell;
    if (base === 'float' || base === 'double') return cell.trim() !== '' && Number.isFinite(Number(cell)) ? Number(cell) : cell;
    if (base === 'boolean') return /^true$/i.test(cell.trim()) ? true : /^false$/i.test(cell.trim()) ? false : cell;
    if (/^(array<|map<|record )/.test(base)) {
      try {
        return JSON.parse(cell);
      } catch {
        return cell;
      }
    }
    return cell;
  };
  return (cell) => (nullable && cell === '' ? null : convert(cell));
}

async function api(url: string, key: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function describeError(status: number, body: any): string {
  const e = body?.error;
  return e ? `${status} ${e.code}: ${e.message}` : `HTTP ${status}`;
}

/** Sends one batch, retrying what may succeed later (503, 429, 409 in flight, network errors) with the same key. */
async function sendBatch(opts: PublishFileOptions, batch: Pending[], idempotencyKey: string): Promise<{ accepted: number; rejected: RejectedRecord[] }> {
  const body = `${batch.map((p) => p.line).join('\n')}\n`;
  let lastProblem = '';
  for (let attempt = 1; attempt <= 12; attempt++) {
    let res;
    try {
      res = await api(`${opts.url}/v1/datasets/${encodeURIComponent(opts.dataset)}/records`, opts.key, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': idempotencyKey },
      });
    } catch (err) {
      lastProblem = `the gateway did not answer (${(err as Error).message})`;
      await sleep(Math.min(30_000, 500 * 2 ** attempt));
      continue;
    }
    if (res.status === 200) return res.body as { accepted: number; rejected: RejectedRecord[] };
    if (res.status === 503 || res.status === 429 || res.status === 409) {
      lastProblem = describeError(res.status, res.body);
      const retryAfter = Number(res.headers.get('retry-after'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : Math.min(30_000, 500 * 2 ** attempt));
      continue;
    }
    throw new GovxError(res.status, res.body?.error?.code ?? 'cli.publish_failed', `the gateway refused a batch: ${describeError(res.status, res.body)}`);
  }
  throw new GovxError(503, 'cli.publish_failed', `gave up on a batch after 12 attempts: ${lastProblem}`);
}

async function* ndjsonRecords(file: string): AsyncGenerator<Pending> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    yield { line, lineNumber, original: line };
  }
}

async function* csvRecords(file: string, fields: CatalogField[]): AsyncGenerator<Pending> {
  const converters = new Map(fields.map((f) => [f.name, csvCellConverter(f.type)]));
  const parser = fs.createReadStream(file).pipe(parseCsv({ bom: true, skip_empty_lines: true, info: true, relax_column_count: true }));
  let header: string[] | null = null;
  for await (const row of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (!header) {
      header = row.record.map((h) => h.trim());
      continue;
    }
    const record: Record<string, unknown> = {};
    // A cell beyond the header gets a name of its own, so the gateway rejects the row by that name.
    row.record.forEach((cell, i) => {
      const column = header![i] ?? `(column ${i + 1})`;
      const convert = converters.get(column);
      record[column] = convert ? convert(cell) : cell;
    });
    yield { line: JSON.stringify(record), lineNumber: row.info.lines, original: record };
  }
}

export async function publishFile(opts: PublishFileOptions): Promise<PublishFileSummary> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const stat = fs.statSync(opts.file);
  const format = opts.format ?? (/\.csv$/i.test(opts.file) ? 'csv' : 'ndjson');
  const meta = await api(`${opts.url}/v1/datasets/${encodeURIComponent(opts.dataset)}`, opts.key);
  if (meta.status !== 200) throw new GovxError(meta.status, meta.body?.error?.code ?? 'cli.dataset', `cannot read dataset ${opts.dataset}: ${describeError(meta.status, meta.body)}`);
  const fields = (meta.body as { fields: CatalogField[] }).fields;

  const rejectsFile = `${opts.file}.rejects.ndjson`;
  fs.rmSync(rejectsFile, { force: true });
  let rejectsOut: fs.WriteStream | null = null;
  const runId = crypto.randomUUID();
  const bar = opts.progress ? new cliProgress.SingleBar({ format: '{bar} {percentage}% | {records} records, {accepted} accepted, {rejected} rejected', hideCursor: true }, cliProgress.Presets.shades_classic) : null;
  bar?.start(stat.size, 0, { records: 0, accepted: 0, rejected: 0 });

  const summary: PublishFileSummary = { records: 0, accepted: 0, rejected: 0, rejectsFile: null };
  let batch: Pending[] = [];
  let batchNo = 0;
  // Progress in bytes of the file, approximated by the records read (exact for NDJSON).
  let bytesSeen = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const sent = batch;
    const first = summary.records - sent.length;
    batch = [];
    const answer = await sendBatch(opts, sent, `${runId}-${batchNo++}`);
    summary.accepted += answer.accepted;
    for (const r of answer.rejected) {
      const p = sent[r.index];
      rejectsOut ??= fs.createWriteStream(rejectsFile);
      rejectsOut.write(`${JSON.stringify({ index: first + r.index, line: p?.lineNumber, errors: r.errors, record: p?.original })}\n`);
      summary.rejected++;
    }
    bar?.update(Math.min(bytesSeen, stat.size), { records: summary.records, accepted: summary.accepted, rejected: summary.rejected });
  };
  const records = format === 'csv' ? csvRecords(opts.file, fields) : ndjsonRecords(opts.file);
  for await (const p of records) {
    batch.push(p);
    summary.records++;
    bytesSeen += Buffer.byteLength(p.line) + 1;
    if (batch.length >= opts.batchSize) await flush();
  }
  await flush();
  bar?.update(stat.size);
  bar?.stop();
  if (rejectsOut) {
    const stream: fs.WriteStream = rejectsOut;
    await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    summary.rejectsFile = rejectsFile;
  }
  out(
    `${opts.dataset}: ${summary.records} records from ${opts.file}: ${summary.accepted} accepted, ${summary.rejected} rejected` +
      (summary.rejectsFile ? ` (see ${summary.rejectsFile})` : ''),
  );
  return summary;
}
