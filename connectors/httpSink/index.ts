import type { ConnectorPlugin } from '../plugin';
import { SinkTask } from '../runtime/sinkTask';
import { type HttpSinkConfig, httpSinkKeys, validateHttpSinkConfig } from './config';
import { HttpSinkWriter } from './httpSink';

export const httpSinkPlugin: ConnectorPlugin<HttpSinkConfig> = {
  class: 'http-sink',
  kind: 'sink',
  keys: httpSinkKeys,
  runsOnOneWorker: false,
  validateConfig: validateHttpSinkConfig,
  create: (ctx) => {
    const { config } = ctx;
    return new SinkTask(ctx, new HttpSinkWriter({ connector: ctx.name, url: config.url, hmacSecret: config.hmacSecret, timeoutMs: config.timeoutMs, allowPrivate: config.allowPrivate }));
  },
};
