import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { getSubscription } from '../../catalog/subscriptions';
import { ShareDistributor } from '../../distributor/shareDistributor';
import { kafkajsPort } from '../../lib/kafkaPort';
import { openKeyring } from '../../lib/keyring';
import { createLogger } from '../../lib/logger';
import { compileNaturalType } from '../../schemas/codec';
import { generateSample } from '../../schemas/samples';
import { httpJson, readTopicUntil, type ReadMessage, startTestStack, type TestStack } from '../support/stack';

const RESIDENTS = 'population.residents';
let stack: TestStack;
const keys: Record<string, string> = {};

beforeAll(async () => {
  stack = await startTestStack();
  for (const [name, dept, role] of [
    ['civil', 'civil-affairs', 'consumer'],
    ['haidian', 'haidian', 'consumer'],
    ['tax', 'tax', 'consumer'],
    ['statistics', 'statistics', 'consumer'],
    ['psbSteward', 'psb', 'steward'],
    ['psbPublisher', 'psb', 'publisher'],
    ['amrSteward', 'amr', 'steward'],
    ['statisticsSteward', 'statistics', 'steward'],
    ['statisticsPublisher', 'statistics', 'publisher'],
    ['admin', 'info-office', 'admin'],
  ] as const) {
    keys[name] = await stack.key(dept, role);
  }
});
afterAll(async () => {
  await stack?.close();
});

const api = (path: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${stack.url}${path}`, init);
const inOneYear = () => new Date(Date.now() + 365 * 86_400_000).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function decodeShare(m: ReadMessage): Promise<Record<string, unknown>> {
  const schemaId = m.value!.readInt32BE(1);
  const { rows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [schemaId]);
  return compileNaturalType(JSON.parse(rows[0].schema)).fromBuffer(m.value!.subarray(5)) as Record<string, unknown>;
}

async function topicSize(topic: string): Promise<number> {
  const admin = stack.kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

async function publish(dataset: string, records: unknown[], key: string) {
  const res = await api(`/v1/datasets/${dataset}/records`, { key, body: { records } });
  expect(res.status).toBe(200);
  expect(res.body.rejected).toEqual([]);
  return res;
}

const indicatorSchema = {
  type: 'record',
  name: 'Indicator',
  namespace: 'govx.test',
  fields: [
    { name: 'code', type: 'string' },
    { name: 'value', type: 'double' },
  ],
};
const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ code: `I${from + i}`, value: from + i }));

/** A dataset of this test's own, so no other test's records reach its subscriptions. */
async function createIndicators(id: string): Promise<void> {
  const created = await api('/v1/datasets', {
    key: keys.admin,
    body: {
      id, title: { zh: '测试指标', en: 'Test indicators' }, owner: 'statistics', category: 'macro-economy', abstract: 'For a test.',
      sharing: { type: 'unconditional' }, updateCycle: 'quarterly', keyField: 'code', status: 'active', schema: indicatorSchema, fields: { value: { sensitivity: 1 } },
    },
  });
  expect(created.status).toBe(201);
}

describe('civil affairs asks psb for residents for an elderly subsidy', () => {
  let subId: string;
  let controlId: string;
  let traceId: string;
  const published: Array<Record<string, unknown>> = [];

  it('waits for the owner on a conditional dataset, then delivers exactly the approved fields with name masked', async () => {
    const requested = await api('/v1/subscriptions', {
      key: keys.civil,
      body: {
        dataset: RESIDENTS,
        fields: ['name', 'birth_date', 'household_district'],
        purpose: '高龄津贴发放 (elderly subsidy eligibility)',
        expiresAt: inOneYear(),
        startFrom: 'latest',
      },
    });
    expect(requested.status).toBe(201);
    expect(requested.body).toMatchObject({ dataset: RESIDENTS, consumer: 'civil-affairs', status: 'pending', fields: null });
    subId = requested.body.id;

    // psb decides; another department's steward cannot even see the request
    const stranger = await api(`/v1/subscriptions/${subId}/approve`, { key: keys.amrSteward, body: {} });
    expect(stranger.status).toBe(404);
    const approved = await api(`/v1/subscriptions/${subId}/approve`, { key: keys.psbSteward, body: {} });
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');
    expect(approved.body.fields).toEqual([
      { name: 'name', delivery: 'partial' },
      { name: 'birth_date', delivery: 'clear' },
      { name: 'household_district', delivery: 'clear' },
    ]);

    // a control subscription that stays live, so later we know the distributor has moved on
    const control = await api('/v1/subscriptions', {
      key: keys.haidian,
      body: { dataset: RESIDENTS, fields: ['household_district'], purpose: '辖区人口统计', expiresAt: inOneYear(), startFrom: 'latest' },
    });
    controlId = control.body.id;
    expect((await api(`/v1/subscriptions/${controlId}/approve`, { key: keys.psbSteward, body: {} })).body.status).toBe('approved');

    const records = generateSample(RESIDENTS, 5, 4242);
    published.push(...records);
    const sent = await publish(RESIDENTS, records, keys.psbPublisher);
    // other tests publish residents at the same time: ours are the records of our request
    traceId = sent.headers.get('x-request-id')!;
    const ours = (m: ReadMessage[]) => m.filter((x) => x.headers['govx-trace-id'] === traceId);

    const got = ours(await readTopicUntil(stack.kafka, approved.body.topic, (m) => ours(m).length >= 5));
    expect(got).toHaveLength(5);
    const names = new Map(records.map((r) => [r.birth_date as string, r]));
    for (const m of got) {
      const value = await decodeShare(m);
      expect(Object.keys(value).sort()).toEqual(['birth_date', 'household_district', 'name']);
      expect(m.headers['govx-subscription']).toBe(subId);
      expect(m.headers['govx-dataset']).toBe(RESIDENTS);
      const original = records.find((r) => r.birth_date === value.birth_date && r.household_district === value.household_district) ?? names.get(value.birth_date as string)!;
      const name = original.name as string;
      expect(value.name).not.toBe(name);
      expect(Array.from(value.name as string)).toHaveLength(Array.from(name).length);
      expect((value.name as string).startsWith(Array.from(name)[0]!)).toBe(true);
      expect(value.name).toContain('*');
    }
    // The raw bytes (keys, values, headers) of the share topic never hold an ID number that was published.
    for (const m of got) {
      const raw = Buffer.concat([m.key ?? Buffer.alloc(0), m.value ?? Buffer.alloc(0), Buffer.from(JSON.stringify(m.headers))]).toString('latin1');
      for (const r of records) expect(raw.includes(r.id_number as string)).toBe(false);
    }
    // keys are pseudonymized, stably: five distinct residents, five distinct keys
    expect(new Set(got.map((m) => String(m.key))).size).toBe(5);
  });

  it('is read by an ordinary Confluent client with govx as its schema registry, as the README shows', async () => {
    const sub = (await api(`/v1/subscriptions/${subId}`, { key: keys.civil })).body;
    const registry = new SchemaRegistry({ host: `${stack.url}/registry`, auth: { username: 'civil-affairs', password: keys.civil } });
    const [message] = (await readTopicUntil(stack.kafka, sub.topic, (m) => m.some((x) => x.headers['govx-trace-id'] === traceId))).filter(
      (x) => x.headers['govx-trace-id'] === traceId,
    );
    const decoded = (await registry.decode(message!.value!)) as Record<string, unknown>;
    expect(Object.keys(decoded).sort()).toEqual(['birth_date', 'household_district', 'name']);
    expect(published.map((r) => r.household_district)).toContain(decoded.household_district);
  });

  it('registers a derived schema that really lacks the fields that were not granted', async () => {
    const sub = (await api(`/v1/subscriptions/${subId}`, { key: keys.civil })).body;
    const { rows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [sub.derivedSchemaId]);
    const schema = JSON.parse(rows[0].schema);
    expect(schema.fields.map((f: { name: string }) => f.name)).toEqual(['name', 'birth_date', 'household_district']);
    expect(schema.fields[0].type).toBe('string');
    expect(JSON.stringify(schema)).not.toContain('id_number');
  });

  it('never lets another department read, list or guess the subscription', async () => {
    const asHaidian = await api(`/v1/subscriptions/${subId}`, { key: keys.haidian });
    expect(asHaidian.status).toBe(404);
    const guessed = await api('/v1/subscriptions/sub-aaaaaaaaaaaaaaaaaaaa', { key: keys.haidian });
    expect(guessed.status).toBe(404);
    expect(asHaidian.body.error.code).toBe(guessed.body.error.code);
    expect((await api(`/v1/subscriptions/${subId}/records`, { key: keys.haidian })).status).toBe(404);
    expect((await api(`/v1/subscriptions/${subId}/records`, { key: keys.psbSteward })).status).toBe(404);
    const listed = await api('/v1/subscriptions', { key: keys.haidian });
    expect(listed.body.items.map((s: { id: string }) => s.id)).not.toContain(subId);
    expect(listed.body.items.every((s: { consumer: string }) => s.consumer === 'haidian')).toBe(true);
    const ownerList = await api(`/v1/subscriptions?dataset=${RESIDENTS}`, { key: keys.psbSteward });
    expect(ownerList.body.items.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([subId, controlId]));
    expect((await api(`/v1/subscriptions/${subId}/revoke`, { key: keys.haidian, body: {} })).status).toBe(404);
  });

  it('stops delivery after revocation, while other subscriptions go on', async () => {
    const revoked = await api(`/v1/subscriptions/${subId}/revoke`, { key: keys.psbSteward, body: { reason: '用途已完成' } });
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    const before = await topicSize(revoked.body.topic);

    const after = await publish(RESIDENTS, generateSample(RESIDENTS, 3, 9191), keys.psbPublisher);
    const afterTrace = after.headers.get('x-request-id');
    const control = (await api(`/v1/subscriptions/${controlId}`, { key: keys.haidian })).body;
    await readTopicUntil(stack.kafka, control.topic, (m) => m.filter((x) => x.headers['govx-trace-id'] === afterTrace).length >= 3);
    expect(await topicSize(revoked.body.topic)).toBe(before);

    const pull = await api(`/v1/subscriptions/${subId}/records`, { key: keys.civil });
    expect(pull.status).toBe(409);
    expect(pull.body.error.code).toBe('subscription.not_active');
    const { rows } = await stack.pool.query("SELECT action FROM audit_log WHERE target = $1 AND action LIKE 'subscription.%' ORDER BY seq", [`subscription:${subId}`]);
    expect(rows.map((r) => r.action)).toEqual(['subscription.request', 'subscription.approve', 'subscription.revoke']);
  });
});

describe('sharing types', () => {
  it('approves a request for an unconditional dataset at once', async () => {
    const res = await api('/v1/subscriptions', {
      key: keys.tax,
      body: { dataset: 'legal-entity.registry', fields: ['uscc', 'name', 'registered_capital', 'status'], purpose: '税源登记核验', expiresAt: inOneYear() },
    });
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('approved');
    expect(res.body.decidedBy).toBe('policy:unconditional');
    expect(res.body.fields.every((f: { delivery: string }) => f.delivery === 'clear')).toBe(true);
  });

  it("masks the ID number down to its region for a consumer that may receive the birth date", async () => {
    const req = await api('/v1/subscriptions', {
      key: keys.civil,
      body: { dataset: RESIDENTS, fields: ['id_number', 'birth_date', 'gender'], purpose: '救助对象核对', expiresAt: inOneYear(), startFrom: 'latest' },
    });
    expect(req.status).toBe(201);
    const approved = await api(`/v1/subscriptions/${req.body.id}/approve`, { key: keys.psbSteward, body: {} });
    expect(approved.body.fields).toEqual([
      { name: 'id_number', delivery: 'partial', partial: { identifier: 'cn-id-number', keep: ['region'] } },
      { name: 'birth_date', delivery: 'clear' },
      { name: 'gender', delivery: 'clear' },
    ]);
    await api(`/v1/subscriptions/${req.body.id}/revoke`, { key: keys.psbSteward, body: {} });
  });

  it('refuses a request for a dataset that is not shared, citing the legal basis', async () => {
    const res = await api('/v1/subscriptions', {
      key: keys.civil,
      body: { dataset: 'population.criminal-records', fields: ['offence_category'], purpose: '救助审核', expiresAt: inOneYear() },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('subscription.not_shared');
    expect(res.body.error.message).toContain('个人信息保护法');
  });

  it('lets the owner reject only with a reason, and refuses bad requests precisely', async () => {
    const req = await api('/v1/subscriptions', {
      key: keys.statistics,
      body: { dataset: RESIDENTS, fields: ['household_district', 'gender'], purpose: '人口抽样调查', expiresAt: inOneYear() },
    });
    expect(req.body.status).toBe('pending');
    const noReason = await api(`/v1/subscriptions/${req.body.id}/reject`, { key: keys.psbSteward, body: {} });
    expect(noReason.status).toBe(400);
    const rejected = await api(`/v1/subscriptions/${req.body.id}/reject`, { key: keys.psbSteward, body: { reason: '请使用统计局年度汇总数据' } });
    expect(rejected.body).toMatchObject({ status: 'rejected', statusReason: '请使用统计局年度汇总数据' });

    const cases: Array<[unknown, string]> = [
      [{ dataset: RESIDENTS, fields: ['no_such_field'], purpose: 'x', expiresAt: inOneYear() }, 'subscription.unknown_field'],
      [{ dataset: RESIDENTS, fields: ['name'], purpose: 'x', expiresAt: '2001-01-01T00:00:00Z' }, 'subscription.invalid_request'],
      [{ dataset: RESIDENTS, fields: ['name'], expiresAt: inOneYear() }, 'subscription.invalid_request'],
      [{ dataset: RESIDENTS, fields: ['name'], purpose: 'x', expiresAt: inOneYear(), surprise: 1 }, 'subscription.invalid_request'],
      [{ dataset: RESIDENTS, fields: 'name', purpose: 'x', expiresAt: inOneYear() }, 'subscription.invalid_request'],
    ];
    for (const [body, code] of cases) {
      const res = await api('/v1/subscriptions', { key: keys.statistics, body });
      expect([res.status, res.body.error?.code]).toEqual([400, code]);
    }
    const missing = await api('/v1/subscriptions', { key: keys.statistics, body: { dataset: 'no.such', fields: ['a'], purpose: 'x', expiresAt: inOneYear() } });
    expect(missing.status).toBe(404);
    const publisherKey = await api('/v1/subscriptions', { key: keys.psbPublisher, body: { dataset: RESIDENTS, fields: ['name'], purpose: 'x', expiresAt: inOneYear() } });
    expect(publisherKey.status).toBe(403);
  });
});

describe('delivery over HTTP', () => {
  const httpDataset = `test.http-${Date.now().toString(36)}`;
  let httpSub: string;

  beforeAll(async () => {
    await createIndicators(httpDataset);
    const sub = await api('/v1/subscriptions', { key: keys.tax, body: { dataset: httpDataset, fields: ['code', 'value'], purpose: '税源指标', expiresAt: inOneYear(), startFrom: 'latest' } });
    httpSub = sub.body.id;
    await publish(httpDataset, rows(0, 5), keys.statisticsPublisher);
    await readTopicUntil(stack.kafka, sub.body.topic, (m) => m.length >= 5);
  });

  it('delivers over HTTP with a cursor that the consumer commits by passing it back', async () => {
    const positions = (records: Array<{ partition: number; offset: string }>) => records.map((r) => `${r.partition}:${r.offset}`).sort();
    const first = await api(`/v1/subscriptions/${httpSub}/records?limit=10&waitMs=500`, { key: keys.tax });
    expect(first.status).toBe(200);
    expect(first.body.records).toHaveLength(5);
    expect(Object.keys(first.body.records[0].value).sort()).toEqual(['code', 'value']);
    // not committed yet: the same records come again (at-least-once)
    const again = await api(`/v1/subscriptions/${httpSub}/records?limit=10&waitMs=500`, { key: keys.tax });
    expect(positions(again.body.records)).toEqual(positions(first.body.records));

    // paging with limit: each cursor picks up exactly where the previous answer ended
    const page1 = await api(`/v1/subscriptions/${httpSub}/records?limit=3`, { key: keys.tax });
    expect(page1.body.records).toHaveLength(3);
    const page2 = await api(`/v1/subscriptions/${httpSub}/records?limit=10&waitMs=500&cursor=${page1.body.cursor}`, { key: keys.tax });
    expect(page2.body.records).toHaveLength(2);
    expect(positions([...page1.body.records, ...page2.body.records])).toEqual(positions(first.body.records));
    const done = await api(`/v1/subscriptions/${httpSub}/records?waitMs=300&cursor=${page2.body.cursor}`, { key: keys.tax });
    expect(done.body.records).toHaveLength(0);
    // after committing, a read without a cursor starts where the consumer left off
    const resumed = await api(`/v1/subscriptions/${httpSub}/records?waitMs=300`, { key: keys.tax });
    expect(resumed.body.records).toHaveLength(0);

    const damaged = await api(`/v1/subscriptions/${httpSub}/records?cursor=not-a-cursor`, { key: keys.tax });
    expect(damaged.status).toBe(400);
    expect(damaged.body.error.code).toBe('subscription.invalid_cursor');
  });

  it("serves records only to the consuming department's consumer keys", async () => {
    for (const role of ['steward', 'publisher', 'admin'] as const) {
      const key = await stack.key('tax', role);
      const pull = await api(`/v1/subscriptions/${httpSub}/records?waitMs=0`, { key });
      expect([pull.status, pull.body.error.code]).toEqual([403, 'auth.forbidden']);
      const stream = await api(`/v1/subscriptions/${httpSub}/stream`, { key });
      expect([stream.status, stream.body.error.code]).toEqual([403, 'auth.forbidden']);
    }
    // another department's admin is not the consumer: the subscription is not its to receive
    expect((await api(`/v1/subscriptions/${httpSub}/records?waitMs=0`, { key: keys.admin })).status).toBe(404);
  });

  it('streams records as Server-Sent Events', async () => {
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/v1/subscriptions/${httpSub}/stream`, { headers: { authorization: `Bearer ${keys.tax}` }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    // the stream starts where the consumer committed (everything so far); new records arrive as events
    await publish(httpDataset, rows(100, 2), keys.statisticsPublisher);
    const reader = res.body!.getReader();
    let text = '';
    try {
      while ((text.match(/event: record/g) ?? []).length < 2) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
    } finally {
      controller.abort();
    }
    expect(text.match(/event: record/g)).toHaveLength(2);
    expect(text).toMatch(/^id: [A-Za-z0-9_-]+$/m);
    const first = JSON.parse(/data: (.*)\n/.exec(text.slice(text.indexOf('event: record')))![1]!);
    expect(Object.keys(first.value).sort()).toEqual(['code', 'value']);
  });

});

describe('a subscription to a fresh dataset', () => {
  const id = `test.indicators-${Date.now().toString(36)}`;
  beforeAll(async () => {
    await createIndicators(id);
  });

  it('copies what was published before the approval, then goes on live, each record once', async () => {
    await publish(id, rows(0, 3), keys.statisticsPublisher);
    const sub = await api('/v1/subscriptions', { key: keys.haidian, body: { dataset: id, fields: ['code', 'value'], purpose: '区级指标看板', expiresAt: inOneYear(), startFrom: 'earliest' } });
    expect(sub.body.status).toBe('approved');
    await publish(id, rows(3, 2), keys.statisticsPublisher);
    const got = await readTopicUntil(stack.kafka, sub.body.topic, (m) => m.length >= 5);
    await sleep(1500);
    expect(await topicSize(sub.body.topic)).toBe(5);
    const codes = (await Promise.all(got.map(decodeShare))).map((v) => v.code).sort();
    expect(codes).toEqual(['I0', 'I1', 'I2', 'I3', 'I4']);
    // the key field is granted in clear, so the share key is the record key
    expect(got.map((m) => String(m.key)).sort()).toEqual(codes);
  });

  it('pauses when a new schema version adds a sensitive field, until the owner approves again', async () => {
    const sub = await api('/v1/subscriptions', { key: keys.tax, body: { dataset: id, fields: ['code', 'value'], purpose: '税收指标', expiresAt: inOneYear(), startFrom: 'latest' } });
    expect(sub.body.status).toBe('approved');
    const evolved = { ...indicatorSchema, fields: [...indicatorSchema.fields, { name: 'respondent_phone', type: ['null', 'string'], default: null }] };
    const reg = await api(`/v1/datasets/${id}/schemas`, { key: keys.statisticsSteward, body: { schema: evolved, fields: { respondent_phone: { sensitivity: 4, masking: 'partial' } } } });
    expect(reg.status).toBe(201);
    const paused = await until('the subscription to pause', async () => {
      const s = (await api(`/v1/subscriptions/${sub.body.id}`, { key: keys.tax })).body;
      return s.status === 'paused' ? s : null;
    });
    expect(paused.statusReason).toContain('respondent_phone');
    const again = await api(`/v1/subscriptions/${sub.body.id}/approve`, { key: keys.statisticsSteward, body: {} });
    expect(again.body.status).toBe('approved');
    await publish(id, [{ code: 'I9', value: 9, respondent_phone: null }], keys.statisticsPublisher);
    const got = await readTopicUntil(stack.kafka, sub.body.topic, (m) => m.length >= 1);
    expect(await decodeShare(got[0]!)).toEqual({ code: 'I9', value: 9 });
  });

  it('skips hostile bytes on the dataset topic and goes on delivering', async () => {
    const sub = await api('/v1/subscriptions', { key: keys.haidian, body: { dataset: id, fields: ['code'], purpose: '健壮性', expiresAt: inOneYear(), startFrom: 'latest' } });
    const { rows } = await stack.pool.query('SELECT derived_schema_id, dataset_schema_id FROM subscriptions WHERE id = $1', [sub.body.id]);
    const hostile = Buffer.alloc(16);
    hostile.writeUInt8(0, 0);
    hostile.writeInt32BE(rows[0].dataset_schema_id, 1);
    hostile.set([0xfe, 0xff, 0xff, 0xff, 0x0f], 5); // a string "length" of about 2 GiB
    const { rows: schemaRows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [rows[0].dataset_schema_id]);
    const good = Buffer.concat([hostile.subarray(0, 5), compileNaturalType(JSON.parse(schemaRows[0].schema)).toBuffer({ code: 'OK1', value: 1, respondent_phone: null })]);
    const producer = stack.kafka.producer();
    await producer.connect();
    // all on one partition: the good record comes through only if the distributor got past the bad ones
    await producer.send({
      topic: `govx.dataset.${id}`,
      acks: -1,
      messages: [{ key: 'evil', value: hostile, partition: 0 }, { key: 'junk', value: Buffer.from('not avro'), partition: 0 }, { key: 'OK1', value: good, partition: 0 }],
    });
    await producer.disconnect();
    const got = await readTopicUntil(stack.kafka, sub.body.topic, (m) => m.length >= 1);
    expect(got).toHaveLength(1);
    expect(await decodeShare(got[0]!)).toEqual({ code: 'OK1' });
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
  });

  it('splits what one fetch fans out into produce requests the broker accepts', async () => {
    const sub = await api('/v1/subscriptions', { key: keys.haidian, body: { dataset: id, fields: ['code', 'value'], purpose: '大批量', expiresAt: inOneYear(), startFrom: 'latest' } });
    const live = (await getSubscription(stack.pool, sub.body.id))!;
    const { rows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [live.datasetSchemaId]);
    const type = compileNaturalType(JSON.parse(rows[0].schema));
    const prefix = Buffer.from([0, 0, 0, 0, 0]);
    prefix.writeInt32BE(live.datasetSchemaId!, 1);
    // 6000 records of one partition, ~1.8 MB once projected: far over the broker's 1 MiB per partition batch
    const messages = Array.from({ length: 6000 }, (_, i) => ({
      offset: String(i), key: Buffer.from('ONE-KEY'), timestamp: String(Date.now()), attributes: 0, size: 0,
      value: Buffer.concat([prefix, type.toBuffer({ code: 'ONE-KEY', value: i, respondent_phone: null })]),
      headers: { 'govx-dataset': id, 'govx-trace-id': 't'.repeat(200) },
    }));
    const distributor = new ShareDistributor({ kafka: kafkajsPort(stack.kafka), pool: stack.pool, log: createLogger('silent'), keys: openKeyring(stack.config) }, { refreshMs: 3_600_000, groupPrefix: `test-split-${id}` });
    const { writer } = await distributor.prepare();
    try {
      await writer.deliver(id, 0, messages as never, [live], () => true);
    } finally {
      await distributor.stop();
    }
    expect(await topicSize(sub.body.topic)).toBe(6000);
  });

  it('expires on its date and stops delivering', async () => {
    const sub = await api('/v1/subscriptions', {
      key: keys.statistics,
      body: { dataset: id, fields: ['code'], purpose: '短期核对', expiresAt: new Date(Date.now() + 3000).toISOString(), startFrom: 'latest' },
    });
    expect(sub.body.status).toBe('approved');
    const expired = await until('expiry', async () => {
      const s = (await api(`/v1/subscriptions/${sub.body.id}`, { key: keys.statistics })).body;
      return s.status === 'expired' ? s : null;
    });
    expect(expired.statusReason).toMatch(/expiry/);
    const { rows: audit } = await stack.pool.query("SELECT action FROM audit_log WHERE target = $1 ORDER BY seq", [`subscription:${sub.body.id}`]);
    expect(audit.map((r) => r.action)).toContain('subscription.expire');
  });
});
