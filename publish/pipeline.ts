import { datasetTopic, dlqTopic } from '../catalog/datasets';
import type { Principal } from '../catalog/keys';
import { appendReceipts, type PublishReceipt, publishReceiptEntry, type ReceiptLedger } from '../catalog/receipts';
import { withTransaction } from '../lib/db';
import { crashPointForTests } from '../lib/faults';
import type { Pool } from '../lib/db';
import { GovxError, errorMessage } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { KafkaExchange } from '../lib/kafkaExchange';
import type { GatewayMetrics } from '../lib/metrics';
import type { DatasetRuntime, DatasetRuntimes } from './datasetRuntime';
import { authorizePublish, deadLetters, type RejectedRecord, stampProvenance, validateRecords } from './stages';

export interface PublishDeps {
  pool: Pool;
  runtimes: DatasetRuntimes;
  exchange: KafkaExchange;
  metrics: GatewayMetrics;
  log: Logger;
  /** Longest string value a record may hold (default 65536 characters). */
  maxStringLength?: number;
  /** Appends the receipts of concurrent requests together; without it each request appends its own. */
  receipts?: ReceiptLedger;
}

/** A publisher the catalog lets publish to a dataset: what authorizePublisher returns and publishRecords takes. */
export interface AuthorizedPublisher {
  principal: Principal;
  runtime: DatasetRuntime;
}

export interface PublishRequest {
  publisher: AuthorizedPublisher;
  /** Decoded records; entries listed in `preRejected` (e.g. NDJSON lines that were not JSON) are skipped. */
  records: unknown[];
  preRejected?: RejectedRecord[];
  /** The original text of records that could not be decoded (by index), kept verbatim in the dead-letter topic. */
  rawLines?: ReadonlyMap<number, string>;
  /** All or nothing: any invalid record rejects the whole request (422) and nothing is produced. */
  atomic?: boolean;
  requestId: string;
}

export interface PublishOutcome {
  accepted: number;
  rejected: RejectedRecord[];
  topic: string;
  /** Where the accepted records landed: `count` records from `baseOffset` on each partition. */
  offsets: Array<{ partition: number; baseOffset: string; count: number }>;
}

const SLICE = 200;

/**
 * validate, a slice at a time, letting the event loop run in between: a 10 000-record request must not hold
 * up the database and Kafka replies of every other request in flight for the whole of its validation.
 */
async function validateInSlices(
  runtime: DatasetRuntime,
  records: unknown[],
  skip: ReadonlySet<number>,
  maxStringLength?: number,
): Promise<ReturnType<typeof validateRecords>> {
  if (records.length <= SLICE) return validateRecords(runtime, records, skip, maxStringLength);
  const out: ReturnType<typeof validateRecords> = { valid: [], rejected: [] };
  for (let start = 0; start < records.length; start += SLICE) {
    if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    validateRecords(runtime, records, skip, maxStringLength, { from: start, to: Math.min(start + SLICE, records.length) }, out);
  }
  return out;
}

/**
 * The first stage, authorize against the catalog, on its own: a caller runs it before anything else (the
 * HTTP route before reading the body, so a department learns nothing from body errors on a dataset it may
 * not publish to) and hands its result to publishRecords.
 */
export async function authorizePublisher(deps: Pick<PublishDeps, 'runtimes'>, principal: Principal, datasetId: string): Promise<AuthorizedPublisher> {
  return { principal, runtime: authorizePublish(principal, await deps.runtimes.get(datasetId), datasetId) };
}

/**
 * The governed publish path, whoever calls it (the HTTP route, a source connector), for an authorized
 * publisher: validate (Avro + domain checks) → stamp provenance → produce with acks=all → audit the batch.
 * Resolves only once every accepted record is acknowledged by Kafka.
 */
export async function publishRecords(deps: PublishDeps, req: PublishRequest): Promise<PublishOutcome> {
  const { principal, runtime } = req.publisher;
  const preRejected = req.preRejected ?? [];
  const { valid, rejected } = await validateInSlices(runtime, req.records, new Set(preRejected.map((e) => e.index)), deps.maxStringLength);
  const allRejected = [...preRejected, ...rejected].sort((a, b) => a.index - b.index);
  const labels = { dataset: runtime.dataset.id, department: principal.department };
  const timer = deps.metrics.publishDuration.startTimer(labels);
  deps.metrics.publishBatchSize.observe(labels, req.records.length);
  const topic = datasetTopic(runtime.dataset.id);

  if (req.atomic && allRejected.length > 0) {
    deps.metrics.publishRecords.inc({ ...labels, outcome: 'rejected' }, req.records.length);
    deps.metrics.publishBatches.inc({ ...labels, outcome: 'rejected' });
    timer({ outcome: 'rejected' });
    throw new GovxError(422, 'publish.rejected', `${allRejected.length} of ${req.records.length} records are invalid; none were published (atomic)`, {
      details: { accepted: 0, rejected: allRejected },
    });
  }

  const now = new Date().toISOString();
  const messages = stampProvenance(valid, {
    dataset: runtime.dataset.id,
    publisher: principal.department,
    schemaId: runtime.schemaId,
    traceId: req.requestId,
    publishedAt: now,
  });
  const started = process.hrtime.bigint();
  // Rejects of a request answered 200 go to the owner's dead-letter topic; an atomic refusal (422 above) does
  // not, because the publisher got every error back, nothing was written, and its retries would repeat them.
  const dead = deadLetters(allRejected, req.records, req.rawLines ?? new Map(), {
    dataset: runtime.dataset.id,
    keyField: runtime.dataset.keyField,
    publisher: principal.department,
    requestId: req.requestId,
    schemaId: runtime.schemaId,
    rejectedAt: now,
  });
  const [produced, deadLettered] = await Promise.allSettled([
    deps.exchange.produce(topic, messages),
    deps.exchange.produce(dlqTopic(runtime.dataset.id), dead),
  ]);
  if (produced.status === 'rejected') {
    deps.metrics.publishBatches.inc({ ...labels, outcome: 'unavailable' });
    timer({ outcome: 'unavailable' });
    throw produced.reason;
  }
  const offsets: PublishOutcome['offsets'] = produced.value;
  if (deadLettered.status === 'fulfilled') {
    if (dead.length) deps.metrics.deadLetters.inc(labels, dead.length);
  } else {
    // The caller still gets every error in the answer; a missing dead letter must not fail what was published.
    deps.metrics.deadLetterFailures.inc(labels, dead.length);
    deps.log.error({ dataset: runtime.dataset.id, count: dead.length, requestId: req.requestId, err: errorMessage(deadLettered.reason) }, 'dead-lettering failed');
  }
  deps.metrics.produceDuration.observe({ dataset: runtime.dataset.id }, Number(process.hrtime.bigint() - started) / 1e9);
  deps.metrics.publishRecords.inc({ ...labels, outcome: 'accepted' }, valid.length);
  if (allRejected.length) deps.metrics.publishRecords.inc({ ...labels, outcome: 'rejected' }, allRejected.length);
  const outcome = allRejected.length === 0 ? 'ok' : valid.length ? 'partial' : 'rejected';
  deps.metrics.publishBatches.inc({ ...labels, outcome });

  crashPointForTests('publish');
  // A batch whose every record was rejected is recorded too: rejection and dead-letter rates are measured from these receipts.
  if (valid.length > 0 || allRejected.length > 0) {
    const receipt: PublishReceipt = {
      dataset: runtime.dataset.id,
      publisher: { department: principal.department, keyId: principal.keyId, role: principal.role },
      requestId: req.requestId,
      topic,
      offsets,
      accepted: valid.length,
      rejected: allRejected.length,
      deadLettered: deadLettered.status === 'fulfilled' ? dead.length : 0,
      schemaId: runtime.schemaId,
    };
    const auditTimer = deps.metrics.auditDuration.startTimer();
    // The records are in Kafka and acknowledged: a receipt that cannot be written now is written by the
    // receipt reconciler from what Kafka holds (decision 0011), so the publisher is not told to retry.
    await (deps.receipts ? deps.receipts.publish(receipt) : withTransaction(deps.pool, (tx) => appendReceipts(tx, [publishReceiptEntry(receipt)]))).catch((err: unknown) =>
      deps.log.error({ err: errorMessage(err), requestId: req.requestId, dataset: runtime.dataset.id }, 'publish receipt failed; the reconciler will cover the batch'),
    );
    auditTimer();
  }
  timer({ outcome });
  deps.log.debug({ dataset: runtime.dataset.id, accepted: valid.length, rejected: allRejected.length }, 'published');
  return { accepted: valid.length, rejected: allRejected, topic, offsets };
}
