import fs from 'node:fs';
import { Kafka, logLevel, type LogEntry, type RetryOptions, type SASLOptions } from 'kafkajs';
import { ConfigError, type GovxConfig } from './config';
import type { Logger } from './logger';

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs notices nobody can act on, logged at debug instead of their own level: the partitioner change of
 * kafkajs 2 (govx names its partitioner), the idempotent producer's retry caveat (govx bounds retries on
 * purpose and answers 503), and the error of each single response that kafkajs retries by itself (a
 * coordinator loading, a leader moving): when the retries run out, the caller gets the error and logs it.
 */
const noticesNobodyActsOn = [/^KafkaJS v2\.0\.0 switched default partitioner/, /^Limiting retries for the idempotent producer/, /^Response \w+\(key: \d+, version: \d+\)$/];

export function kafkaLogLevel(level: number, message: string): 'error' | 'warn' | 'info' | 'debug' {
  if (level <= logLevel.WARN && noticesNobodyActsOn.some((pattern) => pattern.test(message))) return 'debug';
  return levelNames[level] ?? 'info';
}

export type KafkaClientConfig = Pick<
  GovxConfig,
  | 'kafkaBrokers'
  | 'kafkaClientId'
  | 'kafkaSaslMechanism'
  | 'kafkaUsername'
  | 'kafkaPassword'
  | 'kafkaPasswordFile'
  | 'kafkaCaFile'
  | 'kafkaCertFile'
  | 'kafkaKeyFile'
>;

export interface KafkaClientOptions {
  /** Another principal than govx's own (a department's), or 'none' for a TLS connection without SASL. */
  readonly credentials?: { readonly username: string; readonly password: string } | 'none';
  readonly connectionTimeout?: number;
  readonly requestTimeout?: number;
  readonly retry?: RetryOptions;
}

function readSecurityFile(env: string, file: string, problems: string[]): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const hint = 'run `npm run services:up` to generate the development one, or point it at your own';
    problems.push(`${env} cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ${hint}`);
    return '';
  }
}

/** TLS (always, verifying the broker against the configured CA) and SASL settings of a client. */
export function kafkaSecurity(config: KafkaClientConfig, credentials?: KafkaClientOptions['credentials']): {
  ssl: { ca: string[]; cert?: string; key?: string; rejectUnauthorized: true };
  sasl?: SASLOptions;
} {
  const problems: string[] = [];
  const ca = readSecurityFile('GOVX_KAFKA_CA_FILE', config.kafkaCaFile, problems);
  const cert = config.kafkaCertFile ? readSecurityFile('GOVX_KAFKA_CERT_FILE', config.kafkaCertFile, problems) : undefined;
  const key = config.kafkaKeyFile ? readSecurityFile('GOVX_KAFKA_KEY_FILE', config.kafkaKeyFile, problems) : undefined;
  let sasl: SASLOptions | undefined;
  if (credentials === undefined) {
    const password = config.kafkaPassword ?? readSecurityFile('GOVX_KAFKA_PASSWORD_FILE', config.kafkaPasswordFile, problems).trim();
    sasl = { mechanism: config.kafkaSaslMechanism, username: config.kafkaUsername, password } as SASLOptions;
  } else if (credentials !== 'none') {
    sasl = { mechanism: config.kafkaSaslMechanism, username: credentials.username, password: credentials.password } as SASLOptions;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { ssl: { ca: [ca], ...(cert ? { cert, key } : {}), rejectUnauthorized: true }, ...(sasl ? { sasl } : {}) };
}

/**
 * The one place a kafkajs client is configured: TLS against the configured CA, SASL as govx (the broker's
 * super user) unless other credentials are given, and logs through pino (kafkajs logs metadata only).
 */
export function createKafka(config: KafkaClientConfig, log: Logger, clientSuffix = '', options: KafkaClientOptions = {}): Kafka {
  const kafkaLog = log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: `${config.kafkaClientId}${clientSuffix ? `-${clientSuffix}` : ''}`,
    brokers: [...config.kafkaBrokers],
    ...kafkaSecurity(config, options.credentials),
    // a TLS handshake with a busy (or just started, not yet JIT-warm) broker can take seconds
    connectionTimeout: options.connectionTimeout ?? 10000,
    requestTimeout: options.requestTimeout ?? 10000,
    ...(options.retry ? { retry: options.retry } : {}),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        kafkaLog[kafkaLogLevel(level, message)](rest, message);
      },
  });
}
