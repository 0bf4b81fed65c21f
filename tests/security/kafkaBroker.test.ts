import type { Consumer, Kafka } from 'kafkajs';
import { Kafka as RawKafka } from 'kafkajs';
import { type AclBinding, aclKey, kafkajsAclAdmin } from '../../lib/kafkaAcls';
import { generateSample } from '../../schemas/samples';
import { createIndicatorDataset, indicatorSchema, requestIndicators, unique, until } from '../support/fixtures';
import { httpJson, readTopicUntil, startTestStack, type TestStack, testKafka, topicEnd } from '../support/stack';

/**
 * The broker attacked directly, as a department (or anyone on the network) would: every claim of decision
 * 0008 and 0014 against the real secured broker. Without govx-issued credentials nothing connects; with
 * civil-affairs' own credentials a client reads its share topic and nothing else, writes nothing, is cut off
 * within seconds of a revocation, and ACLs changed behind govx's back are put back by reconciliation (audited).
 */

const DATASET = 'population.residents';
const DATASET_TOPIC = `govx.dataset.${DATASET}`;
const CA = 'civil-affairs';
const PSB = 'psb';

let stack: TestStack;
const keys: Record<string, string> = {};
const passwords: Record<string, string> = {};
let shareTopic: string;
let revokedSubscription: string;
let taxShareTopic: string;
const openConsumers: Consumer[] = [];

/** The error type kafkajs reports, looking through its retry wrappers. */
function errorType(err: unknown): string {
  let e = err as { type?: string; name?: string; cause?: unknown } | undefined;
  while (e && !e.type && e.cause) e = e.cause as typeof e;
  return e?.type ?? e?.name ?? String(err);
}

const AUTHORIZATION_FAILED = /AUTHORIZATION_FAILED/;

/** A client as a department's own system would configure it: TLS against govx's CA, SCRAM-SHA-512 as dept.<department>. */
const asDepartment = (department: string, password = passwords[department]!): Kafka =>
  testKafka({}, { credentials: { username: `dept.${department}`, password }, retry: { retries: 1, initialRetryTime: 200 } });

async function subscribe(consumerKey: string, startFrom: 'earliest' | 'latest' = 'latest'): Promise<string> {
  const res = await httpJson(`${stack.url}/v1/subscriptions`, {
    key: consumerKey,
    body: { dataset: DATASET, fields: ['name', 'birth_date', 'household_district'], purpose: '高龄津贴发放', expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(), delivery: 'kafka', startFrom },
  });
  if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${JSON.stringify(res.body)}`);
  const approved = await httpJson(`${stack.url}/v1/subscriptions/${res.body.id}/approve`, { key: keys.psbSteward, body: {} });
  if (approved.status !== 200) throw new Error(`approve: ${approved.status} ${JSON.stringify(approved.body)}`);
  return res.body.id as string;
}

async function publish(count: number): Promise<void> {
  const res = await httpJson(`${stack.url}/v1/datasets/${DATASET}/records`, { key: keys.psbPublisher, body: { records: generateSample(DATASET, count) } });
  if (res.status !== 200 || res.body.accepted !== count) throw new Error(`publish: ${res.status} ${JSON.stringify(res.body)}`);
}

interface Reading {
  consumer: Consumer;
  values: Array<{ value: Buffer | null; headers: Record<string, string> }>;
  crash: () => unknown;
}

/** A consumer in group `groupId` reading `topic` from the beginning; its crash (if any) is kept, not thrown. */
async function startReading(kafka: Kafka, topic: string, groupId: string): Promise<Reading> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500, retry: { retries: 1, initialRetryTime: 200 } });
  openConsumers.push(consumer);
  const values: Reading['values'] = [];
  let crashed: unknown = null;
  consumer.on(consumer.events.CRASH, (event) => {
    crashed = event.payload.error;
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      values.push({ value: message.value, headers });
    },
  });
  return { consumer, values, crash: () => crashed };
}

/** Tries to read `topic` as a department would; returns the error type that refused it, or 'read' if records came. */
async function readAttempt(kafka: Kafka, topic: string, groupId: string): Promise<string> {
  let reading: Reading;
  try {
    reading = await startReading(kafka, topic, groupId);
  } catch (err) {
    return errorType(err);
  }
  try {
    return await until(`a refusal or a record on ${topic}`, async () => (reading.crash() ? errorType(reading.crash()) : reading.values.length ? 'read' : null), 30_000);
  } finally {
    await reading.consumer.disconnect().catch(() => undefined);
  }
}

/** Tries to produce one record; returns the error type that refused it, or 'written'. */
async function produceAttempt(kafka: Kafka, topic: string, headers: Record<string, string> = {}): Promise<string> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'forged', value: Buffer.from([0, 0, 0, 0, 1, 2, 104, 105]), headers }] });
    return 'written';
  } catch (err) {
    return errorType(err);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

/** The records of `topic` between two positions (read as govx). */
async function recordsBetween(topic: string, from: Array<{ partition: number; offset: string }>, to: Array<{ partition: number; offset: string }>) {
  const last = new Map(to.map((p) => [p.partition, BigInt(p.offset) - 1n]));
  const pending = new Set(
    to.filter((p) => BigInt(p.offset) > BigInt(from.find((f) => f.partition === p.partition)?.offset ?? '0')).map((p) => p.partition),
  );
  if (pending.size === 0) return [];
  return readTopicUntil(stack.kafka, topic, (got) => {
    for (const m of got) if (BigInt(m.offset) >= (last.get(m.partition) ?? 0n)) pending.delete(m.partition);
    return pending.size === 0;
  }, 60_000, from);
}

async function issueCredentials(department: string, stewardKey: string): Promise<string> {
  const base = `${stack.url}/v1/departments/${department}/kafka-credentials`;
  let res = await httpJson(base, { method: 'POST', key: stewardKey });
  if (res.status === 409) res = await httpJson(`${base}/rotate`, { method: 'POST', key: stewardKey });
  if (res.status >= 300) throw new Error(`credentials of ${department}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.password as string;
}

beforeAll(async () => {
  stack = await startTestStack();
  keys.caConsumer = await stack.key(CA, 'consumer');
  keys.caSteward = await stack.key(CA, 'steward');
  keys.psbSteward = await stack.key(PSB, 'steward');
  keys.psbPublisher = await stack.key(PSB, 'publisher');
  keys.taxConsumer = await stack.key('tax', 'consumer');
  passwords[CA] = await issueCredentials(CA, keys.caSteward);
  passwords[PSB] = await issueCredentials(PSB, keys.psbSteward);
  shareTopic = `govx.share.${await subscribe(keys.caConsumer)}`;
  revokedSubscription = await subscribe(keys.caConsumer);
  taxShareTopic = `govx.share.${await subscribe(keys.taxConsumer)}`;
  await publish(3);
  // one rejected record: the dataset's dead-letter topic exists and holds it
  const rejected = await httpJson(`${stack.url}/v1/datasets/${DATASET}/records`, { key: keys.psbPublisher, body: { records: [{ id_number: 'not-an-id' }] } });
  expect(rejected.body.rejected).toHaveLength(1);
}, 180_000);

afterAll(async () => {
  for (const c of openConsumers) await c.disconnect().catch(() => undefined);
  for (const [department, key] of [[CA, keys.caSteward], [PSB, keys.psbSteward]] as const) {
    if (key) await httpJson(`${stack.url}/v1/departments/${department}/kafka-credentials`, { method: 'DELETE', key }).catch(() => undefined);
  }
  await stack?.close();
});

describe('a client without govx-issued credentials', () => {
  it('is refused on every govx topic: no SASL, a wrong password, an unknown user, govx with a guessed password, PLAINTEXT', async () => {
    const admin = stack.kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith('govx.'));
    await admin.disconnect();
    expect(topics).toEqual(expect.arrayContaining([DATASET_TOPIC, shareTopic, `govx.dlq.${DATASET}`]));

    const retry = { retries: 0 };
    const clients: Record<string, Kafka> = {
      'TLS without SASL': testKafka({}, { credentials: 'none', retry }),
      'a wrong password': testKafka({}, { credentials: { username: `dept.${CA}`, password: 'guessed-password-0123456789' }, retry }),
      'an unknown user': testKafka({}, { credentials: { username: 'dept.nobody', password: 'guessed-password-0123456789' }, retry }),
      "govx's name, a guessed password": testKafka({}, { credentials: { username: 'govx', password: 'guessed-password-0123456789' }, retry }),
      PLAINTEXT: new RawKafka({ clientId: 'attacker', brokers: [...stack.config.kafkaBrokers], retry, logLevel: 0 }),
    };
    const outcomes: Record<string, string[]> = {};
    for (const [name, kafka] of Object.entries(clients)) {
      const consumer = kafka.consumer({ groupId: `dept.${CA}.attack-${unique()}`, retry });
      const reading = await consumer
        .connect()
        .then(() => consumer.subscribe({ topics, fromBeginning: true }))
        .then(() => 'subscribed', (err: unknown) => errorType(err));
      await consumer.disconnect().catch(() => undefined);
      const writing = await produceAttempt(kafka, DATASET_TOPIC, { 'govx-publisher': PSB });
      outcomes[name] = [reading, writing];
    }
    for (const [name, [reading, writing]] of Object.entries(outcomes)) {
      expect({ name, reading: reading === 'subscribed', writing: writing === 'written' }).toEqual({ name, reading: false, writing: false });
    }
    // the guessed passwords fail at authentication itself
    expect(outcomes['a wrong password']![0]).toMatch(/SASL|Authentication/i);
  });
});

describe("with civil-affairs' own credentials", () => {
  it('a client reads its own share topic, in a consumer group under its prefix', async () => {
    const reading = await startReading(asDepartment(CA), shareTopic, `dept.${CA}.elderly-subsidy-${unique()}`);
    await until('the share records', async () => reading.values.length >= 3 || reading.crash(), 60_000);
    expect(reading.crash()).toBeNull();
    for (const { value, headers } of reading.values) {
      expect(value![0]).toBe(0); // Confluent wire format
      expect(headers['govx-subscription']).toBe(shareTopic.replace('govx.share.', ''));
    }
    await reading.consumer.disconnect();
  });

  it('is refused a consumer group outside its prefix, even on its own share topic', async () => {
    // The broker answers FindCoordinator with GROUP_AUTHORIZATION_FAILED; kafkajs reports that as "coordinator not found".
    const outside = await readAttempt(asDepartment(CA), shareTopic, `${CA}.elderly-subsidy-${unique()}`);
    expect(['GROUP_AUTHORIZATION_FAILED', 'KafkaJSGroupCoordinatorNotFound']).toContain(outside);
    expect(await readAttempt(asDepartment(CA), shareTopic, `dept.${CA}.elderly-subsidy-${unique()}`)).toBe('read');
  });

  it('is refused on the dataset topic, on another department\'s share topic and on every dead-letter topic it does not own', async () => {
    const admin = stack.kafka.admin();
    await admin.connect();
    const dlqs = (await admin.listTopics()).filter((t) => t.startsWith('govx.dlq.'));
    await admin.disconnect();
    const { rows } = await stack.pool.query<{ id: string }>('SELECT id FROM datasets WHERE owner = $1', [CA]);
    const own = new Set(rows.map((r) => `govx.dlq.${r.id}`));
    const foreign = [DATASET_TOPIC, taxShareTopic, ...dlqs.filter((t) => !own.has(t))];
    expect(foreign).toContain(`govx.dlq.${DATASET}`);
    const kafka = asDepartment(CA);
    const outcomes: Record<string, string> = {};
    for (const topic of foreign) outcomes[topic] = await readAttempt(kafka, topic, `dept.${CA}.probe-${unique()}`);
    expect(Object.entries(outcomes).filter(([, outcome]) => outcome !== 'TOPIC_AUTHORIZATION_FAILED')).toEqual([]);
  });

  it('may not produce to any topic: its own share topic, a dataset, a dead-letter topic, one that does not exist', async () => {
    const kafka = asDepartment(CA);
    const outcomes: Record<string, string> = {};
    for (const topic of [shareTopic, DATASET_TOPIC, `govx.dlq.${DATASET}`, taxShareTopic, `govx.dataset.new-${unique()}`]) {
      outcomes[topic] = await produceAttempt(kafka, topic);
    }
    expect(Object.entries(outcomes).filter(([, outcome]) => !AUTHORIZATION_FAILED.test(outcome))).toEqual([]);
  });
});

describe('a dataset owner', () => {
  it("reads its own dataset's dead-letter topic, and nothing it was not granted", async () => {
    const kafka = asDepartment(PSB);
    expect(await readAttempt(kafka, `govx.dlq.${DATASET}`, `dept.${PSB}.dlq-${unique()}`)).toBe('read');
    expect(await readAttempt(kafka, shareTopic, `dept.${PSB}.probe-${unique()}`)).toBe('TOPIC_AUTHORIZATION_FAILED');
  });
});

describe('a forged record', () => {
  it('cannot be produced to a dataset topic by any department principal, the owner included', async () => {
    const marker = `forged-${unique()}`;
    const before = await topicEnd(stack.kafka, DATASET_TOPIC);
    const outcomes: Record<string, string> = {};
    for (const department of [CA, PSB]) {
      outcomes[department] = await produceAttempt(asDepartment(department), DATASET_TOPIC, { 'govx-publisher': 'tax', 'govx-dataset': DATASET, 'govx-forged': marker });
    }
    expect(Object.entries(outcomes).filter(([, outcome]) => !AUTHORIZATION_FAILED.test(outcome))).toEqual([]);
    const after = await topicEnd(stack.kafka, DATASET_TOPIC);
    const appended = await recordsBetween(DATASET_TOPIC, before, after);
    expect(appended.filter((m) => m.headers['govx-forged'] === marker)).toEqual([]);
  });
});

describe('revocation', () => {
  it('cuts a reading consumer off within seconds, and it reads nothing published afterwards', async () => {
    const topic = `govx.share.${revokedSubscription}`;
    const reading = await startReading(asDepartment(CA), topic, `dept.${CA}.revocation-${unique()}`);
    await until('the consumer reading', async () => reading.values.length >= 3 || reading.crash(), 60_000);
    expect(reading.crash()).toBeNull();

    const revoked = await httpJson(`${stack.url}/v1/subscriptions/${revokedSubscription}/revoke`, { key: keys.psbSteward, body: { reason: '用途已完成' } });
    expect(revoked.status).toBe(200);
    const refusal = await until('the consumer to be refused', async () => reading.crash() && errorType(reading.crash()), 30_000);
    expect(refusal).toBe('TOPIC_AUTHORIZATION_FAILED');

    // a record that lands on the share topic after the revocation (written as govx) reaches no department client
    const marker = `after-revocation-${unique()}`;
    const producer = stack.kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: Buffer.from([0, 0, 0, 0, 1]), headers: { 'govx-marker': marker } }] });
    await producer.disconnect();
    expect(await readAttempt(asDepartment(CA), topic, `dept.${CA}.revocation-${unique()}`)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(reading.values.filter((v) => v.headers['govx-marker'] === marker)).toEqual([]);
  });
});

describe('expiry', () => {
  it('withdraws the grant at the broker as soon as govx expires the subscription', async () => {
    const expiring = await subscribe(keys.caConsumer);
    const topic = `govx.share.${expiring}`;
    const acls = kafkajsAclAdmin(stack.kafka);
    const grant: AclBinding = { resourceType: 'topic', resourceName: topic, patternType: 'literal', principal: `User:dept.${CA}`, host: '*', operation: 'read', permission: 'allow' };
    try {
      expect((await acls.list(grant.principal)).map(aclKey)).toContain(aclKey(grant));
      // the approval ran out a moment ago; the distributor's next refresh expires it
      await stack.pool.query("UPDATE subscriptions SET expires_at = now() - interval '1 second' WHERE id = $1", [expiring]);
      await until('the subscription expired', async () => (await stack.pool.query("SELECT 1 FROM subscriptions WHERE id = $1 AND status = 'expired'", [expiring])).rowCount);
      await until('the grant withdrawn', async () => !(await acls.list(grant.principal)).map(aclKey).includes(aclKey(grant)));
      expect(await readAttempt(asDepartment(CA), topic, `dept.${CA}.expired-${unique()}`)).toBe('TOPIC_AUTHORIZATION_FAILED');
    } finally {
      await acls.close();
    }
  });
});

describe('a schema-change pause', () => {
  it('withdraws the grant at the broker until the owner approves again', async () => {
    const dataset = await createIndicatorDataset(stack.url, await stack.key('info-office', 'admin'), { owner: PSB });
    const sub = await requestIndicators(stack.url, keys.caConsumer, dataset, { delivery: 'kafka' });
    expect(sub.status).toBe('approved');
    const acls = kafkajsAclAdmin(stack.kafka);
    const grant: AclBinding = { resourceType: 'topic', resourceName: sub.topic, patternType: 'literal', principal: `User:dept.${CA}`, host: '*', operation: 'read', permission: 'allow' };
    const granted = async (): Promise<boolean> => (await acls.list(grant.principal)).map(aclKey).includes(aclKey(grant));
    try {
      expect(await granted()).toBe(true);
      // version 2 adds a sensitive field: the subscription pauses until psb approves it again
      const v2 = { ...indicatorSchema, fields: [...indicatorSchema.fields, { name: 'respondent_phone', type: ['null', 'string'], default: null }] };
      const registered = await httpJson(`${stack.url}/v1/datasets/${dataset}/schemas`, {
        key: keys.psbSteward,
        body: { schema: v2, fields: { respondent_phone: { sensitivity: 4, masking: 'partial' } } },
      });
      expect({ status: registered.status, body: registered.status < 300 ? null : registered.body }).toEqual({ status: 201, body: null });
      await until('the subscription paused', async () => (await stack.pool.query("SELECT 1 FROM subscriptions WHERE id = $1 AND status = 'paused'", [sub.id])).rowCount);
      await until('the grant withdrawn', async () => !(await granted()));
      const again = await httpJson(`${stack.url}/v1/subscriptions/${sub.id}/approve`, { key: keys.psbSteward, body: {} });
      expect(again.status).toBe(200);
      expect(await granted()).toBe(true);
    } finally {
      await acls.close();
    }
  });
});

describe('ACL drift', () => {
  it('is repaired by reconciliation at gateway start-up and periodically, each repair audited', async () => {
    const acls = kafkajsAclAdmin(stack.kafka);
    const principal = `User:dept.${CA}`;
    const granted: AclBinding = { resourceType: 'topic', resourceName: shareTopic, patternType: 'literal', principal, host: '*', operation: 'read', permission: 'allow' };
    const smuggled: AclBinding[] = [
      { ...granted, resourceName: DATASET_TOPIC },
      { ...granted, principal: 'User:*', resourceName: taxShareTopic },
    ];
    const present = async (): Promise<Set<string>> => new Set((await acls.list()).map(aclKey));
    const repairs = async (): Promise<Array<{ change: string; description: string }>> =>
      (await stack.pool.query("SELECT details FROM audit_log WHERE action = 'kafka.acl.repair' ORDER BY seq")).rows.map((r) => r.details);
    let reconciling: TestStack | undefined;
    try {
      expect((await present()).has(aclKey(granted))).toBe(true);
      await acls.remove([granted]);
      await acls.create(smuggled);
      expect(await readAttempt(asDepartment(CA), DATASET_TOPIC, `dept.${CA}.drift-${unique()}`)).toBe('read');

      const before = (await repairs()).length;
      reconciling = await startTestStack({ GOVX_KAFKA_ACL_RECONCILE_MS: '1000', GOVX_DISTRIBUTOR: 'false' });
      await until('the drift repaired at start-up', async () => {
        const now = await present();
        return now.has(aclKey(granted)) && smuggled.every((a) => !now.has(aclKey(a)));
      });
      // each repair has its own entry; other suites of the run may have left drift of their own to repair too,
      // so wait for these three rather than for any three
      const expected: Array<[string, string]> = [['added', shareTopic], ['removed', DATASET_TOPIC], ['removed', 'User:* READ']];
      const logged = await until('the repairs audited', async () => {
        const since = (await repairs()).slice(before);
        return expected.every(([change, text]) => since.some((r) => r.change === change && r.description.includes(text))) && since;
      });
      expect(logged).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ change: 'added', description: expect.stringContaining(shareTopic) }),
          expect.objectContaining({ change: 'removed', description: expect.stringContaining(DATASET_TOPIC) }),
          expect.objectContaining({ change: 'removed', description: expect.stringContaining('User:* READ') }),
        ]),
      );
      expect(await readAttempt(asDepartment(CA), DATASET_TOPIC, `dept.${CA}.drift-${unique()}`)).toBe('TOPIC_AUTHORIZATION_FAILED');

      // and periodically: a grant lost later comes back by the next run, audited again
      const afterStart = (await repairs()).length;
      await acls.remove([granted]);
      await until('the lost grant restored by a periodic run', async () => (await present()).has(aclKey(granted)));
      await until('the periodic repair audited', async () => (await repairs()).length > afterStart);
    } finally {
      await reconciling?.close();
      await acls.remove(smuggled).catch(() => undefined);
      await acls.close();
    }
  });
});
