import client from 'prom-client';
import { getDataset } from '../catalog/datasets';
import { type DeliveryReceipt, GOVX_DISTRIBUTOR, grantRef, type ReceiptLedger } from '../catalog/receipts';
import type { CachedSchema, SchemaCache } from '../catalog/registry/schemaCache';
import { shareTopic, type Subscription } from '../catalog/subscriptions';
import type { Pool } from '../lib/db';
import type { IncomingMessage, KafkaProducer, OutgoingMessage } from '../lib/kafkaPort';
import { crashPointForTests } from '../lib/faults';
import type { Logger } from '../lib/logger';
import { AvroDecodeError } from '../schemas/boundedDecode';
import { decodeWireFormat, MAX_VALUE_BYTES, UndecodableValueError, WIRE_HEADER_BYTES } from '../schemas/wireFormat';
import { DatasetRecord, type ShareProjector } from './shareProjector';

export interface DistributorMetrics {
  records: client.Counter<'dataset' | 'outcome'>;
}

export function distributorMetricsOn(registry: client.Registry | undefined): DistributorMetrics {
  return {
    records: new client.Counter({
      name: 'govx_distributor_records_total',
      help: 'Share records written by the distributor, by dataset and outcome (delivered, undecodable)',
      labelNames: ['dataset', 'outcome'] as const,
      registers: registry ? [registry] : [],
    }),
  };
}

/** Well below the broker's default message.max.bytes (1 MiB), which applies per partition batch. */
const MAX_REQUEST_BYTES = 512 * 1024;

function sizeOf(m: OutgoingMessage): number {
  let n = 64 + (m.value ? m.value.length : 0) + (m.key ? Buffer.byteLength(m.key) : 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + (v ? String(v).length : 0);
  return n;
}

export interface ShareWriterDeps {
  pool: Pool;
  log: Logger;
  producer: KafkaProducer;
  schemas: SchemaCache;
  projector: ShareProjector;
  metrics: DistributorMetrics;
  /** Partitions of the share topics (govx creates them with GOVX_TOPIC_PARTITIONS). */
  sharePartitions: number;
  /** Where each acknowledged write to a share topic is recorded (delivery.receipt, channel kafka). */
  receipts: ReceiptLedger;
}

/** Writes dataset records to the share topics of the subscriptions they belong to, acknowledged by Kafka (acks=all). */
export class ShareWriter {
  constructor(private readonly deps: ShareWriterDeps) {}

  /**
   * Projects `messages` of one dataset partition for `subs`, writes them with acks=all, and records a
   * receipt per share topic partition written. `include` says which subscriptions a record at an offset
   * belongs to (live delivery vs backfill). Resolves only once the receipts are committed, so the caller
   * commits its source offsets after both; a crash in between is covered by the receipt reconciler.
   */
  async deliver(
    dataset: string,
    partition: number,
    messages: IncomingMessage[],
    subs: Subscription[],
    include: (sub: Subscription, offset: string) => boolean,
    /** the dataset's key field, when the caller read it already */
    knownKeyField?: string,
  ): Promise<void> {
    const { projector, producer, log, schemas, metrics } = this.deps;
    const keyField = knownKeyField ?? (await getDataset(this.deps.pool, dataset))?.keyField ?? '';
    let byTopic = new Map<string, OutgoingMessage[]>();
    let bytes = 0;
    let delivered = 0;
    // One produce request per ~MAX_REQUEST_BYTES: a batch fanned out to many subscriptions would
    // otherwise exceed the broker's message.max.bytes and be refused whole.
    const subOfTopic = new Map(subs.map((s) => [shareTopic(s.id), s]));
    const pendingReceipts: Array<Promise<void>> = [];
    const flush = async (): Promise<void> => {
      if (byTopic.size === 0) return;
      const written = byTopic;
      byTopic = new Map();
      bytes = 0;
      const produced = await producer.sendBatch({ acks: -1, topicMessages: [...written].map(([topic, msgs]) => ({ topic, messages: msgs })) });
      crashPointForTests('share');
      const receipts: DeliveryReceipt[] = [];
      for (const meta of produced) {
        const sub = subOfTopic.get(meta.topicName);
        const count = written.get(meta.topicName)?.filter((m) => m.partition === meta.partition).length ?? 0;
        if (!sub || meta.baseOffset === undefined || count === 0) continue;
        const fromOffset = meta.baseOffset;
        receipts.push({
          subscription: grantRef(sub),
          channel: 'kafka',
          actor: GOVX_DISTRIBUTOR,
          topic: meta.topicName,
          partition: meta.partition,
          fromOffset,
          toOffset: (BigInt(fromOffset) + BigInt(count) - 1n).toString(),
          count,
        });
      }
      // the receipts are committed while the next request is projected and sent; `deliver` resolves after all of them
      const recorded = this.deps.receipts.delivery(...receipts);
      recorded.catch(() => undefined); // awaited below; a failure fails the delivery there
      pendingReceipts.push(recorded);
    };
    // every schema the batch needs, resolved before the (synchronous) projection of its records
    const writers = new Map<number, CachedSchema | UndecodableValueError>();
    for (const message of messages) {
      const v = message.value;
      if (v === null || v.length < WIRE_HEADER_BYTES || v.length > MAX_VALUE_BYTES || v[0] !== 0) continue;
      const id = v.readInt32BE(1);
      if (!writers.has(id)) {
        writers.set(
          id,
          await schemas.get(id).catch((err: unknown) => {
            if (err instanceof UndecodableValueError) return err;
            throw err;
          }),
        );
      }
    }
    const derivedOf = new Map<string, CachedSchema>();
    for (const sub of subs) derivedOf.set(sub.id, await schemas.get(sub.derivedSchemaId!));
    const undecodable = (message: IncomingMessage, err: UndecodableValueError): void => {
      metrics.records.inc({ dataset, outcome: 'undecodable' });
      log.warn({ dataset, partition, offset: message.offset, errorClass: err.errorClass, err: err.message }, 'skipping an undecodable dataset record');
    };
    for (const message of messages) {
      const targets = subs.filter((s) => include(s, message.offset));
      if (targets.length === 0) continue;
      let record: DatasetRecord;
      const outs: Array<{ topic: string; out: OutgoingMessage }> = [];
      try {
        if (message.value === null) record = new DatasetRecord(message, null, null);
        else {
          const { schemaId, body } = decodeWireFormat(message.value);
          const writer = writers.get(schemaId)!;
          if (writer instanceof UndecodableValueError) throw writer;
          record = new DatasetRecord(message, body, writer);
          record.spans(); // bounds checked once, for every subscription
        }
        for (const sub of targets) {
          const out = projector.project(sub, keyField, record, derivedOf.get(sub.id)!);
          // share topics have the dataset topic's partition count: keeping the partition keeps per-key order
          // without re-hashing every key
          out.partition = partition % this.deps.sharePartitions;
          // which grant the record was written under, for the receipt reconciler if its writer dies before the receipt
          out.headers!['govx-grant-version'] = String(grantRef(sub).grantVersion);
          outs.push({ topic: shareTopic(sub.id), out });
        }
      } catch (err) {
        if (err instanceof AvroDecodeError) {
          undecodable(message, new UndecodableValueError('avro-decode', `value does not decode: ${err.message}`, err));
          continue;
        }
        if (!(err instanceof UndecodableValueError)) throw err;
        undecodable(message, err);
        continue;
      }
      for (const { topic, out } of outs) {
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, (list = []));
        list.push(out);
        delivered++;
        bytes += sizeOf(out);
        if (bytes >= MAX_REQUEST_BYTES) await flush();
      }
    }
    await flush();
    await Promise.all(pendingReceipts);
    if (delivered > 0) metrics.records.inc({ dataset, outcome: 'delivered' }, delivered);
  }
}
