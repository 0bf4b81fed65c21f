import type { BrowserContext, Page } from 'playwright-core';
import { createIndicatorDataset, requestIndicators, until } from '../support/fixtures';
import { launchBrowser, shows, type TestBrowser } from '../support/browser';
import { httpJson, startTestStack, type TestStack } from '../support/stack';

/**
 * A steward's own pages in Debian's Chromium against a real gateway, Kafka and PostgreSQL: the dead-letter
 * records of their datasets with the reasons (the records themselves only when asked), and the subscriptions
 * of their datasets with state, lag and last delivery, and revoke.
 */

let stack: TestStack;
let browser: TestBrowser;
const contexts: BrowserContext[] = [];
let dataset: string;
let clean: string;
let sub: { id: string };
let consumerKey: string;
let steward: Page;

async function signInWithKey(key: string, path: string): Promise<Page> {
  const context = await browser.context();
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(`${stack.url}${path}`);
  await page.getByLabel('API 密钥').fill(key);
  await page.getByRole('button', { name: '使用 API 密钥登录' }).click();
  await page.getByTestId('whoami').waitFor();
  return page;
}

beforeAll(async () => {
  stack = await startTestStack();
  browser = await launchBrowser();
  const admin = await stack.key('info-office', 'admin');
  dataset = await createIndicatorDataset(stack.url, admin, { owner: 'statistics' });
  clean = await createIndicatorDataset(stack.url, admin, { owner: 'statistics' });
  consumerKey = await stack.key('tax', 'consumer');
  sub = await requestIndicators(stack.url, consumerKey, dataset);
  const published = await httpJson(`${stack.url}/v1/datasets/${dataset}/records`, {
    key: await stack.key('statistics', 'publisher'),
    body: { records: [{ code: 'GDP-1', value: 1 }, { code: 'CPI-7', value: '七点五' }, { code: 'GDP-2', value: 2 }] },
  });
  expect(published.body).toMatchObject({ accepted: 2, rejected: [{ index: 1 }] });
  steward = await signInWithKey(await stack.key('statistics', 'steward'), `/console/dead-letters?dataset=${dataset}`);
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await stack?.close();
});

it("shows the steward their dataset's dead letters with the reason and source, the record only when asked", async () => {
  await shows(steward.getByRole('heading'), '死信记录');
  const reason = steward.getByTestId('dead-letter-reason');
  await shows(reason, 'value');
  expect(await reason.count()).toBe(1);
  await shows(steward.locator('.ant-table-row'), 'HTTP 发布 · statistics');
  await shows(steward.locator('.ant-table-row'), '第1 条');
  expect(await steward.locator('.ant-table').textContent()).not.toContain('七点五');

  await steward.getByTestId('show-payload').click();
  await steward.locator('.ant-table-row-expand-icon').first().click();
  const payload = steward.locator('[data-testid^="payload-"]');
  await shows(payload, '七点五');
  await shows(payload, 'CPI-7');
  const { rows } = await stack.pool.query("SELECT details FROM audit_log WHERE action = 'dataset.dead_letters.read' AND target = $1 ORDER BY seq DESC LIMIT 1", [`dataset:${dataset}`]);
  expect(rows[0].details).toMatchObject({ count: 1, payload: true });
}, 120_000);

it('says so when a dataset has no dead letters, and shows the API error for one the steward may not read', async () => {
  await steward.goto(`${stack.url}/console/dead-letters?dataset=${clean}`);
  await shows(steward.locator('.ant-table'), '没有死信记录');
  await steward.goto(`${stack.url}/console/dead-letters?dataset=population.residents`);
  await shows(steward.getByRole('alert'), 'dataset.not_found');
  await shows(steward.locator('.ant-table'), '无法读取死信记录');
}, 120_000);

it("leads from the dataset's page to its dead letters", async () => {
  await steward.goto(`${stack.url}/console/catalog/${dataset}`);
  await steward.getByRole('button', { name: '死信记录' }).click();
  await steward.waitForURL(new RegExp(`/console/dead-letters\\?dataset=${dataset.replace(/\./g, '\\.')}$`));
  await shows(steward.getByTestId('dead-letter-reason'), 'value');
}, 120_000);

it('reads in English too', async () => {
  await steward.goto(`${stack.url}/console/dead-letters?dataset=${dataset}`);
  await steward.getByText('English', { exact: true }).click();
  await shows(steward.getByRole('heading'), 'Dead letters');
  await shows(steward.getByTestId('dead-letter-reason'), 'value');
  await shows(steward.locator('.ant-table-row'), 'HTTP publish · statistics');
  await steward.getByText('中文', { exact: true }).click();
  await shows(steward.getByRole('heading'), '死信记录');
}, 120_000);

it("shows the subscriptions of the steward's datasets with state, lag and last delivery, following the consumer", async () => {
  await steward.goto(`${stack.url}/console/subscriptions`);
  await shows(steward.getByTestId(`status-${sub.id}`), '已批准');
  // two valid records distributed, none read yet
  await shows(steward.getByTestId(`lag-${sub.id}`), '2 条未读', 60_000);
  await shows(steward.getByTestId(`distribution-lag-${sub.id}`), '分发待处理 0 条');
  const row = steward.locator('tr', { hasText: sub.id });
  // the distributor wrote both records to the share topic; nothing has reached the consumer over HTTP yet
  await shows(steward.getByTestId(`delivered-${sub.id}`), '尚无投递（已写入共享主题 2 条）', 60_000);

  // the consumer pulls both and passes the cursor back
  const pulled = await until('both records pulled', async () => {
    const r = await httpJson(`${stack.url}/v1/subscriptions/${sub.id}/records?limit=2&waitMs=3000`, { key: consumerKey });
    return r.body.records?.length === 2 ? r : null;
  });
  await httpJson(`${stack.url}/v1/subscriptions/${sub.id}/records?limit=1&waitMs=0&cursor=${pulled.body.cursor}`, { key: consumerKey });
  // the open page refreshes by itself
  await shows(steward.getByTestId(`lag-${sub.id}`), '0 条未读', 60_000);
  // the receipt of the consumer's pull: two records delivered over HTTP
  await shows(steward.getByTestId(`delivered-${sub.id}`), '共 2 条', 60_000);

  await row.getByRole('button', { name: '撤销' }).click();
  await steward.getByRole('textbox', { name: '撤销理由' }).fill('统计口径调整');
  await steward.locator('.ant-modal-confirm-btns').getByRole('button', { name: '撤销' }).click();
  await shows(steward.getByTestId(`status-${sub.id}`), '已撤销');
  expect(await steward.getByTestId(`lag-${sub.id}`).count()).toBe(0);
}, 180_000);
