import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';

/** Prometheus metrics of one gateway process. Labels carry metadata only (dataset, department, outcome). */
export class GatewayMetrics {
  readonly registry = new client.Registry();

  readonly httpRequests = new client.Counter({
    name: 'govx_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new client.Histogram({
    name: 'govx_http_request_duration_seconds',
    help: 'HTTP request duration, by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly publishRecords = new client.Counter({
    name: 'govx_publish_records_total',
    help: 'Records received for publishing, by dataset, publishing department and outcome (accepted, rejected)',
    labelNames: ['dataset', 'department', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly publishBatches = new client.Counter({
    name: 'govx_publish_requests_total',
    help: 'Publish requests, by dataset, department and outcome (ok, partial, rejected, unavailable)',
    labelNames: ['dataset', 'department', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly produceDuration = new client.Histogram({
    name: 'govx_kafka_produce_duration_seconds',
    help: 'Time from handing a batch to Kafka until acks=all, by dataset',
    labelNames: ['dataset'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly publishDuration = new client.Histogram({
    name: 'govx_publish_duration_seconds',
    help: 'Time to validate, produce and audit one publish request, by dataset, department and outcome',
    labelNames: ['dataset', 'department', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly auditDuration = new client.Histogram({
    name: 'govx_publish_audit_duration_seconds',
    help: 'Time to append the audit entry of an accepted publish request (the chain is appended under a lock)',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly publishBatchSize = new client.Histogram({
    name: 'govx_publish_request_records',
    help: 'Records per publish request, by dataset and department',
    labelNames: ['dataset', 'department'] as const,
    buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 50000],
    registers: [this.registry],
  });

  readonly deadLetters = new client.Counter({
    name: 'govx_dlq_records_total',
    help: 'Rejected records written to the dataset owner\'s dead-letter topic, by dataset and publishing department',
    labelNames: ['dataset', 'department'] as const,
    registers: [this.registry],
  });

  readonly deadLetterFailures = new client.Counter({
    name: 'govx_dlq_failures_total',
    help: 'Rejected records that could not be written to the dead-letter topic (Kafka unavailable)',
    labelNames: ['dataset', 'department'] as const,
    registers: [this.registry],
  });

  readonly idempotentReplays = new client.Counter({
    name: 'govx_publish_idempotent_replays_total',
    help: 'Publish requests answered from an earlier request with the same Idempotency-Key',
    labelNames: ['dataset', 'department'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new client.Counter({
    name: 'govx_rate_limited_total',
    help: 'Requests refused with 429, by department and the limit they hit (requests and records: publish, per department; key-requests: any route, per key; large-bodies: publish, this process full of large bodies)',
    labelNames: ['department', 'limit'] as const,
    registers: [this.registry],
  });

  readonly deniedRequests = new client.Counter({
    name: 'govx_denied_requests_total',
    help: 'Requests of valid keys that were denied (403, 429, or a denial answered as 404), by department; audited in aggregate as access.denied',
    labelNames: ['department'] as const,
    registers: [this.registry],
  });

  readonly skippedShareRecords = new client.Counter({
    name: 'govx_share_records_skipped_total',
    help: 'Share records HTTP delivery (pull, SSE) stepped over because they do not decode, by channel and error class; each is audited once as delivery.skipped',
    labelNames: ['channel', 'error_class'] as const,
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'govx_process_' });
  }
}

export interface MetricsListener {
  url: string;
  close: () => Promise<void>;
}

/**
 * Serves `GET /metrics` of `registry` on a listener of its own, apart from the API: Prometheus scrapes it
 * from inside the deployment (loopback by default), and the API's clients never see per-department volumes.
 */
export async function serveMetrics(registry: client.Registry, at: { host: string; port: number }): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      () => res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
