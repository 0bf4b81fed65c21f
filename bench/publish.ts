import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Kafka, Message, Producer } from 'kafkajs';
import pg from 'pg';
import { getSubjectVersion } from '../catalog/registry/store';
import { authenticateKey, createApiKey } from '../catalog/keys';
import { encodeWireFormat } from '../schemas/wireFormat';
import { loadConfig } from '../lib/config';
import { createPool, type Pool } from '../lib/db';
import { createKafka } from '../lib/kafka';
import { createLogger } from '../lib/logger';
import { projectPath } from '../lib/paths';
import { compileNaturalType } from '../schemas/codec';
import { generateSample } from '../schemas/samples';
import {
  freePort,
  javaProducer,
  kafkaVersion,
  loadAverage,
  type PlainBroker,
  processCpuSeconds,
  round2,
  securedBrokerPid,
  securedClientConfig,
  selfCpuSeconds,
  sleep,
  startPlainBroker,
} from './support';

/**
 * `npm run bench -- publish`: govx's HTTP publish against the best raw producers on the same broker, in one
 * run, the arms interleaved round by round:
 *   - govx: POST /v1/datasets/{id}/records, 1000 population.residents records per request, BENCH_CLIENTS
 *     concurrent clients, against a gateway started for the bench (its own process: its CPU and memory are
 *     its own), with the per-key limit on; and a second gateway with it off (what the limit costs);
 *   - raw kafkajs: one idempotent acks=all producer sending the same records already in the Confluent wire
 *     format with the same five headers: one sender with 1000 or 5000 records per request, and 4 concurrent
 *     senders of 1000 (the best of them is "raw");
 *   - Kafka's Java producer (ProducerPerformance from the resolved jars), records of the same size, acks=all,
 *     idempotent, batch.size/linger.ms tuned in the warm-up: the physical limit of this broker and machine;
 *   - what TLS + SASL + ACLs cost: the best raw arm, the Java producer and a govx gateway against a throw-away
 *     PLAINTEXT broker on loopback that the bench starts for this comparison only (BENCH_PLAINTEXT=0 skips it).
 * Each arm reports records/s per round, min/max, and the CPU seconds of the process doing the work and of
 * the broker. Correctness gate: every record govx accepted is in Kafka exactly once.
 */

const BATCH = 1000;

export interface PublishBenchOptions {
  clients?: number;
  rounds?: number;
  roundMs?: number;
  warmupMs?: number;
  latencyMs?: number;
  offeredBatchesPerSec?: number;
  /** start the plaintext broker for the TLS + ACL cost arms */
  plaintext?: boolean;
  /** run Kafka's Java producer arms */
  java?: boolean;
  /** try three batch.size/linger.ms settings in the warm-up (default) or take 256 KiB / 10 ms */
  javaTune?: boolean;
  /** fewest records of a Java producer run (default 20 000) */
  javaMinRecords?: number;
  /** gateway processes behind the port (`govx serve --workers N`) for the govx arms */
  gatewayWorkers?: number;
  /** also run a gateway of 2 worker processes (`govx serve --workers 2`): scale-out, same run */
  scaleOut?: boolean;
  /** measure the per-key limit statement on its own */
  keyCheck?: boolean;
  /** every accepted record read back (exactly once), not only counted */
  readBack?: boolean;
  quiet?: boolean;
}

function envOptions(): PublishBenchOptions {
  const n = (name: string): number | undefined => (process.env[name] !== undefined ? Number(process.env[name]) : undefined);
  return {
    clients: n('BENCH_CLIENTS'),
    rounds: n('BENCH_ROUNDS'),
    roundMs: n('BENCH_ROUND_MS'),
    latencyMs: n('BENCH_LATENCY_MS'),
    offeredBatchesPerSec: n('BENCH_OFFERED_BATCHES_PER_SEC'),
    plaintext: process.env.BENCH_PLAINTEXT !== '0',
    java: process.env.BENCH_JAVA !== '0',
    gatewayWorkers: n('BENCH_GATEWAY_WORKERS'),
    scaleOut: process.env.BENCH_SCALE_OUT !== '0',
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The pids of a process and its direct children (the workers of `govx serve --workers N`). */
function processTree(pid: number): number[] {
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...children];
  } catch {
    return [pid];
  }
}

const treeCpuSeconds = (pid: number): number => processTree(pid).reduce((s, p) => s + processCpuSeconds(p), 0);

/** Peak resident set (VmHWM) of the largest process in a tree, in MiB. */
function peakRssMiB(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      kb = Math.max(kb, Number(/VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0));
    } catch {
      /* gone */
    }
  }
  return Math.round((kb / 1024) * 10) / 10;
}

interface Gateway {
  child: ChildProcess;
  url: string;
  metricsUrl: string;
  /** the database it runs on (the plaintext one has its own, so its topics match its broker) */
  databaseUrl: string;
}

async function startGateway(command: string[], env: NodeJS.ProcessEnv, port: number, metricsPort: number): Promise<Gateway> {
  // e.g. BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the gateway
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...command], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { child, url, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, databaseUrl: env.DATABASE_URL! };
    } catch {
      /* not listening yet */
    }
    await sleep(500);
  }
  child.kill('SIGTERM');
  throw new Error('the gateway did not become ready');
}

async function stopGateway(g: Gateway | undefined): Promise<void> {
  if (!g || g.child.exitCode !== null) return;
  const exited = new Promise((r) => g.child.once('exit', r));
  g.child.kill('SIGTERM');
  await exited;
}

interface Sent {
  records: number;
  seconds: number;
  recordsPerSec: number;
}

/** `clients` loops, each sending batch after batch until the time is up. */
async function closedLoop(clients: number, durationMs: number, send: (i: number) => Promise<number>): Promise<Sent> {
  const started = performance.now();
  const deadline = started + durationMs;
  let records = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) records += await send(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { records, seconds: round2(seconds), recordsPerSec: Math.round(records / seconds) };
}

/** Sends a batch every 1/rate seconds whatever the previous ones do (open loop), and times each. */
async function fixedRate(ratePerSec: number, durationMs: number, send: (i: number) => Promise<number>): Promise<{ p50: number; p99: number; batches: number }> {
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  const interval = 1000 / ratePerSec;
  const started = performance.now();
  for (let i = 0; performance.now() - started < durationMs; i++) {
    const wait = started + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    const t0 = performance.now();
    inFlight.push(send(i).then(() => void latencies.push(performance.now() - t0)));
  }
  await Promise.all(inFlight);
  latencies.sort((a, b) => a - b);
  const r = (n: number) => Math.round(n * 10) / 10;
  return { p50: r(percentile(latencies, 50)), p99: r(percentile(latencies, 99)), batches: latencies.length };
}

/** Values from one scrape of the gateway's /metrics (one scrape: the event-loop gauges reset on each). */
function metricsReader(text: string) {
  const lines = text.split('\n');
  const sum = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  const ms = (seconds: number) => Math.round(seconds * 1000 * 10) / 10;
  return {
    meanMs: (name: string) => ms(sum(`${name}_sum`) / sum(`${name}_count`)),
    gaugeMs: (name: string) => ms(sum(`${name} `)),
  };
}

/**
 * What the per-key request limit costs on its own: the statement that authenticates a key and counts the
 * request in its shared window, against the authentication alone, and one key counted from 8 connections.
 */
async function measureKeyCheck(pool: Pool, key: string): Promise<{ authOnlyMeanMs: number; authAndCountMeanMs: number; oneKeyCountedPerSec8Connections: number }> {
  const mean = async (count: boolean, n: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await authenticateKey(pool, key, { count });
    return Math.round(((performance.now() - t0) / n) * 1000) / 1000;
  };
  await mean(true, 100);
  const authOnlyMeanMs = await mean(false, 1000);
  const authAndCountMeanMs = await mean(true, 1000);
  let counted = 0;
  const deadline = performance.now() + 2000;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < deadline) {
        await authenticateKey(pool, key, { count: true });
        counted += 1;
      }
    }),
  );
  return { authOnlyMeanMs, authAndCountMeanMs, oneKeyCountedPerSec8Connections: Math.round(counted / 2) };
}

async function createBenchDataset(url: string, adminKey: string, id: string): Promise<void> {
  const res = await fetch(`${url}/v1/datasets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id,
      title: { zh: '基准测试人口', en: 'Benchmark residents' },
      owner: 'psb',
      category: 'population',
      abstract: 'population.residents for the publish benchmark',
      sharing: { type: 'conditional', conditions: 'benchmark only' },
      updateCycle: 'daily',
      keyField: 'id_number',
      schema: JSON.parse(fs.readFileSync(projectPath('schemas', 'population.residents.avsc'), 'utf8')),
    }),
  });
  if (res.status !== 201) throw new Error(`cannot create the bench dataset: ${res.status} ${await res.text()}`);
}

async function topicCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The correctness gate: the topic holds exactly `accepted` records and (readBack) no record twice — each
 * (request trace id, key) pair once; the bench's requests carry distinct keys within a request.
 */
async function verifyExactlyOnce(kafka: Kafka, topic: string, accepted: number, readBack: boolean): Promise<{ topic: string; accepted: number; inKafka: number; duplicates: number | null }> {
  const inKafka = await topicCount(kafka, topic);
  if (!readBack || inKafka === 0) return { topic, accepted, inKafka, duplicates: null };
  const seen = new Set<string>();
  let duplicates = 0;
  let read = 0;
  const consumer = kafka.consumer({ groupId: `bench-verify-${crypto.randomUUID()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const id = `${m.headers?.['govx-trace-id']?.toString()}|${m.key?.toString()}`;
          if (seen.has(id)) duplicates += 1;
          seen.add(id);
          read += 1;
        }
        if (read >= inKafka) resolve();
      },
    });
  });
  const timeout = sleep(120_000);
  await Promise.race([done, timeout]);
  await consumer.disconnect();
  return { topic, accepted, inKafka: read, duplicates };
}

interface ArmRound extends Sent {
  /** CPU seconds of the process doing the arm's work (gateway; bench process for raw; JVM for Java) */
  cpuSeconds: number;
  /** CPU seconds of the bench's HTTP clients during a govx arm (the load generator, not govx) */
  clientCpuSeconds?: number;
  /** CPU seconds of the broker the arm writes to */
  brokerCpuSeconds: number;
}

interface Arm {
  name: string;
  kind: 'govx' | 'raw' | 'java';
  broker: 'secured' | 'plaintext';
  describe: string;
  run: (ms: number) => Promise<ArmRound>;
}

export interface ArmSummary {
  name: string;
  kind: Arm['kind'];
  broker: Arm['broker'];
  describe: string;
  rounds: number[];
  min: number;
  max: number;
  /** records / seconds over all rounds */
  recordsPerSec: number;
  cpuSeconds: number;
  brokerCpuSeconds: number;
  /** CPU seconds (arm process + broker) per million records */
  cpuSecondsPerMillionRecords: number;
}

function summarise(arm: Arm, rounds: ArmRound[]): ArmSummary {
  const rates = rounds.map((r) => r.recordsPerSec);
  const records = rounds.reduce((n, r) => n + r.records, 0);
  const seconds = rounds.reduce((n, r) => n + r.seconds, 0);
  const cpu = rounds.reduce((n, r) => n + r.cpuSeconds, 0);
  const brokerCpu = rounds.reduce((n, r) => n + r.brokerCpuSeconds, 0);
  return {
    name: arm.name,
    kind: arm.kind,
    broker: arm.broker,
    describe: arm.describe,
    rounds: rates,
    min: Math.min(...rates),
    max: Math.max(...rates),
    recordsPerSec: Math.round(records / seconds),
    cpuSeconds: round2(cpu),
    brokerCpuSeconds: round2(brokerCpu),
    cpuSecondsPerMillionRecords: records ? round2(((cpu + brokerCpu) / records) * 1e6) : 0,
  };
}

export interface PublishBenchResult {
  benchmark: 'publish';
  at: string;
  loadAverage: { before: string; after: string };
  setup: Record<string, unknown>;
  arms: ArmSummary[];
  ratios: Record<string, number | string | null>;
  latencyMs?: Record<string, unknown>;
  gatewayPeakRssMiB: number;
  gatewayEventLoopDelayMs: Record<string, number>;
  gatewayMeanMs: Record<string, number>;
  keyCheck?: Record<string, number>;
  correctness: Array<{ topic: string; accepted: number; inKafka: number; duplicates: number | null }>;
}

export async function runPublishBench(opts: PublishBenchOptions = {}): Promise<PublishBenchResult> {
  const o = { ...envOptions(), ...opts };
  const clients = o.clients ?? 4;
  const rounds = o.rounds ?? 3;
  const roundMs = o.roundMs ?? 5000;
  const warmupMs = o.warmupMs ?? 2000;
  const latencyMs = o.latencyMs ?? 6000;
  const offered = o.offeredBatchesPerSec ?? 5;
  const workers = o.gatewayWorkers ?? 1;
  const log = (line: string) => {
    if (!o.quiet) process.stderr.write(`bench publish: ${line}\n`);
  };
  const loadBefore = loadAverage();
  const config = loadConfig();
  const suffix = crypto.randomBytes(4).toString('hex');
  // databases of the run's own (the gateways create and migrate them), dropped at the end
  const databases = [`govx_bench_${suffix}`, `govx_bench_${suffix}_plain`];
  const dbUrl = (name: string) => {
    const u = new URL(config.databaseUrl);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const gatewayEnv = async (db: string, limits: boolean) => {
    const port = await freePort();
    const metricsPort = await freePort();
    return {
      port,
      metricsPort,
      env: {
        ...process.env,
        DATABASE_URL: dbUrl(db),
        GOVX_PORT: String(port),
        GOVX_METRICS_PORT: String(metricsPort),
        GOVX_LOG_LEVEL: 'warn',
        GOVX_CONNECT_WORKER: 'false',
        // the per-key limit on (high enough not to throttle the bench: its cost is what is measured) or off
        GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC: limits ? '100000' : '0',
        GOVX_RATE_LIMIT_RECORDS_PER_SEC: '0',
        GOVX_RATE_LIMIT_REQUESTS_PER_SEC: '0',
      },
    };
  };
  const govxCommand = (seed: boolean, n = workers) => [projectPath('bin', 'govx.js'), 'serve', ...(seed ? ['--seed'] : []), ...(n > 1 ? ['--workers', String(n)] : [])];

  const kafka = createKafka(config, createLogger('silent', 'govx-bench'), 'bench');
  const brokerPid = securedBrokerPid();
  const admin = kafka.admin();
  const producers: Producer[] = [];
  let gwLimits: Gateway | undefined;
  let gwNoLimits: Gateway | undefined;
  let gwPlain: Gateway | undefined;
  let gwTwo: Gateway | undefined;
  let plain: PlainBroker | undefined;
  const pools: Pool[] = [];
  const dataset = `bench.residents-${suffix}`;
  const rawTopic = `govx.bench.raw-${suffix}`;
  const javaTopic = `govx.bench.java-${suffix}`;
  const topicsOn = new Map<Kafka, string[]>();
  try {
    const a = await gatewayEnv(databases[0]!, true);
    log(`starting gateways (database ${databases[0]}, brokers ${config.kafkaBrokers.join(',')}${workers > 1 ? `, ${workers} workers each` : ''})`);
    gwLimits = await startGateway(govxCommand(true), a.env, a.port, a.metricsPort);
    const b = await gatewayEnv(databases[0]!, false);
    gwNoLimits = await startGateway(govxCommand(false), b.env, b.port, b.metricsPort);
    if (o.scaleOut) {
      const d = await gatewayEnv(databases[0]!, true);
      gwTwo = await startGateway(govxCommand(false, 2), d.env, d.port, d.metricsPort);
    }
    if (o.plaintext) {
      log('starting a throw-away PLAINTEXT broker on loopback and a gateway on it (the TLS + ACL cost arms)');
      plain = await startPlainBroker();
      const c = await gatewayEnv(databases[1]!, true);
      gwPlain = await startGateway([projectPath('dist', 'bench', 'plainGateway.js')], { ...c.env, GOVX_BENCH_PLAIN_BOOTSTRAP: plain.bootstrap }, c.port, c.metricsPort);
    }

    const records = generateSample('population.residents', 20 * BATCH, 2026);
    const bodies = Array.from({ length: records.length / BATCH }, (_, i) => JSON.stringify({ records: records.slice(i * BATCH, (i + 1) * BATCH) }));

    /** per gateway: keys, dataset, the encoded records for the raw arms */
    const prepareGateway = async (g: Gateway, createDataset: boolean) => {
      const pool = createPool(g.databaseUrl, { max: 8 });
      pools.push(pool);
      const adminKey = (await createApiKey(pool, { department: 'info-office', role: 'admin' })).key;
      const publisherKey = (await createApiKey(pool, { department: 'psb', role: 'publisher' })).key;
      if (createDataset) await createBenchDataset(g.url, adminKey, dataset);
      const latest = (await getSubjectVersion(pool, `govx.dataset.${dataset}-value`, 'latest'))!;
      return { pool, publisherKey, latest };
    };
    const secured = await prepareGateway(gwLimits, true);
    const scaleArms: Arm[] = [];
    const noLimitsKey = (await createApiKey(secured.pool, { department: 'psb', role: 'publisher' })).key;
    const plainPrep = gwPlain ? await prepareGateway(gwPlain, true) : undefined;

    const type = compileNaturalType(JSON.parse(secured.latest.schema));
    const headers = { 'govx-dataset': dataset, 'govx-publisher': 'psb', 'govx-schema-id': String(secured.latest.id), 'govx-trace-id': '', 'govx-published-at': '' };
    const encoded: Message[] = records.map((r) => ({ key: String(r.id_number), value: encodeWireFormat(secured.latest.id, type.toBuffer(r)), headers }));
    const recordSize = Math.round(encoded.reduce((n, m) => n + (m.value as Buffer).length, 0) / encoded.length);

    const ensureTopics = async (k: Kafka, topics: string[]) => {
      const ad = k.admin();
      await ad.connect();
      await ad.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions: config.topicPartitions, replicationFactor: config.topicReplicationFactor })) });
      await ad.disconnect();
      topicsOn.set(k, [...(topicsOn.get(k) ?? []), ...topics]);
    };
    await admin.connect();
    await ensureTopics(kafka, [rawTopic, javaTopic]);
    if (plain) await ensureTopics(plain.kafka, [rawTopic, javaTopic]);

    const accepted = new Map<Gateway, number>();
    const govxArm = (name: string, g: Gateway, key: string, brokerPidOf: () => number | undefined, describe: string, broker: Arm['broker']): Arm => {
      const send = async (i: number): Promise<number> => {
        const res = await fetch(`${g.url}/v1/datasets/${dataset}/records`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: bodies[i % bodies.length],
        });
        const body = (await res.json()) as { accepted?: number };
        if (res.status !== 200 || body.accepted !== BATCH) throw new Error(`govx answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
        accepted.set(g, (accepted.get(g) ?? 0) + BATCH);
        return BATCH;
      };
      return {
        name,
        kind: 'govx',
        broker,
        describe,
        run: async (ms) => {
          const cpu0 = treeCpuSeconds(g.child.pid!);
          const self0 = selfCpuSeconds();
          const broker0 = processCpuSeconds(brokerPidOf());
          const sent = await closedLoop(clients, ms, send);
          return {
            ...sent,
            cpuSeconds: round2(treeCpuSeconds(g.child.pid!) - cpu0),
            clientCpuSeconds: round2(selfCpuSeconds() - self0),
            brokerCpuSeconds: round2(processCpuSeconds(brokerPidOf()) - broker0),
          };
        },
      };
    };

    const rawArm = async (k: Kafka, brokerPidOf: () => number | undefined, senders: number, perRequest: number, broker: Arm['broker']): Promise<Arm> => {
      const producer = k.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      producers.push(producer);
      const send = async (i: number): Promise<number> => {
        const start = (i * perRequest) % encoded.length;
        const slice = encoded.slice(start, start + perRequest);
        const traceId = crypto.randomUUID();
        const at = new Date().toISOString();
        await producer.send({ topic: rawTopic, acks: -1, messages: slice.map((m) => ({ ...m, headers: { ...headers, 'govx-trace-id': traceId, 'govx-published-at': at } })) });
        return slice.length;
      };
      return {
        name: `raw kafkajs ${senders}×${perRequest}${broker === 'plaintext' ? ' (PLAINTEXT)' : ''}`,
        kind: 'raw',
        broker,
        describe: `one idempotent acks=all producer, ${senders} concurrent sender(s), ${perRequest} pre-encoded records per send`,
        run: async (ms) => {
          const self0 = selfCpuSeconds();
          const broker0 = processCpuSeconds(brokerPidOf());
          const sent = await closedLoop(senders, ms, send);
          return { ...sent, cpuSeconds: round2(selfCpuSeconds() - self0), brokerCpuSeconds: round2(processCpuSeconds(brokerPidOf()) - broker0) };
        },
      };
    };

    let javaTuned = { batchSize: 262144, lingerMs: 10, recordsPerSec: 0 };
    const javaArm = (bootstrap: string, clientConfig: string | undefined, brokerPidOf: () => number | undefined, broker: Arm['broker']): Arm => ({
      name: `Java producer${broker === 'plaintext' ? ' (PLAINTEXT)' : ''}`,
      kind: 'java',
      broker,
      describe: `org.apache.kafka.tools.ProducerPerformance, ${recordSize}-byte records, acks=all, idempotent, tuned batch.size/linger.ms`,
      run: async (ms) => {
        // about a round's worth of records at the rate seen so far (the JVM's start-up is outside its own timing)
        const n = Math.max(o.javaMinRecords ?? 20_000, Math.round(((javaTuned.recordsPerSec || 20_000) * ms) / 1000));
        const broker0 = processCpuSeconds(brokerPidOf());
        const r = await javaProducer({ topic: javaTopic, records: n, recordSize, bootstrap, clientConfig, batchSize: javaTuned.batchSize, lingerMs: javaTuned.lingerMs });
        return { records: r.records, seconds: round2(r.records / r.recordsPerSec), recordsPerSec: r.recordsPerSec, cpuSeconds: r.cpuSeconds, brokerCpuSeconds: round2(processCpuSeconds(brokerPidOf()) - broker0) };
      },
    });

    const securedPid = () => brokerPid;
    const plainPid = () => plain?.pid;
    const rawCandidates = [
      await rawArm(kafka, securedPid, 1, 1000, 'secured'),
      await rawArm(kafka, securedPid, 1, 5000, 'secured'),
      await rawArm(kafka, securedPid, 4, 1000, 'secured'),
    ];
    const govx = govxArm('govx HTTP', gwLimits, secured.publisherKey, securedPid, `POST /v1/datasets/{id}/records, ${clients} clients × ${BATCH} records as JSON, per-key limit on${workers > 1 ? `, ${workers} gateway workers` : ''}`, 'secured');
    const govxNoLimits = govxArm('govx HTTP, per-key limit off', gwNoLimits, noLimitsKey, securedPid, 'the same, on a second gateway with GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC=0', 'secured');

    if (gwTwo) {
      const twoKey = (await createApiKey(secured.pool, { department: 'psb', role: 'publisher' })).key;
      const two = govxArm('govx HTTP, 2 gateway processes', gwTwo, twoKey, securedPid, 'the same, on `govx serve --workers 2` (node:cluster, one port); CPU of both workers and the primary', 'secured');
      await two.run(warmupMs);
      scaleArms.push(two);
    }
    log(`warming up (${warmupMs} ms per arm) and picking the raw arm and the Java producer settings`);
    await govx.run(warmupMs);
    await govxNoLimits.run(warmupMs);
    let bestWarm = rawCandidates[0]!;
    let bestWarmRate = 0;
    for (const arm of rawCandidates) {
      const r = await arm.run(warmupMs);
      if (r.recordsPerSec > bestWarmRate) [bestWarm, bestWarmRate] = [arm, r.recordsPerSec];
    }
    const arms: Arm[] = [govx, govxNoLimits, ...scaleArms, ...rawCandidates];
    if (o.java && o.javaTune !== false) {
      const tried: Array<{ batchSize: number; lingerMs: number; recordsPerSec: number }> = [];
      for (const [batchSize, lingerMs] of [[16384, 5], [131072, 10], [524288, 20]] as const) {
        const r = await javaProducer({ topic: javaTopic, records: 30_000, recordSize, bootstrap: config.kafkaBrokers[0]!, clientConfig: securedClientConfig(), batchSize, lingerMs });
        tried.push({ batchSize, lingerMs, recordsPerSec: r.recordsPerSec });
      }
      javaTuned = tried.reduce((best, t) => (t.recordsPerSec > best.recordsPerSec ? t : best));
      log(`Java producer settings tried: ${tried.map((t) => `batch.size=${t.batchSize} linger.ms=${t.lingerMs}: ${t.recordsPerSec}/s`).join('; ')}`);
    }
    if (o.java) arms.push(javaArm(config.kafkaBrokers[0]!, securedClientConfig(), securedPid, 'secured'));
    if (plain && gwPlain && plainPrep) {
      const [senders, perRequest] = /(\d+)×(\d+)/.exec(bestWarm.name)!.slice(1).map(Number) as [number, number];
      const govxPlain = govxArm('govx HTTP (PLAINTEXT broker)', gwPlain, plainPrep.publisherKey, plainPid, 'the same gateway code with its Kafka clients on the PLAINTEXT broker', 'plaintext');
      const rawPlain = await rawArm(plain.kafka, plainPid, senders, perRequest, 'plaintext');
      await govxPlain.run(warmupMs);
      await rawPlain.run(warmupMs);
      arms.push(govxPlain, rawPlain);
      if (o.java) arms.push(javaArm(plain.bootstrap, undefined, plainPid, 'plaintext'));
    }

    const perArm = new Map<Arm, ArmRound[]>(arms.map((x) => [x, []]));
    for (let r = 0; r < rounds; r++) {
      // interleaved, and rotated so no arm always runs first (or right after the Java producer)
      for (let j = 0; j < arms.length; j++) {
        const arm = arms[(r + j) % arms.length]!;
        const result = await arm.run(roundMs);
        if (arm.kind === 'java' && arm.broker === 'secured') javaTuned.recordsPerSec = result.recordsPerSec;
        perArm.get(arm)!.push(result);
      }
      log(`round ${r + 1}/${rounds} (load ${loadAverage()}): ${arms.map((x) => `${x.name} ${perArm.get(x)!.at(-1)!.recordsPerSec}`).join(', ')}`);
    }
    const summaries = arms.map((x) => summarise(x, perArm.get(x)!));
    const byName = (name: string) => summaries.find((s) => s.name === name);
    const bestRaw = summaries.filter((s) => s.kind === 'raw' && s.broker === 'secured').reduce((x, y) => (y.recordsPerSec > x.recordsPerSec ? y : x));
    const javaS = byName('Java producer');
    const govxS = byName('govx HTTP')!;
    const ratio = (x?: ArmSummary, y?: ArmSummary) => (x && y && y.recordsPerSec ? round2(x.recordsPerSec / y.recordsPerSec) : null);
    const plainRaw = summaries.find((s) => s.kind === 'raw' && s.broker === 'plaintext');
    const secRawSame = plainRaw ? byName(plainRaw.name.replace(' (PLAINTEXT)', '')) : undefined;

    let latency: Record<string, unknown> | undefined;
    if (latencyMs > 0) {
      log(`latency at ${offered} batches/s (${offered * BATCH} records/s offered)`);
      const rawProducer = producers[0]!;
      latency = {
        offeredRecordsPerSec: offered * BATCH,
        govx: await fixedRate(offered, latencyMs, async (i) => {
          const res = await fetch(`${gwLimits!.url}/v1/datasets/${dataset}/records`, {
            method: 'POST',
            headers: { authorization: `Bearer ${secured.publisherKey}`, 'content-type': 'application/json' },
            body: bodies[i % bodies.length],
          });
          if (res.status !== 200) throw new Error(`govx answered ${res.status}`);
          await res.arrayBuffer();
          accepted.set(gwLimits!, (accepted.get(gwLimits!) ?? 0) + BATCH);
          return BATCH;
        }),
        raw: await fixedRate(offered, latencyMs, async (i) => {
          const start = (i * BATCH) % encoded.length;
          await rawProducer.send({ topic: rawTopic, acks: -1, messages: encoded.slice(start, start + BATCH).map((m) => ({ ...m, headers: { ...headers, 'govx-trace-id': crypto.randomUUID() } })) });
          return BATCH;
        }),
      };
    }

    const m = metricsReader(await (await fetch(gwLimits.metricsUrl)).text());
    const keyCheck = o.keyCheck === false ? undefined : await measureKeyCheck(secured.pool, secured.publisherKey);
    log('correctness: every accepted record in Kafka exactly once');
    const correctness = [
      await verifyExactlyOnce(kafka, `govx.dataset.${dataset}`, (accepted.get(gwLimits) ?? 0) + (accepted.get(gwNoLimits) ?? 0) + (gwTwo ? (accepted.get(gwTwo) ?? 0) : 0), o.readBack ?? false),
    ];
    if (plain && gwPlain) correctness.push(await verifyExactlyOnce(plain.kafka, `govx.dataset.${dataset}`, accepted.get(gwPlain) ?? 0, o.readBack ?? false));
    for (const c of correctness) {
      if (c.inKafka !== c.accepted || (c.duplicates ?? 0) > 0) throw new Error(`correctness gate failed on ${c.topic}: ${c.accepted} accepted, ${c.inKafka} in Kafka, ${c.duplicates ?? '?'} duplicates`);
    }

    return {
      benchmark: 'publish',
      at: new Date().toISOString(),
      loadAverage: { before: loadBefore, after: loadAverage() },
      setup: {
        machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
        node: process.version,
        kafka: kafkaVersion(),
        batch: BATCH,
        clients,
        rounds,
        roundMs,
        gatewayWorkers: workers,
        recordSizeBytes: recordSize,
        javaProducer: o.java ? { batchSize: javaTuned.batchSize, lingerMs: javaTuned.lingerMs } : null,
        rawArmChosenForPlaintext: o.plaintext ? bestWarm.name : null,
        partitions: config.topicPartitions,
      },
      arms: summaries,
      ratios: {
        bestRawArm: bestRaw.name,
        govxOverBestRaw: ratio(govxS, bestRaw),
        govxOverJava: ratio(govxS, javaS),
        bestRawOverJava: ratio(bestRaw, javaS),
        perKeyLimitOnOverOff: ratio(govxS, byName('govx HTTP, per-key limit off')),
        scaleOut_twoProcessesOverOne: ratio(byName('govx HTTP, 2 gateway processes'), govxS),
        tlsAclCost_govx_securedOverPlaintext: ratio(govxS, byName('govx HTTP (PLAINTEXT broker)')),
        tlsAclCost_raw_securedOverPlaintext: ratio(secRawSame, plainRaw),
        tlsAclCost_java_securedOverPlaintext: ratio(javaS, byName('Java producer (PLAINTEXT)')),
      },
      latencyMs: latency,
      gatewayPeakRssMiB: peakRssMiB(gwLimits.child.pid!),
      gatewayEventLoopDelayMs: {
        p50: m.gaugeMs('govx_process_nodejs_eventloop_lag_p50_seconds'),
        p99: m.gaugeMs('govx_process_nodejs_eventloop_lag_p99_seconds'),
        max: m.gaugeMs('govx_process_nodejs_eventloop_lag_max_seconds'),
      },
      gatewayMeanMs: {
        httpRequest: m.meanMs('govx_http_request_duration_seconds'),
        publishPipeline: m.meanMs('govx_publish_duration_seconds'),
        kafkaProduce: m.meanMs('govx_kafka_produce_duration_seconds'),
        auditAppend: m.meanMs('govx_publish_audit_duration_seconds'),
      },
      keyCheck: keyCheck ? { ...keyCheck, countingCostMs: Math.round((keyCheck.authAndCountMeanMs - keyCheck.authOnlyMeanMs) * 1000) / 1000 } : undefined,
      correctness,
    };
  } finally {
    for (const p of producers) await p.disconnect().catch(() => undefined);
    for (const [k, topics] of topicsOn) {
      const ad = k === kafka ? admin : k.admin();
      if (k !== kafka) await ad.connect().catch(() => undefined);
      const all = k === kafka ? [...topics, `govx.dataset.${dataset}`, `govx.dlq.${dataset}`] : [...topics];
      await ad.deleteTopics({ topics: all }).catch(() => undefined);
      if (k !== kafka) await ad.disconnect().catch(() => undefined);
    }
    await admin.disconnect().catch(() => undefined);
    for (const p of pools) await p.end().catch(() => undefined);
    await stopGateway(gwLimits);
    await stopGateway(gwNoLimits);
    await stopGateway(gwPlain);
    await stopGateway(gwTwo);
    await plain?.stop();
    const server = new pg.Client({ connectionString: dbUrl('postgres') });
    await server.connect().catch(() => undefined);
    for (const d of databases) await server.query(`DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`).catch(() => undefined);
    await server.end().catch(() => undefined);
  }
}

export function formatPublishTable(r: PublishBenchResult): string {
  const lines = [
    `load average ${r.loadAverage.before} → ${r.loadAverage.after}; ${String(r.setup.machine)}; Node ${String(r.setup.node)}; Kafka ${String(r.setup.kafka)}`,
    '',
    '| arm | broker | records/s | rounds | min | max | CPU s (arm) | CPU s (broker) | CPU s per 1M records |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...r.arms.map((a) => `| ${a.name} | ${a.broker} | ${a.recordsPerSec} | ${a.rounds.join(' / ')} | ${a.min} | ${a.max} | ${a.cpuSeconds} | ${a.brokerCpuSeconds} | ${a.cpuSecondsPerMillionRecords} |`),
    '',
    ...Object.entries(r.ratios).map(([k, v]) => `- ${k}: ${v}`),
  ];
  if (r.latencyMs) lines.push(`- latency of a ${BATCH}-record batch at ${String(r.latencyMs.offeredRecordsPerSec)} rec/s offered (p50/p99 ms): govx ${JSON.stringify(r.latencyMs.govx)}, raw ${JSON.stringify(r.latencyMs.raw)}`);
  lines.push(`- gateway peak RSS ${r.gatewayPeakRssMiB} MiB; event loop delay ${JSON.stringify(r.gatewayEventLoopDelayMs)}; mean ms ${JSON.stringify(r.gatewayMeanMs)}`);
  if (r.keyCheck) lines.push(`- per-key limit statement: ${JSON.stringify(r.keyCheck)}`);
  lines.push(`- correctness: ${r.correctness.map((c) => `${c.accepted} accepted, ${c.inKafka} in Kafka${c.duplicates === null ? '' : `, ${c.duplicates} duplicates`}`).join('; ')}`);
  return lines.join('\n');
}
