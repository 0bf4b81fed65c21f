import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { GovxConfig } from './config';
import type { Logger } from './logger';

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose logs go through pino (kafkajs logs metadata only, never message values). */
export function createKafka(config: Pick<GovxConfig, 'kafkaBrokers' | 'kafkaClientId'>, log: Logger, clientSuffix = ''): Kafka {
  const kafkaLog = log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: `${config.kafkaClientId}${clientSuffix ? `-${clientSuffix}` : ''}`,
    brokers: [...config.kafkaBrokers],
    connectionTimeout: 3000,
    requestTimeout: 10000,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        kafkaLog[levelNames[level] ?? 'info'](rest, message);
      },
  });
}
