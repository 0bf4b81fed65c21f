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
import { GatewayMetrics, type MetricsListener, serveMetrics } from '../lib/metrics';
import { ShareDistributor } from '../distributor/shareDistributor';
import type { SubscriptionKafka } from '../catalog/subscriptions';

export interface RunningGateway {
  url: string;
  port: number;
  /** the Prometheus endpoint, on its own listener (GOVX_METRICS_HOST:GOVX_METRICS_PORT) */
  metricsUrl: string;
  gateway: GatewayApp;
  close: () => Promise<void>;
}

/**
 * Prepares the database (create, migrate, optionally seed the catalog) and serves the gateway. `close`
 * shuts down in order: readiness turns 503, the listener stops taking connections, in-flight requests
 * finish, the producer is flushed and disconnected, and the pool is closed.
 */
export async function startGateway(config: GovxConfig, log: Logger, opts: { seed?: boolean } = {}): Promise<RunningGateway> {
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
  const gateway = createApp({ config, pool, exchange, metrics, log, isAccepting: () => accepting, kafka: { client: kafka, topics } });
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
  let metricsListener: MetricsListener;
  try {
    metricsListener = await serveMetrics(metrics.registry, { host: config.metricsHost, port: config.metricsPort });
  } catch (err) {
    server.close();
    await distributor?.stop();
    await exchange.close();
    await pool.end();
    throw new Error(`the metrics listener could not bind ${config.metricsHost}:${config.metricsPort} (GOVX_METRICS_PORT): ${(err as Error).message}`, { cause: err });
  }
  gateway.denials.start();
  log.info({ url, metrics: metricsListener.url }, 'gateway listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      accepting = false;
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await drained;
      clearTimeout(timer);
      await metricsListener.close();
      await gateway.denials.stop();
      await distributor?.stop();
      await exchange.close();
      await pool.end();
      log.info('gateway stopped');
    })();
    return closing;
  };
  return { url, port, metricsUrl: metricsListener.url, gateway, close };
}
