import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { GovxConfig } from '../lib/config';
import type { Pool } from '../lib/db';
import type { Logger } from '../lib/logger';
import { auditRouter } from './auditRoutes';
import { catalogRouter } from './catalogRoutes';
import { connectorRouter } from './connectorRoutes';
import type { KafkaExchange } from '../lib/kafkaExchange';
import { healthRouter } from './health';
import { loadOpenApiDocument, openApiRouter, requestValidation } from './apiSpec';
import type { GatewayMetrics } from '../lib/metrics';
import { KeyAuthenticator, authenticate } from './middleware/auth';
import { errorHandler, notFoundRoute } from './middleware/errors';
import { DepartmentRateLimiter } from './middleware/rateLimit';
import { requestId } from './middleware/requestId';
import { AuditGroupCommit } from '../publish/auditGroupCommit';
import { DatasetRuntimes } from '../publish/datasetRuntime';
import { IdempotencyStore } from './idempotency';
import { publishRouter } from './publishRoute';
import { subscriptionRouter } from './subscriptionRoutes';
import type { Kafka } from 'kafkajs';
import type { SubscriptionKafka } from '../catalog/subscriptions';
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
  kafka: { client: Kafka; topics: SubscriptionKafka };
  /** Working days for reply deadlines and reports; read from the configuration when absent. */
  calendar?: WorkingCalendar;
}

export interface GatewayApp {
  app: Express;
  runtimes: DatasetRuntimes;
  keys: KeyAuthenticator;
}

function routeLabel(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  return route ? `${req.baseUrl}${route}` : 'unmatched';
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
  const runtimes = new DatasetRuntimes(deps.pool);
  const keys = new KeyAuthenticator(deps.pool);

  app.use(requestId);
  app.use(observe(deps.metrics));
  const openApi = loadOpenApiDocument();
  app.use(healthRouter({ ...deps, isAccepting: deps.isAccepting ?? (() => true) }));
  // The registry authenticates itself, so its failures come out in Confluent's error shape.
  app.use('/registry', registryRouter({ pool: deps.pool, keys, runtimes, log: deps.log }));
  app.use(openApiRouter(openApi));
  app.use('/v1', authenticate(keys));
  app.use(
    publishRouter({
      ...deps,
      runtimes,
      maxBodyBytes: deps.config.maxBodyBytes,
      maxRecordsPerRequest: deps.config.maxRecordsPerRequest,
      maxJsonDepth: deps.config.maxJsonDepth,
      maxStringLength: deps.config.maxStringLength,
      auditGroup: new AuditGroupCommit(deps.pool),
      idempotency: new IdempotencyStore(deps.pool, {
        ttlSeconds: deps.config.idempotencyTtlSeconds,
        leaseMs: 2 * deps.config.kafkaRequestTimeoutMs + 30_000,
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
  app.use(auditRouter({ pool: deps.pool }));
  app.use(subscriptionRouter({ pool: deps.pool, kafka: deps.kafka.topics, kafkaClient: deps.kafka.client, log: deps.log }));
  app.use(connectorRouter({ pool: deps.pool, config: deps.config }));
  app.use(reportRouter({ pool: deps.pool, config: deps.config, calendar: deps.calendar ?? loadWorkingCalendar(deps.config.workdayCalendarFile) }));
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log));
  return { app, runtimes, keys };
}
