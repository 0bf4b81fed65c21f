import type { ConnectorPlugin } from '../plugin';
import { SinkTask } from '../runtime/sinkTask';
import { type FileSinkConfig, fileSinkKeys, validateFileSinkConfig } from './config';
import { FileSinkWriter } from './fileSink';

export const fileSinkPlugin: ConnectorPlugin<FileSinkConfig> = {
  class: 'file-sink',
  kind: 'sink',
  keys: fileSinkKeys,
  runsOnOneWorker: true,
  validateConfig: validateFileSinkConfig,
  create: (ctx) => new SinkTask(ctx, new FileSinkWriter(ctx.config.file, ctx.fileRoot)),
};
