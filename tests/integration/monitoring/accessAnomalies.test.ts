import { AccessAnomalyCheck } from '../../../monitoring/accessAnomalies';
import { AlertBook } from '../../../monitoring/alerts';
import { AlertNotifier } from '../../../monitoring/notifier';
import { createLogger } from '../../../lib/logger';
import { appendDeliveryReceipt, createDepartment, cst, realClock, setClock, startWebhookReceiver } from '../../support/monitoring';
import { allowConnectorTargets } from '../../support/connectorTargets';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

/**
 * Access anomalies on a replayed history: a subscription's normal week of deliveries raises nothing; a spike,
 * a first bulk export and deliveries after revocation each raise one alert to the owner and the
 * administrators, with the delivery receipts as evidence. The check runs at the end of each day (China time).
 */

const run = Math.random().toString(36).slice(2, 8);
const OWNER = `anomaly-owner-${run}`;
const CONSUMER = `anomaly-user-${run}`;
const ADMINS = `anomaly-admins-${run}`;
const DATASET = `anomaly${run}.events`;
const SECRET = 'anomaly-webhook-secret-0123456789';

let stack: TestStack;
let ownerHooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let adminHooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
let check: AccessAnomalyCheck;
let subscription: string;
const keys: Record<string, string> = {};
const api = (p: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${stack.url}${p}`, init);

async function deliver(at: string, count: number): Promise<number> {
  setClock(cst(at));
  return appendDeliveryReceipt(stack.pool, { subscription, dataset: DATASET, consumer: CONSUMER, channel: 'kafka', count });
}

async function endOfDay(day: string) {
  setClock(cst(`${day}T23:30`));
  return check.run(new Date());
}

beforeAll(async () => {
  stack = await startTestStack({ GOVX_DISTRIBUTOR: 'false' });
  await createDepartment(stack.pool, { id: OWNER, zh: '测试数据提供部门', en: 'Test provider' });
  await createDepartment(stack.pool, { id: CONSUMER, zh: '测试数据使用部门', en: 'Test consumer' });
  await createDepartment(stack.pool, { id: ADMINS, zh: '测试管理部门', en: 'Test administrators', kind: 'administrator' });
  keys.admin = await stack.key(ADMINS, 'admin');
  keys.steward = await stack.key(OWNER, 'steward');
  keys.consumer = await stack.key(CONSUMER, 'consumer');
  ownerHooks = await startWebhookReceiver(SECRET);
  adminHooks = await startWebhookReceiver(SECRET);
  // the receivers are on loopback: an administrator allows both departments' webhooks there
  for (const department of [OWNER, ADMINS]) await allowConnectorTargets(stack.url, keys.admin, department, { webhookHosts: ['127.0.0.1'], allowPrivateWebhooks: true });
  await api(`/v1/departments/${OWNER}/webhook`, { method: 'PUT', key: keys.steward, body: { url: ownerHooks.url, secret: SECRET } });
  await api(`/v1/departments/${ADMINS}/webhook`, { method: 'PUT', key: keys.admin, body: { url: adminHooks.url, secret: SECRET } });
  check = new AccessAnomalyCheck(stack.pool, new AlertBook(stack.pool, new AlertNotifier(stack.pool, createLogger('silent'))), {
    baselineDays: 7, volumeFactor: 3, minRecords: 1000, bulkRecords: 10_000,
  });

  setClock(cst('2026-09-01T10:00'));
  const created = await api('/v1/datasets', {
    key: keys.admin,
    body: {
      id: DATASET, title: { zh: '测试事件', en: 'Test events' }, owner: OWNER, category: 'other', abstract: 'anomaly test',
      sharing: { type: 'unconditional' }, updateCycle: 'daily', keyField: 'id',
      schema: { type: 'record', name: 'Event', namespace: 'govx.test', fields: [{ name: 'id', type: 'string' }] },
      fields: { id: { sensitivity: 1 } },
    },
  });
  expect(created.status).toBe(201);
  const requested = await api('/v1/subscriptions', { key: keys.consumer, body: { dataset: DATASET, fields: ['id'], purpose: '事件统计', expiresAt: '2028-01-01T00:00:00Z' } });
  expect(requested.body.status).toBe('approved');
  subscription = requested.body.id;
});

afterAll(async () => {
  realClock();
  await ownerHooks?.close();
  await adminHooks?.close();
  await stack?.close();
});

const anomalies = async () =>
  (await api(`/v1/alerts?kind=access_anomaly`, { key: keys.steward })).body.items.filter((a: any) => a.subject === `subscription:${subscription}`).reverse();

describe('access anomalies of one subscription', () => {
  let spikeSeqs: number[] = [];

  it('raises nothing over a normal week', async () => {
    const week: Array<[string, number]> = [['2026-09-07', 900], ['2026-09-08', 1100], ['2026-09-09', 1000], ['2026-09-10', 950], ['2026-09-11', 1050], ['2026-09-12', 1000], ['2026-09-13', 1000]];
    for (const [day, records] of week) {
      await deliver(`${day}T10:00`, records / 2);
      await deliver(`${day}T16:00`, records / 2);
      expect(await endOfDay(day)).toEqual([]);
    }
    expect(await anomalies()).toEqual([]);
  });

  it('raises a volume alert on a spike above three times the baseline, with the receipts as evidence', async () => {
    spikeSeqs = [await deliver('2026-09-14T09:00', 2000), await deliver('2026-09-14T13:00', 2000), await deliver('2026-09-14T20:00', 1500)];
    const raised = await endOfDay('2026-09-14');
    expect(raised.map((a) => a.occasion)).toEqual(['volume:2026-09-14']);
    expect(raised[0]!.details).toMatchObject({
      rule: 'volume', day: '2026-09-14', subscription, dataset: DATASET, consumer: CONSUMER,
      baselineDays: 7, baselineDailyAverage: 1000, factor: 3, records: 5500, receipts: spikeSeqs, receiptCount: 3,
    });
    // checking again (another gateway, or the next run) raises nothing new
    expect(await endOfDay('2026-09-14')).toEqual([]);
  });

  it('raises a first bulk export once, and not for a later day of ordinary volume', async () => {
    const bulk = [await deliver('2026-09-15T02:00', 6000), await deliver('2026-09-15T03:00', 6000)];
    const raised = await endOfDay('2026-09-15');
    expect(raised.map((a) => [a.occasion, a.details.receipts])).toEqual([['volume:2026-09-15', bulk], ['first_bulk', bulk]]);
    await deliver('2026-09-16T10:00', 1000);
    expect(await endOfDay('2026-09-16')).toEqual([]);
  });

  it('raises an alert for deliveries after the grant was revoked', async () => {
    const inside = await deliver('2026-09-17T09:00', 600);
    setClock(cst('2026-09-17T10:00'));
    expect((await api(`/v1/subscriptions/${subscription}/revoke`, { key: keys.steward, body: { reason: '用途已完成' } })).status).toBe(200);
    const after = await deliver('2026-09-17T11:00', 50);
    const raised = await endOfDay('2026-09-17');
    expect(raised.map((a) => a.occasion)).toEqual(['outside_purpose:2026-09-17']);
    expect(raised[0]!.details).toMatchObject({ rule: 'outside_purpose', receipts: [after], receiptCount: 1, records: 50 });
    expect(raised[0]!.details.receipts).not.toContain(inside);
  });

  it('tells the owner and the administrators, signed, and lists the alerts for the owner', async () => {
    const expected = [
      ['alert.raised', 'volume:2026-09-14'],
      ['alert.raised', 'volume:2026-09-15'],
      ['alert.raised', 'first_bulk'],
      ['alert.raised', 'outside_purpose:2026-09-17'],
    ];
    for (const hooks of [ownerHooks, adminHooks]) {
      const got = hooks.received.filter((r) => r.alert.kind === 'access_anomaly' && r.alert.subject === `subscription:${subscription}`);
      expect(got.map((r) => [r.event, r.alert.details.rule === 'first_bulk' ? 'first_bulk' : `${r.alert.details.rule}:${r.alert.details.day}`])).toEqual(expected);
      expect(got.every((r) => r.signatureValid)).toBe(true);
    }
    const listed = await anomalies();
    expect(listed.map((a: any) => a.occasion)).toEqual(['volume:2026-09-14', 'volume:2026-09-15', 'first_bulk', 'outside_purpose:2026-09-17']);
    expect(listed[0].details.receipts).toEqual(spikeSeqs);
    // the consumer is not told, and may not look
    expect((await api('/v1/alerts', { key: keys.consumer })).status).toBe(403);
    const audit = await stack.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.access_anomaly.raise' AND target = $1`, [`subscription:${subscription}`]);
    expect(audit.rows[0].n).toBe(4);
  });
});
