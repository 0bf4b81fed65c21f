import type pg from 'pg';
import { compileNaturalType } from '../../../schemas/codec';
import { generateSample, type SampleRecord } from '../../../schemas/samples';
import type { ReadMessage, TopicPosition } from '../../support/stack';
import { type ConnectTestStack, createDepartmentDatabase, ensureBuilt, eventually, killWorker, readTopicFrom, spawnWorker, startConnectTestStack, topicEnd } from './connectSupport';

jest.setTimeout(180_000);

const DATASET = 'population.residents';
const TOPIC = `govx.dataset.${DATASET}`;

let stack: ConnectTestStack;
let psb: Awaited<ReturnType<typeof createDepartmentDatabase>>;
let steward: string;
/** the tests that publish thousands of rows, or dead letters, use a copy of the dataset of their own */
let PRIVATE: string;

beforeAll(async () => {
  stack = await startConnectTestStack('pgsrc');
  PRIVATE = await stack.privateResidents();
  psb = await createDepartmentDatabase('psb');
  await stack.allowDatabase('psb', psb.url);
  steward = await stack.key('psb', 'steward');
});
afterAll(async () => {
  await psb?.drop();
  await stack?.close();
});

/** The psb's own residents table: columns named as the dataset's fields, plus its own bookkeeping columns. */
async function createResidentsTable(db: pg.Client, table: string): Promise<void> {
  await db.query(`CREATE TABLE ${table} (
    row_id             bigserial PRIMARY KEY,
    id_number          varchar(18) NOT NULL,
    name               text NOT NULL,
    gender             text NOT NULL,
    ethnicity          text,
    birth_date         date NOT NULL,
    household_district char(6) NOT NULL,
    address            text NOT NULL,
    phone              text,
    marital_status     text,
    updated_at         timestamptz NOT NULL,
    internal_note      text
  )`);
}

async function insertRows(db: pg.Client, table: string, rows: SampleRecord[], updatedAt?: (i: number) => string): Promise<void> {
  for (const [i, r] of rows.entries()) {
    await db.query(
      `INSERT INTO ${table} (id_number, name, gender, ethnicity, birth_date, household_district, address, phone, marital_status, updated_at, internal_note)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'not for sharing')`,
      [r.id_number, r.name, r.gender, r.ethnicity, r.birth_date, r.household_district, r.address, r.phone, r.marital_status, updatedAt ? updatedAt(i) : r.updated_at],
    );
  }
}

function uniqueResidents(count: number, seed: number, taken = new Set<string>()): SampleRecord[] {
  const out: SampleRecord[] = [];
  for (const r of generateSample(DATASET, count * 2, seed)) {
    if (out.length === count) break;
    if (taken.has(r.id_number as string)) continue;
    taken.add(r.id_number as string);
    out.push(r);
  }
  return out;
}

const withBadCheckDigit = (r: SampleRecord): SampleRecord => {
  const id = r.id_number as string;
  return { ...r, id_number: `${id.slice(0, 17)}${id.endsWith('0') ? '1' : '0'}` };
};

const sourceConfig = (table: string, extra: Record<string, string> = {}) => ({
  'connector.class': 'postgres-source',
  'connection.url': psb.url,
  'table.include.list': table,
  dataset: DATASET,
  mode: 'timestamp+incrementing',
  'timestamp.column.name': 'updated_at',
  'incrementing.column.name': 'row_id',
  'poll.interval.ms': '100',
  'batch.max.rows': '25',
  ...extra,
});

const fromConnector = (name: string) => (m: ReadMessage) => m.headers['govx-trace-id']?.startsWith(`connect-${name}-`);

describe('the postgres-source connector', () => {
  it('publishes every row exactly once through the governed path and resumes from its stored offset after a restart', async () => {
    const mark = await topicEnd(stack.kafka, TOPIC);
    const name = `${stack.prefix}residents`;
    const table = 'public.residents';
    await createResidentsTable(psb.client, table);
    const taken = new Set<string>();
    const first = uniqueResidents(120, 101, taken);
    // Many rows share a timestamp, so batches end in the middle of a tie and the row id must break it.
    const shared = ['2025-03-01T08:00:00.000Z', '2025-03-01T08:00:00.000Z', '2025-03-02T09:30:00.250Z'];
    await insertRows(psb.client, table, first, (i) => shared[Math.floor((i * shared.length) / first.length)]!);

    expect((await stack.api('POST', '/v1/connectors', { name, config: sourceConfig(table) }, steward)).status).toBe(201);
    const worker1 = await stack.startWorker();
    try {
      await stack.waitForStatus(name, (s) => s.records.out === 120);
    } finally {
      await worker1.close();
    }
    const { rows: offsets } = await stack.pool.query('SELECT partition, position FROM connector_offsets WHERE name = $1', [name]);
    expect(offsets).toEqual([{ partition: table, position: { timestamp: '2025-03-02 09:30:00.25+00', id: '120' } }]);

    // While no worker runs: more rows, some tied with the last published timestamp.
    const second = uniqueResidents(80, 202, taken);
    await insertRows(psb.client, table, second, (i) => (i < 10 ? '2025-03-02T09:30:00.250Z' : '2025-03-03T10:00:00.000Z'));
    const worker2 = await stack.startWorker();
    let status: any;
    try {
      status = await stack.waitForStatus(name, (s) => s.records.out === 200);
    } finally {
      await worker2.close();
    }
    // Read 200 rows in total across both workers: nothing was read twice.
    expect(status.records).toEqual({ in: 200, out: 200, deadLettered: 0 });

    const mine = (await readTopicFrom(stack.kafka, TOPIC, mark, (got) => got.filter(fromConnector(name)).length >= 200, 60_000)).filter(fromConnector(name));
    const keys = mine.map((m) => String(m.key));
    expect(new Set(keys).size).toBe(200);
    expect(new Set(keys)).toEqual(new Set([...first, ...second].map((r) => r.id_number as string)));
    expect(new Set(mine.map((m) => m.headers['govx-publisher']))).toEqual(new Set(['psb']));

    // Values are the dataset's natural form: a date stays a date, the timestamp is the row's instant.
    const { rows: schemaRows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [mine[0]!.value!.readInt32BE(1)]);
    const type = compileNaturalType(JSON.parse(schemaRows[0].schema));
    const decoded = mine.map((m) => type.fromBuffer(m.value!.subarray(5)) as Record<string, unknown>);
    const original = first[0]!;
    expect(decoded.find((d) => d.id_number === original.id_number)).toEqual({ ...original, updated_at: '2025-03-01T08:00:00.000Z' });
    expect(decoded.some((d) => 'internal_note' in d || 'row_id' in d)).toBe(false);

    // The publishes are on the audit trail as the department's connector.
    const audit = await stack.pool.query(`SELECT sum((details->>'accepted')::int) AS n FROM audit_log WHERE action = 'publish.batch' AND actor_key_id = $1`, [`connector:${name}`]);
    expect(Number(audit.rows[0].n)).toBe(200);
  });

  it("converts a department's column types to the dataset's natural values: numeric to decimal strings, dates, timestamps", async () => {
    const entities = generateSample('legal-entity.registry', 6, 808);
    const amr = await createDepartmentDatabase('amr');
    try {
      await amr.client.query(`CREATE TABLE entities (
        uscc char(18) PRIMARY KEY, name text, entity_type text, legal_representative text, registered_capital numeric(18, 2),
        currency char(3), established_date date, registration_authority text, district text, address text, business_scope text,
        status text, updated_at timestamp(3) without time zone)`);
      const columns = Object.keys(entities[0]!);
      for (const e of entities) {
        await amr.client.query(
          `INSERT INTO entities (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          columns.map((c) => (c === 'updated_at' ? String(e[c]).replace('Z', '') : e[c])),
        );
      }
      const mark = await topicEnd(stack.kafka, 'govx.dataset.legal-entity.registry');
      await stack.allowDatabase('amr', amr.url);
      const name = `${stack.prefix}amr-entities`;
      const config = {
        'connector.class': 'postgres-source',
        'connection.url': amr.url,
        'table.include.list': 'entities',
        dataset: 'legal-entity.registry',
        mode: 'timestamp',
        'timestamp.column.name': 'updated_at',
        'poll.interval.ms': '100',
      };
      expect((await stack.api('POST', '/v1/connectors', { name, config }, await stack.key('amr', 'steward'))).status).toBe(201);
      const worker = await stack.startWorker();
      try {
        const status = await stack.waitForStatus(name, (s) => s.records.out + s.records.deadLettered === 6 || s.connector.state === 'FAILED');
        expect(status.records).toEqual({ in: 6, out: 6, deadLettered: 0 });
      } finally {
        await worker.close();
        await stack.api('DELETE', `/v1/connectors/${name}`);
      }
      const mine = (await readTopicFrom(stack.kafka, 'govx.dataset.legal-entity.registry', mark, (got) => got.filter(fromConnector(name)).length >= 6)).filter(
        fromConnector(name),
      );
      const { rows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [mine[0]!.value!.readInt32BE(1)]);
      const type = compileNaturalType(JSON.parse(rows[0].schema));
      const decoded = mine.map((m) => type.fromBuffer(m.value!.subarray(5)) as Record<string, unknown>);
      expect(new Set(decoded.map((d) => JSON.stringify(d)))).toEqual(new Set(entities.map((e) => JSON.stringify(e))));
      expect(entities.some((e) => typeof e.registered_capital === 'string')).toBe(true);
    } finally {
      await amr.drop();
    }
  });

  it('hands a table over from a worker stopped mid-stream to the next one without losing or repeating a row', async () => {
    const mark: TopicPosition = [];
    const name = `${stack.prefix}handover`;
    const table = 'public.residents_handover';
    await createResidentsTable(psb.client, table);
    const rows = uniqueResidents(2000, 505);
    const columns = ['id_number', 'name', 'gender', 'ethnicity', 'birth_date', 'household_district', 'address', 'phone', 'marital_status', 'updated_at'];
    const casts: Record<string, string> = { birth_date: '::date', updated_at: '::timestamptz' };
    await psb.client.query(
      `INSERT INTO ${table} (${columns.join(', ')})
       SELECT ${columns.map((c) => `${c}${casts[c] ?? ''}`).join(', ')}
       FROM unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS t(${columns.join(', ')})`,
      columns.map((c) => rows.map((r) => (r[c] === null || r[c] === undefined ? null : String(r[c])))),
    );
    expect((await stack.api('POST', '/v1/connectors', { name, config: sourceConfig(table, { dataset: PRIVATE, 'batch.max.rows': '10', 'poll.interval.ms': '50' }) }, steward)).status).toBe(
      201,
    );
    const worker1 = await stack.startWorker();
    let atStop: any;
    try {
      atStop = await stack.waitForStatus(name, (s) => s.records.out >= 100);
    } finally {
      await worker1.close();
    }
    const worker2 = await stack.startWorker();
    let status: any;
    try {
      status = await stack.waitForStatus(name, (s) => s.records.out === 2000, 120_000);
    } finally {
      await worker2.close();
    }
    expect(atStop.records.out).toBeLessThan(2000);
    expect(status.records).toEqual({ in: 2000, out: 2000, deadLettered: 0 });
    const mine = (await readTopicFrom(stack.kafka, `govx.dataset.${PRIVATE}`, mark, (got) => got.filter(fromConnector(name)).length >= 2000, 90_000)).filter(
      fromConnector(name),
    );
    expect(new Set(mine.map((m) => String(m.key)))).toEqual(new Set(rows.map((r) => r.id_number as string)));
    expect(mine).toHaveLength(2000);
  });

  it('after a worker process is killed mid-stream, a new one re-sends at most the batch in flight and loses nothing', async () => {
    ensureBuilt();
    const name = `${stack.prefix}killed`;
    const table = 'public.residents_killed';
    await createResidentsTable(psb.client, table);
    const rows = uniqueResidents(1500, 909);
    for (let i = 0; i < rows.length; i += 500) await insertRows(psb.client, table, rows.slice(i, i + 500), () => '2025-07-01T00:00:00.000Z');
    expect((await stack.api('POST', '/v1/connectors', { name, config: sourceConfig(table, { dataset: PRIVATE, 'batch.max.rows': '10', 'poll.interval.ms': '50' }) }, steward)).status).toBe(
      201,
    );
    const first = spawnWorker(stack.env, `${stack.prefix}killed`);
    let atKill: any;
    try {
      atKill = await stack.waitForStatus(name, (s) => s.records.out >= 100);
    } finally {
      await killWorker(first);
    }
    expect(atKill.records.out).toBeLessThan(1500);
    const second = await stack.startWorker();
    try {
      // Counts of a killed worker's last round are lost with it, so the stored offset tells when it is done.
      await eventually('the offset to reach the last row', async () => {
        const { rows: offsets } = await stack.pool.query('SELECT position FROM connector_offsets WHERE name = $1', [name]);
        return offsets[0]?.position.id === '1500';
      }, 120_000);
    } finally {
      await second.close();
    }
    // Everything on the (test-private) topic, to its current end, so that duplicates are counted too.
    const end = await topicEnd(stack.kafka, `govx.dataset.${PRIVATE}`);
    const total = end.reduce((sum, p) => sum + Number(p.offset), 0);
    const all = (await readTopicFrom(stack.kafka, `govx.dataset.${PRIVATE}`, [], (got) => got.length >= total, 90_000)).filter(fromConnector(name));
    expect(new Set(all.map((m) => String(m.key)))).toEqual(new Set(rows.map((r) => r.id_number as string)));
    // The kill can fall between a batch's acks and its offset write: that one batch (10 rows) comes again.
    expect(all.length - 1500).toBeLessThanOrEqual(10);
  });

  it('runs a source on exactly one of two workers, and on the other once the first stops', async () => {
    const name = `${stack.prefix}one-owner`;
    const table = 'public.residents_owner';
    await createResidentsTable(psb.client, table);
    await insertRows(psb.client, table, uniqueResidents(3, 606), () => '2025-05-01T00:00:00.000Z');
    const [a, b] = await Promise.all([stack.startWorker(), stack.startWorker()]);
    try {
      expect((await stack.api('POST', '/v1/connectors', { name, config: sourceConfig(table, { dataset: PRIVATE }) }, steward)).status).toBe(201);
      await stack.waitForStatus(name, (s) => s.connector.state === 'RUNNING' && s.records.out === 3);
      const owners = [a, b].filter((w) => w.running().includes(name));
      expect(owners).toHaveLength(1);
      const [owner, other] = owners[0] === a ? [a, b] : [b, a];
      const status = await stack.waitForStatus(name, () => true);
      expect(status.connector.worker_id).toBe(owner.workerId);
      await owner.close();
      await stack.waitForStatus(name, (s) => s.connector.state === 'RUNNING' && s.connector.worker_id === other.workerId);
      await insertRows(psb.client, table, uniqueResidents(2, 607), () => '2025-06-01T00:00:00.000Z');
      const after = await stack.waitForStatus(name, (s) => s.records.out === 5);
      expect(after.records.in).toBe(5);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('sends a row the publish path rejects to the dead-letter topic with errors.tolerance=all, and publishes the others', async () => {
    const mark: TopicPosition = [];
    const name = `${stack.prefix}tolerant`;
    const table = 'public.residents_tolerant';
    await createResidentsTable(psb.client, table);
    const rows = uniqueResidents(5, 303);
    rows[2] = withBadCheckDigit(rows[2]!);
    await insertRows(psb.client, table, rows);
    const config = sourceConfig(table, { dataset: PRIVATE, mode: 'timestamp', 'errors.tolerance': 'all' });
    delete (config as Record<string, string>)['incrementing.column.name'];
    expect((await stack.api('POST', '/v1/connectors', { name, config }, steward)).status).toBe(201);
    const worker = await stack.startWorker();
    try {
      const status = await stack.waitForStatus(name, (s) => s.records.out + s.records.deadLettered === 5);
      expect(status.records).toEqual({ in: 5, out: 4, deadLettered: 1 });
      expect(status.connector.state).toBe('RUNNING');
    } finally {
      await worker.close();
    }
    const dead = (await readTopicFrom(stack.kafka, `govx.dlq.${PRIVATE}`, mark, (got) => got.some((m) => m.headers['govx-connector'] === name), 60_000)).filter(
      (m) => m.headers['govx-connector'] === name,
    );
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers).toMatchObject({ 'govx-dataset': PRIVATE, 'govx-error-class': 'validation' });
    expect(dead[0]!.headers['govx-error-message']).toContain('id_number');
    expect(dead[0]!.headers['govx-source']).toContain(table);
    expect(JSON.parse(dead[0]!.value!.toString()).id_number).toBe(rows[2]!.id_number);
    expect(String(dead[0]!.key)).toBe(rows[2]!.id_number);
  });

  it('FAILS with errors.tolerance=none naming the row, publishes only the rows before it, and resumes at it once fixed', async () => {
    const mark: TopicPosition = [];
    const name = `${stack.prefix}strict`;
    const table = 'public.residents_strict';
    await createResidentsTable(psb.client, table);
    const rows = uniqueResidents(5, 404);
    const good = rows[2]!;
    rows[2] = withBadCheckDigit(good);
    await insertRows(psb.client, table, rows, (i) => `2025-04-0${i + 1}T00:00:00.000Z`);
    expect((await stack.api('POST', '/v1/connectors', { name, config: sourceConfig(table, { dataset: PRIVATE }) }, steward)).status).toBe(201);
    const worker = await stack.startWorker();
    try {
      const failed = await stack.waitForStatus(name, (s) => s.connector.state === 'FAILED');
      expect(failed.records.out).toBe(2);
      expect(failed.connector.trace).toContain('id_number');
      // the row by its place, the field by its name and the rule it broke; never a column value
      expect(failed.connector.trace).toContain(`${table} (row 3 of a batch)`);
      expect(failed.connector.trace).not.toMatch(/2025-04-03|expected \d/);
      expect(worker.running()).not.toContain(name);

      await psb.client.query(`UPDATE ${table} SET id_number = $1 WHERE row_id = 3`, [good.id_number]);
      expect((await stack.api('PUT', `/v1/connectors/${name}/resume`, undefined, steward)).status).toBe(202);
      const resumed = await stack.waitForStatus(name, (s) => s.connector.state === 'RUNNING' && s.records.out === 5);
      // Read: the failing batch of 5, then again from the fixed row on (3); published: 2 before, 3 after.
      expect(resumed.records.in).toBe(5 + 3);
    } finally {
      await worker.close();
    }
    const mine = (await readTopicFrom(stack.kafka, `govx.dataset.${PRIVATE}`, mark, (got) => got.filter(fromConnector(name)).length >= 5, 60_000)).filter(
      fromConnector(name),
    );
    expect(mine.map((m) => String(m.key)).sort()).toEqual(rows.map((r, i) => (i === 2 ? good.id_number : r.id_number) as string).sort());
  });
});
