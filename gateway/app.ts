import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { GovxConfig } from '../lib/config';
import { openKeyring } from '../lib/keyring';
import type { Pool } from '../lib/db';
import type { Logger } from '../lib/logger';
import { type AuditEvidence, auditRouter } from './auditRoutes';
import { AuditCheckpointer, type CheckpointStore, FileCheckpointStore, KafkaCheckpointStore } from '../catalog/auditCheckpoints';
import { type Keyring, openDefaultKeyring } from '../lib/keyring';
import { catalogRouter } from './catalogRoutes';
import { connectorRouter } from './connectorRoutes';
import type { KafkaExchange } from '../lib/kafkaExchange';
import { healthRouter } from './health';
import { loadOpenApiDocument, openApiRouter, requestValidation } from './apiSpec';
import type { GatewayMetrics } from '../lib/metrics';
import { KeyAuthenticator, authenticate, sessionLookup } from './middleware/auth';
import { consoleRouter } from './consoleRoutes';
import { deadLetterRouter } from './deadLetterRoutes';
import { departmentRouter } from './departmentRoutes';
import { publicSessionRouter, sessionRouter } from './sessionRoutes';
import { errorHandler, notFoundRoute } from './middleware/errors';
import { DepartmentRateLimiter } from './middleware/rateLimit';
import { LargeBodyGate } from './middleware/largeBodies';
import { requestId } from './middleware/requestId';
import { recordDenials, routeLabel } from './middleware/denials';
import { checkRequestText } from './middleware/textHygiene';
import { DenialLedger } from '../catalog/denials';
import { keyRouter } from './keyRoutes';
import { ReceiptLedger } from '../catalog/receipts';
import { kafkaCredentialRouter } from './kafkaCredentialRoutes';
import type { KafkaAccess } from '../catalog/kafkaAccess';
import type { ScramCredentialStore } from '../lib/scramCredentials';
import { DatasetRuntimes } from '../publish/datasetRuntime';
import { IdempotencyStore } from './idempotency';
import { publishRouter } from './publishRoute';
import { subscriptionRouter } from './subscriptionRoutes';
import type { SchemaCache } from '../catalog/registry/schemaCache';
import type { SubscriptionKafka } from '../catalog/subscriptions';
import type { KafkaPort } from '../lib/kafkaPort';
import { ShareDelivery } from './httpDelivery';
import { skippedRecordReporter } from './skippedRecords';
import { registryRouter } from './registryRoutes';
import { reportRouter } from './reportRoutes';
import { loadWorkingCalendar, type WorkingCalendar } from '../reports/workingCalendar';

export interface AppDeps {
  config: GovxConfig;
  pool: Pool;
  exchange: KafkaExchange;
  metrics: GatewayMetrics;
  log: Logger;
  isAccepting?: () => boolean;
  /** For subscriptions: share topics, the dataset topic's end offsets, and HTTP delivery. */
  kafka: { port: KafkaPort; topics: SubscriptionKafka };
  /** Departments' Kafka credentials (set at the broker) and the ACLs that follow them. */
  kafkaAccess: { scram: ScramCredentialStore; access: KafkaAccess };
  /** The process's registry-backed schema cache (publish runtimes, HTTP delivery). */
  schemas: SchemaCache;
  /** Working days for reply deadlines and reports; read from the configuration when absent. */
  calendar?: WorkingCalendar;
  /** The keys kept outside the database (audit HMAC and checkpoint signing); the environment's when absent. */
  keyring?: Keyring;
}

export interface GatewayApp {
  app: Express;
  runtimes: DatasetRuntimes;
  keys: KeyAuthenticator;
  /** denied requests, counted here and audited in aggregate; started and stopped with the server */
  denials: DenialLedger;
  /** HTTP delivery's open streams and pulls, which the gateway's shutdown ends. */
  delivery: ShareDelivery;
  /** signs the audit chain head on demand (POST /v1/audit/checkpoints) and, once started, at an interval */
  checkpointer: AuditCheckpointer;
}

function observe(metrics: GatewayMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const end = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      const route = routeLabel(req);
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  };
}

export function createApp(deps: AppDeps): GatewayApp {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const runtimes = new DatasetRuntimes(deps.pool, deps.schemas);
  const delivery = new ShareDelivery(deps.kafka.port, deps.schemas, skippedRecordReporter(deps));
  const receipts = new ReceiptLedger(deps.pool);
  const evidence = auditEvidence(deps);
  const keys = new KeyAuthenticator(deps.pool, {
    requestsPerSec: deps.config.rateLimitKeyRequestsPerSec,
    onLimited: (p) => deps.metrics.rateLimited.inc({ department: p.department, limit: 'key-requests' }),
  });
  const denials = new DenialLedger(deps.pool, { intervalMs: deps.config.denialAuditIntervalSec * 1000, flushMs: 5000 }, deps.log);

  app.use(requestId);
  app.use(observe(deps.metrics));
  app.use(recordDenials(denials, (p) => deps.metrics.deniedRequests.inc({ department: p.department })));
  const openApi = loadOpenApiDocument();
  app.use(healthRouter({ ...deps, isAccepting: deps.isAccepting ?? (() => true) }));
  // The registry authenticates itself, so its failures come out in Confluent's error shape.
  app.use('/registry', registryRouter({ pool: deps.pool, keys, runtimes, log: deps.log }));
  app.use(checkRequestText);
  app.use(openApiRouter(openApi));
  app.use(consoleRouter());
  app.use(publicSessionRouter({ pool: deps.pool, config: deps.config, log: deps.log }));
  app.use('/v1', authenticate(keys, sessionLookup(deps.pool, deps.config.sessionIdleMinutes)));
  app.use(
    publishRouter({
      ...deps,
      runtimes,
      maxBodyBytes: deps.config.maxBodyBytes,
      maxRecordsPerRequest: deps.config.maxRecordsPerRequest,
      maxJsonDepth: deps.config.maxJsonDepth,
      maxStringLength: deps.config.maxStringLength,
      receipts,
      idempotency: new IdempotencyStore(deps.pool, {
        ttlSeconds: deps.config.idempotencyTtlSeconds,
        leaseMs: 2 * deps.config.kafkaRequestTimeoutMs + 30_000,
      }),
      largeBodies: new LargeBodyGate({
        thresholdBytes: deps.config.largeBodyBytes,
        budgetBytes: deps.config.largeBodyBudgetBytes,
        maxWaiting: deps.config.largeBodyQueue,
        maxWaitMs: deps.config.largeBodyWaitMs,
      }),
      rateLimiter: new DepartmentRateLimiter(
        { requestsPerSec: deps.config.rateLimitRequestsPerSec, recordsPerSec: deps.config.rateLimitRecordsPerSec },
        (department, limit) => deps.metrics.rateLimited.inc({ department, limit }),
      ),
    }),
  );
  // The publish route reads its own body (bytes, depth-checked, fingerprinted); everything after is validated against the spec.
  app.use(requestValidation(openApi, { maxBodyBytes: Math.min(deps.config.maxBodyBytes, 4 * 1024 * 1024), maxJsonDepth: deps.config.maxJsonDepth }));
  app.use(catalogRouter({ pool: deps.pool, runtimes, maxBodyBytes: deps.config.maxBodyBytes }));
  app.use(deadLetterRouter({ pool: deps.pool, kafka: deps.kafka.port }));
  app.use(auditRouter({ pool: deps.pool, evidence }));
  app.use(
    subscriptionRouter({
      pool: deps.pool,
      kafka: deps.kafka.topics,
      keys: openKeyring(deps.config),
      delivery,
      receipts,
      log: deps.log,
      caps: { streams: deps.config.maxStreamsPerDepartment, pulls: deps.config.maxPullsPerDepartment },
      lag: { kafka: deps.kafka.port, groupPrefix: deps.config.distributorGroupPrefix },
    }),
  );
  app.use(keyRouter({ pool: deps.pool }));
  app.use(
    kafkaCredentialRouter({
      pool: deps.pool,
      scram: deps.kafkaAccess.scram,
      access: deps.kafkaAccess.access,
      bootstrapServers: deps.config.kafkaDepartmentBrokers,
      log: deps.log,
    }),
  );
  app.use(sessionRouter({ pool: deps.pool, config: deps.config, log: deps.log }));
  app.use(departmentRouter({ pool: deps.pool }));
  app.use(connectorRouter({ pool: deps.pool, config: deps.config }));
  app.use(reportRouter({ pool: deps.pool, config: deps.config, calendar: deps.calendar ?? loadWorkingCalendar(deps.config.workdayCalendarFile) }));
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log));
  return { app, runtimes, keys, denials, delivery, checkpointer: evidence.checkpointer };
}

/** Checkpoints go to the Kafka topic govx owns and, when configured, to a file as well. */
function auditEvidence(deps: AppDeps): AuditEvidence {
  const keyring = deps.keyring ?? openDefaultKeyring();
  const stores: CheckpointStore[] = [new KafkaCheckpointStore(deps.kafka.port, deps.config.auditCheckpointTopic, deps.config.topicReplicationFactor)];
  if (deps.config.auditCheckpointFile) stores.push(new FileCheckpointStore(deps.config.auditCheckpointFile));
  const checkpointer = new AuditCheckpointer({ pool: deps.pool, keyring, stores, log: deps.log.child({ component: 'audit-checkpoints' }) }, deps.config.auditCheckpointIntervalMs);
  return { keyring, stores, checkpointer };
}
