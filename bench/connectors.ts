/**
 * Source connector throughput: rows/s of postgres-source (read → governed publish → offset) against a raw
 * baseline on the same broker in the same run (the same rows, already Avro-encoded, produced with acks=all
 * in batches of the same size). Run: `npm run build && node dist/bench/connectors.js [rows]`.
 * The sink half (against a raw pg COPY) waits for the PostgreSQL sink.
 */
import crypto from 'node:crypto';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { round2, selfCpuSeconds } from './support';
import { applyCatalog, readCatalogFile, seedCatalogFile } from '../catalog/catalogFile';
import { datasetTopic, defaultSchemaSubject } from '../catalog/datasets';
import { migrate } from '../catalog/migrate';
import { insertConnector } from '../connectors/runtime/store';
import { writeConnectorTargets } from '../connectors/targets';
import { ConnectWorker } from '../connectors/runtime/worker';
import { DatasetRuntimes } from '../publish/datasetRuntime';
import { encodeWireFormat } from '../schemas/wireFormat';
import { loadConfig } from '../lib/config';
import { createPool, ensureDatabase } from '../lib/db';
import { createKafka } from '../lib/kafka';
import { createLogger } from '../lib/logger';
import { generateSample } from '../schemas/samples';

const DATASET = 'population.residents';
const BATCH = 500;

function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(base: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl(base, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface ConnectorBenchResult {
  rows: number;
  sourceRowsPerSecond: number;
  rawProduceRowsPerSecond: number;
  ratio: number;
  /** every raw configuration tried, in the same run (the best is the baseline) */
  rawArms: Array<{ name: string; rowsPerSecond: number; cpuSeconds: number }>;
  bestRawArm: string;
  /** CPU seconds of the bench process while the connector ran (the worker runs in it) */
  sourceCpuSeconds: number;
  /** from the worker's start to the first records counted out (worker start, lock, first read and publish) */
  firstRecordsSeconds: number;
  /** rows/s from the first records counted out to the last (start-up left out), and its ratio to the best raw arm */
  steadyRowsPerSecond: number;
  steadyRatio: number;
  /** records in the dataset topic at the end: the rows, exactly once */
  inKafka: number;
}

async function topicCount(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
}

export async function benchConnectors(rows = 20_000): Promise<ConnectorBenchResult> {
  const base = loadConfig();
  const stamp = `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
  const dataset = `bench.residents-${stamp}`;
  const govxDb = `govx_bench_${stamp}`;
  const deptDb = `govx_bench_dept_${stamp}`;
  const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl(base.databaseUrl, govxDb), GOVX_CONNECT_POLL_MS: '100' });
  const log = createLogger('warn', 'govx-bench');
  await ensureDatabase(config.databaseUrl, log);
  await adminQuery(base.databaseUrl, `CREATE DATABASE "${deptDb}"`);
  const pool = createPool(config.databaseUrl, { max: 4 });
  const dept = new pg.Client({ connectionString: databaseUrl(base.databaseUrl, deptDb) });
  const kafka = createKafka(config, createLogger('silent', 'govx-bench'), 'bench');
  try {
    await migrate(pool);
    // A dataset of the bench's own (a copy of population.residents), so the shared dataset topic stays as it was.
    const residents = readCatalogFile(seedCatalogFile).find((d) => d.definition.id === DATASET)!;
    await applyCatalog(pool, [{ ...residents, definition: { ...residents.definition, id: dataset, schemaSubject: defaultSchemaSubject(dataset) } }], { actor: 'info-office' });
    await dept.connect();
    const records = generateSample(DATASET, rows, 4711);
    await dept.query(`CREATE TABLE residents (row_id bigserial PRIMARY KEY, id_number text, name text, gender text, ethnicity text,
      birth_date date, household_district text, address text, phone text, marital_status text, updated_at timestamptz)`);
    const columns = ['id_number', 'name', 'gender', 'ethnicity', 'birth_date', 'household_district', 'address', 'phone', 'marital_status', 'updated_at'];
    await dept.query(
      `INSERT INTO residents (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM unnest(${columns
        .map((c, i) => `$${i + 1}::${c === 'birth_date' ? 'date' : c === 'updated_at' ? 'timestamptz' : 'text'}[]`)
        .join(', ')}) AS t(${columns.join(', ')})`,
      columns.map((c) => records.map((r) => (r[c] === null || r[c] === undefined ? null : String(r[c])))),
    );

    // Baseline: the same rows, encoded, straight to a fresh topic with acks=all.
    const runtime = (await new DatasetRuntimes(pool).get(dataset))!;
    const encoded = records.map((r) => ({ key: String(r.id_number), value: encodeWireFormat(runtime.schemaId, runtime.type.toBuffer(r)) }));
    const rawTopic = `govx.bench.raw-${stamp}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: rawTopic, numPartitions: config.topicPartitions, replicationFactor: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    // the raw arm in its best configuration: one sender with the source's batch size or a larger one, or several senders
    const rawVariants = [
      { senders: 1, batch: BATCH },
      { senders: 1, batch: 5000 },
      { senders: 3, batch: BATCH },
    ];
    const raw: ConnectorBenchResult['rawArms'] = [];
    let rawProduced = 0;
    for (const v of rawVariants) {
      const cpu0 = selfCpuSeconds();
      const t0 = process.hrtime.bigint();
      let next = 0;
      await Promise.all(
        Array.from({ length: v.senders }, async () => {
          for (let i = next; i < encoded.length; i = next) {
            next += v.batch;
            await producer.send({ topic: rawTopic, acks: -1, messages: encoded.slice(i, i + v.batch) });
          }
        }),
      );
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      rawProduced += encoded.length;
      raw.push({ name: `${v.senders} sender(s) × ${v.batch} rows`, rowsPerSecond: Math.round(rows / seconds), cpuSeconds: round2(selfCpuSeconds() - cpu0) });
    }
    const inRaw = await topicCount(admin, rawTopic);
    if (inRaw !== rawProduced) throw new Error(`raw produce: ${inRaw} records in Kafka, ${rawProduced} sent`);
    const bestRaw = raw.reduce((x, y) => (y.rowsPerSecond > x.rowsPerSecond ? y : x));
    const rawSeconds = rows / bestRaw.rowsPerSecond;
    await producer.disconnect();
    await admin.deleteTopics({ topics: [rawTopic] }).catch(() => undefined);
    await admin.disconnect();

    // The connector: the same rows through read → validate → produce (acks=all) → offset.
    const name = `bench-${stamp}`;
    // an administrator's allowance for psb's (loopback) database: connectors reach nothing else
    await writeConnectorTargets(pool, { department: 'psb', postgres: { hosts: ['127.0.0.1/32', '::1/128'], databases: [deptDb] }, webhooks: { hosts: [], allowPrivate: false } }, 'bench');
    await insertConnector(pool, {
      name,
      connectorClass: 'postgres-source',
      owner: 'psb',
      createdBy: 'bench',
      config: {
        'connector.class': 'postgres-source',
        'connection.url': databaseUrl(base.databaseUrl, deptDb),
        'table.include.list': 'residents',
        dataset,
        mode: 'timestamp+incrementing',
        'timestamp.column.name': 'updated_at',
        'incrementing.column.name': 'row_id',
        'batch.max.rows': String(BATCH),
        'poll.interval.ms': '100',
      },
    });
    const started = process.hrtime.bigint();
    const cpu0 = selfCpuSeconds();
    const worker = await ConnectWorker.start(config, log);
    let first: { at: bigint; rows: number } | null = null;
    let ended = started;
    try {
      for (;;) {
        const { rows: s } = await pool.query<{ records_out: string; last_error: string | null; failed_generation: number | null }>(
          'SELECT records_out, last_error, failed_generation FROM connector_status WHERE name = $1',
          [name],
        );
        if (s[0]?.failed_generation !== null && s[0]?.failed_generation !== undefined) throw new Error(`postgres-source FAILED: ${s[0].last_error}`);
        const out = Number(s[0]?.records_out ?? 0);
        if (out > 0 && !first) first = { at: process.hrtime.bigint(), rows: out };
        if (out >= rows) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      ended = process.hrtime.bigint();
    } finally {
      await worker.close();
    }
    const sourceSeconds = Number(ended - started) / 1e9;
    const steadySeconds = Number(ended - first!.at) / 1e9;
    const steadyRowsPerSecond = steadySeconds > 0 ? Math.round((rows - first!.rows) / steadySeconds) : 0;
    const sourceCpu = round2(selfCpuSeconds() - cpu0);
    const cleanup = kafka.admin();
    await cleanup.connect();
    // correctness: every row in the dataset topic exactly once (the connector's offsets move with its batches)
    const inTopic = await topicCount(cleanup, datasetTopic(dataset));
    if (inTopic !== rows) {
      await cleanup.disconnect();
      throw new Error(`postgres-source: ${inTopic} records in Kafka for ${rows} rows`);
    }
    await cleanup.deleteTopics({ topics: [datasetTopic(dataset)] }).catch(() => undefined);
    await cleanup.disconnect();
    return {
      rows,
      sourceRowsPerSecond: Math.round(rows / sourceSeconds),
      rawProduceRowsPerSecond: Math.round(rows / rawSeconds),
      ratio: Number((rawSeconds / sourceSeconds).toFixed(3)),
      rawArms: raw,
      bestRawArm: bestRaw.name,
      sourceCpuSeconds: sourceCpu,
      firstRecordsSeconds: round2(Number(first!.at - started) / 1e9),
      steadyRowsPerSecond,
      steadyRatio: Number((steadyRowsPerSecond / (rows / rawSeconds)).toFixed(3)),
      inKafka: inTopic,
    };
  } finally {
    await dept.end().catch(() => undefined);
    await pool.end();
    await adminQuery(base.databaseUrl, `DROP DATABASE IF EXISTS "${deptDb}" WITH (FORCE)`).catch(() => undefined);
    await adminQuery(base.databaseUrl, `DROP DATABASE IF EXISTS "${govxDb}" WITH (FORCE)`).catch(() => undefined);
  }
}

if (require.main === module) {
  const rows = Number(process.argv[2] ?? 20_000);
  benchConnectors(rows).then(
    (r) => process.stdout.write(`${JSON.stringify({ benchmark: 'connectors.postgres-source', ...r })}\n`),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
