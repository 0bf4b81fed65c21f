import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyCatalog, readCatalogFile, seedCatalogFile } from '../catalog/catalogFile';
import { migrate } from '../catalog/migrate';
import type { GovxConfig } from '../lib/config';
import { createPool, ensureDatabase } from '../lib/db';
import { createKafka, topicEndOffsets } from '../lib/kafka';
import type { Logger } from '../lib/logger';
import { createApp, type GatewayApp } from './app';
import { KafkaExchange } from '../lib/kafkaExchange';
import { GatewayMetrics } from '../lib/metrics';
import { ShareDistributor } from '../distributor/shareDistributor';
import type { SubscriptionKafka } from '../catalog/subscriptions';
import { SharingMonitor } from '../monitoring/sharingMonitor';
import { loadWorkingCalendar } from '../reports/workingCalendar';

export interface RunningGateway {
  url: string;
  port: number;
  gateway: GatewayApp;
  monitor: SharingMonitor;
  close: () => Promise<void>;
}

/**
 * Prepares the database (create, migrate, optionally seed the catalog) and serves the gateway. `close`
 * shuts down in order: readiness turns 503, the listener stops taking connections, in-flight requests
 * finish, the producer is flushed and disconnected, and the pool is closed.
 */
export async function startGateway(config: GovxConfig, log: Logger, opts: { seed?: boolean } = {}): Promise<RunningGateway> {
  const calendar = loadWorkingCalendar(config.workdayCalendarFile);
  await ensureDatabase(config.databaseUrl, log);
  const pool = createPool(config.databaseUrl, { max: 20, applicationName: 'govx-gateway' });
  try {
    await migrate(pool, log);
    if (opts.seed) {
      const results = await applyCatalog(pool, readCatalogFile(seedCatalogFile), { actor: 'info-office' });
      for (const r of results) if (r.action !== 'unchanged') log.info({ dataset: r.id, action: r.action, changes: r.changes }, 'seed catalog');
    }
  } catch (err) {
    await pool.end();
    throw err;
  }
  const kafka = createKafka(config, log, 'gateway');
  const exchange = new KafkaExchange(
    kafka,
    {
      partitions: config.topicPartitions,
      replicationFactor: config.topicReplicationFactor,
      timeoutMs: config.kafkaRequestTimeoutMs,
      lingerMs: config.produceLingerMs,
      maxBatchBytes: config.produceBatchBytes,
    },
    log.child({ component: 'exchange' }),
  );
  let accepting = true;
  const metrics = new GatewayMetrics();
  const topics: SubscriptionKafka = {
    ensureTopic: (topic) => exchange.ensureTopic(topic),
    endOffsets: (topic) => topicEndOffsets(kafka, topic),
  };
  const gateway = createApp({ config, pool, exchange, metrics, log, isAccepting: () => accepting, kafka: { client: kafka, topics }, calendar });
  const monitor = new SharingMonitor({ pool, log: log.child({ component: 'monitor' }), calendar, registry: metrics.registry }, config);
  monitor.start();
  const distributor = config.distributor
    ? new ShareDistributor(createKafka(config, log, 'distributor'), pool, log.child({ component: 'distributor' }), { refreshMs: 1000, groupPrefix: config.distributorGroupPrefix, sharePartitions: config.topicPartitions }, metrics.registry)
    : null;
  distributor?.start();
  const server = http.createServer(gateway.app);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url }, 'gateway listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      accepting = false;
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await drained;
      clearTimeout(timer);
      await distributor?.stop();
      await monitor.stop();
      await exchange.close();
      await pool.end();
      log.info('gateway stopped');
    })();
    return closing;
  };
  return { url, port, gateway, monitor, close };
}
