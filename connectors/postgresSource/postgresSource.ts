import pg from 'pg';
import type { DatasetRuntimes } from '../../publish/datasetRuntime';
import { connectGuarded, sanitizeDatabaseError } from '../postgresConnection';
import type { TargetGuard } from '../targets';
import { ConnectorFailure } from '../runtime/retry';
import type { SourceBatch, SourceReader, SourceRecord } from '../runtime/sourceTask';
import { readOffsets } from '../runtime/store';
import type { Pool } from '../../lib/db';
import type { PostgresSourceConfig } from './config';

/** The source position: the last published row's (timestamp, tiebreaker) as PostgreSQL's own text, so no precision is lost. */
export interface TablePosition {
  timestamp: string;
  id: string;
}

const OID = { int8: 20, date: 1082, timestamp: 1114, timestamptz: 1184 } as const;

const PG_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2})?(?::?(\d{2}))?(?::?(\d{2}))?$/;

/** PostgreSQL timestamp text → ISO 8601 in UTC (millisecond precision, as timestamp-millis holds); without a zone, UTC. */
export function pgTimestampToIso(text: string): string {
  const m = PG_TIMESTAMP.exec(text);
  if (!m) return text; // infinity, BC dates: left as they are, the publish path rejects them by field
  const fraction = (m[3] ?? '').slice(0, 4);
  const zone = m[4] ? `${m[4]}:${m[5] ?? '00'}` : 'Z';
  const ms = Date.parse(`${m[1]}T${m[2]}${fraction}${zone}`);
  return Number.isNaN(ms) ? text : new Date(ms).toISOString();
}

/**
 * Column values as the dataset's natural JSON: dates 'YYYY-MM-DD', timestamps ISO 8601, bigints numbers
 * (strings beyond 2^53, which the schema then rejects by field), numerics decimal strings, json objects.
 */
const naturalTypes = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (format === 'binary') return pg.types.getTypeParser(oid, 'binary') as (value: string) => unknown;
    switch (oid) {
      case OID.date:
        return (v) => v;
      case OID.timestamp:
      case OID.timestamptz:
        return pgTimestampToIso;
      case OID.int8:
        return (v) => {
          const n = Number(v);
          return Number.isSafeInteger(n) ? n : v;
        };
      default:
        return pg.types.getTypeParser(oid, 'text') as (value: string) => unknown;
    }
  },
};

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteTable = (name: string): string => name.split('.').map(quoteIdent).join('.');

/**
 * Incremental reads of one table: rows ordered by (timestamp column, tiebreaker) and taken strictly after
 * the stored position, so a restart neither skips nor repeats a row. The tiebreaker is the incrementing
 * column (mode timestamp+incrementing) or the dataset's key column (mode timestamp). An UPDATE that moves a
 * row's timestamp forward publishes the row again — its new version.
 *
 * Limitation (as in Kafka Connect's JDBC source): a row committed after rows with a later timestamp were
 * read — a long transaction, or a clock that went back — is skipped. timestamp.delay.interval.ms holds rows
 * back until they are that old, which covers transactions shorter than the delay.
 */
export class PostgresSourceReader implements SourceReader {
  /** the position after the last batch read is kept here; the stored offset is read only when (re)opening */
  readonly readsAhead = true;
  private client: pg.Client | null = null;
  private position: TablePosition | null = null;
  private columns = new Map<string, string>();
  private tiebreaker = '';

  constructor(
    private readonly name: string,
    private readonly config: PostgresSourceConfig,
    private readonly govx: Pool,
    private readonly runtimes: DatasetRuntimes,
    private readonly targets: TargetGuard,
    private readonly owner: string,
  ) {}

  async open(): Promise<void> {
    await this.close();
    const client = await connectGuarded({
      guard: this.targets,
      department: this.owner,
      connectionUrl: this.config.connectionUrl,
      user: this.config.connectionUser,
      password: this.config.connectionPassword,
      applicationName: `govx-connect-${this.name}`,
      statementTimeoutMs: 60_000,
      types: naturalTypes,
    });
    this.client = client;
    // The source is only ever read; UTC makes timestamptz text and timestamp-without-zone values unambiguous.
    await client.query(`SET TimeZone = 'UTC'; SET default_transaction_read_only = on`);
    const { rows: found } = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [quoteTable(this.config.table)]);
    if (!found[0]?.oid) throw new ConnectorFailure(`table.include.list: table ${this.config.table} does not exist (or is not visible to the connection's user)`);
    const { rows } = await client.query<{ attname: string; type: string }>(
      `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
       WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
      [found[0].oid],
    );
    this.columns = new Map(rows.map((r) => [r.attname, r.type]));
    const runtime = await this.runtimes.get(this.config.dataset);
    if (!runtime) throw new ConnectorFailure(`dataset ${this.config.dataset} is not in the catalog`);
    this.tiebreaker = this.config.incrementingColumn ?? runtime.dataset.keyField;
    const needed: Array<[string, string]> = [
      ['timestamp.column.name', this.config.timestampColumn],
      [this.config.incrementingColumn ? 'incrementing.column.name' : 'the dataset key field', this.tiebreaker],
    ];
    for (const [what, column] of needed) {
      if (!this.columns.has(column)) throw new ConnectorFailure(`${what}: column ${column} is not in table ${this.config.table}`);
    }
    const offsets = await readOffsets<TablePosition>(this.govx, this.name);
    this.position = offsets.get(this.config.table) ?? null;
  }

  async poll(maxRecords: number): Promise<SourceBatch | null> {
    try {
      if (!this.client) await this.open();
      return await this.read(maxRecords);
    } catch (err) {
      // Reconnect on the next attempt; the position reloads from the stored offset, which is where publishing stands.
      await this.close();
      throw sanitizeDatabaseError(err);
    }
  }

  private async read(maxRecords: number): Promise<SourceBatch | null> {
    const client = this.client!;
    const runtime = await this.runtimes.get(this.config.dataset);
    if (!runtime) throw new ConnectorFailure(`dataset ${this.config.dataset} is not in the catalog`);
    const fields = (runtime.type as unknown as { fields: Array<{ name: string }> }).fields.map((f) => f.name).filter((f) => this.columns.has(f));
    const ts = quoteIdent(this.config.timestampColumn);
    const tie = quoteIdent(this.tiebreaker);
    const params: unknown[] = [];
    const where = [`${ts} IS NOT NULL`, `${tie} IS NOT NULL`];
    if (this.position) {
      params.push(this.position.timestamp, this.position.id);
      where.push(`(${ts}, ${tie}) > ($1::${this.columns.get(this.config.timestampColumn)}, $2::${this.columns.get(this.tiebreaker)})`);
    }
    if (this.config.timestampDelayMs > 0) {
      params.push(this.config.timestampDelayMs);
      where.push(`${ts} < now() - make_interval(secs => $${params.length}::double precision / 1000)`);
    }
    params.push(maxRecords);
    const sql = `SELECT ${fields.map(quoteIdent).join(', ')}${fields.length ? ', ' : ''}${ts}::text AS "govx$ts", ${tie}::text AS "govx$id"
      FROM ${quoteTable(this.config.table)} WHERE ${where.join(' AND ')} ORDER BY ${ts}, ${tie} LIMIT $${params.length}`;
    const { rows } = await client.query<Record<string, unknown>>(sql, params);
    if (rows.length === 0) return null;
    // The origin names the table and the row's place in the batch, never its column values: it goes into
    // status, logs and dead-letter headers, which must not carry data.
    const records: SourceRecord[] = rows.map((row, i) => {
      const position: TablePosition = { timestamp: String(row['govx$ts']), id: String(row['govx$id']) };
      const value: Record<string, unknown> = {};
      for (const f of fields) value[f] = row[f];
      return { value, position, origin: `${this.config.table} (row ${i + 1} of a batch)` };
    });
    this.position = records[records.length - 1]!.position as TablePosition;
    return { partition: this.config.table, records };
  }

  async close(): Promise<void> {
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
