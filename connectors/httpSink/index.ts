import { sinkPlugin } from '../plugin';
import { type HttpSinkConfig, httpSinkKeys, validateHttpSinkConfig } from './config';
import { HttpSinkWriter } from './httpSink';

export const httpSinkPlugin = sinkPlugin<HttpSinkConfig>({
  class: 'http-sink',
  keys: httpSinkKeys,
  runsOnOneWorker: false,
  validateConfig: validateHttpSinkConfig,
  writer: ({ name, config, targets, owner }) =>
    new HttpSinkWriter({ connector: name, url: config.url, hmacSecret: config.hmacSecret, timeoutMs: config.timeoutMs, checkTarget: (host) => targets.webhook(owner, host) }),
});
