import {
  COLUMN_NAME,
  type CommonConfig,
  type ConfigReader,
  DATASET_ID,
  type KeySpec,
  type RawConfig,
  readCommonConfig,
  TABLE_NAME,
  type ValidationContext,
} from '../config';
import { readPostgresConnectionUrl } from '../postgresConnection';

export interface PostgresSourceConfig extends CommonConfig {
  connectorClass: 'postgres-source';
  connectionUrl: string;
  connectionUser: string | null;
  connectionPassword: string | null;
  table: string;
  dataset: string;
  mode: 'timestamp' | 'timestamp+incrementing';
  timestampColumn: string;
  incrementingColumn: string | null;
  pollIntervalMs: number;
  batchMaxRows: number;
  timestampDelayMs: number;
}

export const postgresSourceKeys: Record<string, KeySpec> = {
  'connection.url': { doc: 'postgresql://host:5432/db (or jdbc:postgresql://…)', required: true },
  'connection.user': { doc: 'user name (or in the URL)' },
  'connection.password': { doc: 'password (or in the URL); never returned' },
  'table.include.list': { doc: 'the one table (schema.table) whose columns are named as the dataset fields', required: true },
  dataset: { doc: 'the dataset the rows are published to', required: true },
  mode: { doc: '`timestamp` (ordered by timestamp, then the dataset key) or `timestamp+incrementing`', required: true },
  'timestamp.column.name': { doc: 'the column updated on every change', required: true },
  'incrementing.column.name': { doc: 'a strictly increasing column (mode timestamp+incrementing)' },
  'poll.interval.ms': { doc: 'wait between polls when caught up', default: '5000' },
  'batch.max.rows': { doc: 'rows per batch', default: '500' },
  'timestamp.delay.interval.ms': { doc: 'read a row only once its timestamp is this old (late commits)', default: '0' },
};

export function validatePostgresSourceConfig(r: ConfigReader, name: string, raw: RawConfig, _ctx: ValidationContext): PostgresSourceConfig {
  const dataset = r.string('dataset', DATASET_ID, 'a dataset id such as population.residents');
  const common = readCommonConfig(r, name, raw, `govx.dlq.${dataset}`);
  const connectionUrl = readPostgresConnectionUrl(r);
  const table = r.string('table.include.list', TABLE_NAME, 'one table name, optionally schema-qualified (e.g. public.residents)');
  const mode = r.oneOf('mode', ['timestamp', 'timestamp+incrementing'] as const);
  const timestampColumn = r.string('timestamp.column.name', COLUMN_NAME, 'a column name');
  let incrementingColumn = r.optional('incrementing.column.name');
  if (mode === 'timestamp+incrementing') {
    if (incrementingColumn === null) r.problem('incrementing.column.name', 'config.incrementing.column.name is required with mode timestamp+incrementing');
    else if (!COLUMN_NAME.test(incrementingColumn)) r.problem('incrementing.column.name', 'config.incrementing.column.name must be a column name');
  } else if (incrementingColumn !== null && !r.failed('mode')) {
    r.problem('incrementing.column.name', 'config.incrementing.column.name applies only to mode timestamp+incrementing');
    incrementingColumn = null;
  }
  return {
    ...common,
    connectorClass: 'postgres-source',
    connectionUrl,
    connectionUser: r.optional('connection.user'),
    connectionPassword: r.optional('connection.password'),
    table,
    dataset,
    mode,
    timestampColumn,
    incrementingColumn,
    pollIntervalMs: r.int('poll.interval.ms', 10, 86_400_000),
    batchMaxRows: r.int('batch.max.rows', 1, 100_000),
    timestampDelayMs: r.int('timestamp.delay.interval.ms', 0, 86_400_000),
  };
}
