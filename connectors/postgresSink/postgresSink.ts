import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { SchemaCache } from '../../catalog/registry/schemaCache';
import { describeDatabaseError, guardedPool, sanitizeDatabaseError } from '../postgresConnection';
import { ConnectorFailure } from '../runtime/retry';
import type { TargetGuard } from '../targets';
import type { SinkRecord, SinkWriter, SinkWriteResult } from '../runtime/sinkTask';

/**
 * Writes a share topic into a table of the consumer's own PostgreSQL database.
 *
 * - The table is created from the record's (derived) Avro schema (`auto.create`) and gains columns when a
 *   later schema adds fields (`auto.evolve`); nothing is ever dropped.
 * - `upsert` keys rows by the record key (`_govx_key`); a tombstone deletes the row (`delete.enabled`).
 * - Each batch commits, in the same transaction, the next offset of every partition it wrote into
 *   `govx_sink_offsets`, and records below that offset are skipped: a batch redelivered after a crash
 *   changes nothing, in `insert` mode too.
 * - Lineage columns say where each row came from: subscription, schema id, topic/partition/offset,
 *   publish time and trace id.
 * - A string field annotated `"govx.check": "geojson-geometry"` becomes a PostGIS `geometry(Geometry, 4326)`.
 */

export interface PostgresSinkOptions {
  connector: string;
  /** checks the target at every new connection */
  guard: TargetGuard;
  /** the consuming department, whose allowance applies */
  department: string;
  connectionUrl: string;
  connectionUser?: string | null;
  connectionPassword?: string | null;
  /** e.g. `${subscription}` or `civil_affairs.residents`; `${topic}` and `${subscription}` are substituted */
  tableNameFormat: string;
  subscription: string | null;
  insertMode: 'upsert' | 'insert';
  autoCreate: boolean;
  autoEvolve: boolean;
  deleteEnabled: boolean;
}

type ColumnKind = 'text' | 'integer' | 'bigint' | 'real' | 'double precision' | 'boolean' | 'bytea' | 'date' | 'timestamptz' | 'jsonb' | 'geometry' | `numeric(${number},${number})`;

interface Column {
  field: string;
  name: string;
  kind: ColumnKind;
}

/** Advisory-lock key space for setting up a sink table (the second key is hashtext(table)). */
const TABLE_SETUP_LOCK_SPACE = 4_711_019;

const LINEAGE = [
  ['_govx_key', 'text'],
  ['_govx_subscription', 'text'],
  ['_govx_schema_id', 'integer'],
  ['_govx_topic', 'text'],
  ['_govx_partition', 'integer'],
  ['_govx_offset', 'bigint'],
  ['_govx_published_at', 'timestamptz'],
  ['_govx_trace_id', 'text'],
] as const;

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** `schema.table` or `table`, each part quoted. */
export function qualifiedName(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

function columnKindOf(type: unknown, field: Record<string, unknown>): ColumnKind {
  if (Array.isArray(type)) {
    const branches = type.filter((t) => t !== 'null');
    return branches.length === 1 ? columnKindOf(branches[0], field) : 'jsonb';
  }
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return field['govx.check'] === 'geojson-geometry' ? 'geometry' : 'text';
      case 'int':
        return 'integer';
      case 'long':
        return 'bigint';
      case 'float':
        return 'real';
      case 'double':
        return 'double precision';
      case 'boolean':
        return 'boolean';
      case 'bytes':
        return 'bytea';
      default:
        return 'text'; // a named type defined earlier: enums are by far the common case
    }
  }
  const t = type as Record<string, unknown>;
  const logical = t.logicalType;
  if (logical === 'date') return 'date';
  if (logical === 'timestamp-millis' || logical === 'timestamp-micros') return 'timestamptz';
  if (logical === 'decimal' && typeof t.precision === 'number') return `numeric(${t.precision},${typeof t.scale === 'number' ? t.scale : 0})`;
  if (t.type === 'enum') return 'text';
  if (t.type === 'record' || t.type === 'array' || t.type === 'map') return 'jsonb';
  if (t.type === 'fixed') return 'bytea';
  return columnKindOf(t.type, field);
}

/** Columns for a record schema's fields, named as the fields. */
export function columnsOf(schema: unknown): Column[] {
  const s = schema as { type?: string; fields?: Array<Record<string, unknown>> };
  if (s.type !== 'record' || !Array.isArray(s.fields)) throw new Error('a sink table needs a record schema');
  return s.fields.map((f) => ({ field: String(f.name), name: String(f.name), kind: columnKindOf(f.type, f) }));
}

function sqlType(kind: ColumnKind): string {
  return kind === 'geometry' ? 'geometry(Geometry, 4326)' : kind;
}

/** How a natural-JSON value goes into a parameter, and the placeholder that converts it. */
function bind(kind: ColumnKind, value: unknown, param: number): { sql: string; value: unknown } {
  if (value === null || value === undefined) return { sql: `$${param}`, value: null };
  switch (kind) {
    case 'geometry':
      return { sql: `ST_SetSRID(ST_GeomFromGeoJSON($${param}), 4326)`, value: typeof value === 'string' ? value : JSON.stringify(value) };
    case 'jsonb':
      return { sql: `$${param}::jsonb`, value: JSON.stringify(value) };
    case 'bytea':
      return { sql: `$${param}`, value: Buffer.isBuffer(value) ? value : Buffer.from(String(value)) };
    default:
      return { sql: `$${param}`, value };
  }
}

/** A CSV cell for COPY into the text-only staging table: empty and unquoted is NULL, anything else quoted. */
function csvCell(kind: ColumnKind, value: unknown): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (kind === 'jsonb' || (kind === 'geometry' && typeof value !== 'string')) text = JSON.stringify(value);
  else if (kind === 'bytea') text = `\\x${(Buffer.isBuffer(value) ? value : Buffer.from(String(value))).toString('hex')}`;
  else text = String(value);
  return `"${text.replace(/"/g, '""')}"`;
}

function castFromText(kind: ColumnKind, column: string): string {
  if (kind === 'text') return column;
  if (kind === 'geometry') return `ST_SetSRID(ST_GeomFromGeoJSON(${column}), 4326)`;
  return `${column}::${kind}`;
}

interface CopyColumn {
  name: string;
  kind: ColumnKind;
  value: (r: SinkRecord) => unknown;
}

const COPY_CHUNK_ROWS = 1000;

/** CSV text of the records, a thousand rows at a time, so a large batch is never one huge string. */
function* csvRows(columns: CopyColumn[], records: SinkRecord[]): Generator<string> {
  for (let i = 0; i < records.length; i += COPY_CHUNK_ROWS) {
    let text = '';
    const end = Math.min(records.length, i + COPY_CHUNK_ROWS);
    for (let j = i; j < end; j++) {
      const r = records[j]!;
      for (let c = 0; c < columns.length; c++) text += (c ? ',' : '') + csvCell(columns[c]!.kind, columns[c]!.value(r));
      text += '\n';
    }
    yield text;
  }
}

async function copyRows(client: pg.PoolClient, sql: string, columns: CopyColumn[], records: SinkRecord[]): Promise<void> {
  await pipeline(Readable.from(csvRows(columns, records)), client.query(copyFrom(sql)));
}

/** Upserts keep each key's last record: the final state is the same. */
function lastPerKey(records: SinkRecord[]): SinkRecord[] {
  const last = new Map<string | null, SinkRecord>();
  for (const r of records) last.set(r.key, r);
  return [...last.values()];
}

/** PostgreSQL errors caused by one record's data (22xxx data exceptions, 23xxx constraint violations, PostGIS XX000 parse errors). */
function isRecordError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code.startsWith('22') || code.startsWith('23') || (code === 'XX000' && /geojson|geometry/i.test((err as Error).message));
}

export class PostgresSinkWriter implements SinkWriter {
  private target: pg.Pool | null = null;
  /** tables and their columns as committed (what every connection sees) */
  private readonly ensured = new Map<string, Set<string>>();
  /** tables set up in a connection's open transaction: known to others only once it commits */
  private readonly settingUp = new WeakMap<pg.PoolClient, Map<string, Set<string>>>();

  constructor(
    private readonly opts: PostgresSinkOptions,
    private readonly schemas: SchemaCache,
  ) {}

  async open(): Promise<void> {
    this.target = guardedPool(
      {
        guard: this.opts.guard,
        department: this.opts.department,
        connectionUrl: this.opts.connectionUrl,
        user: this.opts.connectionUser ?? null,
        password: this.opts.connectionPassword ?? null,
        applicationName: `govx-sink-${this.opts.connector}`,
      },
      2,
    );
    this.target.on('error', () => undefined);
    try {
      await this.target.query(`CREATE TABLE IF NOT EXISTS govx_sink_offsets (
        connector text NOT NULL, topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (connector, topic, partition))`);
    } catch (err) {
      throw sanitizeDatabaseError(err);
    }
  }

  async close(): Promise<void> {
    await this.target?.end().catch(() => undefined);
    this.target = null;
  }

  tableFor(topic: string): string {
    return this.opts.tableNameFormat
      .replace(/\$\{topic\}/g, topic.replace(/[^A-Za-z0-9_]/g, '_'))
      .replace(/\$\{subscription\}/g, (this.opts.subscription ?? topic).replace(/[^A-Za-z0-9_]/g, '_'));
  }

  private async columnsFor(schemaId: number): Promise<Column[]> {
    return columnsOf((await this.schemas.get(schemaId)).schema);
  }

  /** Creates the table or adds the columns this schema needs; remembers what exists. */
  private async ensureTable(client: pg.PoolClient, table: string, cols: Column[]): Promise<void> {
    let known = this.settingUp.get(client)?.get(table) ?? this.ensured.get(table);
    if (known && cols.every((c) => known!.has(c.name))) return;
    const name = qualifiedName(table);
    // Writers of other partitions (on this worker or another) may be setting up the same table right now:
    // one at a time, each seeing what the one before committed.
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [TABLE_SETUP_LOCK_SPACE, table]);
    const { rows } = await client.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2`,
      table.includes('.') ? [table.split('.')[0], table.split('.')[1]] : [null, table],
    );
    known = new Set(rows.map((r) => r.column_name));
    if (known.size === 0) {
      if (!this.opts.autoCreate) throw new SinkSetupError(`table ${table} does not exist and auto.create is false`);
      if (cols.some((c) => c.kind === 'geometry')) await client.query('CREATE EXTENSION IF NOT EXISTS postgis');
      if (table.includes('.')) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.split('.')[0]!)}`);
      const lineage = LINEAGE.map(([n, t]) => `${quoteIdent(n)} ${t}${n === '_govx_key' && this.opts.insertMode === 'upsert' ? ' PRIMARY KEY' : ''}`);
      const data = cols.map((c) => `${quoteIdent(c.name)} ${sqlType(c.kind)}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${name} (${[...lineage, ...data, '"_govx_written_at" timestamptz NOT NULL DEFAULT now()'].join(', ')})`);
      known = new Set([...LINEAGE.map(([n]) => n), ...cols.map((c) => c.name), '_govx_written_at']);
    } else {
      const missing = cols.filter((c) => !known!.has(c.name));
      if (missing.length > 0) {
        if (!this.opts.autoEvolve) throw new SinkSetupError(`table ${table} lacks column(s) ${missing.map((c) => c.name).join(', ')} and auto.evolve is false`);
        if (missing.some((c) => c.kind === 'geometry')) await client.query('CREATE EXTENSION IF NOT EXISTS postgis');
        for (const c of missing) await client.query(`ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${sqlType(c.kind)}`);
        for (const c of missing) known.add(c.name);
      }
    }
    if (!this.settingUp.has(client)) this.settingUp.set(client, new Map());
    this.settingUp.get(client)!.set(table, known);
  }

  async write(records: SinkRecord[]): Promise<SinkWriteResult> {
    if (records.length === 0) return { failed: [] };
    const client = await this.target!.connect();
    try {
      const fresh = await this.begin(client, records);
      if (this.bulkable(fresh.map((f) => f.record))) {
        try {
          await this.writeBulk(client, this.opts.insertMode === 'upsert' ? lastPerKey(fresh.map((f) => f.record)) : fresh.map((f) => f.record));
          await this.commitWithOffsets(client, records);
          return { failed: [] };
        } catch (err) {
          await this.rollback(client);
          if (err instanceof SinkSetupError || !isRecordError(err)) throw err;
          // a record the target refuses: write the batch again, record by record, to find it
          return await this.writeRecordByRecord(client, records);
        }
      }
      return await this.writeRecordByRecord(client, records, fresh);
    } catch (err) {
      await this.rollback(client);
      throw sanitizeDatabaseError(err);
    } finally {
      client.release();
    }
  }

  /** A table or column created in a rolled-back transaction is gone again. */
  private async rollback(client: pg.PoolClient): Promise<void> {
    this.settingUp.delete(client);
    await client.query('ROLLBACK').catch(() => undefined);
  }

  /** The slow path: each record in its own savepoint, so one the target refuses is reported and the others are written. */
  private async writeRecordByRecord(client: pg.PoolClient, records: SinkRecord[], begun?: Array<{ index: number; record: SinkRecord }>): Promise<SinkWriteResult> {
    const fresh = begun ?? (await this.begin(client, records));
    const failed: SinkWriteResult['failed'] = [];
    for (const { index, record } of fresh) {
      await client.query('SAVEPOINT rec');
      try {
        await this.apply(client, record);
        await client.query('RELEASE SAVEPOINT rec');
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT rec');
        if (err instanceof SinkSetupError || !isRecordError(err)) throw err;
        failed.push({ index, errorClass: `postgres:${(err as { code?: string }).code ?? 'error'}`, message: describeDatabaseError(err) });
      }
    }
    await this.commitWithOffsets(client, records);
    return { failed };
  }

  /**
   * Opens the transaction and locks the committed position of every partition in the batch (one round trip);
   * returns the records at or past it — the rest were written before a crash and are skipped.
   */
  private async begin(client: pg.PoolClient, records: SinkRecord[]): Promise<Array<{ index: number; record: SinkRecord }>> {
    const parts = new Map<string, { topic: string; partition: number }>();
    for (const r of records) parts.set(`${r.topic}\u0000${r.partition}`, { topic: r.topic, partition: r.partition });
    const keys = [...parts.values()].map((p) => `(${pg.escapeLiteral(p.topic)}, ${Number(p.partition)})`).join(', ');
    const results = (await client.query(
      `BEGIN; SELECT topic, partition, next_offset FROM govx_sink_offsets WHERE connector = ${pg.escapeLiteral(this.opts.connector)} AND (topic, partition) IN (${keys}) FOR UPDATE`,
    )) as unknown as pg.QueryResult<{ topic: string; partition: number; next_offset: string }>[];
    const next = new Map<string, bigint>();
    for (const row of results[1]!.rows) next.set(`${row.topic}\u0000${row.partition}`, BigInt(row.next_offset));
    return records
      .map((record, index) => ({ index, record }))
      .filter(({ record }) => BigInt(record.offset) >= (next.get(`${record.topic}\u0000${record.partition}`) ?? -1n));
  }

  /** Stores the next offset of every partition in the batch and commits, in one round trip. */
  private async commitWithOffsets(client: pg.PoolClient, records: SinkRecord[]): Promise<void> {
    const last = new Map<string, SinkRecord>();
    for (const r of records) {
      const k = `${r.topic}\u0000${r.partition}`;
      const seen = last.get(k);
      if (!seen || BigInt(r.offset) > BigInt(seen.offset)) last.set(k, r);
    }
    const values = [...last.values()]
      .map((r) => `(${pg.escapeLiteral(this.opts.connector)}, ${pg.escapeLiteral(r.topic)}, ${Number(r.partition)}, ${(BigInt(r.offset) + 1n).toString()})`)
      .join(', ');
    await client.query(
      `INSERT INTO govx_sink_offsets (connector, topic, partition, next_offset) VALUES ${values}
       ON CONFLICT (connector, topic, partition) DO UPDATE SET next_offset = greatest(govx_sink_offsets.next_offset, EXCLUDED.next_offset), updated_at = now();
       COMMIT`,
    );
    for (const [table, columns] of this.settingUp.get(client) ?? []) this.ensured.set(table, columns);
    this.settingUp.delete(client);
  }

  /** Whether the fresh records can go in one bulk statement: one topic and schema, no tombstone, (upsert) every record keyed. */
  private bulkable(records: SinkRecord[]): boolean {
    if (records.length === 0) return false;
    const { topic, schemaId } = records[0]!;
    return records.every((r) => r.value !== null && r.schemaId === schemaId && r.topic === topic && (this.opts.insertMode !== 'upsert' || r.key !== null));
  }

  /** The columns a record fills: lineage first, then the schema's fields. */
  private copyColumnsOf(cols: Column[]): CopyColumn[] {
    return [
      { name: '_govx_key', kind: 'text', value: (r) => r.key },
      { name: '_govx_subscription', kind: 'text', value: (r) => r.headers['govx-subscription'] ?? this.opts.subscription },
      { name: '_govx_schema_id', kind: 'integer', value: (r) => r.schemaId },
      { name: '_govx_topic', kind: 'text', value: (r) => r.topic },
      { name: '_govx_partition', kind: 'integer', value: (r) => r.partition },
      { name: '_govx_offset', kind: 'bigint', value: (r) => r.offset },
      { name: '_govx_published_at', kind: 'timestamptz', value: (r) => r.headers['govx-published-at'] ?? null },
      { name: '_govx_trace_id', kind: 'text', value: (r) => r.headers['govx-trace-id'] ?? null },
      ...cols.map((c) => ({ name: c.name, kind: c.kind, value: (r: SinkRecord) => (r.value as Record<string, unknown>)[c.field] })),
    ];
  }

  /**
   * The fast path. Insert mode: COPY straight into the target — PostgreSQL's own input functions convert
   * every column, and the offsets stored in the same transaction make a redelivered batch a no-op.
   * Upsert mode, and a table with a geometry column (GeoJSON goes through PostGIS): COPY into a staging
   * table and move the rows with one INSERT … SELECT. A record the target refuses fails the statement
   * (a 22xxx/23xxx error) and the caller writes record by record to find it.
   */
  private async writeBulk(client: pg.PoolClient, records: SinkRecord[]): Promise<void> {
    const table = this.tableFor(records[0]!.topic);
    const cols = await this.columnsFor(records[0]!.schemaId!);
    await this.ensureTable(client, table, cols);
    const columns = this.copyColumnsOf(cols);
    if (this.opts.insertMode === 'insert' && !cols.some((c) => c.kind === 'geometry')) {
      await copyRows(client, `COPY ${qualifiedName(table)} (${columns.map((c) => quoteIdent(c.name)).join(', ')}) FROM STDIN WITH (FORMAT csv)`, columns, records);
      return;
    }
    const stage = quoteIdent(`govx_stage_${columns.length}_${crypto.createHash('sha1').update(columns.map((c) => c.name).join(',')).digest('hex').slice(0, 12)}`);
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${stage} (${columns.map((_, i) => `c${i} text`).join(', ')}) ON COMMIT DELETE ROWS; TRUNCATE ${stage}`);
    await copyRows(client, `COPY ${stage} FROM STDIN WITH (FORMAT csv)`, columns, records);
    const names = [...columns.map((c) => quoteIdent(c.name)), '"_govx_written_at"'];
    const select = [...columns.map((c, i) => castFromText(c.kind, `c${i}`)), 'now()'];
    let sql = `INSERT INTO ${qualifiedName(table)} (${names.join(', ')}) SELECT ${select.join(', ')} FROM ${stage}`;
    if (this.opts.insertMode === 'upsert') sql += ` ON CONFLICT ("_govx_key") DO UPDATE SET ${names.filter((n) => n !== '"_govx_key"').map((n) => `${n} = EXCLUDED.${n}`).join(', ')}`;
    await client.query(sql);
  }

  private rowOf(record: SinkRecord, cols: Column[], params: unknown[]): { names: string[]; placeholders: string[] } {
    const value = record.value as Record<string, unknown>;
    const names: string[] = [];
    const placeholders: string[] = [];
    const add = (name: string, kind: ColumnKind, v: unknown): void => {
      const b = bind(kind, v, params.length + 1);
      names.push(quoteIdent(name));
      placeholders.push(b.sql);
      params.push(b.value);
    };
    add('_govx_key', 'text', record.key);
    add('_govx_subscription', 'text', record.headers['govx-subscription'] ?? this.opts.subscription);
    add('_govx_schema_id', 'integer', record.schemaId);
    add('_govx_topic', 'text', record.topic);
    add('_govx_partition', 'integer', record.partition);
    add('_govx_offset', 'bigint', record.offset);
    add('_govx_published_at', 'timestamptz', record.headers['govx-published-at'] ?? null);
    add('_govx_trace_id', 'text', record.headers['govx-trace-id'] ?? null);
    for (const c of cols) add(c.name, c.kind, value[c.field]);
    add('_govx_written_at', 'timestamptz', new Date().toISOString());
    return { names, placeholders };
  }

  private async apply(client: pg.PoolClient, record: SinkRecord): Promise<void> {
    const table = this.tableFor(record.topic);
    if (record.value === null) {
      if (!this.opts.deleteEnabled || record.key === null || this.opts.insertMode !== 'upsert') return;
      if (this.ensured.has(table) || (await this.tableExists(client, table))) {
        await client.query(`DELETE FROM ${qualifiedName(table)} WHERE "_govx_key" = $1`, [record.key]);
      }
      return;
    }
    const cols = await this.columnsFor(record.schemaId!);
    await this.ensureTable(client, table, cols);
    const params: unknown[] = [];
    const { names, placeholders } = this.rowOf(record, cols, params);
    let sql = `INSERT INTO ${qualifiedName(table)} (${names.join(', ')}) VALUES (${placeholders.join(', ')})`;
    if (this.opts.insertMode === 'upsert') {
      const updates = names.filter((n) => n !== '"_govx_key"').map((n) => `${n} = EXCLUDED.${n}`);
      sql += ` ON CONFLICT ("_govx_key") DO UPDATE SET ${updates.join(', ')}`;
    }
    await client.query(sql, params);
  }

  private async tableExists(client: pg.PoolClient, table: string): Promise<boolean> {
    const { rows } = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [qualifiedName(table)]);
    return rows[0]?.t !== null && rows[0]?.t !== undefined;
  }
}

/** The table cannot be set up as configured: not a record's fault, and retrying will not help. */
export class SinkSetupError extends ConnectorFailure {}
