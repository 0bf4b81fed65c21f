import type pg from 'pg';
import { generateSample, type SampleRecord } from '../../../schemas/samples';
import { type ConnectTestStack, createDepartmentDatabase, ensureBuilt, eventually, killWorker, spawnWorker, startConnectTestStack } from './connectSupport';

jest.setTimeout(240_000);

/**
 * A department's table → postgres-source → the governed publish path → the distributor → the consumer's share
 * topic → postgres-sink → a table in the consumer's own database, with the worker killed mid-stream.
 */

let stack: ConnectTestStack;
const keys: Record<string, string> = {};
const cleanup: Array<() => Promise<void>> = [];
const inOneYear = () => new Date(Date.now() + 365 * 86_400_000).toISOString();

beforeAll(async () => {
  ensureBuilt();
  stack = await startConnectTestStack('e2e');
  keys.psbSteward = await stack.key('psb', 'steward');
  keys.planningSteward = await stack.key('planning', 'steward');
  keys.civilConsumer = await stack.key('civil-affairs', 'consumer');
  keys.civilSteward = await stack.key('civil-affairs', 'steward');
  keys.haidianConsumer = await stack.key('haidian', 'consumer');
  keys.haidianSteward = await stack.key('haidian', 'steward');
});
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await stack?.close();
});

function uniqueBy(records: SampleRecord[], key: string, count: number): SampleRecord[] {
  const seen = new Set<unknown>();
  return records.filter((r) => !seen.has(r[key]) && seen.add(r[key])).slice(0, count);
}

async function subscribe(dataset: string, consumerKey: string, fields: string[], approverKey?: string): Promise<string> {
  const req = await stack.api('POST', '/v1/subscriptions', { dataset, fields, purpose: '端到端测试', expiresAt: inOneYear(), startFrom: 'earliest' }, consumerKey);
  expect(req.status).toBe(201);
  if (approverKey) {
    const approved = await stack.api('POST', `/v1/subscriptions/${req.body.id}/approve`, {}, approverKey);
    expect(approved.body.status).toBe('approved');
  } else {
    expect(req.body.status).toBe('approved');
  }
  stack.dropTopicsOnClose(`govx.share.${req.body.id}`);
  return req.body.id;
}

async function count(db: pg.Client, table: string): Promise<number> {
  const exists = await db.query('SELECT to_regclass($1) AS t', [table]);
  if (!exists.rows[0].t) return 0;
  return Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
}

describe('from a psb table to a civil-affairs table', () => {
  it('holds exactly the approved, masked columns for every source row, each once, across a worker crash', async () => {
    const dataset = await stack.privateResidents();
    const sub = await subscribe(dataset, keys.civilConsumer, ['name', 'birth_date', 'household_district'], keys.psbSteward);

    const psb = await createDepartmentDatabase('psb');
    cleanup.push(psb.drop);
    const civil = await createDepartmentDatabase('civil');
    cleanup.push(civil.drop);
    await stack.allowDatabase('psb', psb.url);
    await stack.allowDatabase('civil-affairs', civil.url);
    await psb.client.query(`CREATE TABLE residents (
      row_id bigserial PRIMARY KEY, id_number varchar(18) NOT NULL, name text NOT NULL, gender text NOT NULL, ethnicity text,
      birth_date date NOT NULL, household_district char(6) NOT NULL, address text NOT NULL, phone text, marital_status text,
      updated_at timestamptz NOT NULL)`);
    const rows = uniqueBy(generateSample('population.residents', 900, 31337), 'id_number', 800);
    for (const r of rows) {
      await psb.client.query(
        `INSERT INTO residents (id_number, name, gender, ethnicity, birth_date, household_district, address, phone, marital_status, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [r.id_number, r.name, r.gender, r.ethnicity, r.birth_date, r.household_district, r.address, r.phone, r.marital_status, r.updated_at],
      );
    }

    const source = `${stack.prefix}psb-residents`;
    const sink = `${stack.prefix}civil-residents`;
    const created = await stack.api('POST', '/v1/connectors', {
      name: source,
      config: {
        'connector.class': 'postgres-source', 'connection.url': psb.url, 'table.include.list': 'public.residents', dataset,
        mode: 'timestamp+incrementing', 'timestamp.column.name': 'updated_at', 'incrementing.column.name': 'row_id', 'poll.interval.ms': '100', 'batch.max.rows': '20',
      },
    }, keys.psbSteward);
    expect(created.status).toBe(201);
    // another department cannot attach a sink to civil affairs' subscription
    const stranger = await stack.api('POST', '/v1/connectors', {
      name: `${stack.prefix}stolen`, config: { 'connector.class': 'postgres-sink', subscription: sub, 'connection.url': civil.url },
    }, keys.haidianSteward);
    expect(stranger.status).toBe(400);
    expect(stranger.body.error.code).toBe('connector.invalid_config');
    const sinkCreated = await stack.api('POST', '/v1/connectors', {
      name: sink,
      config: { 'connector.class': 'postgres-sink', subscription: sub, 'connection.url': civil.url, 'table.name.format': 'elderly_subsidy.residents', 'batch.max.rows': '15' },
    }, keys.civilSteward);
    expect(sinkCreated.status).toBe(201);

    const env = { ...stack.env, GOVX_DISTRIBUTOR: 'false' };
    let worker = spawnWorker(env, stack.prefix);
    try {
      // kill the worker while rows are still flowing, then start a new one
      await eventually('the first rows in the consumer table', async () => (await count(civil.client, 'elderly_subsidy.residents')) > 0, 90_000);
      const atCrash = await count(civil.client, 'elderly_subsidy.residents');
      await killWorker(worker);
      expect(atCrash).toBeLessThan(rows.length);
      worker = spawnWorker(env, stack.prefix);
      await eventually('every row in the consumer table', async () => (await count(civil.client, 'elderly_subsidy.residents')) >= rows.length, 150_000);
      await eventually('sink receipts for every row', async () => {
        const { rows: got } = await stack.pool.query(
          `SELECT coalesce(sum((details->>'count')::int), 0)::int AS n FROM audit_log WHERE action = 'delivery.receipt' AND target = $1 AND details->>'channel' = 'sink'`,
          [`subscription:${sub}`],
        );
        return got[0].n >= rows.length;
      });
    } finally {
      await killWorker(worker);
    }

    const { rows: columns } = await civil.client.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'elderly_subsidy' AND table_name = 'residents' AND column_name NOT LIKE '\\_govx\\_%' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => c.column_name)).toEqual(['name', 'birth_date', 'household_district']);
    const { rows: stored } = await civil.client.query(
      `SELECT _govx_key, name, to_char(birth_date, 'YYYY-MM-DD') AS birth_date, household_district, _govx_subscription FROM elderly_subsidy.residents`,
    );
    expect(stored).toHaveLength(rows.length);
    expect(new Set(stored.map((r) => r._govx_key)).size).toBe(rows.length);
    expect(stored.every((r) => r._govx_subscription === sub && (r.name as string).includes('*'))).toBe(true);
    const expected = rows.map((r) => `${r.birth_date}|${r.household_district}`).sort();
    expect(stored.map((r) => `${r.birth_date}|${r.household_district}`).sort()).toEqual(expected);
    // no ID number reached the consumer's database, not even as the key
    const everything = JSON.stringify(stored);
    expect(rows.some((r) => everything.includes(r.id_number as string))).toBe(false);
    // every row written is on the audit trail as a sink receipt; the crash may repeat a range, never miss one
    const { rows: receipts } = await stack.pool.query(
      `SELECT details FROM audit_log WHERE action = 'delivery.receipt' AND target = $1 AND details->>'channel' = 'sink'`,
      [`subscription:${sub}`],
    );
    const covered = new Set<string>();
    for (const { details: d } of receipts) for (let o = Number(d.fromOffset); o <= Number(d.toOffset); o++) covered.add(`${d.partition}:${o}`);
    expect(covered.size).toBeGreaterThanOrEqual(rows.length);
    expect(receipts.every((r) => String(r.details.connector).startsWith(stack.prefix))).toBe(true);
  });
});

describe('from planning to a district PostGIS table', () => {
  it('writes building footprints as geometries PostGIS accepts', async () => {
    const dataset = await stack.privateCopy('geospatial.buildings');
    const sub = await subscribe(dataset, keys.haidianConsumer, ['feature_id', 'use', 'floors', 'geometry']);
    const planning = await createDepartmentDatabase('planning');
    cleanup.push(planning.drop);
    const haidian = await createDepartmentDatabase('haidian');
    cleanup.push(haidian.drop);
    await stack.allowDatabase('planning', planning.url);
    await stack.allowDatabase('haidian', haidian.url);
    await planning.client.query(`CREATE TABLE buildings (
      feature_id text PRIMARY KEY, name text, district char(6) NOT NULL, use text NOT NULL, floors integer NOT NULL, height_m double precision,
      built_year integer, geometry text NOT NULL, updated_at timestamptz NOT NULL)`);
    const buildings = uniqueBy(generateSample('geospatial.buildings', 250, 4711), 'feature_id', 200);
    for (const b of buildings) {
      await planning.client.query(
        'INSERT INTO buildings (feature_id, name, district, use, floors, height_m, built_year, geometry, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
        [b.feature_id, b.name, b.district, b.use, b.floors, b.height_m, b.built_year, b.geometry, b.updated_at],
      );
    }
    expect((await stack.api('POST', '/v1/connectors', {
      name: `${stack.prefix}planning-buildings`,
      config: { 'connector.class': 'postgres-source', 'connection.url': planning.url, 'table.include.list': 'buildings', dataset, mode: 'timestamp', 'timestamp.column.name': 'updated_at', 'poll.interval.ms': '100' },
    }, keys.planningSteward)).status).toBe(201);
    expect((await stack.api('POST', '/v1/connectors', {
      name: `${stack.prefix}haidian-buildings`,
      config: { 'connector.class': 'postgres-sink', subscription: sub, 'connection.url': haidian.url, 'table.name.format': 'buildings' },
    }, keys.haidianSteward)).status).toBe(201);

    const worker = await stack.startWorker();
    try {
      await eventually('every building in the district table', async () => (await count(haidian.client, 'buildings')) >= buildings.length, 120_000);
      await eventually('the sink receipts of every building', async () => {
        const { rows } = await stack.pool.query(
          `SELECT coalesce(sum((details->>'count')::int), 0)::int AS n FROM audit_log WHERE action = 'delivery.receipt' AND target = $1 AND details->>'channel' = 'sink'`,
          [`subscription:${sub}`],
        );
        return rows[0].n >= buildings.length;
      });
    } finally {
      await worker.close();
    }
    const { rows } = await haidian.client.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE ST_IsValid(geometry) AND ST_SRID(geometry) = 4326 AND GeometryType(geometry) IN ('POLYGON', 'MULTIPOLYGON'))::int AS valid,
              count(DISTINCT feature_id)::int AS ids FROM buildings`,
    );
    expect(rows[0]).toEqual({ n: buildings.length, valid: buildings.length, ids: buildings.length });
    // each batch the sink committed is a receipt: haidian received these records through this connector
    const { rows: receipts } = await stack.pool.query(
      `SELECT actor_department, details FROM audit_log WHERE action = 'delivery.receipt' AND target = $1 AND details->>'channel' = 'sink'`,
      [`subscription:${sub}`],
    );
    expect(receipts.reduce((n, r) => n + r.details.count, 0)).toBe(buildings.length);
    expect(receipts.every((r) => r.actor_department === 'haidian' && r.details.connector === `${stack.prefix}haidian-buildings` && r.details.consumer === 'haidian')).toBe(true);
    // the footprint is the one planning published, point for point
    const one = buildings[0]!;
    const { rows: same } = await haidian.client.query('SELECT ST_Equals(geometry, ST_SetSRID(ST_GeomFromGeoJSON($2), 4326)) AS eq FROM buildings WHERE feature_id = $1', [one.feature_id, one.geometry]);
    expect(same[0].eq).toBe(true);
  });
});

describe('to a tax webhook', () => {
  it('delivers signed batches to an endpoint an administrator allowed, and refuses one the department allowed itself or that lies elsewhere', async () => {
    const { createServer } = await import('node:http');
    const { signature } = await import('../../../connectors/httpSink/httpSink');
    const got: Array<{ key: string; value: Record<string, unknown> }> = [];
    let badSignatures = 0;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const m = /^t=(\d+),v1=([0-9a-f]+)$/.exec(String(req.headers['x-govx-signature']));
        if (!m || signature('tax-webhook-secret', m[1]!, body) !== m[2]) badSignatures++;
        else for (const r of JSON.parse(body).records) got.push({ key: r.key, value: r.value });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    const port = (server.address() as { port: number }).port;

    const dataset = await stack.privateCopy('legal-entity.registry');
    const taxConsumer = await stack.key('tax', 'consumer');
    const taxSteward = await stack.key('tax', 'steward');
    const sub = await subscribe(dataset, taxConsumer, ['uscc', 'name', 'status']);
    const hook = `${stack.prefix}tax-hook`;
    const internal = `${stack.prefix}tax-hook-internal`;
    const base = { 'connector.class': 'http-sink', subscription: sub, 'hmac.secret': 'tax-webhook-secret', 'http.url': `http://127.0.0.1:${port}/govx` };
    // the department's own config grants nothing; an administrator's allowance does
    const selfGranted = await stack.api('POST', '/v1/connectors', { name: hook, config: { ...base, 'http.allow.private': 'true' } }, taxSteward);
    expect([selfGranted.status, selfGranted.body.error.details.errors[0].key]).toEqual([400, 'http.allow.private']);
    const notYet = await stack.api('POST', '/v1/connectors', { name: hook, config: base }, taxSteward);
    expect([notYet.status, notYet.body.error.code]).toEqual([400, 'connector.target_not_allowed']);
    await stack.allowTargets('tax', { webhookHosts: ['127.0.0.1/32'], allowPrivateWebhooks: true });
    expect((await stack.api('POST', '/v1/connectors', { name: hook, config: base }, taxSteward)).status).toBe(201);
    const elsewhere = await stack.api('POST', '/v1/connectors', { name: internal, config: { ...base, 'http.url': `http://127.0.0.2:${port}/govx` } }, taxSteward);
    expect([elsewhere.status, elsewhere.body.error.code]).toEqual([400, 'connector.target_not_allowed']);
    const shown = await stack.api('GET', `/v1/connectors/${hook}`, undefined, taxSteward);
    expect(JSON.stringify(shown.body)).not.toContain('tax-webhook-secret');

    const amrPublisher = await stack.key('amr', 'publisher');
    const entities = generateSample('legal-entity.registry', 30, 99);
    const published = await stack.api('POST', `/v1/datasets/${dataset}/records`, { records: entities }, amrPublisher);
    expect(published.body.accepted).toBe(30);

    const worker = await stack.startWorker();
    try {
      await eventually('30 records at the webhook', async () => got.length >= 30, 90_000);
    } finally {
      await worker.close();
    }
    expect(badSignatures).toBe(0);
    expect(new Set(got.map((g) => g.value.uscc)).size).toBe(new Set(entities.map((e) => e.uscc)).size);
    expect(Object.keys(got[0]!.value).sort()).toEqual(['name', 'status', 'uscc']);
  });
});
