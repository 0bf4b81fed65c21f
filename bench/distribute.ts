import fs from 'node:fs';
import type { Kafka, Message } from 'kafkajs';
import pg from 'pg';
import { createDataset } from '../catalog/datasetService';
import { datasetTopic } from '../catalog/datasets';
import { migrate } from '../catalog/migrate';
import { getSubjectVersion } from '../catalog/registry/store';
import { approveSubscription, requestSubscription, type SubscriptionKafka } from '../catalog/subscriptions';
import { loadConfig } from '../lib/config';
import { createKafka } from '../lib/kafka';
import { openKeyring } from '../lib/keyring';
import { kafkajsPort, topicEndOffsets } from '../lib/kafkaPort';
import { createPool, ensureDatabase, type Pool } from '../lib/db';
import { createLogger } from '../lib/logger';
import { projectPath } from '../lib/paths';
import { compileNaturalType } from '../schemas/codec';
import { generateSample } from '../schemas/samples';
import { ShareDistributor } from '../distributor/shareDistributor';
import { encodeWireFormat } from '../schemas/wireFormat';

/**
 * `npm run bench -- distribute`: the distributor fanning one dataset out to 1, 5 and 20 live
 * subscriptions, against a raw kafkajs consume-and-produce copy of the same topic, in the same run on
 * the same broker. Each round uses a fresh dataset topic holding the same records.
 */

export interface DistributeRound {
  subscriptions: number;
  records: number;
  distributorSeconds: number;
  rawCopySeconds: number;
  /** dataset records read per second by the distributor / by the raw copy */
  inputRatio: number;
  distributorRecordsOutPerSec: number;
  rawRecordsPerSec: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function totalMessages(kafka: Kafka, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let n = 0;
    for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) n += Number(o.high) - Number(o.low);
    return n;
  } finally {
    await admin.disconnect();
  }
}

async function waitFor(kafka: Kafka, topics: string[], expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await totalMessages(kafka, topics)) < expected) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expected} records on ${topics.length} topic(s)`);
    await sleep(50);
  }
}

async function rawCopy(kafka: Kafka, source: string, target: string, expected: number): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: target, numPartitions: 3, replicationFactor: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `bench-raw-${target}`, maxWaitTimeInMs: 500 });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: source, fromBeginning: true });
  const started = process.hrtime.bigint();
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const messages: Message[] = batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers }));
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic: target, messages }] });
      const last = batch.messages[batch.messages.length - 1]!.offset;
      resolveOffset(last);
      await consumer.commitOffsets([{ topic: source, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
      await heartbeat();
    },
  });
  await waitFor(kafka, [target], expected, 300_000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await consumer.disconnect();
  await producer.disconnect();
  return seconds;
}

export async function runDistributeBench(opts: { records?: number; fanouts?: number[] } = {}): Promise<DistributeRound[]> {
  const records = opts.records ?? 20_000;
  const fanouts = opts.fanouts ?? [1, 5, 20];
  const config = loadConfig();
  const log = createLogger('warn', 'govx-bench');
  const run = Date.now().toString(36);
  const dbUrl = new URL(config.databaseUrl);
  dbUrl.pathname = `/govx_bench_${run}`;
  await ensureDatabase(dbUrl.toString(), log);
  const pool: Pool = createPool(dbUrl.toString(), { max: 8 });
  const kafka = createKafka(config, createLogger(process.env.BENCH_KAFKA_LOG_LEVEL ? 'debug' : 'silent', 'govx-bench'), 'bench');
  const topics: SubscriptionKafka = {
    ensureTopic: async (topic) => {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
      await admin.disconnect();
    },
    endOffsets: (topic) => topicEndOffsets(kafka, topic),
  };
  const rounds: DistributeRound[] = [];
  const createdShareTopics = new Set<string>();
  try {
    await migrate(pool, log);
    const schema = JSON.parse(fs.readFileSync(projectPath('schemas', 'population.residents.avsc'), 'utf8'));
    const sample = generateSample('population.residents', records, 2024);
    const admin = { department: 'info-office', role: 'admin' as const, keyId: 'bench' };
    const steward = { department: 'psb', role: 'steward' as const, keyId: 'bench' };
    for (const fanout of fanouts) {
      const id = `bench.residents-${run}-${fanout}`;
      await createDataset(
        pool,
        {
          id, title: { zh: '基准测试', en: 'Benchmark' }, owner: 'psb', category: 'population', abstract: 'bench',
          sharing: { type: 'conditional', conditions: 'bench' }, updateCycle: 'daily', keyField: 'id_number', status: 'active', schema,
          fields: { id_number: { sensitivity: 4, masking: 'partial' }, name: { sensitivity: 3, masking: 'partial' }, address: { sensitivity: 3, masking: 'partial' } },
        } as never,
        admin,
        'bench',
      );
      const shareTopics: string[] = [];
      const consumers = ['civil-affairs', 'haidian', 'tax', 'statistics'];
      for (let i = 0; i < fanout; i++) {
        const consumer = { department: consumers[i % consumers.length]!, role: 'consumer' as const, keyId: 'bench' };
        const sub = await requestSubscription({ pool, kafka: topics }, consumer, {
          dataset: id, fields: ['id_number', 'name', 'birth_date', 'household_district', 'address', 'updated_at'], purpose: 'bench',
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(), delivery: 'kafka', startFrom: 'latest',
        }, 'bench');
        const approved = await approveSubscription({ pool, kafka: topics }, steward, sub.id, {}, 'bench');
        shareTopics.push(approved.topic);
        createdShareTopics.add(approved.topic);
      }
      // the same records, already encoded, straight onto the dataset topic
      const latest = (await getSubjectVersion(pool, `govx.dataset.${id}-value`, 'latest'))!;
      const type = compileNaturalType(schema);
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      for (let i = 0; i < sample.length; i += 2000) {
        const messages = sample.slice(i, i + 2000).map((r) => ({
          key: String(r.id_number),
          value: encodeWireFormat(latest.id, type.toBuffer(r)),
          headers: { 'govx-dataset': id, 'govx-publisher': 'psb', 'govx-schema-id': String(latest.id) },
        }));
        await producer.send({ topic: datasetTopic(id), acks: -1, messages });
      }
      await producer.disconnect();

      const rawSeconds = await rawCopy(kafka, datasetTopic(id), `bench.copy.${run}.${fanout}`, records);

      const distributor = new ShareDistributor({ kafka: kafkajsPort(kafka), pool, log, keys: openKeyring(config) }, { refreshMs: 200, groupPrefix: `bench-distributor-${run}` });
      const started = process.hrtime.bigint();
      distributor.start();
      await waitFor(kafka, shareTopics, records * fanout, 600_000);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      await distributor.stop();
      rounds.push({
        subscriptions: fanout,
        records,
        distributorSeconds: round(seconds),
        rawCopySeconds: round(rawSeconds),
        inputRatio: round(rawSeconds / seconds),
        distributorRecordsOutPerSec: Math.round((records * fanout) / seconds),
        rawRecordsPerSec: Math.round(records / rawSeconds),
      });
    }
  } finally {
    await pool.end();
    // leave nothing behind: the run's topics (dataset, copies, share topics) and its database
    const admin = kafka.admin();
    try {
      await admin.connect();
      const mine = (await admin.listTopics()).filter((t) => t.includes(`bench.residents-${run}-`) || t.startsWith(`bench.copy.${run}.`) || createdShareTopics.has(t));
      if (mine.length) await admin.deleteTopics({ topics: mine });
    } catch {
      /* best effort */
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const server = new URL(config.databaseUrl);
    server.pathname = '/postgres';
    const client = new pg.Client({ connectionString: server.toString() });
    await client
      .connect()
      .then(() => client.query(`DROP DATABASE IF EXISTS "govx_bench_${run}" WITH (FORCE)`))
      .catch(() => undefined)
      .finally(() => client.end().catch(() => undefined));
  }
  return rounds;
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

export function formatDistributeTable(rounds: DistributeRound[]): string {
  const lines = [
    '| live subscriptions | records | distributor s | raw copy s | dataset records/s: distributor ÷ raw | share records out/s | raw copy records/s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rounds) {
    lines.push(`| ${r.subscriptions} | ${r.records} | ${r.distributorSeconds} | ${r.rawCopySeconds} | ${r.inputRatio} | ${r.distributorRecordsOutPerSec} | ${r.rawRecordsPerSec} |`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  runDistributeBench().then(
    (rounds) => {
      process.stdout.write(`${JSON.stringify({ bench: 'distribute', rounds }, null, 2)}\n${formatDistributeTable(rounds)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`bench distribute failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
