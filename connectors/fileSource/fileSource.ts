import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type avro from 'avsc';
import { parse } from 'csv-parse';
import type { DatasetRuntimes } from '../../publish/datasetRuntime';
import type { Pool } from '../../lib/db';
import { assertInsideRoot } from '../fileRoot';
import { ConnectorFailure } from '../runtime/retry';
import type { SourceBatch, SourceReader, SourceRecord } from '../runtime/sourceTask';
import { readOffsets } from '../runtime/store';
import type { FileSourceConfig } from './config';

/** Progress through one file: which file (size and mtime, as a changed file is a new one) and how many records are in Kafka. */
export interface FilePosition {
  size: number;
  mtimeMs: number;
  records: number;
  done: boolean;
}

interface ReadItem {
  value?: unknown;
  raw?: string;
  problem?: string;
  line: number;
}

const extensions: Record<FileSourceConfig['format'], string[]> = { csv: ['.csv'], ndjson: ['.ndjson', '.jsonl'] };

type FieldType = avro.Type & { typeName: string; types?: avro.Type[] };

/** A CSV cell as the natural JSON the field's type expects; what does not convert stays text, and the schema check names it. */
export function csvCell(type: avro.Type, cell: string): unknown {
  const t = type as FieldType;
  if (t.typeName === 'union:unwrapped' || t.typeName === 'union:wrapped') {
    const branches = t.types ?? [];
    if (cell === '' && branches.some((b) => b.typeName === 'null')) return null;
    const branch = branches.find((b) => b.typeName !== 'null');
    return branch ? csvCell(branch, cell) : cell;
  }
  switch (t.typeName) {
    case 'int':
    case 'long':
      return /^-?\d+$/.test(cell) && Number.isSafeInteger(Number(cell)) ? Number(cell) : cell;
    case 'float':
    case 'double':
      return cell.trim() !== '' && Number.isFinite(Number(cell)) ? Number(cell) : cell;
    case 'boolean':
      return /^(true|1)$/i.test(cell) ? true : /^(false|0)$/i.test(cell) ? false : cell;
    case 'record':
    case 'array':
    case 'map':
      try {
        return JSON.parse(cell);
      } catch {
        return cell;
      }
    default:
      return cell; // strings, enums, and the logical types (dates, timestamps, decimals) whose natural form is text
  }
}

async function* ndjsonItems(file: string): AsyncGenerator<ReadItem> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield { value: JSON.parse(text), line };
    } catch {
      yield { raw: text, problem: 'line is not valid JSON', line };
    }
  }
}

async function* csvItems(file: string, fieldType: (name: string) => avro.Type | undefined): AsyncGenerator<ReadItem> {
  const parser = fs.createReadStream(file).pipe(parse({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: true, info: true }));
  for await (const item of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; error?: Error } }>) {
    if (item.info.error) {
      yield { raw: JSON.stringify(item.record), problem: item.info.error.message, line: item.info.lines };
      continue;
    }
    const value: Record<string, unknown> = {};
    for (const [column, cell] of Object.entries(item.record)) {
      const type = fieldType(column);
      value[column] = type ? csvCell(type, cell) : cell;
    }
    yield { value, line: item.info.lines };
  }
}

interface OpenFile {
  name: string;
  size: number;
  mtimeMs: number;
  items: AsyncGenerator<ReadItem>;
  /** records read so far, including those skipped because an earlier run published them */
  count: number;
  skip: number;
}

/**
 * A directory of .csv or .ndjson files, taken in name order, each published once: progress (file name, size,
 * mtime, records published) is the source offset, so a restart resumes mid-file. Files are expected to
 * arrive complete (written elsewhere, then renamed in); a file whose size or mtime changes is read again
 * as a new one.
 */
export class FileSourceReader implements SourceReader {
  private current: OpenFile | null = null;

  constructor(
    private readonly name: string,
    private readonly config: FileSourceConfig,
    private readonly govx: Pool,
    private readonly runtimes: DatasetRuntimes,
    private readonly fileRoot: string,
  ) {}

  async open(): Promise<void> {
    await assertInsideRoot(this.fileRoot, this.config.directory, 'file.path');
  }

  private async nextFile(): Promise<OpenFile | null> {
    const names = (await fs.promises.readdir(this.config.directory))
      .filter((n) => extensions[this.config.format].includes(path.extname(n).toLowerCase()))
      .sort();
    if (names.length === 0) return null;
    const done = await readOffsets<FilePosition>(this.govx, this.name);
    for (const name of names) {
      const file = path.join(this.config.directory, name);
      // a link in the directory is not followed: it could lead to a file outside the department's directory
      const stat = await fs.promises.lstat(file).catch(() => null);
      if (!stat?.isFile()) continue;
      const stored = done.get(name);
      const same = stored !== undefined && stored.size === stat.size && stored.mtimeMs === stat.mtimeMs;
      if (same && stored.done) continue;
      let items: AsyncGenerator<ReadItem>;
      if (this.config.format === 'ndjson') items = ndjsonItems(file);
      else {
        const runtime = await this.runtimes.get(this.config.dataset);
        if (!runtime) throw new ConnectorFailure(`dataset ${this.config.dataset} is not in the catalog`);
        const record = runtime.type as avro.types.RecordType;
        items = csvItems(file, (column) => record.field(column)?.type);
      }
      return { name, size: stat.size, mtimeMs: stat.mtimeMs, items, count: 0, skip: same ? stored.records : 0 };
    }
    return null;
  }

  async poll(maxRecords: number): Promise<SourceBatch | null> {
    try {
      this.current ??= await this.nextFile();
      const file = this.current;
      if (!file) return null;
      const records: SourceRecord[] = [];
      const position = (done: boolean): FilePosition => ({ size: file.size, mtimeMs: file.mtimeMs, records: file.count, done });
      while (records.length < maxRecords) {
        const next = await file.items.next();
        if (next.done) {
          this.current = null;
          return { partition: file.name, records, endPosition: position(true) };
        }
        file.count++;
        if (file.count <= file.skip) continue;
        const item = next.value;
        const origin = `${file.name} record ${file.count} (line ${item.line})`;
        records.push(
          item.problem
            ? { value: null, raw: item.raw, preRejected: [{ path: '', message: item.problem, rule: this.config.format === 'csv' ? 'csv' : 'json' }], position: position(false), origin }
            : { value: item.value, position: position(false), origin },
        );
      }
      return { partition: file.name, records };
    } catch (err) {
      // Start the file again from its stored progress on the next attempt.
      const name = this.current?.name;
      await this.current?.items.return(undefined).catch(() => undefined);
      this.current = null;
      const code = (err as { code?: unknown }).code;
      if ((err as Error).name === 'CsvError' || (typeof code === 'string' && code.startsWith('CSV_'))) {
        throw new ConnectorFailure(`file ${name ?? '?'} is not valid CSV: ${(err as Error).message}`);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.current?.items.return(undefined).catch(() => undefined);
    this.current = null;
  }
}
