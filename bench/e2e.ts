import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import { createApiKey } from '../catalog/keys';
import { insertConnector } from '../connectors/runtime/store';
import { writeConnectorTargets } from '../connectors/targets';
import { ConnectWorker } from '../connectors/runtime/worker';
import { loadConfig } from '../lib/config';
import { createPool, type Pool } from '../lib/db';
import { createKafka } from '../lib/kafka';
import { createLogger } from '../lib/logger';
import { projectPath } from '../lib/paths';
import { generateSample } from '../schemas/samples';
import { freePort, kafkaVersion, loadAverage, round2, sleep } from './support';

/**
 * `npm run bench -- e2e`: how long from a publish's 200 to the row committed in the consumer's PostgreSQL,
 * through the whole governed path — gateway (validate, produce acks=all, audit) → distributor (project, mask,
 * share topic) → postgres-sink (decode, write with lineage, offsets in the same transaction) — against the
 * raw pipeline of the same records: a kafkajs producer → topic → kafkajs consumer → COPY into a table →
 * commit. First the raw pipeline's saturation rate, then both at half of it (and govx also at a rate it can
 * sustain, so its latency when not saturated is shown too); latency per batch = when the batch's last row is
 * seen committed (polled every 25 ms) − when the publish was acknowledged. Then the gateway's peak RSS under a
 * hostile-input load (oversized, deep, malformed, invalid and NUL-laden bodies from several clients).
 */

const BATCH = Number(process.env.BENCH_E2E_BATCH ?? 200);
/** `BENCH_E2E_ONLY=hostile` runs only the hostile-input load (the gateway's peak RSS), skipping the latency phases. */
const ONLY = process.env.BENCH_E2E_ONLY ?? '';
/** `BENCH_E2E_HOSTILE_REQUESTS=N`: the hostile load sends N requests in all, however long they take, instead of running for the phase's seconds (the same work on a busy machine as on a quiet one). */
const HOSTILE_REQUESTS = Number(process.env.BENCH_E2E_HOSTILE_REQUESTS ?? 0);
const SHARE_FIELDS = ['id_number', 'name', 'birth_date', 'household_district', 'address', 'updated_at'];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function peakRssMiB(pid: number): number {
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

interface Latency {
  offeredRecordsPerSec: number;
  achievedRecordsPerSec: number;
  batches: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** batches whose rows were not all committed by the end of the wait */
  missing: number;
  /** govx only: from the batch's publishedAt stamp to its last share record produced (the distributor's part) */
  distributorP50Ms?: number;
  distributorP99Ms?: number;
}

/**
 * Open loop: a batch every BATCH/rate seconds for `ms`; `send` resolves when acknowledged (the 200, or acks=all)
 * with the batch's trace id. A poller reads which trace ids have all their rows committed in `table`.
 */
async function measure(rate: number, ms: number, send: (i: number, traceId: string) => Promise<void>, target: pg.Client, table: string): Promise<Latency> {
  const acked = new Map<string, number>();
  const committed = new Map<string, number>();
  let stop = false;
  let stopAt = Infinity;
  const poller = (async () => {
    while (!stop || committed.size < acked.size) {
      const pending = [...acked.keys()].filter((t) => !committed.has(t));
      if (pending.length) {
        const { rows } = await target.query<{ t: string; n: string }>(`SELECT _govx_trace_id AS t, count(*) AS n FROM ${table} WHERE _govx_trace_id = ANY($1) GROUP BY 1`, [pending]);
        const now = performance.now();
        for (const r of rows) if (Number(r.n) >= BATCH) committed.set(r.t, now);
      }
      if (stop && pending.length && performance.now() > stopAt + 60_000) break;
      await sleep(25);
    }
  })();
  const interval = (1000 * BATCH) / rate;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; performance.now() - started < ms; i++) {
    const wait = started + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    const traceId = crypto.randomUUID();
    inFlight.push(send(i, traceId).then(() => void acked.set(traceId, performance.now())));
  }
  await Promise.all(inFlight);
  const sendSeconds = (performance.now() - started) / 1000;
  stop = true;
  stopAt = performance.now();
  await poller;
  const latencies = [...acked].filter(([t]) => committed.has(t)).map(([t, at]) => committed.get(t)! - at).sort((a, b) => a - b);
  return {
    offeredRecordsPerSec: rate,
    achievedRecordsPerSec: Math.round((acked.size * BATCH) / sendSeconds),
    batches: acked.size,
    p50Ms: Math.round(percentile(latencies, 50)),
    p99Ms: Math.round(percentile(latencies, 99)),
    maxMs: Math.round(latencies.at(-1) ?? NaN),
    missing: acked.size - latencies.length,
  };
}

/**
 * The distributor's part of each govx batch's latency: from the batch's `govx-published-at` stamp (taken by the
 * gateway just before it produces to the dataset topic) to the produce timestamp of the last of its share
 * records (the distributor's clock; one machine here). Read back from the share topic after the phases.
 */
async function distributorLag(kafka: Kafka, topic: string, phases: Array<Set<string>>): Promise<Array<{ p50Ms: number; p99Ms: number }>> {
  const admin = kafka.admin();
  await admin.connect();
  const expected = (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  await admin.disconnect();
  const lagOf = new Map<string, number>();
  const consumer = kafka.consumer({ groupId: `bench-e2e-lag-${crypto.randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let read = 0;
  await new Promise<void>((resolve) => {
    if (expected === 0) return resolve();
    const deadline = setTimeout(resolve, 60_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        read += 1;
        const trace = message.headers?.['govx-trace-id']?.toString();
        const at = message.headers?.['govx-published-at']?.toString();
        if (trace && at) lagOf.set(trace, Math.max(lagOf.get(trace) ?? -Infinity, Number(message.timestamp) - Date.parse(at)));
        if (read >= expected) {
          clearTimeout(deadline);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return phases.map((ids) => {
    const lags = [...ids].map((t) => lagOf.get(t)).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    return { p50Ms: Math.round(percentile(lags, 50)), p99Ms: Math.round(percentile(lags, 99)) };
  });
}

async function startGateway(env: NodeJS.ProcessEnv, port: number): Promise<{ child: ChildProcess; url: string }> {
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, projectPath('bin', 'govx.js'), 'serve', '--seed'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { child, url };
    } catch {
      /* not yet */
    }
    await sleep(500);
  }
  child.kill('SIGTERM');
  throw new Error('the gateway did not become ready');
}

/** Bodies an attacker with a publisher key would send: each must be refused or dead-lettered without the gateway's memory running away. */
function hostileBodies(valid: Array<Record<string, unknown>>): Array<{ type: string; body: string | Buffer }> {
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  const invalid = JSON.stringify({ records: Array.from({ length: 5000 }, (_, i) => ({ id_number: `x${i}`, name: 'n'.repeat(2000), birth_date: 'not a date', extra: { a: [1, 2, 3] } })) });
  const huge = JSON.stringify({ records: Array.from({ length: 12 }, () => ({ ...valid[0], name: 'Z'.repeat(1_200_000) })) });
  const nul = JSON.stringify({ records: valid.slice(0, 500).map((r) => ({ ...r, name: `${String(r.name)}\u0000` })) });
  const many = JSON.stringify({ records: Array.from({ length: 200_000 }, () => ({})) });
  const badUtf8 = Buffer.concat([Buffer.from('{"records":[{"name":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}]}')]);
  return [
    { type: 'application/json', body: deep },
    { type: 'application/json', body: invalid },
    { type: 'application/json', body: huge },
    { type: 'application/json', body: nul },
    { type: 'application/json', body: many },
    { type: 'application/json', body: badUtf8 },
    { type: 'application/json', body: '{"records": [' },
    { type: 'application/x-ndjson', body: `${'{"a":'.repeat(50_000)}\n`.repeat(20) },
  ];
}

type HostileResult = E2eResult['hostile'];

/**
 * The hostile-input load: 8 clients sending the bodies of hostileBodies in turn for `seconds`; the gateway's
 * peak RSS (VmHWM) before and after, and every answer counted by its status and stable error code.
 */
async function hostileLoad(
  gateway: { child: ChildProcess; url: string },
  dataset: string,
  publisherKey: string,
  records: Array<Record<string, unknown>>,
  seconds: number,
  say: (line: string) => void,
): Promise<HostileResult> {
  say('hostile-input load: peak RSS of the gateway');
  const before = peakRssMiB(gateway.child.pid!);
  const hostile = hostileBodies(records);
  const statuses: Record<string, number> = {};
  let requests = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: 8 }, async (_, c) => {
      for (let i = c, sent = 0; HOSTILE_REQUESTS > 0 ? sent < HOSTILE_REQUESTS / 8 : performance.now() < until; i++, sent++) {
        const h = hostile[i % hostile.length]!;
        const res = await fetch(`${gateway.url}/v1/datasets/${dataset}/records`, { method: 'POST', headers: { authorization: `Bearer ${publisherKey}`, 'content-type': h.type }, body: h.body }).catch(() => null);
        // the status with the error's stable code ("413 publish.too_many_records"), so each refusal is visible
        const answer = res ? ((await res.json().catch(() => null)) as { error?: { code?: string } } | null) : null;
        const key = res ? `${res.status}${answer?.error?.code ? ` ${answer.error.code}` : ''}` : 'connection error';
        statuses[key] = (statuses[key] ?? 0) + 1;
        requests += 1;
      }
    }),
  );
  const ready = (await fetch(`${gateway.url}/readyz`)).status;
  if (ready !== 200) throw new Error(`the gateway is not ready after the hostile load (${ready})`);
  return {
    requests,
    statuses,
    fiveHundreds: Object.entries(statuses).filter(([s]) => s.startsWith('5')).reduce((n, [, v]) => n + v, 0),
    gatewayPeakRssMiB: peakRssMiB(gateway.child.pid!),
    gatewayPeakRssBeforeMiB: before,
  };
}

export interface E2eResult {
  benchmark: 'e2e';
  at: string;
  loadAverage: { before: string; after: string };
  setup: Record<string, unknown>;
  rawSaturationRecordsPerSec: number;
  govx: Latency[];
  raw: Latency[];
  hostile: { requests: number; statuses: Record<string, number>; fiveHundreds: number; gatewayPeakRssMiB: number; gatewayPeakRssBeforeMiB: number };
}

export async function runE2eBench(opts: { seconds?: number; quiet?: boolean } = {}): Promise<E2eResult> {
  const seconds = opts.seconds ?? Number(process.env.BENCH_E2E_SECONDS ?? 10);
  const say = (l: string) => {
    if (!opts.quiet) process.stderr.write(`bench e2e: ${l}\n`);
  };
  const loadBefore = loadAverage();
  const config = loadConfig();
  const stamp = `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
  const dbUrl = (name: string) => {
    const u = new URL(config.databaseUrl);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const govxDb = `govx_bench_e2e_${stamp}`;
  const targetDb = `govx_bench_e2e_target_${stamp}`;
  const server = new pg.Client({ connectionString: dbUrl('postgres') });
  await server.connect();
  await server.query(`CREATE DATABASE "${targetDb}"`);
  const port = await freePort();
  const metricsPort = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: dbUrl(govxDb),
    GOVX_PORT: String(port),
    GOVX_METRICS_PORT: String(metricsPort),
    GOVX_LOG_LEVEL: 'error',
    GOVX_CONNECT_WORKER: 'false',
    GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC: '100000',
    GOVX_RATE_LIMIT_RECORDS_PER_SEC: '0',
    GOVX_RATE_LIMIT_REQUESTS_PER_SEC: '0',
  };
  const log = createLogger('error', 'govx-bench');
  const kafka: Kafka = createKafka(config, createLogger('silent', 'govx-bench'), 'bench');
  const target = new pg.Client({ connectionString: dbUrl(targetDb) });
  await target.connect();
  let gateway: { child: ChildProcess; url: string } | undefined;
  let worker: ConnectWorker | undefined;
  let pool: Pool | undefined;
  const topics: string[] = [];
  const dataset = `bench.e2e-${stamp}`;
  const rawTopic = `govx.bench.e2e-raw-${stamp}`;
  try {
    say('starting a gateway (with its distributor) and a connect worker');
    gateway = await startGateway(env, port);
    pool = createPool(dbUrl(govxDb), { max: 4 });
    const adminKey = (await createApiKey(pool, { department: 'info-office', role: 'admin' })).key;
    const publisherKey = (await createApiKey(pool, { department: 'psb', role: 'publisher' })).key;
    const stewardKey = (await createApiKey(pool, { department: 'psb', role: 'steward' })).key;
    const consumerKey = (await createApiKey(pool, { department: 'civil-affairs', role: 'consumer' })).key;
    const api = async (path: string, key: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${gateway!.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
      return json;
    };
    await api('/v1/datasets', adminKey, {
      id: dataset, title: { zh: '端到端基准', en: 'End-to-end benchmark' }, owner: 'psb', category: 'population', abstract: 'e2e bench',
      sharing: { type: 'conditional', conditions: 'bench' }, updateCycle: 'daily', keyField: 'id_number',
      schema: JSON.parse(fs.readFileSync(projectPath('schemas', 'population.residents.avsc'), 'utf8')),
    });
    topics.push(`govx.dataset.${dataset}`, `govx.dlq.${dataset}`);
    const asked = await api('/v1/subscriptions', consumerKey, { dataset, fields: SHARE_FIELDS, purpose: '端到端基准测试', expiresAt: new Date(Date.now() + 86_400_000).toISOString(), startFrom: 'latest' });
    await api(`/v1/subscriptions/${String(asked.id)}/approve`, stewardKey, {});
    topics.push(`govx.share.${String(asked.id)}`);
    // an administrator's allowance for civil affairs' (loopback) database: connectors reach nothing else
    await writeConnectorTargets(pool, { department: 'civil-affairs', postgres: { hosts: ['127.0.0.1/32', '::1/128'], databases: [targetDb] }, webhooks: { hosts: [], allowPrivate: false } }, 'bench');
    await insertConnector(pool, {
      name: `bench-e2e-${stamp}`,
      connectorClass: 'postgres-sink',
      owner: 'civil-affairs',
      createdBy: 'bench',
      config: { 'connector.class': 'postgres-sink', subscription: String(asked.id), 'connection.url': dbUrl(targetDb), 'table.name.format': 'residents', 'insert.mode': 'insert', 'batch.max.rows': '500' },
    });
    worker = await ConnectWorker.start(loadConfig({ ...process.env, DATABASE_URL: dbUrl(govxDb), GOVX_CONNECT_POLL_MS: '100' }), log);

    const records = generateSample('population.residents', 20_000, 808);
    const bodies = Array.from({ length: records.length / BATCH }, (_, i) => JSON.stringify({ records: records.slice(i * BATCH, (i + 1) * BATCH) }));
    const govxSend = async (i: number, traceId: string): Promise<void> => {
      const res = await fetch(`${gateway!.url}/v1/datasets/${dataset}/records`, {
        method: 'POST',
        headers: { authorization: `Bearer ${publisherKey}`, 'content-type': 'application/json', 'x-request-id': traceId },
        body: bodies[i % bodies.length],
      });
      const body = (await res.json()) as { accepted?: number };
      if (res.status !== 200 || body.accepted !== BATCH) throw new Error(`govx answered ${res.status}`);
    };

    if (ONLY === 'hostile') {
      const hostile = await hostileLoad(gateway, dataset, publisherKey, records, seconds, say);
      return { benchmark: 'e2e', at: new Date().toISOString(), loadAverage: { before: loadBefore, after: loadAverage() }, setup: { machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`, node: process.version, kafka: kafkaVersion(), seconds, only: ONLY }, rawSaturationRecordsPerSec: NaN, govx: [], raw: [], hostile };
    }

    // the raw pipeline: producer → topic → consumer → COPY into a table with the trace id → commit the offset
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: rawTopic, numPartitions: config.topicPartitions, replicationFactor: config.topicReplicationFactor }] });
    await admin.disconnect();
    topics.push(rawTopic);
    await target.query('CREATE TABLE raw_rows (_govx_trace_id text, k text, v bytea)');
    const rawWriter = new pg.Client({ connectionString: dbUrl(targetDb) });
    await rawWriter.connect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const consumer = kafka.consumer({ groupId: `bench-e2e-raw-${stamp}`, maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic: rawTopic, fromBeginning: true });
    const { from: copyFrom } = await import('pg-copy-streams');
    const { pipeline } = await import('node:stream/promises');
    const { Readable } = await import('node:stream');
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
        const text = batch.messages.map((m) => `${esc(m.headers?.['govx-trace-id']?.toString() ?? '')}\t${esc(m.key?.toString() ?? '')}\t\\\\x${m.value!.toString('hex')}\n`).join('');
        await rawWriter.query('BEGIN');
        await pipeline(Readable.from([text]), rawWriter.query(copyFrom('COPY raw_rows FROM STDIN')));
        await rawWriter.query('COMMIT');
        await consumer.commitOffsets([{ topic: rawTopic, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }]);
        await heartbeat();
      },
    });
    const encoded = records.map((r) => ({ key: String(r.id_number), value: Buffer.from(JSON.stringify(r)) }));
    const rawSend = async (i: number, traceId: string): Promise<void> => {
      const start = (i * BATCH) % encoded.length;
      await producer.send({ topic: rawTopic, acks: -1, messages: encoded.slice(start, start + BATCH).map((m) => ({ ...m, headers: { 'govx-trace-id': traceId } })) });
    };

    say('the raw pipeline at saturation');
    const saturation = await (async () => {
      const n = 20_000;
      const t0 = performance.now();
      for (let i = 0; i < n / 2000; i++) await producer.send({ topic: rawTopic, acks: -1, messages: encoded.slice(i * 2000, (i + 1) * 2000).map((m) => ({ ...m, headers: { 'govx-trace-id': 'saturation' } })) });
      for (;;) {
        const { rows } = await target.query<{ n: string }>(`SELECT count(*) AS n FROM raw_rows WHERE _govx_trace_id = 'saturation'`);
        if (Number(rows[0]!.n) >= n) break;
        await sleep(25);
      }
      return Math.round(n / ((performance.now() - t0) / 1000));
    })();
    const half = Math.max(BATCH, Math.round(saturation / 2 / BATCH) * BATCH);
    say(`raw pipeline saturates at ${saturation} records/s; measuring both at ${half} records/s for ${seconds} s`);
    const raw = [await measure(half, seconds * 1000, rawSend, target, 'raw_rows')];
    // the sink creates its table on its first record
    await govxSend(0, crypto.randomUUID());
    for (const deadline = Date.now() + 120_000; ; ) {
      if ((await target.query(`SELECT to_regclass('residents') AS t`)).rows[0].t) break;
      if (Date.now() > deadline) throw new Error('the postgres-sink wrote nothing within 120 s');
      await sleep(100);
    }
    // each phase's trace ids, to read the distributor's part of their latency back from the share topic
    const phases: Array<Set<string>> = [new Set(), new Set()];
    const tracked = (ids: Set<string>) => (i: number, traceId: string) => {
      ids.add(traceId);
      return govxSend(i, traceId);
    };
    const govx = [await measure(half, seconds * 1000, tracked(phases[0]!), target, 'residents')];
    const low = Number(process.env.BENCH_E2E_LOW_RATE ?? 1000);
    say(`and govx at ${low} records/s`);
    govx.push(await measure(low, seconds * 1000, tracked(phases[1]!), target, 'residents'));
    const lags = await distributorLag(kafka, `govx.share.${String(asked.id)}`, phases);
    govx.forEach((l, i) => {
      l.distributorP50Ms = lags[i]!.p50Ms;
      l.distributorP99Ms = lags[i]!.p99Ms;
    });
    raw.push(await measure(low, seconds * 1000, rawSend, target, 'raw_rows'));
    await consumer.disconnect();
    await producer.disconnect();
    await rawWriter.end();

    const hostile = await hostileLoad(gateway, dataset, publisherKey, records, seconds, say);
    return {
      benchmark: 'e2e',
      at: new Date().toISOString(),
      loadAverage: { before: loadBefore, after: loadAverage() },
      setup: { machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`, node: process.version, kafka: kafkaVersion(), batch: BATCH, seconds, sink: 'postgres-sink, insert mode, batch.max.rows 500', shareFields: SHARE_FIELDS },
      rawSaturationRecordsPerSec: saturation,
      govx,
      raw,
      hostile,
    };
  } finally {
    await worker?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await target.end().catch(() => undefined);
    if (gateway && gateway.child.exitCode === null) {
      const exited = new Promise((r) => gateway!.child.once('exit', r));
      gateway.child.kill('SIGTERM');
      await exited;
    }
    const admin = kafka.admin();
    await admin.connect().then(() => admin.deleteTopics({ topics })).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    for (const d of [targetDb, govxDb]) await server.query(`DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`).catch(() => undefined);
    await server.end();
  }
}

export function formatE2eTable(r: E2eResult): string {
  const row = (who: string, l: Latency) => `| ${who} | ${l.offeredRecordsPerSec} | ${l.achievedRecordsPerSec} | ${l.batches} | ${l.p50Ms} | ${l.p99Ms} | ${l.maxMs} | ${l.missing} |`;
  return [
    `load average ${r.loadAverage.before} → ${r.loadAverage.after}; raw pipeline saturation ${r.rawSaturationRecordsPerSec} records/s; batches of ${String(r.setup.batch)}`,
    '',
    '| pipeline | offered rec/s | achieved rec/s | batches | p50 ms | p99 ms | max ms | not committed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.govx.map((l) => row('govx: publish → distributor → postgres-sink', l)),
    ...r.raw.map((l) => row('raw: produce → consume → COPY', l)),
    '',
    `- hostile-input load: ${r.hostile.requests} requests, statuses ${JSON.stringify(r.hostile.statuses)}, 5xx ${r.hostile.fiveHundreds}; gateway peak RSS ${r.hostile.gatewayPeakRssBeforeMiB} MiB before, ${r.hostile.gatewayPeakRssMiB} MiB after`,
    ...(r.govx.length ? [`- p99 of govx at half the raw saturation: ${round2(r.govx[0]!.p99Ms / 1000)} s (target ≤ 1 s)`] : []),
    ...r.govx.map((l) => `- the distributor's part at ${l.offeredRecordsPerSec} records/s (publishedAt → last share record produced, per batch): p50 ${l.distributorP50Ms} ms, p99 ${l.distributorP99Ms} ms`),
  ].join('\n');
}
