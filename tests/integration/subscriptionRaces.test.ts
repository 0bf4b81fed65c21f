import { kafkaPrincipal } from '../../catalog/kafkaAccess';
import { kafkajsAclAdmin } from '../../lib/kafkaAcls';
import { generateSample } from '../../schemas/samples';
import { httpJson, readTopicUntil, startTestStack, type TestStack } from '../support/stack';

/**
 * Decisions are compare-and-set (decision 0016): an approval does its slow registry and Kafka work and then
 * writes only if the subscription is still in the state it started from. 100 approvals race 100 revocations
 * over HTTP against a real gateway (with its distributor and the Kafka ACLs following every transition); every
 * race must end revoked — in the database, on the audit trail, in the distributor and in the broker's ACLs.
 */

const RESIDENTS = 'population.residents';
const RACES = 100;
/** races run this many at a time, so the test takes seconds, not minutes */
const WAVE = 10;

let stack: TestStack;
let consumer: string;
let steward: string;
let publisher: string;
let credentialsOf: string;

beforeAll(async () => {
  stack = await startTestStack();
  consumer = await stack.key('civil-affairs', 'consumer');
  steward = await stack.key('psb', 'steward');
  publisher = await stack.key('psb', 'publisher');
  // civil affairs holds Kafka credentials, so every transition also moves its ACLs on the broker
  const admin = await stack.key('info-office', 'admin');
  credentialsOf = admin;
  const issued = await httpJson(`${stack.url}/v1/departments/civil-affairs/kafka-credentials`, { key: admin, body: {} });
  expect([200, 201, 409]).toContain(issued.status);
});
afterAll(async () => {
  await httpJson(`${stack.url}/v1/departments/civil-affairs/kafka-credentials`, { method: 'DELETE', key: credentialsOf }).catch(() => undefined);
  await stack?.close();
});

const api = (path: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${stack.url}${path}`, init);
const inOneYear = () => new Date(Date.now() + 365 * 86_400_000).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function request(purpose: string): Promise<string> {
  const res = await api('/v1/subscriptions', {
    key: consumer,
    body: { dataset: RESIDENTS, fields: ['household_district', 'gender'], purpose, expiresAt: inOneYear(), startFrom: 'latest' },
  });
  expect(res.status).toBe(201);
  expect(res.body.status).toBe('pending');
  return res.body.id;
}

it('answers a transition that lost with 409, a stable code and the current state', async () => {
  const id = await request('冲突示例');
  expect((await api(`/v1/subscriptions/${id}/revoke`, { key: steward, body: { reason: '撤回' } })).status).toBe(200);
  const late = await api(`/v1/subscriptions/${id}/approve`, { key: steward, body: {} });
  expect(late.status).toBe(409);
  expect(late.body.error.code).toBe('subscription.not_pending');
  expect(late.body.error.details.current).toMatchObject({ status: 'revoked', version: 2 });
  const again = await api(`/v1/subscriptions/${id}/revoke`, { key: steward, body: {} });
  expect([again.status, again.body.error.code]).toEqual([409, 'subscription.not_active']);
});

it(`ends ${RACES} approve/revoke races revoked, in the database, the distributor and the ACLs`, async () => {
  const ids: string[] = [];
  for (let i = 0; i < RACES; i += WAVE) ids.push(...(await Promise.all(Array.from({ length: Math.min(WAVE, RACES - i) }, (_, j) => request(`竞争 ${i + j}`)))));

  const outcomes: Array<{ approve: string; revoke: string }> = [];
  for (let i = 0; i < ids.length; i += WAVE) {
    const wave = ids.slice(i, i + WAVE);
    outcomes.push(
      ...(await Promise.all(
        wave.map(async (id, j) => {
          const approving = api(`/v1/subscriptions/${id}/approve`, { key: steward, body: {} });
          // the revocation lands at different moments of the approval's slow work (registry, topic, offsets, ACLs),
          // or just after the approval answered
          if (j % 5 === 4) await approving;
          else await sleep([0, 30, 150, 600][j % 5]! + ((i / WAVE) % 3) * 10);
          const [approve, revoke] = await Promise.all([approving, api(`/v1/subscriptions/${id}/revoke`, { key: steward, body: { reason: '竞争撤回' } })]);
          return {
            approve: approve.status === 200 ? '200' : `${approve.status} ${approve.body.error?.code}`,
            revoke: revoke.status === 200 ? '200' : `${revoke.status} ${revoke.body.error?.code}`,
          };
        }),
      )),
    );
  }

  const { rows } = await stack.pool.query<{ id: string; status: string }>('SELECT id, status FROM subscriptions WHERE id = ANY($1)', [ids]);
  const live = rows.filter((r) => r.status !== 'revoked');
  // the audit trail tells the same story: for every race the last decision is the revocation
  const { rows: last } = await stack.pool.query<{ target: string; action: string }>(
    `SELECT DISTINCT ON (target) target, action FROM audit_log WHERE target = ANY($1) AND action IN ('subscription.approve', 'subscription.revoke')
      ORDER BY target, seq DESC`,
    [ids.map((id) => `subscription:${id}`)],
  );

  // the distributor: records published now reach a live control subscription, and none of the raced ones
  const control = await request('对照');
  expect((await api(`/v1/subscriptions/${control}/approve`, { key: steward, body: {} })).body.status).toBe('approved');
  const sent = await api(`/v1/datasets/${RESIDENTS}/records`, { key: publisher, body: { records: generateSample(RESIDENTS, 5, 777) } });
  expect(sent.status).toBe(200);
  const trace = sent.headers.get('x-request-id');
  await readTopicUntil(stack.kafka, `govx.share.${control}`, (m) => m.filter((x) => x.headers['govx-trace-id'] === trace).length >= 5, 30_000);
  const admin = stack.kafka.admin();
  await admin.connect();
  let delivered = 0;
  try {
    const topics = new Set(await admin.listTopics());
    for (const id of ids) {
      if (!topics.has(`govx.share.${id}`)) continue;
      delivered += (await admin.fetchTopicOffsets(`govx.share.${id}`)).reduce((n, o) => n + Number(o.high), 0);
    }
  } finally {
    await admin.disconnect();
  }

  // the broker: civil affairs holds no READ on any raced share topic (its control subscription's it does hold)
  const acls = kafkajsAclAdmin(stack.kafka);
  let granted: string[];
  try {
    const read = (await acls.list(kafkaPrincipal('civil-affairs'))).filter((a) => a.resourceType === 'topic' && a.operation === 'read').map((a) => a.resourceName);
    granted = read;
  } finally {
    await acls.close();
  }
  await api(`/v1/subscriptions/${control}/revoke`, { key: steward, body: {} });

  const tally = (k: 'approve' | 'revoke') => outcomes.reduce<Record<string, number>>((t, o) => ({ ...t, [o[k]]: (t[o[k]] ?? 0) + 1 }), {});
  // eslint-disable-next-line no-console
  console.log(
    `approve/revoke races: ${RACES}; approvals ${JSON.stringify(tally('approve'))}; revocations ${JSON.stringify(tally('revoke'))}; ` +
      `ended revoked ${rows.length - live.length}, ended live ${live.length}; share records delivered to raced subscriptions ${delivered}; ` +
      `raced share topics civil affairs may read ${ids.filter((id) => granted.includes(`govx.share.${id}`)).length}`,
  );
  expect(rows).toHaveLength(RACES);
  expect(live).toEqual([]);
  expect(outcomes.every((o) => o.revoke === '200')).toBe(true);
  // an approval wins, loses its compare-and-set, or finds the revocation done; a broker too slow to create the
  // share topic under this load answers 503 (nothing written) — never a 500
  expect(outcomes.every((o) => ['200', '409 subscription.transition_conflict', '409 subscription.not_pending', '503 kafka.unavailable'].includes(o.approve))).toBe(true);
  expect(last.filter((r) => r.action !== 'subscription.revoke')).toEqual([]);
  expect(delivered).toBe(0);
  expect(ids.filter((id) => granted.includes(`govx.share.${id}`))).toEqual([]);
  expect(granted).toContain(`govx.share.${control}`);
});
