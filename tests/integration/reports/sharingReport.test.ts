import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../cli';
import { appendDeliveryReceipt, createDepartment, cst, realClock, setClock, startWebhookReceiver, type ReceivedAlert } from '../../support/monitoring';
import { allowConnectorTargets } from '../../support/connectorTargets';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

/**
 * KPIs on a scripted quarter (2026Q4, with the National Day holiday and its adjusted working Saturday): known
 * publishes, requests, decisions, deliveries and monitor runs go through the real gateway, PostgreSQL and
 * Kafka at set moments, and the report must give exactly the values worked out by hand below. The departments
 * and datasets are the test's own, so other tests' records in the run's database change nothing.
 */

const run = Math.random().toString(36).slice(2, 8);
const OWNER = `kpi-owner-${run}`;
const USER_A = `kpi-haidian-${run}`;
const USER_B = `kpi-chaoyang-${run}`;
const ADMINS = `kpi-admins-${run}`;
const D1 = `kpi${run}.daily-counts`;
const D2 = `kpi${run}.monthly-stats`;
const D3 = `kpi${run}.planned`;
const SECRET = 'kpi-webhook-secret-0123456789';

let stack: TestStack;
let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let adminHooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
const keys: Record<string, string> = {};
const subs: Record<string, string> = {};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-report-'));

const api = (p: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${stack.url}${p}`, init);

function dataset(id: string, opts: { sharing: 'conditional' | 'unconditional'; updateCycle: string; status?: string }) {
  return {
    id,
    title: { zh: `测试${opts.updateCycle}数据`, en: `Test ${opts.updateCycle} data` },
    owner: OWNER,
    category: 'social-services',
    abstract: 'A dataset of the sharing KPI test.',
    sharing: opts.sharing === 'conditional' ? { type: 'conditional', conditions: 'for a stated purpose' } : { type: 'unconditional' },
    updateCycle: opts.updateCycle,
    keyField: 'record_id',
    status: opts.status ?? 'active',
    schema: {
      type: 'record',
      name: 'Count',
      namespace: 'govx.test',
      fields: [
        { name: 'record_id', type: 'string' },
        { name: 'district', type: 'string', 'govx.check': 'cn-division-code' },
        { name: 'value', type: 'double' },
      ],
    },
    fields: { record_id: { sensitivity: 1 }, district: { sensitivity: 1 }, value: { sensitivity: 1 } },
  };
}

let serial = 0;
const records = (n: number, district = '110108') => Array.from({ length: n }, () => ({ record_id: `r-${run}-${serial++}`, district, value: serial * 1.5 }));

async function publish(id: string, batch: unknown[]): Promise<{ accepted: number; rejected: unknown[] }> {
  const res = await api(`/v1/datasets/${id}/records`, { key: keys.publisher, body: { records: batch } });
  expect(res.status).toBe(200);
  return res.body;
}

async function request(consumerKey: string, id: string, purpose: string): Promise<string> {
  const res = await api('/v1/subscriptions', {
    key: consumerKey,
    body: { dataset: id, fields: ['record_id', 'district', 'value'], purpose, expiresAt: '2028-06-30T00:00:00Z' },
  });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** The working days of D1's update cycle in the period, less the two it misses (the adjusted Saturday and 18 November). */
const D1_DAYS = [
  '2026-10-08', '2026-10-09', '2026-10-12', '2026-10-13', '2026-10-14', '2026-10-15', '2026-10-16', '2026-10-19', '2026-10-20',
  '2026-10-21', '2026-10-22', '2026-10-23', '2026-10-26', '2026-10-27', '2026-10-28', '2026-10-29', '2026-10-30', '2026-11-02',
  '2026-11-03', '2026-11-04', '2026-11-05', '2026-11-06', '2026-11-09', '2026-11-10', '2026-11-11', '2026-11-12', '2026-11-13',
  '2026-11-16', '2026-11-17', '2026-11-19',
];

type Step = [string, () => Promise<unknown>];

beforeAll(async () => {
  stack = await startTestStack({ GOVX_DISTRIBUTOR: 'false' });
  await createDepartment(stack.pool, { id: OWNER, zh: '测试统计局', en: 'Test Statistics Bureau', division: '110000' });
  await createDepartment(stack.pool, { id: USER_A, zh: '测试海淀区政府', en: 'Test Haidian District', kind: 'district-government', division: '110108' });
  await createDepartment(stack.pool, { id: USER_B, zh: '测试朝阳区政府', en: 'Test Chaoyang District', kind: 'district-government', division: '110105' });
  await createDepartment(stack.pool, { id: ADMINS, zh: '测试数据管理局', en: 'Test Data Administration', kind: 'administrator' });
  keys.admin = await stack.key(ADMINS, 'admin');
  keys.steward = await stack.key(OWNER, 'steward');
  keys.publisher = await stack.key(OWNER, 'publisher');
  keys.a = await stack.key(USER_A, 'consumer');
  keys.b = await stack.key(USER_B, 'consumer');
  keys.aSteward = await stack.key(USER_A, 'steward');
  hooks = await startWebhookReceiver(SECRET);
  adminHooks = await startWebhookReceiver(SECRET);
  // the receivers are on loopback: an administrator allows both departments' webhooks there
  for (const department of [OWNER, ADMINS]) await allowConnectorTargets(stack.url, keys.admin, department, { webhookHosts: ['127.0.0.1'], allowPrivateWebhooks: true });
  expect((await api(`/v1/departments/${OWNER}/webhook`, { method: 'PUT', key: keys.steward, body: { url: hooks.url, secret: SECRET } })).status).toBe(200);
  expect((await api(`/v1/departments/${ADMINS}/webhook`, { method: 'PUT', key: keys.admin, body: { url: adminHooks.url, secret: SECRET } })).status).toBe(200);

  const monitorRun = (): Promise<unknown> => stack.gateway.monitor.runOnce(new Date());
  const steps: Step[] = [
    ['2026-09-24T10:00', async () => {
      for (const [id, opts] of [[D1, { sharing: 'conditional', updateCycle: 'daily' }], [D2, { sharing: 'unconditional', updateCycle: 'monthly' }], [D3, { sharing: 'unconditional', updateCycle: 'weekly', status: 'draft' }]] as const) {
        expect((await api('/v1/datasets', { key: keys.admin, body: dataset(id, opts) })).status).toBe(201);
      }
    }],
    // on a holiday: published, but no window of a daily dataset
    ['2026-10-03T12:00', () => publish(D1, records(3))],
    ['2026-10-03T11:00', async () => (subs.r1 = await request(keys.a, D1, '高龄津贴资格核查'))],
    ['2026-10-09T09:00', async () => (subs.r2 = await request(keys.b, D1, '社区人口统计'))],
    ...D1_DAYS.map((day): Step => [`${day}T12:00`, () => publish(D1, day === '2026-10-12' ? [...records(4), ...records(1, '119999')] : records(3))]),
    ['2026-10-13T15:00', async () => expect((await publish(D1, records(2, '110199'))).accepted).toBe(0)],
    ['2026-10-19T09:00', monitorRun],
    ['2026-10-19T15:00', async () => expect((await api(`/v1/subscriptions/${subs.r1}/approve`, { key: keys.steward, body: {} })).status).toBe(200)],
    ['2026-10-20T11:00', () => publish(D2, records(3))],
    ['2026-10-20T16:00', () => appendDeliveryReceipt(stack.pool, { subscription: subs.r1!, dataset: D1, consumer: USER_A, channel: 'kafka', count: 50 })],
    ['2026-10-21T09:00', monitorRun],
    ['2026-10-21T10:00', async () => (subs.s3 = await request(keys.a, D2, '区域经济分析'))],
    ['2026-10-21T16:00', () => appendDeliveryReceipt(stack.pool, { subscription: subs.r1!, dataset: D1, consumer: USER_A, channel: 'kafka', count: 30, fromOffset: 50 })],
    ['2026-10-22T16:00', () => appendDeliveryReceipt(stack.pool, { subscription: subs.r1!, dataset: D1, consumer: USER_A, channel: 'http-pull', count: 20, fromOffset: 80 })],
    ['2026-10-22T17:00', () => appendDeliveryReceipt(stack.pool, { subscription: subs.s3!, dataset: D2, consumer: USER_A, channel: 'sink', count: 3, connector: `sink-${run}` })],
    ['2026-10-23T09:00', monitorRun],
    ['2026-10-26T10:00', async () => expect((await api(`/v1/subscriptions/${subs.r2}/reject`, { key: keys.steward, body: { reason: '用途不明确' } })).status).toBe(200)],
    ['2026-10-27T09:00', monitorRun],
    ['2026-11-02T10:00', async () => (subs.r3 = await request(keys.b, D1, '社区人口统计（补充说明用途）'))],
    ['2026-11-03T09:00', async () => (subs.s4 = await request(keys.b, D2, '经济运行监测'))],
    ['2026-11-03T18:00', () => appendDeliveryReceipt(stack.pool, { subscription: subs.s4!, dataset: D2, consumer: USER_B, channel: 'kafka', count: 7 })],
    ['2026-11-05T16:00', () => appendDeliveryReceipt(stack.pool, { subscription: subs.r1!, dataset: D1, consumer: USER_A, channel: 'sse', count: 10, fromOffset: 100 })],
    ['2026-11-13T10:00', monitorRun],
    ['2026-11-17T10:00', monitorRun],
    ['2026-11-18T14:00', async () => (subs.r4 = await request(keys.a, D1, '困难群众救助'))],
    ['2026-11-19T10:00', monitorRun],
    // D1's data of the day arrives at noon, after the overdue check and before the next one
    ['2026-11-19T13:00', monitorRun],
  ];
  steps.sort((x, y) => x[0].localeCompare(y[0]));
  try {
    for (const [at, step] of steps) {
      setClock(cst(at));
      await step();
    }
  } finally {
    setClock(cst('2026-11-20T10:00'));
  }
});

afterAll(async () => {
  realClock();
  await hooks?.close();
  await adminHooks?.close();
  await stack?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function ownerSection() {
  const res = await api(`/v1/reports/sharing?quarter=2026Q4&department=${OWNER}`, { key: keys.admin });
  expect(res.status).toBe(200);
  expect(res.body.departments).toHaveLength(1);
  return { report: res.body, owner: res.body.departments[0] };
}

describe('the sharing KPIs of a scripted quarter', () => {
  it('evaluates a running quarter up to now, with the 2026 calendar', async () => {
    const { report } = await ownerSection();
    expect(report.period).toEqual({
      from: '2026-09-30T16:00:00.000Z', to: '2026-12-31T16:00:00.000Z', label: '2026Q4', evaluatedUntil: cst('2026-11-20T10:00').toISOString(),
    });
    expect(report.settings).toEqual({ replyDeadlineWorkingDays: 10, timeZone: 'Asia/Shanghai', calendarYears: [2026] });
  });

  it('目录挂接率: two of three catalog entries are active, registered and received data', async () => {
    const { owner } = await ownerSection();
    expect(owner.catalogLinkage).toEqual({ numerator: 2, denominator: 3, rate: 0.6667 });
    expect(owner.datasets.map((d: any) => [d.id, d.linked])).toEqual([[D1, true], [D2, true], [D3, false]]);
    expect(owner.division).toEqual({ code: '110000', name: '北京市' });
  });

  it('数据更新及时率: working days only (not the holiday), the adjusted Saturday counts, the running window does not', async () => {
    const { owner } = await ownerSection();
    const [d1, d2, d3] = owner.datasets;
    expect(d1.timeliness).toEqual({ numerator: 30, denominator: 32, rate: 0.9375, missed: ['2026-10-10', '2026-11-18'] });
    expect(d2.timeliness).toEqual({ numerator: 1, denominator: 1, rate: 1, missed: [] });
    expect(d3.timeliness).toEqual({ numerator: 0, denominator: 0, rate: null, missed: [] });
    expect(owner.updateTimeliness).toEqual({ numerator: 31, denominator: 33, rate: 0.9394 });
    expect(d1.lastRecordAt).toBe(cst('2026-11-19T12:00').toISOString());
    expect(d1.overdue).toBe(false);
  });

  it('申请响应时长 and 按时答复率: deadlines of 10 working days from the day after the request, across the holiday', async () => {
    const { owner } = await ownerSection();
    const r = owner.requests;
    expect(r.items.map((i: any) => [i.subscription, i.dueOn, i.decision, i.responseWorkingDays, i.onTime])).toEqual([
      [subs.r1, '2026-10-20', 'approve', 9, true], // requested on a holiday; without the holiday calendar it would be late
      [subs.r2, '2026-10-22', 'reject', 12, false],
      [subs.r3, '2026-11-16', null, null, false], // undecided past its due day
      [subs.r4, '2026-12-02', null, null, null], // not yet due
    ]);
    expect(r).toMatchObject({ received: 4, decided: 2, pending: 1, onTime: 1, late: 2, overdue: 1, medianResponseWorkingDays: 10.5, averageResponseHours: 398.5 });
    expect(r.onTimeRate).toEqual({ numerator: 1, denominator: 3, rate: 0.3333 });
  });

  it('共享调用量: records per subscription and channel, distinct consuming departments per dataset', async () => {
    const { owner } = await ownerSection();
    expect(owner.provided.records).toBe(120);
    expect(owner.provided.byChannel).toEqual({ kafka: 87, 'http-pull': 20, sse: 10, sink: 3 });
    expect(owner.provided.rows.map((u: any) => [u.subscription, u.channel, u.records, u.batches])).toEqual([
      [subs.r1, 'kafka', 80, 2],
      [subs.r1, 'http-pull', 20, 1],
      [subs.r1, 'sse', 10, 1],
      [subs.s4, 'kafka', 7, 1],
      [subs.s3, 'sink', 3, 1],
    ]);
    expect(owner.datasets.map((d: any) => [d.deliveredRecords, d.consumingDepartments])).toEqual([[110, [USER_A]], [10, [USER_A, USER_B].sort()], [0, []]]);
    const all = await api('/v1/reports/sharing?quarter=2026Q4', { key: keys.admin });
    const a = all.body.departments.find((d: any) => d.id === USER_A);
    expect(a.received).toMatchObject({ records: 113, byChannel: { kafka: 80, 'http-pull': 20, sse: 10, sink: 3 } });
    expect(a.division).toEqual({ code: '110108', name: '北京市海淀区' });
    expect(all.body.departments.find((d: any) => d.id === USER_B).received.records).toBe(7);
  });

  it('rejection and dead-letter rates of the publisher, a batch rejected whole included', async () => {
    const { owner } = await ownerSection();
    expect(owner.publishing).toEqual({
      batches: 33, accepted: 97, rejected: 3, deadLettered: 3,
      rejectionRate: { numerator: 3, denominator: 100, rate: 0.03 }, deadLetterRate: { numerator: 3, denominator: 100, rate: 0.03 },
    });
    expect(owner.datasets.map((d: any) => [d.acceptedRecords, d.rejectedRecords])).toEqual([[94, 3], [3, 0], [0, 0]]);
  });

  it('counts the alerts of the quarter: reminders, overdue replies and the overdue dataset', async () => {
    const { owner } = await ownerSection();
    expect(owner.alerts.map((a: any) => [a.kind, a.subject, a.raisedAt, a.clearedAt])).toEqual([
      ['reply_reminder', `subscription:${subs.r1}`, cst('2026-10-19T09:00').toISOString(), cst('2026-10-21T09:00').toISOString()],
      ['reply_reminder', `subscription:${subs.r2}`, cst('2026-10-21T09:00').toISOString(), cst('2026-10-27T09:00').toISOString()],
      ['reply_deadline', `subscription:${subs.r2}`, cst('2026-10-23T09:00').toISOString(), cst('2026-10-27T09:00').toISOString()],
      ['reply_reminder', `subscription:${subs.r3}`, cst('2026-11-13T10:00').toISOString(), null],
      ['reply_deadline', `subscription:${subs.r3}`, cst('2026-11-17T10:00').toISOString(), null],
      ['freshness', `dataset:${D1}`, cst('2026-11-19T10:00').toISOString(), cst('2026-11-19T13:00').toISOString()],
    ]);
  });
});

describe('alerts reach the owner (and, for overdue replies, the administrators)', () => {
  const mine = (list: ReceivedAlert[]) => list.filter((r) => r.alert.department === OWNER);

  it('posts every raise and clear to the owner, signed', async () => {
    const got = mine(hooks.received);
    expect(got.every((r) => r.signatureValid)).toBe(true);
    expect(got.map((r) => [r.event, r.alert.kind, r.alert.subject])).toEqual([
      ['alert.raised', 'reply_reminder', `subscription:${subs.r1}`],
      ['alert.cleared', 'reply_reminder', `subscription:${subs.r1}`],
      ['alert.raised', 'reply_reminder', `subscription:${subs.r2}`],
      ['alert.raised', 'reply_deadline', `subscription:${subs.r2}`],
      ['alert.cleared', 'reply_reminder', `subscription:${subs.r2}`],
      ['alert.cleared', 'reply_deadline', `subscription:${subs.r2}`],
      ['alert.raised', 'reply_reminder', `subscription:${subs.r3}`],
      ['alert.raised', 'reply_deadline', `subscription:${subs.r3}`],
      ['alert.raised', 'freshness', `dataset:${D1}`],
      ['alert.cleared', 'freshness', `dataset:${D1}`],
    ]);
    const overdue = got.find((r) => r.alert.kind === 'freshness' && r.event === 'alert.raised')!;
    expect(overdue.alert.details).toMatchObject({ dataset: D1, updateCycle: 'daily', lastRecordAt: cst('2026-11-17T12:00').toISOString(), expectedSince: cst('2026-11-18T00:00').toISOString(), stalenessSeconds: 46 * 3600 });
  });

  it('tells the administrators of overdue replies only', async () => {
    const got = mine(adminHooks.received);
    expect(got.map((r) => [r.event, r.alert.kind, r.alert.subject])).toEqual([
      ['alert.raised', 'reply_deadline', `subscription:${subs.r2}`],
      ['alert.raised', 'reply_deadline', `subscription:${subs.r3}`],
    ]);
    expect(got.every((r) => r.signatureValid)).toBe(true);
  });

  it('records every alert in the audit trail', async () => {
    const { rows } = await stack.pool.query(
      `SELECT action, target FROM audit_log WHERE action LIKE 'alert.%' AND details->>'department' = $1 ORDER BY seq`, [OWNER],
    );
    expect(rows.map((r) => r.action)).toEqual([
      'alert.reply_reminder.raise', 'alert.reply_reminder.clear', 'alert.reply_reminder.raise', 'alert.reply_deadline.raise',
      'alert.reply_reminder.clear', 'alert.reply_deadline.clear', 'alert.reply_reminder.raise', 'alert.reply_deadline.raise',
      'alert.freshness.raise', 'alert.freshness.clear',
    ]);
  });

  it('shows the staleness of each dataset as a Prometheus gauge', async () => {
    await stack.gateway.monitor.runOnce(cst('2026-11-20T10:00'));
    const metrics = await (await fetch(stack.gateway.metricsUrl)).text();
    expect(metrics).toContain(`govx_dataset_staleness_seconds{dataset="${D1}",owner="${OWNER}",update_cycle="daily"} ${22 * 3600}`);
    expect(metrics).toContain(`govx_dataset_overdue{dataset="${D1}",owner="${OWNER}",update_cycle="daily"} 0`);
    expect(metrics).not.toContain(`dataset="${D3}"`); // a draft is not expected to receive data
  });
});

describe('reply deadlines over the API', () => {
  it('lists pending requests with their due day for the owner and administrators, overdue first', async () => {
    const res = await api('/v1/reports/reply-deadlines', { key: keys.steward });
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: any) => [i.subscription, i.dueOn, i.workingDaysLeft, i.overdue])).toEqual([
      [subs.r3, '2026-11-16', -4, true],
      [subs.r4, '2026-12-02', 8, false],
    ]);
    expect(res.body.overdue).toBe(1);
    const overdueOnly = await api('/v1/reports/reply-deadlines?overdue=true', { key: keys.admin });
    expect(overdueOnly.body.items.map((i: any) => i.subscription)).toContain(subs.r3);
    expect(overdueOnly.body.items.map((i: any) => i.subscription)).not.toContain(subs.r4);
  });

  it("hides other departments' requests, and refuses consumers and publishers", async () => {
    const other = await api('/v1/reports/reply-deadlines', { key: keys.aSteward });
    expect(other.status).toBe(200);
    expect(other.body.items.filter((i: any) => i.owner === OWNER)).toEqual([]);
    expect((await api('/v1/reports/reply-deadlines', { key: keys.a })).status).toBe(403);
    expect((await api('/v1/reports/reply-deadlines', { key: keys.publisher })).status).toBe(403);
  });
});

describe('who sees which report', () => {
  it("gives a steward its own department's section only", async () => {
    const res = await api('/v1/reports/sharing?quarter=2026Q4', { key: keys.steward });
    expect(res.status).toBe(200);
    expect(res.body.departments.map((d: any) => d.id)).toEqual([OWNER]);
    expect(res.body.summary.catalogLinkage).toEqual({ numerator: 2, denominator: 3, rate: 0.6667 });
  });

  it("refuses a steward another department's section, and consumers and publishers any report", async () => {
    const other = await api(`/v1/reports/sharing?quarter=2026Q4&department=${OWNER}`, { key: keys.aSteward });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('auth.forbidden');
    expect((await api('/v1/reports/sharing?quarter=2026Q4', { key: keys.a })).status).toBe(403);
    expect((await api('/v1/reports/sharing?quarter=2026Q4', { key: keys.publisher })).status).toBe(403);
    expect((await api('/v1/reports/sharing?quarter=2026Q4')).status).toBe(401);
  });

  it("keeps a department's webhook from other departments as if it did not exist", async () => {
    const res = await api(`/v1/departments/${OWNER}/webhook`, { key: keys.aSteward });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('webhook.not_found');
    expect((await api(`/v1/departments/${OWNER}/webhook`, { method: 'PUT', key: keys.aSteward, body: { url: 'http://127.0.0.1:1/x', secret: 'x'.repeat(16) } })).status).toBe(404);
    const own = await api(`/v1/departments/${OWNER}/webhook`, { key: keys.steward });
    expect(own.body).toEqual({ department: OWNER, url: hooks.url, updatedAt: expect.any(String) });
    expect(JSON.stringify(own.body)).not.toContain(SECRET);
  });

  it('answers bad periods with a specific 400', async () => {
    for (const [q, code] of [
      ['quarter=2026Q5', 'request.invalid_query'],
      ['from=2026-10-01', 'report.invalid_period'],
      ['from=2026-10-01&to=2026-09-01', 'report.invalid_period'],
      ['from=2026-02-30&to=2026-03-01', 'report.invalid_period'],
      ['quarter=2026Q4&from=2026-10-01&to=2026-11-01', 'report.invalid_period'],
      ['from=2020-01-01&to=2026-01-01', 'report.invalid_period'],
    ]) {
      const res = await api(`/v1/reports/sharing?${q}`, { key: keys.admin });
      expect([q, res.status, res.body.error?.code]).toEqual([q, 400, code]);
    }
  });
});

describe('govx report sharing', () => {
  async function govx(...args: string[]): Promise<number> {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const env = { url: process.env.GOVX_URL, key: process.env.GOVX_KEY };
    process.env.GOVX_URL = stack.url;
    process.env.GOVX_KEY = keys.admin;
    process.exitCode = 0;
    try {
      await main(['node', 'govx', 'report', 'sharing', ...args]);
      return Number(process.exitCode ?? 0);
    } finally {
      write.mockRestore();
      process.env.GOVX_URL = env.url;
      process.env.GOVX_KEY = env.key;
      process.exitCode = 0;
    }
  }

  it('prints a PDF a department head can read: a summary page and the department, in Chinese, with its figures', async () => {
    const out = path.join(tmp, 'q4.pdf');
    expect(await govx('--quarter', '2026Q4', '--department', OWNER, '--format', 'pdf', '--out', out)).toBe(0);
    const info = execFileSync('pdfinfo', [out], { encoding: 'utf8' });
    const pages = Number(/Pages:\s+(\d+)/.exec(info)![1]);
    expect(pages).toBeGreaterThanOrEqual(2);
    const text = execFileSync('pdftotext', ['-layout', out, '-'], { encoding: 'utf8' });
    const first = execFileSync('pdftotext', ['-f', '1', '-l', '1', '-layout', out, '-'], { encoding: 'utf8' });
    expect(first).toContain('政务数据共享考核报告');
    expect(first).toContain('2026年第4季度');
    expect(first).toContain('目录挂接率');
    expect(text).toContain('测试统计局');
    expect(text).toContain('66.7%');
    expect(text).toContain('93.9%');
    expect(text).toContain('33.3%');
    expect(text).toContain('2026-11-16');
    expect(text).toContain('北京市');
  }, 300_000);

  it('writes the same report as HTML with server-rendered charts, and in English', async () => {
    const zh = path.join(tmp, 'q4.html');
    const en = path.join(tmp, 'q4-en.html');
    expect(await govx('--quarter', '2026Q4', '--department', OWNER, '--format', 'html', '--out', zh)).toBe(0);
    expect(await govx('--quarter', '2026Q4', '--department', OWNER, '--format', 'html', '--lang', 'en', '--out', en)).toBe(0);
    const html = fs.readFileSync(zh, 'utf8');
    expect(html).toContain('<html lang="zh-CN">');
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(4);
    expect(html).not.toContain('<script');
    expect(html).toContain('测试统计局');
    const english = fs.readFileSync(en, 'utf8');
    expect(english).toContain('Government data sharing report');
    expect(english).toContain('Catalog linkage rate');
    expect(english).toContain('Test Statistics Bureau');
  }, 120_000);

  it('writes one CSV row per figure', async () => {
    const out = path.join(tmp, 'q4.csv');
    expect(await govx('--quarter', '2026Q4', '--department', OWNER, '--format', 'csv', '--out', out)).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toBe('period,department,department_name,scope,item,metric,numerator,denominator,value');
    expect(lines).toContain(`2026Q4,${OWNER},测试统计局,department,${OWNER},catalog_linkage_rate,2,3,0.6667`);
    expect(lines).toContain(`2026Q4,${OWNER},测试统计局,dataset,${D1},update_timeliness_rate,30,32,0.9375`);
    expect(lines).toContain(`2026Q4,${OWNER},测试统计局,department,${OWNER},median_reply_working_days,,,10.5`);
  });
});

describe('the monitor in the gateway lifecycle', () => {
  it('runs on its interval once the gateway starts and stops with it', async () => {
    realClock();
    const live = await startTestStack({ GOVX_DISTRIBUTOR: 'false', GOVX_MONITOR_INTERVAL_MS: '200', GOVX_CONNECT_WORKER: 'false' });
    try {
      let metrics = '';
      for (let i = 0; i < 100 && !metrics.includes('govx_dataset_staleness_seconds{dataset="population.residents"'); i++) {
        await new Promise((r) => setTimeout(r, 200));
        metrics = await (await fetch(live.gateway.metricsUrl)).text();
      }
      expect(metrics).toContain('govx_dataset_staleness_seconds{dataset="macro-economy.indicators",owner="statistics",update_cycle="monthly"}');
    } finally {
      await live.close();
    }
  });
});
