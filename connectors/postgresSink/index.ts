import type { ConnectorPlugin } from '../plugin';
import { SinkTask } from '../runtime/sinkTask';
import { type PostgresSinkConfig, postgresSinkKeys, validatePostgresSinkConfig } from './config';
import { PostgresSinkWriter } from './postgresSink';

export const postgresSinkPlugin: ConnectorPlugin<PostgresSinkConfig> = {
  class: 'postgres-sink',
  kind: 'sink',
  keys: postgresSinkKeys,
  runsOnOneWorker: false,
  validateConfig: validatePostgresSinkConfig,
  create: (ctx) => {
    const { config } = ctx;
    return new SinkTask(
      ctx,
      new PostgresSinkWriter(
        {
          connector: ctx.name,
          connectionUrl: config.connectionUrl,
          connectionUser: config.connectionUser,
          connectionPassword: config.connectionPassword,
          tableNameFormat: config.tableNameFormat,
          subscription: config.subscription,
          insertMode: config.insertMode,
          autoCreate: config.autoCreate,
          autoEvolve: config.autoEvolve,
          deleteEnabled: config.deleteEnabled,
        },
        ctx.pool,
      ),
    );
  },
};
