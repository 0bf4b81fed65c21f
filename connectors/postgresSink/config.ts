import {
  type ConfigReader,
  connectorDeadLetterTopic,
  type KeySpec,
  type RawConfig,
  readCommonConfig,
  readSubscription,
  type SubscriptionSinkConfig,
  TABLE_NAME,
  type ValidationContext,
} from '../config';
import { readPostgresConnectionUrl } from '../postgresConnection';

export interface PostgresSinkConfig extends SubscriptionSinkConfig {
  connectorClass: 'postgres-sink';
  connectionUrl: string;
  connectionUser: string | null;
  connectionPassword: string | null;
  tableNameFormat: string;
  insertMode: 'upsert' | 'insert';
  pkMode: 'record_key';
  autoCreate: boolean;
  autoEvolve: boolean;
  deleteEnabled: boolean;
}

export const postgresSinkKeys: Record<string, KeySpec> = {
  subscription: { doc: 'the subscription whose share topic is written (sub-…)', required: true },
  'connection.url': { doc: "the consumer's database: postgresql://host:5432/db (or jdbc:postgresql://…)", required: true },
  'connection.user': { doc: 'user name (or in the URL)' },
  'connection.password': { doc: 'password (or in the URL); never returned' },
  'table.name.format': { doc: 'target table, optionally schema-qualified; ${subscription} and ${topic} are replaced', default: '${subscription}' },
  'insert.mode': { doc: '`upsert` (by the record key) or `insert` (append)', default: 'upsert' },
  'pk.mode': { doc: '`record_key`: the record key is the primary key (column _govx_key)', default: 'record_key' },
  'auto.create': { doc: 'create the table from the derived schema', default: 'true' },
  'auto.evolve': { doc: 'add columns when the derived schema gains fields', default: 'true' },
  'delete.enabled': { doc: 'a tombstone deletes the row (upsert mode)', default: 'true' },
  'batch.max.rows': { doc: 'records per transaction (at most what one fetch of a partition holds)', default: '5000' },
};

export function validatePostgresSinkConfig(r: ConfigReader, name: string, raw: RawConfig, _ctx: ValidationContext): PostgresSinkConfig {
  const common = readCommonConfig(r, name, raw, connectorDeadLetterTopic(name));
  const { subscription, topics } = readSubscription(r);
  const connectionUrl = readPostgresConnectionUrl(r);
  const tableNameFormat = r.string('table.name.format');
  const probe = tableNameFormat.replace(/\$\{(subscription|topic)\}/g, 'x');
  if (tableNameFormat && !TABLE_NAME.test(probe)) r.problem('table.name.format', 'config.table.name.format must be a table name, optionally schema-qualified, with ${subscription} or ${topic}');
  return {
    ...common,
    connectorClass: 'postgres-sink',
    subscription,
    topics,
    connectionUrl,
    connectionUser: r.optional('connection.user'),
    connectionPassword: r.optional('connection.password'),
    tableNameFormat,
    insertMode: r.oneOf('insert.mode', ['upsert', 'insert'] as const),
    pkMode: r.oneOf('pk.mode', ['record_key'] as const),
    autoCreate: r.oneOf('auto.create', ['true', 'false'] as const) === 'true',
    autoEvolve: r.oneOf('auto.evolve', ['true', 'false'] as const) === 'true',
    deleteEnabled: r.oneOf('delete.enabled', ['true', 'false'] as const) === 'true',
    batchMaxRows: r.int('batch.max.rows', 1, 100_000),
  };
}
