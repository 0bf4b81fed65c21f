import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { generateSample } from '../../schemas/samples';
import { httpJson, readTopicUntil, type ReadMessage, startTestStack, type TestStack, topicEnd } from '../support/stack';
import { sealDenialsNow } from '../support/fixtures';

/**
 * The schema registry under /registry, driven by the real Confluent client `@kafkajs/confluent-schema-registry`
 * and by plain fetch for the exact wire shapes. Every test uses its own subjects; the run's database is shared.
 */

const MEDIA_TYPE = 'application/vnd.schemaregistry.v1+json';

let stack: TestStack;
let admin: string;
let consumer: string;
let statisticsSteward: string;
let amrSteward: string;
beforeAll(async () => {
  stack = await startTestStack();
  admin = await stack.key('info-office', 'admin');
  consumer = await stack.key('civil-affairs', 'consumer');
  statisticsSteward = await stack.key('statistics', 'steward');
  amrSteward = await stack.key('amr', 'steward');
});
afterAll(async () => {
  await stack?.close();
});

const unique = (): string => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const subjectName = (): string => `test.registry.${unique()}-value`;

/** A Confluent client as an application would configure it: Basic auth with department id and key. */
function confluentClient(department: string, key: string): SchemaRegistry {
  return new SchemaRegistry({ host: `${stack.url}/registry`, auth: { username: department, password: key }, retry: { retries: 0 } });
}

const basic = (department: string, key: string): string => `Basic ${Buffer.from(`${department}:${key}`).toString('base64')}`;

interface Wire {
  status: number;
  contentType: string | null;
  body: any;
  text: string;
  requestId: string | null;
}

/** Plain HTTP against the registry, so the tests see exactly what a Confluent client receives. */
async function wire(
  path: string,
  init: { method?: string; auth?: string | null; body?: unknown; rawBody?: string; contentType?: string | null } = {},
): Promise<Wire> {
  const headers: Record<string, string> = {};
  if (init.auth !== null) headers.authorization = init.auth ?? basic('info-office', admin);
  let text: string | undefined;
  if (init.rawBody !== undefined) text = init.rawBody;
  else if (init.body !== undefined) text = JSON.stringify(init.body);
  if (text !== undefined && init.contentType !== null) headers['content-type'] = init.contentType ?? MEDIA_TYPE;
  // fetch labels a string body text/plain; bytes go without a Content-Type.
  const body = text === undefined ? undefined : init.contentType === null ? Buffer.from(text) : text;
  const res = await fetch(`${stack.url}/registry${path}`, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const answer = await res.text();
  let parsed: unknown = answer;
  try {
    parsed = JSON.parse(answer);
  } catch {
    /* keep the text */
  }
  return { status: res.status, contentType: res.headers.get('content-type'), body: parsed, text: answer, requestId: res.headers.get('x-request-id') };
}

function expectConfluentError(res: Wire, status: number, errorCode: number): void {
  expect({ status: res.status, errorCode: res.body?.error_code }).toEqual({ status, errorCode });
  expect(Object.keys(res.body).sort()).toEqual(['error_code', 'message']);
  expect(typeof res.body.message).toBe('string');
  expect(res.contentType).toContain(MEDIA_TYPE);
}

function personSchema(extraFields: object[] = []) {
  return {
    type: 'record',
    name: 'Person',
    namespace: 'govx.test',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'age', type: ['null', 'int'], default: null },
      ...extraFields,
    ],
  };
}

const register = (subject: string, schema: object | string, auth?: string) =>
  wire(`/subjects/${encodeURIComponent(subject)}/versions`, { auth, body: { schema: typeof schema === 'string' ? schema : JSON.stringify(schema) } });

async function auditOf(requestId: string | null): Promise<Array<{ action: string; outcome: string; target: string; actor_department: string; details: any }>> {
  const { rows } = await stack.pool.query('SELECT action, outcome, target, actor_department, details FROM audit_log WHERE request_id = $1 ORDER BY seq', [requestId]);
  return rows;
}

describe('a Confluent client against /registry', () => {
  it('registers with Basic auth, fetches by id, encodes and decodes a record, and finds the latest id', async () => {
    const client = confluentClient('info-office', admin);
    const subject = subjectName();
    const { id } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(personSchema()) }, { subject });
    expect(Number.isInteger(id)).toBe(true);

    expect(await client.getLatestSchemaId(subject)).toBe(id);
    // A subject of no dataset and no grant is the administrators' alone: to a consumer it does not exist.
    await expect(confluentClient('civil-affairs', consumer).getSchema(id)).rejects.toMatchObject({ status: 404 });
    const fresh = confluentClient('info-office', admin);
    const fetched = await fresh.getSchema(id);
    expect((fetched as unknown as { name: string }).name).toBe('govx.test.Person');

    const record = { id: 'p-1', age: 42 };
    const encoded = await client.encode(id, record);
    expect(encoded.readUInt8(0)).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);
    expect(await fresh.decode(encoded)).toEqual(record);
    expect(await fresh.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(personSchema()) })).toBe(id);
  });

  it('gives an identical schema (by canonical form) its existing id and version', async () => {
    const subject = subjectName();
    const first = await register(subject, personSchema());
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ id: expect.any(Number) });
    const reformatted = JSON.stringify(personSchema(), null, 2).replace('"namespace": "govx.test",', '');
    const again = await register(subject, reformatted.replace('"name": "Person"', '"name": "govx.test.Person"'));
    expect(again.body).toEqual({ id: first.body.id });
    expect((await wire(`/subjects/${subject}/versions`)).body).toEqual([1]);
    // The same schema under another subject keeps its global id.
    expect((await register(subjectName(), personSchema())).body).toEqual({ id: first.body.id });
  });

  it('refuses an incompatible change with 409 and the reasons, to the client and on the wire', async () => {
    const client = confluentClient('info-office', admin);
    const subject = subjectName();
    await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(personSchema()) }, { subject });
    const breaking = personSchema([{ name: 'district_code', type: 'string' }]);
    await expect(client.register({ type: SchemaType.AVRO, schema: JSON.stringify(breaking) }, { subject })).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining('district_code'),
    });
    const res = await register(subject, breaking);
    expectConfluentError(res, 409, 409);
    expect(res.body.message).toMatch(/incompatible with an earlier schema for subject/);
    expect(res.body.message).toMatch(/district_code/);
    expect((await wire(`/subjects/${subject}/versions`)).body).toEqual([1]);
    const audit = await auditOf(res.requestId);
    expect(audit).toEqual([expect.objectContaining({ action: 'registry.schema.register', outcome: 'failure', target: `subject:${subject}` })]);

    const check = await wire(`/compatibility/subjects/${subject}/versions/latest?verbose=true`, { body: { schema: JSON.stringify(breaking) } });
    expect(check.status).toBe(200);
    expect(check.body.is_compatible).toBe(false);
    expect(check.body.messages.join(' ')).toMatch(/district_code/);
    const compatible = personSchema([{ name: 'district_code', type: ['null', 'string'], default: null }]);
    const ok = await wire(`/compatibility/subjects/${subject}/versions/1`, { body: { schema: JSON.stringify(compatible) } });
    expect(ok.body).toEqual({ is_compatible: true });
    const againstAll = await wire(`/compatibility/subjects/${subject}/versions`, { body: { schema: JSON.stringify(compatible) } });
    expect(againstAll.body).toEqual({ is_compatible: true });
  });

  it('keeps compatibility per subject, and answers config requests in Confluent shape', async () => {
    const subject = subjectName();
    await register(subject, personSchema());
    expect((await wire('/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
    expectConfluentError(await wire(`/config/${subject}`), 404, 40408);
    expect((await wire(`/config/${subject}?defaultToGlobal=true`)).body).toEqual({ compatibilityLevel: 'BACKWARD' });

    const put = await wire(`/config/${subject}`, { method: 'PUT', body: { compatibility: 'none' } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ compatibility: 'NONE' });
    expect(await auditOf(put.requestId)).toEqual([expect.objectContaining({ action: 'registry.config.update', outcome: 'success' })]);
    expect((await wire(`/config/${subject}`)).body).toEqual({ compatibilityLevel: 'NONE' });
    // Under NONE the change BACKWARD refused is accepted.
    expect((await register(subject, personSchema([{ name: 'district_code', type: 'string' }]))).status).toBe(200);

    expect((await wire(`/config/${subject}`, { method: 'DELETE' })).body).toEqual({ compatibilityLevel: 'NONE' });
    expectConfluentError(await wire(`/config/${subject}`, { method: 'DELETE' }), 404, 40408);
    expectConfluentError(await wire(`/config/${subject}`, { method: 'PUT', body: { compatibility: 'SOMETIMES' } }), 422, 42203);
    expectConfluentError(await wire('/config', { method: 'PUT', body: { compatibility: 'NONE' }, auth: basic('statistics', statisticsSteward) }), 403, 40301);
    // The global level is shared by the whole run: set it to what it already is.
    expect((await wire('/config', { method: 'PUT', body: { compatibility: 'BACKWARD' } })).body).toEqual({ compatibility: 'BACKWARD' });
  });

  it('looks up whether a schema is registered under a subject', async () => {
    const subject = subjectName();
    const { body } = await register(subject, personSchema());
    const found = await wire(`/subjects/${subject}`, { body: { schema: JSON.stringify(personSchema()) } });
    expect(found.status).toBe(200);
    expectConfluentError(await wire(`/subjects/${subject}`, { body: { schema: JSON.stringify(personSchema()) }, auth: basic('civil-affairs', consumer) }), 404, 40401);
    expect(found.body).toEqual({ subject, id: body.id, version: 1, schema: expect.any(String) });
    expect(JSON.parse(found.body.schema)).toEqual(personSchema());
    expectConfluentError(await wire(`/subjects/${subject}`, { body: { schema: JSON.stringify(personSchema([{ name: 'x', type: 'int' }])) } }), 404, 40403);
    expectConfluentError(await wire(`/subjects/${subjectName()}`, { body: { schema: JSON.stringify(personSchema()) } }), 404, 40401);
  });

  it('reads versions, raw schemas and the subjects of a schema id', async () => {
    const subject = subjectName();
    const v1 = (await register(subject, personSchema())).body.id;
    const v2 = (await register(subject, personSchema([{ name: 'email', type: ['null', 'string'], default: null }]))).body.id;
    expect((await wire('/subjects')).body).toEqual(expect.arrayContaining([subject]));
    expect((await wire(`/subjects/${subject}/versions`)).body).toEqual([1, 2]);
    const latest = await wire(`/subjects/${subject}/versions/latest`);
    expect(latest.contentType).toBe(MEDIA_TYPE);
    expect(latest.body).toEqual({ subject, version: 2, id: v2, schema: expect.any(String) });
    expect((await wire(`/subjects/${subject}/versions/-1`)).body.version).toBe(2);
    expect((await wire(`/subjects/${subject}/versions/1`)).body.id).toBe(v1);
    const raw = await wire(`/subjects/${subject}/versions/1/schema`);
    expect(raw.body).toEqual(personSchema());
    expect((await wire(`/schemas/ids/${v1}`)).body).toEqual({ schema: JSON.stringify(personSchema()) });
    expect((await wire(`/schemas/ids/${v2}/versions`)).body).toEqual([{ subject, version: 2 }]);
    expect((await wire(`/schemas/ids/${v2}/subjects`)).body).toEqual([subject]);
    expect((await wire('/schemas/types')).body).toEqual(['AVRO']);
  });

  it('soft-deletes and permanently deletes versions and subjects by Confluent rules', async () => {
    const subject = subjectName();
    await register(subject, personSchema());
    await register(subject, personSchema([{ name: 'email', type: ['null', 'string'], default: null }]));

    const del1 = await wire(`/subjects/${subject}/versions/1`, { method: 'DELETE' });
    expect(del1.body).toBe(1);
    expect(await auditOf(del1.requestId)).toEqual([expect.objectContaining({ action: 'registry.version.delete', outcome: 'success' })]);
    expect((await wire(`/subjects/${subject}/versions`)).body).toEqual([2]);
    expect((await wire(`/subjects/${subject}/versions?deleted=true`)).body).toEqual([1, 2]);
    expectConfluentError(await wire(`/subjects/${subject}/versions/1`), 404, 40402);
    expect((await wire(`/subjects/${subject}/versions/1?deleted=true`)).body.version).toBe(1);
    expectConfluentError(await wire(`/subjects/${subject}/versions/1`, { method: 'DELETE' }), 404, 40406);
    expectConfluentError(await wire(`/subjects/${subject}/versions/2?permanent=true`, { method: 'DELETE' }), 404, 40407);
    expectConfluentError(await wire(`/subjects/${subject}?permanent=true`, { method: 'DELETE' }), 404, 40405);

    expect((await wire(`/subjects/${subject}`, { method: 'DELETE' })).body).toEqual([2]);
    expect((await wire('/subjects')).body).not.toContain(subject);
    expect((await wire('/subjects?deleted=true')).body).toContain(subject);
    expectConfluentError(await wire(`/subjects/${subject}/versions`), 404, 40401);
    expectConfluentError(await wire(`/subjects/${subject}`, { method: 'DELETE' }), 404, 40404);
    expect((await wire(`/subjects/${subject}?permanent=true`, { method: 'DELETE' })).body).toEqual([1, 2]);
    expectConfluentError(await wire(`/subjects/${subject}/versions?deleted=true`), 404, 40401);
    expectConfluentError(await wire(`/subjects/${subject}`, { method: 'DELETE' }), 404, 40401);
  });
});

describe('who may write the registry', () => {
  it('refuses keys that are neither admins nor stewards of the owning department with 40301, and audits the denial', async () => {
    const populationSubject = 'govx.dataset.population.residents-value';
    const amr = await register(populationSubject, personSchema(), basic('amr', amrSteward));
    expectConfluentError(amr, 403, 40301);
    // audited with the key's other denials, as one access.denied entry per interval
    expect(await auditOf(amr.requestId)).toEqual([]);
    const denials = await sealDenialsNow(stack, amrSteward.split('_')[1]!);
    expect(denials.flatMap((d) => d.details.actions)).toContainEqual(
      expect.objectContaining({ action: 'registry.schema.register', sampleTarget: 'dataset:population.residents' }),
    );
    // A subject that exists and one that does not look the same to a consumer.
    const existing = subjectName();
    await register(existing, personSchema());
    const onExisting = await wire(`/subjects/${existing}`, { method: 'DELETE', auth: basic('civil-affairs', consumer) });
    const onMissing = await wire(`/subjects/${subjectName()}`, { method: 'DELETE', auth: basic('civil-affairs', consumer) });
    expectConfluentError(onExisting, 403, 40301);
    expectConfluentError(onMissing, 403, 40301);
    expect(onMissing.body.message.replace(/'[^']*'/, "'s'")).toBe(onExisting.body.message.replace(/'[^']*'/, "'s'"));
    // Stewards write only their own datasets' subjects, not free subjects.
    expectConfluentError(await register(subjectName(), personSchema(), basic('statistics', statisticsSteward)), 403, 40301);
    expectConfluentError(await wire(`/config/${existing}`, { method: 'PUT', body: { compatibility: 'NONE' }, auth: basic('civil-affairs', consumer) }), 403, 40301);
    expectConfluentError(await wire(`/subjects/${existing}/versions`, { auth: basic('civil-affairs', consumer) }), 404, 40401);
    const client = confluentClient('amr', amrSteward);
    await expect(client.register({ type: SchemaType.AVRO, schema: JSON.stringify(personSchema()) }, { subject: populationSubject })).rejects.toMatchObject({ status: 403 });
  });

  it('answers 40101 without credentials, with a wrong key, and with a key posing as another department', async () => {
    expectConfluentError(await wire('/subjects', { auth: null }), 401, 40101);
    expectConfluentError(await wire('/subjects', { auth: basic('info-office', 'govx_aaaaaaaaaaaa_nope') }), 401, 40101);
    expectConfluentError(await wire('/subjects', { auth: basic('psb', admin) }), 401, 40101);
    expectConfluentError(await wire('/subjects', { auth: 'Basic !!!' }), 401, 40101);
    expect((await wire('/subjects', { auth: `Bearer ${consumer}` })).status).toBe(200);
    const client = new SchemaRegistry({ host: `${stack.url}/registry`, auth: { username: 'civil-affairs', password: 'wrong' }, retry: { retries: 0 } });
    await expect(client.getLatestSchemaId('govx.dataset.population.residents-value')).rejects.toMatchObject({ status: 401 });
  });
});

describe('bad requests to the registry', () => {
  it('answers unknown subjects, versions and ids with 40401, 40402 and 40403', async () => {
    const subject = subjectName();
    expectConfluentError(await wire(`/subjects/${subject}/versions`), 404, 40401);
    expectConfluentError(await wire(`/subjects/${subject}/versions/1`), 404, 40401);
    await register(subject, personSchema());
    expectConfluentError(await wire(`/subjects/${subject}/versions/7`), 404, 40402);
    expectConfluentError(await wire(`/compatibility/subjects/${subject}/versions/7`, { body: { schema: JSON.stringify(personSchema()) } }), 404, 40402);
    expectConfluentError(await wire('/schemas/ids/2147483647'), 404, 40403);
    expectConfluentError(await wire('/schemas/ids/abc'), 404, 40403);
    expectConfluentError(await wire('/no/such/route'), 404, 404);
  });

  it('refuses invalid versions with 42202 and invalid subject names with 42208', async () => {
    const subject = subjectName();
    await register(subject, personSchema());
    for (const v of ['0', 'abc', '2147483648', '1.5', '99999999999']) expectConfluentError(await wire(`/subjects/${subject}/versions/${v}`), 422, 42202);
    expectConfluentError(await wire(`/subjects/${'s'.repeat(256)}/versions`), 422, 42208);
    expectConfluentError(await wire(`/subjects/${encodeURIComponent('bad\u0000name')}/versions`), 422, 42208);
  });

  it('refuses garbage schemas with 42201 and audits the attempt, never a 500', async () => {
    const subject = subjectName();
    const notJson = await register(subject, 'this is not a schema');
    expectConfluentError(notJson, 422, 42201);
    expect(await auditOf(notJson.requestId)).toEqual([expect.objectContaining({ action: 'registry.schema.register', outcome: 'failure' })]);
    expectConfluentError(await register(subject, { type: 'record', name: 'X', fields: [{ name: 'a', type: 'nope' }] }), 422, 42201);
    expectConfluentError(await register(subject, '['.repeat(500) + ']'.repeat(500)), 422, 42201);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { body: { schema: { type: 'string' } } }), 422, 42201);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { body: {} }), 422, 42201);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { body: { schema: '"string"', schemaType: 'PROTOBUF' } }), 422, 42201);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { body: { schema: '"string"', references: [{ name: 'x', subject: 'y', version: 1 }] } }), 422, 42201);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { body: { schema: `"${'x'.repeat(1024 * 1024)}"` } }), 422, 42209);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { rawBody: '{"schema": ' }), 400, 400);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { rawBody: '[1]' }), 400, 400);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { rawBody: 'schema=x', contentType: 'application/x-www-form-urlencoded' }), 415, 415);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { rawBody: 'x'.repeat(3 * 1024 * 1024) }), 413, 413);
    expectConfluentError(await wire(`/subjects/${subject}/versions`, { method: 'POST' }), 422, 42201);
    expectConfluentError(await wire(`/subjects/${subject}`, { body: { schema: '{' } }), 422, 42201);
    expectConfluentError(await wire(`/subjects/${subject}/versions`), 404, 40401);
  });

  it('accepts every media type Confluent consumes, and a body without one', async () => {
    const subject = subjectName();
    const body = JSON.stringify({ schema: JSON.stringify(personSchema()) });
    for (const contentType of ['application/vnd.schemaregistry.v1+json', 'application/vnd.schemaregistry+json', 'application/json; charset=utf-8', 'application/octet-stream', null]) {
      const res = await wire(`/subjects/${subject}/versions`, { rawBody: body, contentType });
      expect({ contentType, status: res.status }).toEqual({ contentType, status: 200 });
      expect(res.contentType).toContain(MEDIA_TYPE);
    }
  });
});

describe('the registry and the catalog', () => {
  function statisticsDataset(id: string) {
    return {
      id,
      title: { zh: '测试指标', en: 'Test indicators' },
      owner: 'statistics',
      category: 'macro-economy',
      sharing: { type: 'unconditional' },
      updateCycle: 'quarterly',
      keyField: 'code',
      schema: { type: 'record', name: 'Indicator', namespace: 'govx.test', fields: [{ name: 'code', type: 'string' }, { name: 'value', type: 'double' }] },
    };
  }

  it("lets the owner's steward evolve a dataset's subject through a Confluent client, with the catalog's compatibility and effect on publishing", async () => {
    const id = `test.registry-${unique()}`;
    const created = await httpJson(`${stack.url}/v1/datasets`, { key: admin, body: statisticsDataset(id) });
    expect(created.status).toBe(201);
    const subject = `govx.dataset.${id}-value`;
    const publisher = await stack.key('statistics', 'publisher');
    const publish = (records: unknown[]) => httpJson(`${stack.url}/v1/datasets/${id}/records`, { key: publisher, body: { records } });
    // Fill the runtime cache with version 1, so the test sees that registering invalidates it.
    expect((await publish([{ code: 'GDP', value: 1 }])).body).toEqual({ accepted: 1, rejected: [] });

    const client = confluentClient('statistics', statisticsSteward);
    const v1 = statisticsDataset(id).schema;
    const breaking = { ...v1, fields: [...v1.fields, { name: 'unit', type: 'string' }] };
    await expect(client.register({ type: SchemaType.AVRO, schema: JSON.stringify(breaking) }, { subject })).rejects.toMatchObject({ status: 409 });
    const v2 = { ...v1, fields: [...v1.fields, { name: 'unit', type: ['null', 'string'], default: null }] };
    const { id: v2Id } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject });

    const dataset = await httpJson(`${stack.url}/v1/datasets/${id}`, { key: consumer });
    expect(dataset.body.fields.map((f: { name: string }) => f.name)).toEqual(['code', 'value', 'unit']);
    const history = await httpJson(`${stack.url}/v1/datasets/${id}/history`, { key: consumer });
    expect(history.body.items[0].version).toBe(2);
    const { rows } = await stack.pool.query(
      "SELECT outcome, details FROM audit_log WHERE action = 'registry.schema.register' AND target = $1 ORDER BY seq",
      [`dataset:${id}`],
    );
    expect(rows.map((r) => r.outcome)).toEqual(['failure', 'success']);
    expect(rows[1].details).toMatchObject({ subject, id: v2Id, created: true, added: ['unit'] });

    // The very next publish uses version 2: a record with the new field is accepted and carries its id.
    const res = await publish([{ code: 'CPI', value: 2.5, unit: 'percent' }]);
    expect(res.body).toEqual({ accepted: 1, rejected: [] });
    const trace = res.headers.get('x-request-id');
    const ours = (got: ReadMessage[]) => got.filter((m) => m.headers['govx-trace-id'] === trace);
    const [message] = ours(await readTopicUntil(stack.kafka, `govx.dataset.${id}`, (got) => ours(got).length >= 1));
    expect(message!.headers['govx-schema-id']).toBe(String(v2Id));
    expect(await client.decode(message!.value!)).toEqual({ code: 'CPI', value: 2.5, unit: 'percent' });
  });

  it('answers a dataset schema that does not parse with 400 on /v1 and 42201 on /registry, never 500', async () => {
    const steward = await stack.key('psb', 'steward');
    const v1 = await httpJson(`${stack.url}/v1/datasets/population.residents/schemas`, { key: steward, body: { schema: '{"type": "record", "na' } });
    expect(v1.status).toBe(400);
    expect(v1.body.error.message).toMatch(/schema/);
    const registry = await register('govx.dataset.population.residents-value', '{"type": "record", "na', basic('psb', steward));
    expectConfluentError(registry, 422, 42201);
    // A valid Avro schema that is not a record cannot describe a dataset.
    expectConfluentError(await register('govx.dataset.population.residents-value', '"string"', basic('psb', steward)), 422, 42201);
  });

  it('decodes what the gateway publishes to population.residents with the Confluent client, byte for byte', async () => {
    const psbPublisher = await stack.key('psb', 'publisher');
    const records = generateSample('population.residents', 2, 4242);
    // read from where the topic ends now: other suites (and earlier runs on a kept broker) fill it
    const from = await topicEnd(stack.kafka, 'govx.dataset.population.residents');
    const res = await httpJson(`${stack.url}/v1/datasets/population.residents/records`, { key: psbPublisher, body: { records } });
    expect(res.body).toEqual({ accepted: 2, rejected: [] });
    const trace = res.headers.get('x-request-id');
    const ours = (got: ReadMessage[]) => got.filter((m) => m.headers['govx-trace-id'] === trace);
    const messages = ours(await readTopicUntil(stack.kafka, 'govx.dataset.population.residents', (got) => ours(got).length >= 2, 20000, from));

    // The dataset's own subject is its owner's: another department's key does not find its schema.
    await expect(confluentClient('civil-affairs', consumer).decode(messages[0]!.value!)).rejects.toMatchObject({ status: 404 });
    const client = confluentClient('psb', psbPublisher);
    for (const message of messages) {
      const schemaId = message.value!.readInt32BE(1);
      expect(String(schemaId)).toBe(message.headers['govx-schema-id']);
      const decoded = (await client.decode(message.value!)) as Record<string, unknown>;
      const original = records.find((r) => r.id_number === decoded.id_number)!;
      expect(decoded).toMatchObject({ id_number: original.id_number, name: original.name, gender: original.gender });
      // The client's own encoding of what it decoded, under the same registered id, is the gateway's message.
      expect((await client.encode(schemaId, decoded)).equals(message.value!)).toBe(true);
    }
  });
});

describe('who may read which subjects', () => {
  it("lists and serves a share subject to its consumer and the dataset's owner only, and hides the rest as absent", async () => {
    const tax = await stack.key('tax', 'consumer');
    const haidian = await stack.key('haidian', 'consumer');
    const sub = await httpJson(`${stack.url}/v1/subscriptions`, {
      key: tax,
      body: { dataset: 'legal-entity.registry', fields: ['uscc', 'name'], purpose: '税源登记核验', expiresAt: new Date(Date.now() + 86_400_000 * 30).toISOString() },
    });
    expect(sub.body.status).toBe('approved');
    const shareSubject = `govx.share.${sub.body.id}-value`;
    const listOf = async (department: string, key: string): Promise<string[]> => (await wire('/subjects', { auth: basic(department, key) })).body;

    const taxSees = await listOf('tax', tax);
    expect(taxSees).toContain(shareSubject);
    // besides its grants, tax sees only subjects of datasets it owns (other suites of the run may give it some)
    const { rows: taxOwns } = await stack.pool.query<{ subject: string }>(`SELECT 'govx.dataset.' || id || '-value' AS subject FROM datasets WHERE owner = 'tax'`);
    const owned = new Set(taxOwns.map((r) => r.subject));
    expect(taxSees.filter((s) => !s.startsWith('govx.share.') && !owned.has(s))).toEqual([]);
    const amrSees = await listOf('amr', amrSteward);
    expect(amrSees).toEqual(expect.arrayContaining([shareSubject, 'govx.dataset.legal-entity.registry-value']));
    expect(amrSees).not.toContain('govx.dataset.population.residents-value');
    const haidianSees = await listOf('haidian', haidian);
    expect(haidianSees.filter((s) => s.startsWith('govx.share.') || s.startsWith('govx.dataset.'))).toEqual(
      haidianSees.filter((s) => s.startsWith('govx.share.')),
    );
    expect(haidianSees).not.toContain(shareSubject);
    expect((await listOf('info-office', admin))).toEqual(expect.arrayContaining([shareSubject, 'govx.dataset.population.residents-value']));

    const schemaId = sub.body.derivedSchemaId;
    expect((await wire(`/schemas/ids/${schemaId}`, { auth: basic('tax', tax) })).status).toBe(200);
    expect((await wire(`/subjects/${shareSubject}/versions/latest`, { auth: basic('amr', amrSteward) })).status).toBe(200);
    // To another department the grant does not exist, by any read.
    const asHaidian = { auth: basic('haidian', haidian) };
    expectConfluentError(await wire(`/schemas/ids/${schemaId}`, asHaidian), 404, 40403);
    expectConfluentError(await wire(`/schemas/ids/${schemaId}/schema`, asHaidian), 404, 40403);
    expectConfluentError(await wire(`/schemas/ids/${schemaId}/versions`, asHaidian), 404, 40403);
    expectConfluentError(await wire(`/subjects/${shareSubject}/versions`, asHaidian), 404, 40401);
    expectConfluentError(await wire(`/subjects/${shareSubject}/versions/1`, asHaidian), 404, 40401);
    expectConfluentError(await wire(`/subjects/${shareSubject}/versions/latest/schema`, asHaidian), 404, 40401);
    expectConfluentError(await wire(`/config/${shareSubject}`, asHaidian), 404, 40408);
    expectConfluentError(await wire(`/compatibility/subjects/${shareSubject}/versions/latest`, { ...asHaidian, body: { schema: '"string"' } }), 404, 40401);
    expectConfluentError(await wire(`/subjects/${shareSubject}`, { ...asHaidian, body: { schema: '"string"' } }), 404, 40401);
    const missing = await wire(`/subjects/govx.share.sub-aaaaaaaaaaaaaaaaaaaa-value/versions`, asHaidian);
    expect(missing.body.message.replace(/'[^']*'/, "'s'")).toBe((await wire(`/subjects/${shareSubject}/versions`, asHaidian)).body.message.replace(/'[^']*'/, "'s'"));
  });
});
