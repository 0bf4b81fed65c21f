import avro from 'avsc';
import fs from 'node:fs';
import path from 'node:path';
import { generateSample } from '../../../schemas/samples';
import { compileNaturalType } from '../../../schemas/codec';
import { requestFingerprint } from '../../../gateway/idempotency';
import crypto from 'node:crypto';
import { httpJson, readTopicUntil, type ReadMessage, startTestStack, type TestStack, topicEnd } from '../../support/stack';

// Reading a shared topic from the beginning can take a while on a busy broker.
jest.setTimeout(60_000);

const DATASET = 'population.residents';
const TOPIC = `govx.dataset.${DATASET}`;
let stack: TestStack;
let psbPublisher: string;

beforeAll(async () => {
  stack = await startTestStack();
  psbPublisher = await stack.key('psb', 'publisher');
});
afterAll(async () => {
  await stack?.close();
});

const publish = (body: unknown, key = psbPublisher, query = '') =>
  httpJson(`${stack.url}/v1/datasets/${DATASET}/records${query}`, { method: 'POST', key, body });

describe('publishing population.residents', () => {
  it('accepts valid records from a psb publisher and writes them to the dataset topic in the Confluent wire format', async () => {
    const records = generateSample(DATASET, 3);
    const from = await topicEnd(stack.kafka, TOPIC);
    const res = await publish({ records });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 3, rejected: [] });

    // An ordinary Kafka client reads them back and decodes them by the schema id in the wire format.
    const traceId = res.headers.get('x-request-id');
    const ours = (got: ReadMessage[]) => got.filter((m) => m.headers['govx-trace-id'] === traceId);
    const mine = ours(await readTopicUntil(stack.kafka, TOPIC, (got) => ours(got).length >= 3, 20000, from));
    expect(mine.map((m) => String(m.key)).sort()).toEqual(records.map((r) => r.id_number as string).sort());
    for (const m of mine) {
      const value = m.value!;
      expect(value.readUInt8(0)).toBe(0);
      const schemaId = value.readInt32BE(1);
      const { rows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [schemaId]);
      expect(rows).toHaveLength(1);
      const decoded = compileNaturalType(JSON.parse(rows[0].schema)).fromBuffer(value.subarray(5)) as Record<string, unknown>;
      const original = records.find((r) => r.id_number === decoded.id_number)!;
      expect(decoded).toMatchObject({ id_number: original.id_number, name: original.name, birth_date: original.birth_date });
      expect(m.headers['govx-dataset']).toBe(DATASET);
      expect(m.headers['govx-publisher']).toBe('psb');
      expect(m.headers['govx-schema-id']).toBe(String(schemaId));
      expect(Number.isNaN(Date.parse(m.headers['govx-published-at']!))).toBe(false);
    }
  });

  it('rejects an invalid record with its index and the path of the bad field, and accepts the others', async () => {
    const [good, bad] = generateSample(DATASET, 2, 777);
    const res = await publish({ records: [good, { ...bad, birth_date: '1990-02-30', gender: 'ROBOT' }] });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected).toHaveLength(1);
    expect(res.body.rejected[0].index).toBe(1);
    const paths = res.body.rejected[0].errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(['birth_date', 'gender']);
  });

  it('rejects unknown fields and missing required fields by name', async () => {
    const [r] = generateSample(DATASET, 1, 99);
    const { address: _dropped, ...withoutAddress } = r!;
    const res = await publish({ records: [{ ...withoutAddress, nickname: 'x' }] });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(0);
    const errors = res.body.rejected[0].errors;
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'nickname', message: expect.stringContaining('not a field') }),
        expect.objectContaining({ path: 'address', message: 'is required' }),
      ]),
    );
  });

  it('applies the ID number check digit rule on publish', async () => {
    const [r] = generateSample(DATASET, 1, 5);
    const id = r!.id_number as string;
    const wrongCheck = id.slice(0, 17) + (id[17] === '0' ? '1' : '0');
    const res = await publish({ records: [{ ...r, id_number: wrongCheck }] });
    expect(res.body.rejected[0].errors[0]).toMatchObject({ path: 'id_number', rule: 'cn-id-number' });
  });

  it('publishes nothing with ?atomic=true when any record is invalid', async () => {
    const [good, bad] = generateSample(DATASET, 2, 31337);
    const res = await publish({ records: [good, { ...bad, household_district: '990101' }] }, psbPublisher, '?atomic=true');
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('publish.rejected');
    expect(res.body.error.details.rejected[0].index).toBe(1);
  });

  it('accepts NDJSON bodies', async () => {
    const records = generateSample(DATASET, 4, 2024);
    const res = await httpJson(`${stack.url}/v1/datasets/${DATASET}/records`, {
      method: 'POST',
      key: psbPublisher,
      rawBody: `${records.map((r) => JSON.stringify(r)).join('\n')}\nnot json\n`,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(4);
    expect(res.body.rejected).toEqual([{ index: 4, errors: [expect.objectContaining({ rule: 'json' })] }]);
  });
});

describe('the dead-letter topic', () => {
  const DLQ = `govx.dlq.${DATASET}`;

  it('holds each rejected record as sent, with the reason, rule, publisher, request id and index in headers', async () => {
    const [good, bad] = generateSample(DATASET, 2, 4242);
    const badRecord: Record<string, unknown> = { ...bad!, gender: 'ROBOT' };
    const from = await topicEnd(stack.kafka, DLQ);
    const res = await httpJson(`${stack.url}/v1/datasets/${DATASET}/records`, {
      method: 'POST',
      key: psbPublisher,
      rawBody: `${JSON.stringify(good)}\n${JSON.stringify(badRecord)}\n{"broken": \n`,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(1);
    const requestId = res.headers.get('x-request-id')!;
    const ours = (got: ReadMessage[]) => got.filter((m) => m.headers['govx-request-id'] === requestId);
    const letters = ours(await readTopicUntil(stack.kafka, DLQ, (got) => ours(got).length >= 2, 20000, from));
    expect(letters).toHaveLength(2);
    const byIndex = new Map(letters.map((m) => [m.headers['govx-record-index'], m]));

    const invalid = byIndex.get('1')!;
    expect(JSON.parse(String(invalid.value))).toEqual(badRecord);
    expect(String(invalid.key)).toBe(badRecord.id_number);
    expect(invalid.headers).toMatchObject({
      'govx-dataset': DATASET,
      'govx-publisher': 'psb',
      'govx-request-id': requestId,
      'govx-error-rule': 'type',
    });
    expect(invalid.headers['govx-error-reason']).toContain('gender');

    const notJson = byIndex.get('2')!;
    expect(String(notJson.value)).toBe('{"broken": ');
    expect(notJson.key).toBeNull();
    expect(notJson.headers['govx-error-rule']).toBe('json');
  });

  it('does not receive the records of an atomic request that was refused as a whole', async () => {
    const [good, bad] = generateSample(DATASET, 2, 5151);
    const badRecord: Record<string, unknown> = { ...bad!, household_district: '990101' };
    const from = await topicEnd(stack.kafka, DLQ);
    const refused = await publish({ records: [good, badRecord] }, psbPublisher, '?atomic=true');
    expect(refused.status).toBe(422);
    const refusedId = refused.headers.get('x-request-id');
    // The same key lands on the same partition, so the second request's dead letter comes after any of the first's.
    const later = await publish({ records: [badRecord] });
    expect(later.status).toBe(200);
    const laterId = later.headers.get('x-request-id');
    const got = await readTopicUntil(stack.kafka, DLQ, (all) => all.some((m) => m.headers['govx-request-id'] === laterId), 20000, from);
    expect(got.filter((m) => m.headers['govx-request-id'] === refusedId)).toEqual([]);
  });
});

describe('Idempotency-Key', () => {
  const withKey = (body: unknown, key: string) =>
    httpJson(`${stack.url}/v1/datasets/${DATASET}/records`, { method: 'POST', key: psbPublisher, body, headers: { 'idempotency-key': key } });

  it('answers a retried request with its first answer and publishes its records once', async () => {
    const [record, bad] = generateSample(DATASET, 2, 8080);
    const body = { records: [record, { ...bad!, gender: 'ROBOT' }] };
    const key = crypto.randomUUID();
    const from = await topicEnd(stack.kafka, TOPIC);
    const first = await withKey(body, key);
    expect(first.status).toBe(200);
    expect(first.body.accepted).toBe(1);
    const retry = await withKey(body, key);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');

    // A marker with the same key lands on the same partition after anything the retry could have written.
    const marker = await publish({ records: [record] });
    const markerId = marker.headers.get('x-request-id');
    const got = await readTopicUntil(stack.kafka, TOPIC, (all) => all.some((m) => m.headers['govx-trace-id'] === markerId), 20000, from);
    const attempts = [first.headers.get('x-request-id'), retry.headers.get('x-request-id')];
    const copies = got.filter((m) => String(m.key) === record!.id_number && attempts.includes(m.headers['govx-trace-id']!));
    expect(copies.map((m) => m.headers['govx-trace-id'])).toEqual([attempts[0]]);
  });

  it('refuses the same key with a different body (422) and keeps the first answer', async () => {
    const [a, b] = generateSample(DATASET, 2, 9090);
    const key = crypto.randomUUID();
    const first = await withKey({ records: [a] }, key);
    expect(first.status).toBe(200);
    const other = await withKey({ records: [b] }, key);
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('publish.idempotency_key_reused');
    expect((await withKey({ records: [a] }, key)).body).toEqual(first.body);
  });

  it('answers 409 while a request with the same key is still in flight', async () => {
    const body = { records: generateSample(DATASET, 1, 7070) };
    const key = crypto.randomUUID();
    const fingerprint = requestFingerprint('application/json', false, Buffer.from(JSON.stringify(body)));
    await stack.pool.query(
      `INSERT INTO publish_idempotency (department, dataset, idempotency_key, fingerprint, state, locked_until, expires_at)
       VALUES ('psb', $1, $2, $3, 'in_flight', now() + interval '1 minute', now() + interval '1 day')`,
      [DATASET, key, fingerprint],
    );
    const res = await withKey(body, key);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('publish.idempotency_in_flight');
  });

  it('forgets a key after it expired, so it may name a new request', async () => {
    const key = crypto.randomUUID();
    expect((await withKey({ records: generateSample(DATASET, 1, 5050) }, key)).status).toBe(200);
    await stack.pool.query(`UPDATE publish_idempotency SET expires_at = now() - interval '1 second' WHERE idempotency_key = $1`, [key]);
    const reused = await withKey({ records: generateSample(DATASET, 1, 5051) }, key);
    expect(reused.status).toBe(200);
    expect(reused.headers.get('idempotent-replayed')).toBeNull();
  });

  it('keeps keys apart per department and dataset, and rejects a malformed key', async () => {
    const key = crypto.randomUUID();
    expect((await withKey({ records: generateSample(DATASET, 1, 6060) }, key)).status).toBe(200);
    const amr = await httpJson(`${stack.url}/v1/datasets/legal-entity.registry/records`, {
      method: 'POST', key: await stack.key('amr', 'publisher'), body: { records: generateSample('legal-entity.registry', 1, 6061) }, headers: { 'idempotency-key': key },
    });
    expect(amr.status).toBe(200);
    expect(amr.headers.get('idempotent-replayed')).toBeNull();
    const bad = await withKey({ records: generateSample(DATASET, 1) }, 'x'.repeat(256));
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('request.invalid_idempotency_key');
  });
});

describe('who may publish', () => {
  it('answers 401 without a key and with a wrong key, in the shared error shape', async () => {
    const none = await publish({ records: [] }, '');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: { code: 'auth.unauthenticated', message: expect.any(String) }, requestId: expect.any(String) });
    const wrong = await publish({ records: [] }, 'govx_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('auth.invalid_key');
  });

  it('answers 403 to a publisher of another department and to a psb key of another role', async () => {
    const amr = await publish({ records: generateSample(DATASET, 1) }, await stack.key('amr', 'publisher'));
    expect(amr.status).toBe(403);
    expect(amr.body.error.code).toBe('auth.forbidden');
    const consumer = await publish({ records: generateSample(DATASET, 1) }, await stack.key('psb', 'consumer'));
    expect(consumer.status).toBe(403);
  });

  it('answers 404 for a dataset that does not exist', async () => {
    const res = await httpJson(`${stack.url}/v1/datasets/population.nothing/records`, { method: 'POST', key: psbPublisher, body: { records: [{}] } });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('dataset.not_found');
  });

  it('answers 400 to a body that is not JSON, 413 to one over the limit, 415 to another media type', async () => {
    const url = `${stack.url}/v1/datasets/${DATASET}/records`;
    const broken = await httpJson(url, { method: 'POST', key: psbPublisher, rawBody: '{"records": [', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('request.malformed_json');
    const huge = await httpJson(url, { method: 'POST', key: psbPublisher, rawBody: `{"records":["${'x'.repeat(17 * 1024 * 1024)}"]}`, headers: { 'content-type': 'application/json' } });
    expect(huge.status).toBe(413);
    const xml = await httpJson(url, { method: 'POST', key: psbPublisher, rawBody: '<records/>', headers: { 'content-type': 'application/xml' } });
    expect(xml.status).toBe(415);
  });
});

describe('limits on what a request may hold', () => {
  const url = () => `${stack.url}/v1/datasets/${DATASET}/records`;

  it('answers 400 request.too_deep to deeply nested JSON and NDJSON, and stays healthy', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const json = await httpJson(url(), { method: 'POST', key: psbPublisher, rawBody: `{"records":[${deep}]}`, headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(400);
    expect(json.body.error.code).toBe('request.too_deep');
    const [r] = generateSample(DATASET, 1);
    const ndjson = await httpJson(url(), {
      method: 'POST', key: psbPublisher, rawBody: `${JSON.stringify(r)}\n{"name":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}\n`, headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(ndjson.status).toBe(400);
    expect(ndjson.body.error).toMatchObject({ code: 'request.too_deep', message: expect.stringContaining('line 2') });
    expect((await httpJson(`${stack.url}/healthz`)).status).toBe(200);
  });

  it('rejects a record with an overlong string value by field, and accepts the others', async () => {
    const [good, long] = generateSample(DATASET, 2);
    const res = await publish({ records: [good, { ...long!, address: 'x'.repeat(70_000) }] });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected).toEqual([{ index: 1, errors: [{ path: 'address', message: expect.stringContaining('65536'), rule: 'max-length' }] }]);
  });

  it('answers 413 to more records than a request may hold', async () => {
    const res = await publish({ records: Array.from({ length: stack.config.maxRecordsPerRequest + 1 }, () => ({})) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('publish.too_many_records');
  });

  it('answers 400 to unknown top-level members and to a bad atomic flag', async () => {
    const extra = await publish({ records: generateSample(DATASET, 1), dataset: 'x' });
    expect(extra.status).toBe(400);
    expect(extra.body.error.code).toBe('publish.invalid_body');
    const flag = await publish({ records: generateSample(DATASET, 1) }, psbPublisher, '?atomic=yes');
    expect(flag.status).toBe(400);
    expect(flag.body.error.code).toBe('request.invalid');
  });
});

describe('the audit trail of publishing', () => {
  it('holds one entry per accepted request with its counts, offset ranges and request id', async () => {
    const [good, bad] = generateSample(DATASET, 2);
    const res = await publish({ records: [good, good, { ...bad!, gender: 'ROBOT' }] });
    expect(res.body.accepted).toBe(2);
    const requestId = res.headers.get('x-request-id');
    const { rows } = await stack.pool.query(`SELECT actor_department, target, details FROM audit_log WHERE action = 'publish.batch' AND request_id = $1`, [requestId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor_department: 'psb', target: `dataset:${DATASET}` });
    expect(rows[0].details).toMatchObject({ accepted: 2, rejected: 1, topic: TOPIC });
    const offsets = rows[0].details.offsets as Array<{ partition: number; baseOffset: string; count: number }>;
    expect(offsets.reduce((n, o) => n + o.count, 0)).toBe(2);
  });
});

describe('operations endpoints', () => {
  it('reports ready when Kafka and PostgreSQL answer, and exposes publish counters', async () => {
    const ready = await httpJson(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.map((c: { name: string }) => c.name).sort()).toEqual(['kafka', 'postgres']);
    // served on a listener of their own, never on the API port
    expect((await fetch(`${stack.url}/metrics`)).status).toBe(404);
    const metrics = await fetch(stack.gateway.metricsUrl).then((r) => r.text());
    expect(metrics).toMatch(/govx_publish_records_total\{dataset="population.residents",department="psb",outcome="accepted"\} \d+/);
    expect(metrics).toContain('govx_http_requests_total');
    expect(metrics).toMatch(/govx_dlq_records_total\{dataset="population.residents",department="psb"\} [1-9]/);
    expect(metrics).toMatch(/govx_publish_duration_seconds_count\{dataset="population.residents",department="psb",outcome="partial"\} [1-9]/);
    expect(metrics).toMatch(/govx_publish_request_records_bucket\{le="1000",dataset="population.residents",department="psb"\} [1-9]/);
  });
});

it('keeps the schema file and the registered schema the same', () => {
  const file = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schemas/population.residents.avsc'), 'utf8'));
  expect(() => avro.Type.forSchema(file)).not.toThrow();
});
