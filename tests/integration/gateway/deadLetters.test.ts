import { createIndicatorDataset } from '../../support/fixtures';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

/**
 * A dataset's stewards read its dead-letter records through the API: records rejected by the real publish
 * path, newest first, with the reason and who sent them, a page at a time; the record itself only when asked
 * for; audited; and to anyone but the owner's stewards and administrators, the dead letters do not exist.
 */

let stack: TestStack;
let dataset: string;
let steward: string;
beforeAll(async () => {
  stack = await startTestStack();
  dataset = await createIndicatorDataset(stack.url, await stack.key('info-office', 'admin'), { owner: 'statistics' });
  steward = await stack.key('statistics', 'steward');
  const publisher = await stack.key('statistics', 'publisher');
  const res = await httpJson(`${stack.url}/v1/datasets/${dataset}/records`, {
    key: publisher,
    body: { records: [{ code: 'GDP-2026Q1', value: 1.5 }, { code: 'CPI-2026Q1', value: 'not a number' }] },
  });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ accepted: 1, rejected: [{ index: 1 }] });
  // a second request, later: the newest dead letter
  const second = await httpJson(`${stack.url}/v1/datasets/${dataset}/records`, { key: publisher, body: { records: [{ value: 2 }] } });
  expect(second.body).toMatchObject({ accepted: 0, rejected: [{ index: 0 }] });
});
afterAll(async () => {
  await stack?.close();
});

const read = (key: string, query = '') => httpJson(`${stack.url}/v1/datasets/${dataset}/dead-letters${query}`, { key });

it("shows the owner's steward the rejected records newest first, with reasons and source, and no payload unless asked", async () => {
  const res = await read(steward);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ dataset, topic: `govx.dlq.${dataset}`, next: null });
  const [newest, older] = res.body.items;
  expect(res.body.items).toHaveLength(2);
  expect(newest).toMatchObject({ source: 'publish', publisher: 'statistics', recordIndex: 0, connector: null, truncated: false });
  expect(newest.reason).toMatch(/code/);
  expect(older).toMatchObject({ source: 'publish', publisher: 'statistics', recordIndex: 1 });
  expect(older.reason).toMatch(/value/);
  expect(older.errors[0]).toMatchObject({ path: 'value' });
  expect(typeof older.reasonCode).toBe('string');
  expect(Date.parse(newest.at)).toBeGreaterThanOrEqual(Date.parse(older.at));
  for (const item of res.body.items) {
    expect(item).not.toHaveProperty('payload');
    expect(item).not.toHaveProperty('key');
    expect(item.payloadBytes).toBeGreaterThan(0);
  }
  expect(JSON.stringify(res.body)).not.toContain('not a number');
  expect(res.headers.get('cache-control')).toBe('no-store');
});

it('gives the record itself with payload=true, and audits every read that shows records', async () => {
  const res = await read(steward, '?payload=true');
  expect(res.status).toBe(200);
  const older = res.body.items[1];
  expect(JSON.parse(older.payload)).toEqual({ code: 'CPI-2026Q1', value: 'not a number' });
  expect(older).toMatchObject({ key: 'CPI-2026Q1', payloadClipped: false });
  const { rows } = await stack.pool.query(
    "SELECT actor_department, actor_role, details FROM audit_log WHERE action = 'dataset.dead_letters.read' AND target = $1 ORDER BY seq",
    [`dataset:${dataset}`],
  );
  expect(rows.length).toBeGreaterThanOrEqual(2);
  expect(rows[rows.length - 1]).toMatchObject({ actor_department: 'statistics', actor_role: 'steward', details: { count: 2, payload: true } });
});

it('pages downwards with the cursor until the oldest record', async () => {
  const first = await read(steward, '?limit=1');
  expect(first.body.items).toHaveLength(1);
  expect(first.body.items[0].recordIndex).toBe(0);
  expect(typeof first.body.next).toBe('string');
  const second = await read(steward, `?limit=1&before=${first.body.next}`);
  expect(second.status).toBe(200);
  expect(second.body.items).toHaveLength(1);
  expect(second.body.items[0]).toMatchObject({ recordIndex: 1 });
  expect(second.body.next).toBeNull();
});

it('answers 404 to stewards of another department and to other roles of the owner, 200 to administrators', async () => {
  for (const key of [await stack.key('tax', 'steward'), await stack.key('statistics', 'publisher'), await stack.key('statistics', 'consumer')]) {
    const res = await read(key);
    expect([res.status, res.body.error.code]).toEqual([404, 'dataset.not_found']);
  }
  expect((await read(steward, '/../../nope')).status).toBe(404);
  const admin = await read(await stack.key('info-office', 'admin'));
  expect(admin.status).toBe(200);
  expect(admin.body.items).toHaveLength(2);
});

it('refuses a bad cursor or limit with a specific code, and answers an empty page for a dataset with no dead letters', async () => {
  expect((await read(steward, '?before=bm90LWpzb24')).body.error.code).toBe('dead_letters.invalid_cursor');
  const badLimit = await read(steward, '?limit=0');
  expect([badLimit.status, badLimit.body.error.code]).toEqual([400, 'request.invalid_query']);
  const clean = await createIndicatorDataset(stack.url, await stack.key('info-office', 'admin'), { owner: 'statistics' });
  const empty = await httpJson(`${stack.url}/v1/datasets/${clean}/dead-letters`, { key: steward });
  expect(empty.status).toBe(200);
  expect(empty.body).toMatchObject({ items: [], next: null });
});
