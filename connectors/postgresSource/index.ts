import { sourcePlugin } from '../plugin';
import { type PostgresSourceConfig, postgresSourceKeys, validatePostgresSourceConfig } from './config';
import { PostgresSourceReader } from './postgresSource';

export const postgresSourcePlugin = sourcePlugin<PostgresSourceConfig>({
  class: 'postgres-source',
  keys: postgresSourceKeys,
  runsOnOneWorker: true,
  validateConfig: validatePostgresSourceConfig,
  reader: (ctx) => new PostgresSourceReader(ctx.name, ctx.config, ctx.pool, ctx.runtimes, ctx.targets, ctx.owner),
});
