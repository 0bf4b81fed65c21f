import pino, { type Logger } from 'pino';

/**
 * Structured logs. Record payloads and secrets never reach a log line: callers log metadata only
 * (dataset, partition, offset, schema id, key hash), and the redaction below is a second line of defence.
 */
export function createLogger(level: string, name = 'govx'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'key', 'secret', 'records', 'record', 'value', 'password'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
