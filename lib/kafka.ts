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

/** partition → the offset the next record will get (the topic's end), with a short-lived admin client. */
export async function topicEndOffsets(kafka: Kafka, topic: string): Promise<Record<string, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [String(o.partition), o.high]));
  } finally {
    await admin.disconnect();
  }
}
