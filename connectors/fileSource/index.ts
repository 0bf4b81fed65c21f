import { sourcePlugin } from '../plugin';
import { type FileSourceConfig, fileSourceKeys, validateFileSourceConfig } from './config';
import { FileSourceReader } from './fileSource';

export const fileSourcePlugin = sourcePlugin<FileSourceConfig>({
  class: 'file-source',
  keys: fileSourceKeys,
  runsOnOneWorker: true,
  validateConfig: validateFileSourceConfig,
  reader: (ctx) => new FileSourceReader(ctx.name, ctx.config, ctx.pool, ctx.runtimes, ctx.fileRoot),
});
