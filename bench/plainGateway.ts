import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../lib/config';
import { exitAfterShutdown, ShutdownSequence } from '../lib/lifecycle';
import { createLogger } from '../lib/logger';
import { startGateway } from '../gateway/server';

/**
 * The publish benchmark's comparison arm for what TLS + SASL + ACLs cost: the same gateway (`govx serve
 * --seed`) with its Kafka clients pointed at the benchmark's throw-away PLAINTEXT broker on loopback
 * (GOVX_BENCH_PLAIN_BOOTSTRAP). Only the benchmark starts it; govx itself has no plaintext setting.
 */
async function main(): Promise<void> {
  const bootstrap = process.env.GOVX_BENCH_PLAIN_BOOTSTRAP;
  if (!bootstrap || !/^127\.0\.0\.1:\d+$/.test(bootstrap)) throw new Error('GOVX_BENCH_PLAIN_BOOTSTRAP must be 127.0.0.1:<port>');
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'govx-bench-plain-gateway');
  const shutdown = new ShutdownSequence(log, config.shutdownTimeoutMs);
  exitAfterShutdown(shutdown, log);
  await startGateway(config, log, {
    seed: true,
    shutdown,
    kafkaClient: (suffix) => new Kafka({ clientId: `govx-bench-plain-${suffix}`, brokers: [bootstrap], logLevel: logLevel.NOTHING, requestTimeout: 30000 }),
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`plain gateway failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
