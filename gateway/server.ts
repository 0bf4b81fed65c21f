import http from 'node:http';
import type { Kafka } from 'kafkajs';
import type { AddressInfo, Socket } from 'node:net';
import { applyCatalog, readCatalogFile, seedCatalogFile } from '../catalog/catalogFile';
import { migrate } from '../catalog/migrate';
import type { GovxConfig } from '../lib/config';
import { createPool, ensureDatabase } from '../lib/db';
import { createKafka } from '../lib/kafka';
import { kafkajsPort, topicEndOffsets } from '../lib/kafkaPort';
import { ShutdownSequence } from '../lib/lifecycle';
import type { Logger } from '../lib/logger';
import { createApp, type GatewayApp } from './app';
import { KafkaExchange } from '../lib/kafkaExchange';
import { GatewayMetrics, type MetricsListener, serveMetrics } from '../lib/metrics';
import { ShareDistributor } from '../distributor/shareDistributor';
import { openKeyring } from '../lib/keyring';
import { sealStoredConnectorSecrets, useConnectorSecretsKeyring } from '../connectors/runtime/store';
import { SchemaCache } from '../catalog/registry/schemaCache';
import { onSubscriptionTransition, type SubscriptionKafka } from '../catalog/subscriptions';
import { KafkaAccess, KafkaAclReconciler } from '../catalog/kafkaAccess';
import { kafkajsAclAdmin } from '../lib/kafkaAcls';
import { BrokerScramCredentials } from '../lib/scramCredentials';
import { errorMessage } from '../lib/errors';
import { ReceiptReconciler } from '../catalog/receiptReconciler';
import { useAuditKeyring } from '../catalog/audit';
import { Keyring } from '../lib/keyring';
import { SharingMonitor } from '../monitoring/sharingMonitor';
import { loadWorkingCalendar } from '../reports/workingCalendar';

export interface RunningGateway {
  url: string;
  port: number;
  /** the Prometheus endpoint, on its own listener (GOVX_METRICS_HOST:GOVX_METRICS_PORT) */
  metricsUrl: string;
  gateway: GatewayApp;
  /** The process's shutdown sequence, holding the gateway's roles (and any the caller adds after them). */
  shutdown: ShutdownSequence;
  monitor: SharingMonitor;
  /** Runs the shutdown sequence. */
  close: () => Promise<void>;
}

/**
 * Prepares the database (create, migrate, optionally seed the catalog) and serves the gateway, with the
 * distributor unless GOVX_DISTRIBUTOR is off. Each role joins the shutdown sequence as it starts, so it
 * stops in reverse: the HTTP server (readiness turns 503, no new connections, open streams and pulls end,
 * in-flight requests finish), the metrics listener, the denial ledger (its last counts audited), the
 * distributor (after its batches in flight), the producer (flushed), the pool.
 */
export async function startGateway(
  config: GovxConfig,
  log: Logger,
  opts: {
    seed?: boolean;
    shutdown?: ShutdownSequence;
    /** Builds the Kafka clients (default: createKafka, TLS + SASL as configured); the benchmarks' plaintext comparison arm passes its own. */
    kafkaClient?: (clientSuffix: string) => Kafka;
  } = {},
): Promise<RunningGateway> {
  const kafkaClient = opts.kafkaClient ?? ((suffix: string) => createKafka(config, log, suffix));
  const shutdown = opts.shutdown ?? new ShutdownSequence(log, config.shutdownTimeoutMs);
  const calendar = loadWorkingCalendar(config.workdayCalendarFile);
  // the audit chain is hashed with a key outside the database, from the configured keyring, before anything is audited
  const keyring = Keyring.open({ keysDir: config.keysDir, masterKeyBase64: config.masterKey });
  useAuditKeyring(keyring);
  useConnectorSecretsKeyring(keyring);
  await ensureDatabase(config.databaseUrl, log);
  const pool = createPool(config.databaseUrl, { max: 20, applicationName: 'govx-gateway' });
  try {
    await migrate(pool, log);
    const sealed = await sealStoredConnectorSecrets(pool);
    if (sealed > 0) log.info({ connectors: sealed }, 'sealed the secrets of connectors stored in clear');
    if (opts.seed) {
      const results = await applyCatalog(pool, readCatalogFile(seedCatalogFile), { actor: 'info-office' });
      for (const r of results) if (r.action !== 'unchanged') log.info({ dataset: r.id, action: r.action, changes: r.changes.length }, `seed catalog: ${r.id} ${r.action}`);
    }
  } catch (err) {
    await pool.end();
    throw err;
  }
  shutdown.add('database pool', () => pool.end());
  const gatewayKafka = kafkaClient('gateway');
  const kafka = kafkajsPort(gatewayKafka);
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
  shutdown.add('kafka producer', () => exchange.close());
  const schemas = new SchemaCache(pool);
  const metrics = new GatewayMetrics();
  // Department principals' ACLs follow the catalog: at every subscription transition in this process, and
  // by reconciliation at start-up and every GOVX_KAFKA_ACL_RECONCILE_MS (catalog/kafkaAccess.ts).
  const aclAdmin = kafkajsAclAdmin(gatewayKafka);
  const access = new KafkaAccess({ pool, acls: aclAdmin, log: log.child({ component: 'kafka-access' }) });
  const scram = new BrokerScramCredentials(config, log.child({ component: 'scram-credentials' }));
  shutdown.add('kafka access', async () => {
    await scram.close();
    await aclAdmin.close();
  });
  const stopFollowing = onSubscriptionTransition(async ({ consumer, subscription, to }) => {
    await access.syncDepartment(consumer, `subscription ${subscription} ${to}`).catch((err: unknown) => {
      log.warn({ subscription, consumer, to, err: errorMessage(err) }, 'kafka ACLs not converged now; the reconciler will');
    });
  });
  const reconciler = new KafkaAclReconciler(access, config.kafkaAclReconcileMs, log.child({ component: 'kafka-acl-reconciler' }));
  reconciler.start();
  shutdown.add('kafka ACL reconciler', async () => {
    stopFollowing();
    await reconciler.stop();
  });
  if (config.distributor) {
    const distributor = new ShareDistributor(
      { kafka: kafkajsPort(kafkaClient('distributor')), pool, log: log.child({ component: 'distributor' }), keys: openKeyring(config), schemas, registry: metrics.registry },
      { refreshMs: 1000, groupPrefix: config.distributorGroupPrefix, sharePartitions: config.topicPartitions },
    );
    distributor.start();
    shutdown.add('distributor', () => distributor.stop());
  }
  let accepting = true;
  const topics: SubscriptionKafka = {
    ensureTopic: (topic) => exchange.ensureTopic(topic),
    endOffsets: (topic) => topicEndOffsets(kafka, topic),
  };
  const gateway = createApp({ config, pool, exchange, metrics, log, schemas, isAccepting: () => accepting, kafka: { port: kafka, topics }, kafkaAccess: { scram, access }, calendar, keyring });
  const monitor = new SharingMonitor({ pool, log: log.child({ component: 'monitor' }), calendar, registry: metrics.registry }, config);
  monitor.start();
  shutdown.add('sharing monitor', () => monitor.stop());
  // records a crashed writer left in Kafka without a receipt are covered from what Kafka holds (decision 0011)
  const receiptReconciler = new ReceiptReconciler(
    { pool, kafka, log: log.child({ component: 'receipts' }) },
    { intervalMs: config.receiptReconcileIntervalMs, graceMs: config.receiptGraceMs },
  );
  receiptReconciler.start();
  shutdown.add('receipt reconciler', () => receiptReconciler.stop());
  gateway.checkpointer.start();
  shutdown.add('audit checkpointer', () => gateway.checkpointer.stop());
  const server = http.createServer(gateway.app);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 120_000;
  let metricsListener: MetricsListener;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await shutdown.run('the gateway could not listen');
    throw err;
  }
  try {
    metricsListener = await serveMetrics(metrics.registry, { host: config.metricsHost, port: config.metricsPort });
  } catch (err) {
    server.close();
    await shutdown.run('the metrics listener could not listen');
    throw new Error(`the metrics listener could not bind ${config.metricsHost}:${config.metricsPort} (GOVX_METRICS_PORT): ${(err as Error).message}`, { cause: err });
  }
  gateway.denials.start();
  shutdown.add('denial ledger', () => gateway.denials.stop());
  shutdown.add('metrics listener', () => metricsListener.close());
  const connections = closeWhenIdle(server);
  shutdown.add('http server', async (finishNow) => {
    accepting = false;
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    connections.closing();
    await gateway.delivery.stop();
    const cut = (): void => server.closeAllConnections();
    finishNow.addEventListener('abort', cut, { once: true });
    try {
      await drained;
    } finally {
      finishNow.removeEventListener('abort', cut);
    }
  });
  const listening = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${listening}`;
  log.info({ url, metrics: metricsListener.url }, 'gateway listening');
  return { url, port: listening, metricsUrl: metricsListener.url, gateway, shutdown, monitor, close: async () => void (await shutdown.run('close')) };
}

/**
 * Once shutdown begins, each connection is ended (FIN after everything written, so an answer or a
 * stream's last event is never cut short) as soon as it has no response in flight. Node's own
 * closeIdleConnections destroys a connection whose response has ended but is not yet flushed.
 */
function closeWhenIdle(server: http.Server): { closing: () => void } {
  const inFlight = new Map<Socket, number>();
  let closing = false;
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closing && left === 0) socket.end();
    });
  });
  return {
    closing: () => {
      closing = true;
      for (const [socket, n] of inFlight) if (n === 0) socket.end();
    },
  };
}
