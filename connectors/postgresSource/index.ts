import type { ConnectorPlugin } from '../plugin';
import { SourceTask } from '../runtime/sourceTask';
import { type PostgresSourceConfig, postgresSourceKeys, validatePostgresSourceConfig } from './config';
import { PostgresSourceReader } from './postgresSource';

export const postgresSourcePlugin: ConnectorPlugin<PostgresSourceConfig> = {
  class: 'postgres-source',
  kind: 'source',
  keys: postgresSourceKeys,
  runsOnOneWorker: true,
  validateConfig: validatePostgresSourceConfig,
  create: (ctx) => new SourceTask(ctx, new PostgresSourceReader(ctx.name, ctx.config, ctx.pool, ctx.runtimes)),
};
