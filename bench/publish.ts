import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import type { Message } from 'kafkajs';
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

/**
 * govx HTTP publish vs raw kafkajs on the same broker, in one run, alternating rounds:
 *   (a) POST /v1/datasets/{id}/records with 1000 population.residents records per request, several
 *       concurrent clients, against a gateway started for the bench (its own process, so its memory is its own);
 *   (b) one kafkajs producer (idempotent, acks=all, like the gateway's) sending the same records, already
 *       encoded in the Confluent wire format with the same headers, in batches of 1000 from as many clients.
 * Then p50/p99 latency of a batch at a fixed offered rate for both, and the gateway's peak RSS.
 */

const BATCH = 1000;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 8000);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 8000);
const OFFERED_BATCHES_PER_SEC = Number(process.env.BENCH_OFFERED_BATCHES_PER_SEC ?? 5);
const RECORDS = 20 * BATCH;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Peak resident set of a process (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

async function startGateway(env: NodeJS.ProcessEnv, port: number): Promise<{ child: ChildProcess; url: string }> {
  // e.g. BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the gateway
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, projectPath('bin', 'govx.js'), 'serve', '--seed'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { child, url };
    } catch {
      /* not listening yet */
    }
    await sleep(500);
  }
  child.kill('SIGTERM');
  throw new Error('the gateway did not become ready');
}

interface RoundResult {
  records: number;
  seconds: number;
  recordsPerSec: number;
}

/** `clients` loops, each sending batch after batch until the round ends. */
async function closedLoop(clients: number, durationMs: number, sendBatch: (i: number) => Promise<number>): Promise<RoundResult> {
  const started = performance.now();
  const deadline = started + durationMs;
  let records = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) records += await sendBatch(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { records, seconds: Math.round(seconds * 100) / 100, recordsPerSec: Math.round(records / seconds) };
}

/** Sends a batch every 1/rate seconds whatever the previous ones do (open loop), and times each. */
async function fixedRate(ratePerSec: number, durationMs: number, sendBatch: (i: number) => Promise<number>): Promise<{ p50: number; p99: number; batches: number }> {
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  const interval = 1000 / ratePerSec;
  const started = performance.now();
  for (let i = 0; performance.now() - started < durationMs; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const t0 = performance.now();
    inFlight.push(sendBatch(i).then(() => void latencies.push(performance.now() - t0)));
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
    /** mean of a histogram over all its label sets, in ms */
    meanMs: (name: string) => ms(sum(`${name}_sum`) / sum(`${name}_count`)),
    /** a gauge in seconds, in ms */
    gaugeMs: (name: string) => ms(sum(`${name} `)),
  };
}

/**
 * What the per-key request limit costs: the one statement that authenticates a key and counts the request
 * in its shared window (every gateway process runs it on every request), against the authentication alone,
 * one after another on one connection, and from 8 connections at once on one key (its window row is the
 * point of contention).
 */
async function measureKeyCheck(pool: Pool, key: string): Promise<{ authOnlyMeanMs: number; authAndCountMeanMs: number; oneKeyCountedPerSec8Connections: number }> {
  const mean = async (count: boolean, n: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await authenticateKey(pool, key, { count });
    return Math.round(((performance.now() - t0) / n) * 1000) / 1000;
  };
  await mean(true, 200);
  const authOnlyMeanMs = await mean(false, 2000);
  const authAndCountMeanMs = await mean(true, 2000);
  let counted = 0;
  const deadline = performance.now() + 3000;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < deadline) {
        await authenticateKey(pool, key, { count: true });
        counted += 1;
      }
    }),
  );
  return { authOnlyMeanMs, authAndCountMeanMs, oneKeyCountedPerSec8Connections: Math.round(counted / 3) };
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

export async function runPublishBench(): Promise<void> {
  const config = loadConfig();
  const dbUrl = new URL(config.databaseUrl);
  dbUrl.pathname = '/govx_bench';
  const port = await freePort();
  const metricsPort = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: dbUrl.toString(),
    GOVX_PORT: String(port),
    GOVX_METRICS_PORT: String(metricsPort),
    // the per-key limit stays on, so its cost is in every govx round; high enough not to throttle the bench
    GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC: '100000',
    GOVX_LOG_LEVEL: 'warn',
    GOVX_RATE_LIMIT_RECORDS_PER_SEC: '0',
    GOVX_RATE_LIMIT_REQUESTS_PER_SEC: '0',
  };
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`bench publish: starting a gateway on port ${port} (database govx_bench, brokers ${config.kafkaBrokers.join(',')})`);
  const { child, url } = await startGateway(env, port);
  const pool: Pool = createPool(dbUrl.toString(), { max: 8 });
  const kafka = createKafka(config, createLogger('silent', 'govx-bench'), 'bench');
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const suffix = crypto.randomBytes(4).toString('hex');
  const dataset = `bench.residents-${suffix}`;
  const rawTopic = `govx.bench.raw-${suffix}`;
  try {
    const adminKey = (await createApiKey(pool, { department: 'info-office', role: 'admin' })).key;
    const publisherKey = (await createApiKey(pool, { department: 'psb', role: 'publisher' })).key;
    await createBenchDataset(url, adminKey, dataset);
    const latest = (await getSubjectVersion(pool, `govx.dataset.${dataset}-value`, 'latest'))!;
    const type = compileNaturalType(JSON.parse(latest.schema));

    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: rawTopic, numPartitions: config.topicPartitions, replicationFactor: config.topicReplicationFactor }] });
    await producer.connect();

    const records = generateSample('population.residents', RECORDS, 2026);
    const bodies = Array.from({ length: RECORDS / BATCH }, (_, b) => JSON.stringify({ records: records.slice(b * BATCH, (b + 1) * BATCH) }));
    const headers = { 'govx-dataset': dataset, 'govx-publisher': 'psb', 'govx-schema-id': String(latest.id), 'govx-trace-id': '', 'govx-published-at': '' };
    const rawBatches: Message[][] = Array.from({ length: RECORDS / BATCH }, (_, b) =>
      records.slice(b * BATCH, (b + 1) * BATCH).map((r) => ({ key: String(r.id_number), value: encodeWireFormat(latest.id, type.toBuffer(r)), headers })),
    );

    const govxBatch = async (i: number): Promise<number> => {
      const res = await fetch(`${url}/v1/datasets/${dataset}/records`, {
        method: 'POST',
        headers: { authorization: `Bearer ${publisherKey}`, 'content-type': 'application/json' },
        body: bodies[i % bodies.length],
      });
      const body = (await res.json()) as { accepted?: number };
      if (res.status !== 200 || body.accepted !== BATCH) throw new Error(`govx answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
      return BATCH;
    };
    const rawBatch = async (i: number): Promise<number> => {
      const stamped = rawBatches[i % rawBatches.length]!.map((m) => ({ ...m, headers: { ...headers, 'govx-trace-id': crypto.randomUUID(), 'govx-published-at': new Date().toISOString() } }));
      await producer.send({ topic: rawTopic, messages: stamped, acks: -1 });
      return BATCH;
    };

    log('bench publish: warming up');
    await closedLoop(CLIENTS, 2000, govxBatch);
    await closedLoop(CLIENTS, 2000, rawBatch);

    const govxRounds: RoundResult[] = [];
    const rawRounds: RoundResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      govxRounds.push(await closedLoop(CLIENTS, ROUND_MS, govxBatch));
      rawRounds.push(await closedLoop(CLIENTS, ROUND_MS, rawBatch));
      log(`bench publish: round ${round}/${ROUNDS}: govx ${govxRounds.at(-1)!.recordsPerSec} rec/s, raw ${rawRounds.at(-1)!.recordsPerSec} rec/s`);
    }
    const total = (rounds: RoundResult[]) => Math.round(rounds.reduce((n, r) => n + r.records, 0) / rounds.reduce((s, r) => s + r.seconds, 0));
    const govxRate = total(govxRounds);
    const rawRate = total(rawRounds);

    log(`bench publish: latency at ${OFFERED_BATCHES_PER_SEC} batches/s (${OFFERED_BATCHES_PER_SEC * BATCH} records/s offered)`);
    const govxLatency = await fixedRate(OFFERED_BATCHES_PER_SEC, LATENCY_MS, govxBatch);
    const rawLatency = await fixedRate(OFFERED_BATCHES_PER_SEC, LATENCY_MS, rawBatch);

    const m = metricsReader(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    log('bench publish: the per-key limit statement');
    const keyCheck = await measureKeyCheck(pool, publisherKey);
    const result = {
      benchmark: 'publish',
      at: new Date().toISOString(),
      setup: {
        dataset: 'population.residents (schema), own bench dataset and topics',
        batch: BATCH,
        clients: CLIENTS,
        rounds: ROUNDS,
        roundMs: ROUND_MS,
        acks: 'all',
        idempotent: true,
        brokers: config.kafkaBrokers,
        partitions: config.topicPartitions,
        cpus: (await import('node:os')).cpus().length,
      },
      throughput: {
        govxRecordsPerSec: govxRate,
        rawRecordsPerSec: rawRate,
        ratio: Math.round((govxRate / rawRate) * 100) / 100,
        rounds: govxRounds.map((g, i) => ({ govx: g.recordsPerSec, raw: rawRounds[i]!.recordsPerSec })),
      },
      latencyMs: {
        offeredRecordsPerSec: OFFERED_BATCHES_PER_SEC * BATCH,
        govx: govxLatency,
        raw: rawLatency,
      },
      gatewayPeakRssMiB: peakRssMiB(child.pid!),
      // the event-loop delay since the gateway started, and where a govx request spent its time (the gateway's own histograms)
      gatewayEventLoopDelayMs: {
        p50: m.gaugeMs('govx_process_nodejs_eventloop_lag_p50_seconds'),
        p99: m.gaugeMs('govx_process_nodejs_eventloop_lag_p99_seconds'),
        max: m.gaugeMs('govx_process_nodejs_eventloop_lag_max_seconds'),
      },
      keyCheck: {
        ...keyCheck,
        countingCostMs: Math.round((keyCheck.authAndCountMeanMs - keyCheck.authOnlyMeanMs) * 1000) / 1000,
        shareOfMeanPublishRequest: Math.round((keyCheck.authAndCountMeanMs / m.meanMs('govx_http_request_duration_seconds')) * 10000) / 10000,
      },
      gatewayMeanMs: {
        httpRequest: m.meanMs('govx_http_request_duration_seconds'),
        publishPipeline: m.meanMs('govx_publish_duration_seconds'),
        kafkaProduce: m.meanMs('govx_kafka_produce_duration_seconds'),
        auditAppend: m.meanMs('govx_publish_audit_duration_seconds'),
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    const row = (a: string, b: string | number, c: string | number, d: string | number = '') => `| ${a} | ${b} | ${c} | ${d} |`;
    process.stdout.write(
      [
        '',
        row('', 'govx HTTP', 'raw kafkajs', 'govx / raw'),
        '| --- | --- | --- | --- |',
        row('records/s', govxRate, rawRate, result.throughput.ratio),
        row(`p50 latency of a ${BATCH}-record batch at ${OFFERED_BATCHES_PER_SEC * BATCH} rec/s (ms)`, govxLatency.p50, rawLatency.p50),
        row(`p99 latency (ms)`, govxLatency.p99, rawLatency.p99),
        row('gateway peak RSS (MiB)', result.gatewayPeakRssMiB, '—'),
        row('per-key limit: authenticate + count one request (ms, mean)', keyCheck.authAndCountMeanMs, `authenticate alone ${keyCheck.authOnlyMeanMs}`),
        row('per-key limit: one key counted from 8 connections (requests/s)', keyCheck.oneKeyCountedPerSec8Connections, '—'),
        '',
      ].join('\n'),
    );
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [rawTopic, `govx.dataset.${dataset}`, `govx.dlq.${dataset}`] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await pool.end();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}
