import type { ConnectorPlugin } from '../plugin';
import { SourceTask } from '../runtime/sourceTask';
import { type FileSourceConfig, fileSourceKeys, validateFileSourceConfig } from './config';
import { FileSourceReader } from './fileSource';

export const fileSourcePlugin: ConnectorPlugin<FileSourceConfig> = {
  class: 'file-source',
  kind: 'source',
  keys: fileSourceKeys,
  runsOnOneWorker: true,
  validateConfig: validateFileSourceConfig,
  create: (ctx) => new SourceTask(ctx, new FileSourceReader(ctx.name, ctx.config, ctx.pool, ctx.runtimes, ctx.fileRoot)),
};
