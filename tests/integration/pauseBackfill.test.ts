import { compileNaturalType } from '../../schemas/codec';
import { httpJson, readTopicUntil, type ReadMessage, startTestStack, type TestStack } from '../support/stack';

/**
 * Nothing lost on pause (decision 0016): a schema change that touches an approved field pauses one
 * subscription while another keeps the dataset's pipe running past what is published meanwhile. Approved
 * again, the paused subscription receives every record published during the pause, in order, then live
 * records, under its earlier masks and expiry; the audit entry carries the difference between the grants.
 */

let stack: TestStack;
const keys: Record<string, string> = {};
const dataset = `test.pause-${Date.now().toString(36)}`;
const N = 30;

const v1 = {
  type: 'record',
  name: 'Survey',
  namespace: 'govx.test',
  fields: [
    { name: 'code', type: 'string' },
    { name: 'value', type: 'double' },
    { name: 'contact', type: ['null', 'string'], default: null },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};
const v2 = { ...v1, fields: v1.fields.filter((f) => f.name !== 'note') };

beforeAll(async () => {
  stack = await startTestStack();
  for (const [name, dept, role] of [
    ['tax', 'tax', 'consumer'],
    ['haidian', 'haidian', 'consumer'],
    ['steward', 'statistics', 'steward'],
    ['publisher', 'statistics', 'publisher'],
    ['admin', 'info-office', 'admin'],
  ] as const) {
    keys[name] = await stack.key(dept, role);
  }
  const created = await api('/v1/datasets', {
    key: keys.admin,
    body: {
      id: dataset, title: { zh: '暂停测试', en: 'Pause test' }, owner: 'statistics', category: 'macro-economy', abstract: 'For a test.',
      sharing: { type: 'conditional', conditions: 'for a test' }, updateCycle: 'monthly', keyField: 'code', status: 'active', schema: v1,
      fields: { value: { sensitivity: 1 }, contact: { sensitivity: 3, masking: 'partial' } },
    },
  });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await stack?.close();
});

const api = (path: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${stack.url}${path}`, init);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function decode(m: ReadMessage): Promise<Record<string, unknown>> {
  const { rows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [m.value!.readInt32BE(1)]);
  return compileNaturalType(JSON.parse(rows[0].schema)).fromBuffer(m.value!.subarray(5)) as Record<string, unknown>;
}

/** Three keys, so records spread over partitions; `value` numbers them in the order they were published. */
const rows = (from: number, n: number, withNote: boolean) =>
  Array.from({ length: n }, (_, i) => ({ code: `K${(from + i) % 3}`, value: from + i, contact: `138001380${String(from + i).padStart(2, '0')}`, ...(withNote ? { note: 'n' } : {}) }));

async function publish(records: unknown[]): Promise<void> {
  const res = await api(`/v1/datasets/${dataset}/records`, { key: keys.publisher, body: { records } });
  expect([res.status, res.body.rejected]).toEqual([200, []]);
}

it('delivers what was published during a pause, in order, under the earlier masks and expiry, then live records', async () => {
  const request = async (key: string, fields: string[]) =>
    (await api('/v1/subscriptions', { key, body: { dataset, fields, purpose: '暂停补发', expiresAt: inDays(60), startFrom: 'latest' } })).body.id as string;
  const subId = await request(keys.tax, ['code', 'value', 'contact', 'note']);
  const controlId = await request(keys.haidian, ['code', 'value']);
  // the steward tightens: the contact hashed (tax could see it in clear), and 7 days instead of the 60 asked for
  const expiresAt = inDays(7);
  const approved = await api(`/v1/subscriptions/${subId}/approve`, { key: keys.steward, body: { masking: { contact: 'hash' }, expiresAt } });
  expect(approved.status).toBe(200);
  expect((await api(`/v1/subscriptions/${controlId}/approve`, { key: keys.steward, body: {} })).status).toBe(200);

  await publish(rows(0, 3, true));
  const topic = `govx.share.${subId}`;
  await readTopicUntil(stack.kafka, topic, (m) => m.length >= 3);

  // a new schema version drops `note`: the subscription that was granted it pauses, the control goes on
  const reg = await api(`/v1/datasets/${dataset}/schemas`, { key: keys.steward, body: { schema: v2 } });
  expect(reg.status).toBe(201);
  expect(reg.body.changes.removed).toEqual(['note']);
  const paused = await until('the pause', async () => {
    const s = (await api(`/v1/subscriptions/${subId}`, { key: keys.tax })).body;
    return s.status === 'paused' ? s : null;
  });
  expect(paused.statusReason).toContain('note');
  const { rows: pauses } = await stack.pool.query("SELECT details FROM audit_log WHERE target = $1 AND action = 'subscription.pause'", [`subscription:${subId}`]);
  expect(Object.keys(pauses[0].details.positions).length).toBeGreaterThan(0);

  // published during the pause; the control receives them, so the dataset's pipe has moved past them
  await publish(rows(3, N, false));
  await readTopicUntil(stack.kafka, `govx.share.${controlId}`, (m) => m.length >= 3 + N, 30_000);
  const pulled = await api(`/v1/subscriptions/${subId}/records?waitMs=0`, { key: keys.tax });
  expect([pulled.status, pulled.body.error.code]).toEqual([409, 'subscription.not_active']);

  // approved again with nothing said: the earlier decision stands
  const again = await api(`/v1/subscriptions/${subId}/approve`, { key: keys.steward, body: {} });
  expect(again.status).toBe(200);
  expect(again.body.fields).toEqual([
    { name: 'code', delivery: 'clear' },
    { name: 'value', delivery: 'clear' },
    { name: 'contact', delivery: 'hash' },
  ]);
  expect(Date.parse(again.body.expiresAt)).toBe(Date.parse(expiresAt));
  const { rows: approvals } = await stack.pool.query(
    "SELECT details FROM audit_log WHERE target = $1 AND action = 'subscription.approve' ORDER BY seq",
    [`subscription:${subId}`],
  );
  expect(approvals).toHaveLength(2);
  expect(approvals[1].details.grantDiff).toEqual({ added: [], removed: ['note'], changed: [] });
  expect(approvals[1].details.resumed.from).toEqual(pauses[0].details.positions);

  await publish(rows(3 + N, 2, false));
  const total = 3 + N + 2;
  const got = await readTopicUntil(stack.kafka, topic, (m) => new Set(m.map((x) => x.offset + ':' + x.partition)).size >= total, 60_000);
  const values = await Promise.all(got.map(decode));
  const during = values.filter((v) => (v.value as number) >= 3 && (v.value as number) < 3 + N);
  // every record published during the pause, once, with the earlier masks, and nothing of the dropped field
  expect(during.map((v) => v.value).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: N }, (_, i) => 3 + i));
  for (const v of during) {
    expect(Object.keys(v).sort()).toEqual(['code', 'contact', 'value']);
    expect(v.contact).toMatch(/^[0-9a-f]{32}$/);
  }
  // in order: per key (one partition each) the values only grow, so the pause's records precede the live ones
  for (const key of ['K0', 'K1', 'K2']) {
    const seq = got.map((m, i) => [String(m.key), values[i]!.value as number] as const).filter(([k]) => k === key).map(([, v]) => v);
    expect(seq).toEqual([...seq].sort((a, b) => a - b));
  }
  expect(values.filter((v) => (v.value as number) >= 3 + N).map((v) => v.value).sort()).toEqual([3 + N, 4 + N]);
});
