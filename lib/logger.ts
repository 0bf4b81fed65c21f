import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** How log lines are written: `json` (one object a line, for collectors), `pretty` (for people), `auto` (pretty on a terminal). */
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Structured logs. Record payloads and secrets never reach a log line: callers log metadata only
 * (dataset, partition, offset, schema id, key hash), and the redaction below is a second line of defence.
 * Pretty lines are the same objects made readable (synchronously, on this thread), so both forms carry the
 * same fields and the same redaction.
 */
export function createLogger(level: string, name = 'govx', format: LogFormat = 'json', destination?: NodeJS.WritableStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'key', 'secret', 'records', 'record', 'value', 'password'],
      censor: '[redacted]',
    },
  };
  const terminal = destination === undefined && process.stdout.isTTY === true;
  const usePretty = format === 'pretty' || (format === 'auto' && terminal);
  if (!usePretty) return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
  return pino(
    options,
    pretty({ colorize: terminal, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true, ...(destination ? { destination } : {}) }),
  );
}

export type { Logger };
