/**
 * Sink connector throughput: rows/s of postgres-sink (Kafka share topic → decode → upsert with offsets in
 * the same transaction → commit) against a raw `COPY … FROM STDIN` of the same rows into the same target
 * database in the same run. Run: `npm run build && node dist/bench/sink.js [rows]`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { spawn, type ChildProcess } from 'node:child_process';
import { processCpuSeconds, round2, selfCpuSeconds } from './support';
import { from as copyFrom } from 'pg-copy-streams';
import { migrate } from '../catalog/migrate';
import { registerSchema } from '../catalog/registry/store';
import { deriveShareSchema } from '../catalog/sharingPolicy';
import { insertConnector } from '../connectors/runtime/store';
import { writeConnectorTargets } from '../connectors/targets';
import { ConnectWorker } from '../connectors/runtime/worker';
import { encodeWireFormat } from '../schemas/wireFormat';
import { loadConfig } from '../lib/config';
import { createPool, ensureDatabase } from '../lib/db';
import { createKafka } from '../lib/kafka';
import { createLogger } from '../lib/logger';
import { projectPath } from '../lib/paths';
import { compileNaturalType } from '../schemas/codec';
import { generateSample } from '../schemas/samples';

export interface SinkBenchResult {
  rows: number;
  sinkRowsPerSecond: number;
  rawCopyRowsPerSecond: number;
  ratio: number;
  rawCopyRounds: number[];
  /** insert (append) and upsert (by key), each against the same raw COPY */
  /**
   * Scale-out: the insert-mode sink run by 1 and by 2 `govx connect` processes (the consumer group splits the
   * topic's 3 partitions between them), each from an empty group to every row in its own table.
   */
  workers: Array<{ workers: number; rowsPerSecond: number; ratio: number; firstRowSeconds: number; steadyRowsPerSecond: number; cpuSeconds: number; steadyCpuMicrosPerRow: number }>;
  modes: Array<{
    mode: 'insert' | 'upsert';
    rowsPerSecond: number;
    ratio: number;
    cpuSeconds: number;
    rowsInTable: number;
    /** from the worker's start to the first rows committed in the table (worker start, group join, table creation) */
    firstRowSeconds: number;
    /** rows/s from the first rows committed to the last (start-up left out), and its ratio to raw COPY */
    steadyRowsPerSecond: number;
    steadyRatio: number;
  }>;
}

const url = (base: string, db: string): string => {
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
};

async function admin(base: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url(base, 'postgres') });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const csvField = (v: unknown): string => (v === null || v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`);

/** A `govx connect` process on the bench's govx database (it runs every connector defined there). */
function connectWorkerProcess(databaseUrl: string): ChildProcess {
  return spawn(process.execPath, [projectPath('bin', 'govx.js'), 'connect'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, GOVX_CONNECT_POLL_MS: '100', GOVX_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function benchSink(rows = 20_000): Promise<SinkBenchResult> {
  const base = loadConfig();
  const stamp = `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
  const govxDb = `govx_bench_${stamp}`;
  const targetDb = `govx_bench_target_${stamp}`;
  const config = loadConfig({ ...process.env, DATABASE_URL: url(base.databaseUrl, govxDb), GOVX_CONNECT_POLL_MS: '100' });
  const log = createLogger('warn', 'govx-bench');
  await ensureDatabase(config.databaseUrl, log);
  await admin(base.databaseUrl, `CREATE DATABASE "${targetDb}"`);
  const pool = createPool(config.databaseUrl, { max: 4 });
  const target = new pg.Client({ connectionString: url(base.databaseUrl, targetDb) });
  await target.connect();
  const kafka = createKafka(config, createLogger('silent', 'govx-bench'), 'bench');
  const subscription = `sub-${crypto.randomBytes(10).toString('hex')}`;
  const topic = `govx.share.${subscription}`;
  let worker: ConnectWorker | null = null;
  try {
    await migrate(pool, log);
    // what a civil-affairs subscription to residents receives: six fields, three of them masked
    const residents = JSON.parse(fs.readFileSync(projectPath('schemas', 'population.residents.avsc'), 'utf8'));
    const granted = [
      { name: 'name', delivery: 'partial' as const },
      { name: 'gender', delivery: 'clear' as const },
      { name: 'birth_date', delivery: 'clear' as const },
      { name: 'household_district', delivery: 'clear' as const },
      { name: 'address', delivery: 'partial' as const },
      { name: 'updated_at', delivery: 'clear' as const },
    ];
    const schema = deriveShareSchema(residents, granted, subscription);
    const schemaId = (await registerSchema(pool, `${topic}-value`, JSON.stringify(schema))).id;
    const type = compileNaturalType(schema);
    const records = generateSample('population.residents', rows, 77).map((r, i) => ({
      key: `k${i}`,
      value: { name: r.name, gender: r.gender, birth_date: r.birth_date, household_district: r.household_district, address: r.address, updated_at: r.updated_at },
    }));

    const kadmin = kafka.admin();
    await kadmin.connect();
    await kadmin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
    await kadmin.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < records.length; i += 2000) {
      await producer.send({
        topic,
        acks: -1,
        messages: records.slice(i, i + 2000).map((r) => ({ key: r.key, value: encodeWireFormat(schemaId, type.toBuffer(r.value)), headers: { 'govx-subscription': subscription } })),
      });
    }
    await producer.disconnect();

    // raw: the same rows with COPY into a table of the same shape (best of two: the first warms the server)
    const csv = records.map((r) => [r.key, r.value.name, r.value.gender, r.value.birth_date, r.value.household_district, r.value.address, r.value.updated_at].map(csvField).join(',')).join('\n');
    const rawTimes: number[] = [];
    for (let i = 0; i < 2; i++) {
      await target.query(`DROP TABLE IF EXISTS raw_copy; CREATE TABLE raw_copy (_govx_key text PRIMARY KEY, name text, gender text, birth_date date, household_district text, address text, updated_at timestamptz)`);
      const rawStarted = process.hrtime.bigint();
      await pipeline(Readable.from([csv]), target.query(copyFrom('COPY raw_copy FROM STDIN WITH (FORMAT csv)')));
      rawTimes.push(Number(process.hrtime.bigint() - rawStarted) / 1e9);
    }
    const rawSeconds = Math.min(...rawTimes);

    // the connector in each mode, from an empty consumer group to every row committed in the table
    const modes: SinkBenchResult['modes'] = [];
    // an administrator's allowance for civil affairs' (loopback) database: connectors reach nothing else
    await writeConnectorTargets(pool, { department: 'civil-affairs', postgres: { hosts: ['127.0.0.1/32', '::1/128'], databases: [targetDb] }, webhooks: { hosts: [], allowPrivate: false } }, 'bench');
    for (const mode of ['insert', 'upsert'] as const) {
      const name = `bench-sink-${mode}-${stamp}`;
      const table = `residents_${mode}`;
      await insertConnector(pool, {
        name,
        connectorClass: 'postgres-sink',
        owner: 'civil-affairs',
        config: { 'connector.class': 'postgres-sink', subscription, 'connection.url': url(base.databaseUrl, targetDb), 'table.name.format': table, 'insert.mode': mode },
        createdBy: 'bench',
      });
      const started = process.hrtime.bigint();
      const cpu0 = selfCpuSeconds();
      worker = await ConnectWorker.start(config, log, { accepts: (d) => d.name === name });
      let first: { at: bigint; rows: number } | null = null;
      for (;;) {
        const exists = (await target.query(`SELECT to_regclass('${table}') AS t`)).rows[0].t;
        const n = exists ? Number((await target.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n) : 0;
        if (n > 0 && !first) first = { at: process.hrtime.bigint(), rows: n };
        if (n >= rows) break;
        const failed = (await pool.query<{ last_error: string }>('SELECT last_error FROM connector_status WHERE name = $1 AND failed_generation IS NOT NULL', [name])).rows[0];
        if (failed) throw new Error(`postgres-sink (${mode}) FAILED: ${failed.last_error}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const ended = process.hrtime.bigint();
      const seconds = Number(ended - started) / 1e9;
      const firstRowSeconds = Number(first!.at - started) / 1e9;
      const steadySeconds = Number(ended - first!.at) / 1e9;
      const steadyRowsPerSecond = steadySeconds > 0 ? Math.round((rows - first!.rows) / steadySeconds) : 0;
      const cpuSeconds = round2(selfCpuSeconds() - cpu0);
      await worker.close();
      worker = null;
      // correctness: every row in the table once (one row per Kafka record, by its partition and offset)
      const check = (await target.query(`SELECT count(*)::int AS n, count(DISTINCT (_govx_partition, _govx_offset))::int AS d FROM ${table}`)).rows[0] as { n: number; d: number };
      if (check.n !== rows || check.d !== rows) throw new Error(`postgres-sink (${mode}): ${check.n} rows, ${check.d} distinct records, expected ${rows}`);
      modes.push({
        mode,
        rowsPerSecond: Math.round(rows / seconds),
        ratio: Math.round((rawSeconds / seconds) * 1000) / 1000,
        cpuSeconds,
        rowsInTable: check.n,
        firstRowSeconds: Math.round(firstRowSeconds * 100) / 100,
        steadyRowsPerSecond,
        steadyRatio: Math.round((steadyRowsPerSecond / (rows / rawSeconds)) * 1000) / 1000,
      });
    }
    const scale: SinkBenchResult['workers'] = [];
    for (const n of [1, 2]) {
      const name = `bench-sink-workers${n}-${stamp}`;
      const table = `residents_workers${n}`;
      // the worker processes run every connector of the bench's database: only this one may be running
      await pool.query(`UPDATE connectors SET desired_state = 'PAUSED' WHERE name <> $1`, [name]);
      await insertConnector(pool, {
        name,
        connectorClass: 'postgres-sink',
        owner: 'civil-affairs',
        config: { 'connector.class': 'postgres-sink', subscription, 'connection.url': url(base.databaseUrl, targetDb), 'table.name.format': table, 'insert.mode': 'insert' },
        createdBy: 'bench',
      });
      const cpuOf = (): number => children.reduce((sum, c) => sum + processCpuSeconds(c.pid), 0);
      const started = process.hrtime.bigint();
      const children = Array.from({ length: n }, () => connectWorkerProcess(config.databaseUrl));
      try {
        let first: { at: bigint; rows: number; cpu: number } | null = null;
        for (;;) {
          const exists = (await target.query(`SELECT to_regclass('${table}') AS t`)).rows[0].t;
          const got = exists ? Number((await target.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n) : 0;
          if (got > 0 && !first) first = { at: process.hrtime.bigint(), rows: got, cpu: cpuOf() };
          if (got >= rows) break;
          const failed = (await pool.query<{ last_error: string }>('SELECT last_error FROM connector_status WHERE name = $1 AND failed_generation IS NOT NULL', [name])).rows[0];
          if (failed) throw new Error(`postgres-sink (${n} workers) FAILED: ${failed.last_error}`);
          if (children.some((c) => c.exitCode !== null)) throw new Error(`a govx connect process exited early`);
          await new Promise((r) => setTimeout(r, 20));
        }
        const ended = process.hrtime.bigint();
        const cpu = cpuOf();
        const seconds = Number(ended - started) / 1e9;
        const steadySeconds = Number(ended - first!.at) / 1e9;
        const check = (await target.query(`SELECT count(*)::int AS n, count(DISTINCT (_govx_partition, _govx_offset))::int AS d FROM ${table}`)).rows[0] as { n: number; d: number };
        if (check.n !== rows || check.d !== rows) throw new Error(`postgres-sink (${n} workers): ${check.n} rows, ${check.d} distinct records, expected ${rows}`);
        scale.push({
          workers: n,
          rowsPerSecond: Math.round(rows / seconds),
          ratio: Math.round((rawSeconds / seconds) * 1000) / 1000,
          firstRowSeconds: round2(Number(first!.at - started) / 1e9),
          steadyRowsPerSecond: steadySeconds > 0 ? Math.round((rows - first!.rows) / steadySeconds) : 0,
          cpuSeconds: round2(cpu),
          steadyCpuMicrosPerRow: rows > first!.rows ? Math.round(((cpu - first!.cpu) / (rows - first!.rows)) * 1e6) : 0,
        });
      } finally {
        await Promise.all(children.map(stopProcess));
      }
    }
    const sinkSeconds = rows / modes.find((m) => m.mode === 'upsert')!.rowsPerSecond;
    return {
      rows,
      sinkRowsPerSecond: Math.round(rows / sinkSeconds),
      rawCopyRowsPerSecond: Math.round(rows / rawSeconds),
      ratio: Math.round((rawSeconds / sinkSeconds) * 1000) / 1000,
      rawCopyRounds: rawTimes.map((t) => Math.round(rows / t)),
      workers: scale,
      modes,
    };
  } finally {
    await worker?.close();
    await target.end();
    await pool.end();
    const kadmin = kafka.admin();
    await kadmin.connect().then(() => kadmin.deleteTopics({ topics: [topic] })).catch(() => undefined);
    await kadmin.disconnect().catch(() => undefined);
    await admin(base.databaseUrl, `DROP DATABASE IF EXISTS "${targetDb}" WITH (FORCE)`).catch(() => undefined);
    await admin(base.databaseUrl, `DROP DATABASE IF EXISTS "${govxDb}" WITH (FORCE)`).catch(() => undefined);
  }
}

if (require.main === module) {
  benchSink(Number(process.argv[2] ?? 20_000)).then(
    (r) => {
      process.stdout.write(`${JSON.stringify({ bench: 'sink', ...r }, null, 2)}\n`);
      process.stdout.write(`| rows | postgres-sink rows/s | raw COPY rows/s | ratio |\n| ---: | ---: | ---: | ---: |\n| ${r.rows} | ${r.sinkRowsPerSecond} | ${r.rawCopyRowsPerSecond} | ${r.ratio} |\n`);
    },
    (err: unknown) => {
      process.stderr.write(`bench sink failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
