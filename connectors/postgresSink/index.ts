import { sinkPlugin } from '../plugin';
import { type PostgresSinkConfig, postgresSinkKeys, validatePostgresSinkConfig } from './config';
import { PostgresSinkWriter } from './postgresSink';

export const postgresSinkPlugin = sinkPlugin<PostgresSinkConfig>({
  class: 'postgres-sink',
  keys: postgresSinkKeys,
  runsOnOneWorker: false,
  validateConfig: validatePostgresSinkConfig,
  writer: ({ name, config, schemas, targets, owner }) =>
    new PostgresSinkWriter(
      {
        connector: name,
        guard: targets,
        department: owner,
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
      schemas,
    ),
});
