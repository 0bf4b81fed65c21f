import { AlertNotifier } from '../../monitoring/notifier';
import { createLogger } from '../../lib/logger';
import { allowConnectorTargets } from '../support/connectorTargets';
import { createDepartment, startWebhookReceiver } from '../support/monitoring';
import { httpJson, startTestStack, type TestStack } from '../support/stack';

/**
 * A department chooses where its alerts go, so the alert webhook is a server-side request govx makes on a
 * department's word: it must reach only what an administrator allowed for that department, like its
 * http-sink connectors. A steward points the webhook at loopback (govx's own host); nothing is sent until an
 * administrator allows it.
 */

const run = Math.random().toString(36).slice(2, 8);
const DEPT = `hook-dept-${run}`;
const SECRET = 'alert-target-secret-0123456789';

let stack: TestStack;
let admin: string;
let steward: string;

beforeAll(async () => {
  stack = await startTestStack({ GOVX_DISTRIBUTOR: 'false' });
  await createDepartment(stack.pool, { id: DEPT, zh: '测试告警部门', en: 'Test alerts' });
  admin = await stack.key('info-office', 'admin');
  steward = await stack.key(DEPT, 'steward');
});
afterAll(async () => {
  await stack?.close();
});

const alert = (id: number) => ({ id, kind: 'freshness', subject: `dataset:${DEPT}.x`, department: DEPT, raisedAt: new Date().toISOString(), details: {} });

it('does not call a loopback webhook a steward set until an administrator allows it', async () => {
  const receiver = await startWebhookReceiver(SECRET);
  try {
    const put = await httpJson(`${stack.url}/v1/departments/${DEPT}/webhook`, { method: 'PUT', key: steward, body: { url: receiver.url, secret: SECRET } });
    expect(put.status).toBe(200);
    // the secret is stored sealed, not in clear
    const stored = (await stack.pool.query('SELECT secret FROM notification_webhooks WHERE department = $1', [DEPT])).rows[0].secret as string;
    expect(stored).toMatch(/^sealed:/);
    expect(stored).not.toContain(SECRET);
    const notifier = new AlertNotifier(stack.pool, createLogger('silent'));

    // the same target in other spellings is the same target
    for (const url of [receiver.url, receiver.url.replace('127.0.0.1', 'localhost'), receiver.url.replace('127.0.0.1', '[::ffff:127.0.0.1]'), receiver.url.replace('127.0.0.1', '2130706433')]) {
      await stack.pool.query('UPDATE notification_webhooks SET url = $2 WHERE department = $1', [DEPT, url]);
      await notifier.send('alert.raised', alert(1), false);
    }
    expect(receiver.received).toHaveLength(0);

    // an allowance for the address without allowPrivate is not enough for a loopback address
    await allowConnectorTargets(stack.url, admin, DEPT, { webhookHosts: ['127.0.0.1'] });
    await stack.pool.query('UPDATE notification_webhooks SET url = $2 WHERE department = $1', [DEPT, receiver.url]);
    await notifier.send('alert.raised', alert(2), false);
    expect(receiver.received).toHaveLength(0);

    await allowConnectorTargets(stack.url, admin, DEPT, { webhookHosts: ['127.0.0.1'], allowPrivateWebhooks: true });
    await notifier.send('alert.raised', alert(3), false);
    expect(receiver.received.map((r) => [r.alert.id, r.signatureValid])).toEqual([[3, true]]);
  } finally {
    await receiver.close();
  }
});
