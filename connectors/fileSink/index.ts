import { sinkPlugin } from '../plugin';
import { type FileSinkConfig, fileSinkKeys, validateFileSinkConfig } from './config';
import { FileSinkWriter } from './fileSink';

export const fileSinkPlugin = sinkPlugin<FileSinkConfig>({
  class: 'file-sink',
  keys: fileSinkKeys,
  runsOnOneWorker: true,
  validateConfig: validateFileSinkConfig,
  writer: (ctx) => new FileSinkWriter(ctx.config.file, ctx.fileRoot),
});
