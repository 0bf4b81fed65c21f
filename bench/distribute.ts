import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
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
import { kafkaVersion, loadAverage, type PlainBroker, processCpuSeconds, round2, securedBrokerPid, selfCpuSeconds, sleep, startPlainBroker } from './support';

/**
 * `npm run bench -- distribute`: the distributor fanning one dataset out to 1, 5 and 20 live
 * subscriptions, against a raw kafkajs consume-and-produce copy of the same topic, in the same run on
 * the same broker. Each round uses a fresh dataset topic holding the same records.
 */

export interface DistributeArm {
  name: string;
  broker: 'secured' | 'plaintext';
  subscriptions: number;
  records: number;
  /** dataset records per second, per round */
  rounds: number[];
  min: number;
  max: number;
  recordsPerSec: number;
  /** share records written per second (records × subscriptions) */
  recordsOutPerSec: number;
  /** CPU seconds of the bench process (where the distributor or the raw copy runs) and of the broker */
  cpuSeconds: number;
  brokerCpuSeconds: number;
}

export interface DistributeResult {
  benchmark: 'distribute';
  at: string;
  loadAverage: { before: string; after: string };
  setup: Record<string, unknown>;
  arms: DistributeArm[];
  ratios: Record<string, number | string | null>;
  correctness: Array<{ topic: string; expected: number; inKafka: number }>;
}

type Admin = ReturnType<Kafka['admin']>;

async function countMessages(admin: Admin, topics: string[]): Promise<number> {
  let n = 0;
  for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) n += Number(o.high) - Number(o.low);
  return n;
}

async function totalMessages(kafka: Kafka, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await countMessages(admin, topics);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Polls the topics' offsets every 50 ms on one admin connection. A connection per poll (a TLS handshake and a
 * SCRAM exchange each) charged the bench process and the broker CPU in proportion to how long an arm ran, so
 * the slower arm's CPU figures were inflated by the measuring itself.
 */
async function waitFor(kafka: Kafka, topics: string[], expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const admin = kafka.admin();
  await admin.connect();
  try {
    while ((await countMessages(admin, topics)) < expected) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expected} records on ${topics.length} topic(s)`);
      await sleep(50);
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * The raw baseline: a kafkajs consumer group copying the topic to another — consume, sendBatch acks=all on an
 * idempotent producer, commit after the send — from an empty group to the last record. `concurrency` > 1
 * handles the partitions' batches concurrently (partitionsConsumedConcurrently) on the same producer.
 */
async function rawCopy(kafka: Kafka, source: string, target: string, expected: number, concurrency: number, maxBytes: number): Promise<number> {
  const before = await totalMessages(kafka, [target]);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `bench-raw-${target}-${crypto.randomUUID()}`, maxWaitTimeInMs: 100, maxBytes, maxBytesPerPartition: maxBytes });
  // timed from before its clients connect, as the distributor arm is (it connects its own inside the timing)
  const started = process.hrtime.bigint();
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: source, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: concurrency,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const messages: Message[] = batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers, partition: batch.partition }));
      // at most ~500 KiB per produce request, like the distributor (a large fetch must not exceed message.max.bytes)
      for (let i = 0; i < messages.length; i += 2000) await producer.sendBatch({ acks: -1, topicMessages: [{ topic: target, messages: messages.slice(i, i + 2000) }] });
      const last = batch.messages[batch.messages.length - 1]!.offset;
      resolveOffset(last);
      await consumer.commitOffsets([{ topic: source, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
      await heartbeat();
    },
  });
  await waitFor(kafka, [target], before + expected, 300_000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await consumer.disconnect();
  await producer.disconnect();
  return seconds;
}

interface Setup {
  kafka: Kafka;
  pool: Pool;
  database: string;
  dataset: string;
  shareTopics: string[];
  brokerPid: () => number | undefined;
}

/** A database of its own, a dataset with `fanout` approved kafka subscriptions, and `records` encoded records on its topic. */
async function setUp(kafka: Kafka, baseUrl: string, database: string, dataset: string, fanout: number, sample: Array<Record<string, unknown>>, schema: unknown, log: ReturnType<typeof createLogger>, brokerPid: () => number | undefined): Promise<Setup> {
  const dbUrl = new URL(baseUrl);
  dbUrl.pathname = `/${database}`;
  await ensureDatabase(dbUrl.toString(), log);
  const pool: Pool = createPool(dbUrl.toString(), { max: 8 });
  await migrate(pool, log);
  const topics: SubscriptionKafka = {
    ensureTopic: async (topic) => {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
      await admin.disconnect();
    },
    endOffsets: (topic) => topicEndOffsets(kafka, topic),
  };
  const admin = { department: 'info-office', role: 'admin' as const, keyId: 'bench' };
  const steward = { department: 'psb', role: 'steward' as const, keyId: 'bench' };
  await createDataset(
    pool,
    {
      id: dataset, title: { zh: '基准测试', en: 'Benchmark' }, owner: 'psb', category: 'population', abstract: 'bench',
      sharing: { type: 'conditional', conditions: 'bench' }, updateCycle: 'daily', keyField: 'id_number', status: 'active', schema,
      fields: { id_number: { sensitivity: 4, masking: 'partial' }, name: { sensitivity: 3, masking: 'partial' }, address: { sensitivity: 3, masking: 'partial' } },
    } as never,
    admin,
    'bench',
  );
  await topics.ensureTopic(datasetTopic(dataset)).catch(() => undefined);
  const shareTopics: string[] = [];
  const consumers = ['civil-affairs', 'haidian', 'tax', 'statistics'];
  for (let i = 0; i < fanout; i++) {
    const consumer = { department: consumers[i % consumers.length]!, role: 'consumer' as const, keyId: 'bench' };
    const sub = await requestSubscription({ pool, kafka: topics }, consumer, {
      dataset, fields: ['id_number', 'name', 'birth_date', 'household_district', 'address', 'updated_at'], purpose: 'bench',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(), delivery: 'kafka', startFrom: 'latest',
    }, 'bench');
    const approved = await approveSubscription({ pool, kafka: topics }, steward, sub.id, {}, 'bench');
    shareTopics.push(approved.topic);
  }
  const latest = (await getSubjectVersion(pool, `govx.dataset.${dataset}-value`, 'latest'))!;
  const type = compileNaturalType(schema as never);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < sample.length; i += 2000) {
    const messages = sample.slice(i, i + 2000).map((r) => ({
      key: String(r.id_number),
      value: encodeWireFormat(latest.id, type.toBuffer(r)),
      headers: { 'govx-dataset': dataset, 'govx-publisher': 'psb', 'govx-schema-id': String(latest.id) },
    }));
    await producer.send({ topic: datasetTopic(dataset), acks: -1, messages });
  }
  await producer.disconnect();
  return { kafka, pool, database, dataset, shareTopics, brokerPid };
}

/** One delivery of the whole dataset topic by a distributor with a fresh consumer group, to the last share record. */
async function distributeOnce(s: Setup, records: number, log: ReturnType<typeof createLogger>): Promise<number> {
  const before = await totalMessages(s.kafka, s.shareTopics);
  const distributor = new ShareDistributor({ kafka: kafkajsPort(s.kafka), pool: s.pool, log, keys: openKeyring(loadConfig()) }, { refreshMs: 200, groupPrefix: `bench-distributor-${crypto.randomUUID()}` });
  const started = process.hrtime.bigint();
  distributor.start();
  await waitFor(s.kafka, s.shareTopics, before + records * s.shareTopics.length, 600_000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await distributor.stop();
  return seconds;
}

export interface DistributeOptions {
  records?: number;
  /** interleaved rounds of the 1-subscription arms */
  rounds?: number;
  /** more fan-outs, measured once each after the rounds */
  fanouts?: number[];
  plaintext?: boolean;
  /** unmeasured runs of every 1-subscription arm before the rounds (BENCH_WARMUP, default 1) */
  warmups?: number;
  quiet?: boolean;
}

export async function runDistributeBench(opts: DistributeOptions = {}): Promise<DistributeResult> {
  const records = opts.records ?? 20_000;
  const roundsN = opts.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  const fanouts = opts.fanouts ?? (process.env.BENCH_FANOUTS !== undefined ? process.env.BENCH_FANOUTS.split(',').filter(Boolean).map(Number) : [5, 20]);
  const plaintext = opts.plaintext ?? process.env.BENCH_PLAINTEXT !== '0';
  const warmups = opts.warmups ?? Number(process.env.BENCH_WARMUP ?? 1);
  const say = (line: string) => {
    if (!opts.quiet) process.stderr.write(`bench distribute: ${line}\n`);
  };
  const loadBefore = loadAverage();
  const config = loadConfig();
  const log = createLogger('warn', 'govx-bench');
  const run = Date.now().toString(36);
  const kafka = createKafka(config, createLogger(process.env.BENCH_KAFKA_LOG_LEVEL ? 'debug' : 'silent', 'govx-bench'), 'bench');
  const securedPid = securedBrokerPid();
  const setups: Setup[] = [];
  const copyTopics = new Map<Kafka, string[]>();
  let plain: PlainBroker | undefined;
  try {
    const schema = JSON.parse(fs.readFileSync(projectPath('schemas', 'population.residents.avsc'), 'utf8'));
    const sample = generateSample('population.residents', records, 2024);
    const one = await setUp(kafka, config.databaseUrl, `govx_bench_${run}_1`, `bench.residents-${run}-1`, 1, sample, schema, log, () => securedPid);
    setups.push(one);
    let onePlain: Setup | undefined;
    if (plaintext) {
      say('starting a throw-away PLAINTEXT broker on loopback (the TLS + ACL cost arms)');
      plain = await startPlainBroker();
      onePlain = await setUp(plain.kafka, config.databaseUrl, `govx_bench_${run}_1p`, `bench.residents-${run}-1p`, 1, sample, schema, log, () => plain?.pid);
      setups.push(onePlain);
    }
    const copyTarget = async (k: Kafka): Promise<string> => {
      const topic = `bench.copy.${run}.${crypto.randomBytes(3).toString('hex')}`;
      const admin = k.admin();
      await admin.connect();
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
      await admin.disconnect();
      copyTopics.set(k, [...(copyTopics.get(k) ?? []), topic]);
      return topic;
    };

    interface Arm { name: string; broker: 'secured' | 'plaintext'; subs: number; run: () => Promise<number>; pid: () => number | undefined; rounds: number[]; cpu: number; brokerCpu: number; seconds: number }
    const arm = (name: string, broker: Arm['broker'], subs: number, pid: () => number | undefined, fn: () => Promise<number>): Arm => ({ name, broker, subs, run: fn, pid, rounds: [], cpu: 0, brokerCpu: 0, seconds: 0 });
    const securedTarget = await copyTarget(kafka);
    const rawVariants = [
      { concurrency: 1, maxBytes: 1 << 20 },
      { concurrency: 3, maxBytes: 1 << 20 },
      { concurrency: 1, maxBytes: 10 << 20 },
    ];
    const arms: Arm[] = [
      arm('distributor, 1 subscription', 'secured', 1, one.brokerPid, () => distributeOnce(one, records, log)),
      ...rawVariants.map((v) => arm(`raw copy, ${v.concurrency} partition(s) at a time, fetch ${v.maxBytes >> 20} MiB`, 'secured', 1, one.brokerPid, () => rawCopy(kafka, datasetTopic(one.dataset), securedTarget, records, v.concurrency, v.maxBytes))),
    ];
    if (onePlain && plain) {
      const plainTarget = await copyTarget(plain.kafka);
      const p = onePlain;
      const pk = plain.kafka;
      arms.push(arm('distributor, 1 subscription (PLAINTEXT)', 'plaintext', 1, p.brokerPid, () => distributeOnce(p, records, log)));
      arms.push(arm('raw copy, 3 partition(s) at a time, fetch 1 MiB (PLAINTEXT)', 'plaintext', 1, p.brokerPid, () => rawCopy(pk, datasetTopic(p.dataset), plainTarget, records, 3, 1 << 20)));
    }
    const measure = async (a: Arm): Promise<void> => {
      const cpu0 = selfCpuSeconds();
      const b0 = processCpuSeconds(a.pid());
      const seconds = await a.run();
      a.cpu += selfCpuSeconds() - cpu0;
      a.brokerCpu += processCpuSeconds(a.pid()) - b0;
      a.seconds += seconds;
      a.rounds.push(Math.round(records / seconds));
    };
    // one unmeasured run of every arm first: without it the arm that happened to run first in round 1 paid for
    // the JIT and the first connections of code the others then found warm (the distributor ran at half its
    // round-2 rate in every round 1)
    for (let w = 0; w < warmups; w++) for (const a of arms) await a.run();
    if (warmups > 0) say(`warm-up (${warmups} unmeasured run of every arm) done`);
    for (let r = 0; r < roundsN; r++) {
      for (let j = 0; j < arms.length; j++) await measure(arms[(r + j) % arms.length]!);
      say(`round ${r + 1}/${roundsN} (load ${loadAverage()}): ${arms.map((a) => `${a.name} ${a.rounds.at(-1)}`).join(', ')}`);
    }
    for (const fanout of fanouts) {
      const s = await setUp(kafka, config.databaseUrl, `govx_bench_${run}_${fanout}`, `bench.residents-${run}-${fanout}`, fanout, sample, schema, log, () => securedPid);
      setups.push(s);
      const a = arm(`distributor, ${fanout} subscriptions`, 'secured', fanout, s.brokerPid, () => distributeOnce(s, records, log));
      await measure(a);
      arms.push(a);
      say(`${a.name}: ${a.rounds[0]} dataset records/s`);
    }
    const summaries: DistributeArm[] = arms.map((a) => ({
      name: a.name,
      broker: a.broker,
      subscriptions: a.subs,
      records,
      rounds: a.rounds,
      min: Math.min(...a.rounds),
      max: Math.max(...a.rounds),
      recordsPerSec: Math.round((records * a.rounds.length) / a.seconds),
      recordsOutPerSec: Math.round((records * a.rounds.length * a.subs) / a.seconds),
      cpuSeconds: round2(a.cpu),
      brokerCpuSeconds: round2(a.brokerCpu),
    }));
    const by = (name: string) => summaries.find((x) => x.name === name);
    const bestRaw = summaries.filter((x) => x.name.startsWith('raw copy') && x.broker === 'secured').reduce((x, y) => (y.recordsPerSec > x.recordsPerSec ? y : x));
    const ratio = (x?: DistributeArm, y?: DistributeArm) => (x && y ? round2(x.recordsPerSec / y.recordsPerSec) : null);
    // correctness: every share topic holds each dataset record exactly once per delivery run
    const correctness: DistributeResult['correctness'] = [];
    for (const s of setups) {
      const runs = s === one || s === onePlain ? roundsN + warmups : 1;
      for (const t of s.shareTopics) {
        const inKafka = await totalMessages(s.kafka, [t]);
        correctness.push({ topic: t, expected: records * runs, inKafka });
        if (inKafka !== records * runs) throw new Error(`correctness gate failed on ${t}: ${inKafka} records, expected ${records * runs}`);
      }
    }
    return {
      benchmark: 'distribute',
      at: new Date().toISOString(),
      loadAverage: { before: loadBefore, after: loadAverage() },
      setup: { machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`, node: process.version, kafka: kafkaVersion(), records, rounds: roundsN, warmups, partitions: 3 },
      arms: summaries,
      ratios: {
        bestRawArm: bestRaw.name,
        distributorOverBestRaw_1subscription: ratio(by('distributor, 1 subscription'), bestRaw),
        tlsAclCost_distributor_securedOverPlaintext: ratio(by('distributor, 1 subscription'), by('distributor, 1 subscription (PLAINTEXT)')),
        tlsAclCost_raw_securedOverPlaintext: ratio(by('raw copy, 3 partition(s) at a time, fetch 1 MiB'), by('raw copy, 3 partition(s) at a time, fetch 1 MiB (PLAINTEXT)')),
      },
      correctness,
    };
  } finally {
    for (const s of setups) {
      await s.pool.end().catch(() => undefined);
      const admin = s.kafka.admin();
      await admin
        .connect()
        .then(() => admin.deleteTopics({ topics: [datasetTopic(s.dataset), ...s.shareTopics] }))
        .catch(() => undefined)
        .finally(() => admin.disconnect().catch(() => undefined));
      const server = new URL(config.databaseUrl);
      server.pathname = '/postgres';
      const client = new pg.Client({ connectionString: server.toString() });
      await client
        .connect()
        .then(() => client.query(`DROP DATABASE IF EXISTS "${s.database}" WITH (FORCE)`))
        .catch(() => undefined)
        .finally(() => client.end().catch(() => undefined));
    }
    for (const [k, topics] of copyTopics) {
      const admin = k.admin();
      await admin.connect().then(() => admin.deleteTopics({ topics })).catch(() => undefined).finally(() => admin.disconnect().catch(() => undefined));
    }
    await plain?.stop();
  }
}


export function formatDistributeTable(r: DistributeResult): string {
  return [
    `load average ${r.loadAverage.before} → ${r.loadAverage.after}; ${String(r.setup.machine)}; Node ${String(r.setup.node)}; Kafka ${String(r.setup.kafka)}; ${String(r.setup.records)} records`,
    '',
    '| arm | broker | dataset records/s | rounds | min | max | share records out/s | CPU s (bench process) | CPU s (broker) |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...r.arms.map((a) => `| ${a.name} | ${a.broker} | ${a.recordsPerSec} | ${a.rounds.join(' / ')} | ${a.min} | ${a.max} | ${a.recordsOutPerSec} | ${a.cpuSeconds} | ${a.brokerCpuSeconds} |`),
    '',
    ...Object.entries(r.ratios).map(([k, v]) => `- ${k}: ${v}`),
    `- correctness: ${r.correctness.map((c) => `${c.inKafka}/${c.expected}`).join(', ')} share records (each dataset record once per delivery run)`,
  ].join('\n');
}

if (require.main === module) {
  runDistributeBench().then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n${formatDistributeTable(r)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`bench distribute failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
