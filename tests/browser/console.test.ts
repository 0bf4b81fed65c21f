import type { BrowserContext, Page } from 'playwright-core';
import { freePort, oidcEnv, startTestProvider, type TestProvider } from '../support/oidc';
import { launchBrowser, shows, type TestBrowser } from '../support/browser';
import { httpJson, startTestStack, type TestStack } from '../support/stack';

/**
 * The console in Debian's Chromium against a real gateway, Kafka, PostgreSQL and a real OpenID provider: each test
 * does what a user would and checks what the page shows.
 */

let stack: TestStack;
let provider: TestProvider;
let browser: TestBrowser;
const contexts: BrowserContext[] = [];

async function contextPage(): Promise<Page> {
  const context = await browser.context();
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  return page;
}

/** Signs in through single sign-on: the console's button, the provider's own sign-in page, back to the console. */
async function signInWithSso(login: string, path = '/console/'): Promise<Page> {
  const page = await contextPage();
  await page.goto(`${stack.url}${path}`);
  await page.getByRole('link', { name: '统一身份认证登录' }).click();
  await page.getByRole('textbox', { name: '用户名' }).fill(login);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL(/\/console\//);
  return page;
}

async function signInWithKey(key: string, path: string): Promise<Page> {
  const page = await contextPage();
  await page.goto(`${stack.url}${path}`);
  await page.getByLabel('API 密钥').fill(key);
  await page.getByRole('button', { name: '使用 API 密钥登录' }).click();
  await page.getByTestId('whoami').waitFor();
  return page;
}

beforeAll(async () => {
  const [gatewayPort, providerPort] = [await freePort(), await freePort()];
  const settings = { issuer: `http://127.0.0.1:${providerPort}`, clientId: 'govx-console', clientSecret: 'govx-console-test-secret-0123456789abcdef' };
  stack = await startTestStack({ GOVX_PORT: String(gatewayPort), ...oidcEnv(settings) });
  provider = await startTestProvider(providerPort, [`http://127.0.0.1:${gatewayPort}/v1/session/oidc/callback`]);
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await provider?.stop();
  await stack?.close();
});

let consumer: Page;
let steward: Page;
let subscriptionId: string;

it('signs a consumer in through the OpenID provider and shows who they are, in Chinese', async () => {
  consumer = await signInWithSso('li.consumer');
  await shows(consumer.getByTestId('whoami'), '李用户 · 市民政局 · 使用方');
  await shows(consumer.getByRole('heading'), '我的订阅');
  expect(await consumer.evaluate('document.documentElement.lang')).toBe('zh-CN');
}, 120_000);

it('lets the consumer choose fields and see the masked preview before requesting', async () => {
  await consumer.goto(`${stack.url}/console/request/population.residents`);
  for (const field of ['id_number', 'name', 'birth_date']) await consumer.locator(`input[type=checkbox][value="${field}"]`).check();
  const preview = consumer.getByTestId('preview');
  await shows(preview.locator('[data-field="id_number"][data-delivery="partial"]'), '部分遮盖');
  await shows(preview.locator('[data-field="birth_date"][data-delivery="clear"]'), '明文');
  const idNumbers = await preview.locator('[data-preview-field="id_number"]').allTextContents();
  expect(idNumbers).toHaveLength(3);
  for (const v of idNumbers) expect(v).toMatch(/^\d{6}\*{8}[*\dX]{4}$/);
  for (const v of await preview.locator('[data-preview-field="name"]').allTextContents()) expect(v).toContain('*');
  // the derived schema holds exactly the chosen fields
  expect(await preview.locator('thead th').allTextContents()).toEqual(['id_number', 'name', 'birth_date']);

  await consumer.getByRole('textbox', { name: '用途' }).fill('高龄津贴发放');
  await consumer.getByRole('button', { name: '提交申请' }).click();
  await consumer.waitForURL(/\/console\/requests$/);
  const { rows } = await stack.pool.query(`SELECT id FROM subscriptions WHERE consumer = 'civil-affairs' AND purpose = '高龄津贴发放' ORDER BY created_at DESC LIMIT 1`);
  subscriptionId = rows[0].id;
  await shows(consumer.getByTestId(`status-${subscriptionId}`), '待审批');
}, 120_000);

it("lets a steward approve with a tighter mask, and the consumer's page shows the subscription live", async () => {
  await consumer.goto(`${stack.url}/console/subscriptions`);
  steward = await signInWithSso('wang.steward');
  await shows(steward.getByRole('heading'), '待审批的申请');
  const row = steward.locator('tr', { hasText: '高龄津贴发放' });
  await shows(row, '市民政局');
  await row.getByRole('button', { name: '审批' }).click();
  const drawer = steward.locator('.ant-drawer');
  await shows(drawer.locator('[data-field="birth_date"]'), '明文');
  await drawer.locator('.ant-select[aria-label="mask birth_date"]').click();
  await steward.locator('.ant-select-dropdown:visible .ant-select-item-option', { hasText: '哈希' }).click();
  await shows(drawer.locator('[data-field="birth_date"][data-delivery="hash"]'), '哈希');
  for (const v of await drawer.locator('[data-preview-field="birth_date"]').allTextContents()) expect(v).toMatch(/^[0-9a-f]{32}$/);
  await drawer.getByRole('button', { name: '批准' }).click();
  await shows(steward.locator('.ant-table'), '没有待审批的申请');

  // the consumer's open page picks the decision up by itself
  await shows(consumer.getByTestId(`status-${subscriptionId}`), '已批准');
  await shows(consumer.locator(`[data-granted="birth_date"][data-delivery="hash"]`), '哈希');
  await consumer.locator('tr', { hasText: subscriptionId }).locator('.ant-table-row-expand-icon').click();
  await shows(consumer.getByTestId(`connect-${subscriptionId}`), `govx.share.${subscriptionId}`);
}, 120_000);

it("lets the steward revoke it, and the consumer's page shows the revocation", async () => {
  await steward.goto(`${stack.url}/console/subscriptions`);
  await steward.locator('tr', { hasText: subscriptionId }).getByRole('button', { name: '撤销' }).click();
  await steward.getByRole('textbox', { name: '撤销理由' }).fill('用途已完成');
  await steward.locator('.ant-modal-confirm-btns').getByRole('button', { name: '撤销' }).click();
  await shows(steward.getByTestId(`status-${subscriptionId}`), '已撤销');
  await shows(consumer.getByTestId(`status-${subscriptionId}`), '已撤销');
  await shows(consumer.getByTestId(`status-${subscriptionId}`), '用途已完成');
  expect((await httpJson(`${stack.url}/v1/subscriptions/${subscriptionId}`, { key: await stack.key('psb', 'steward') })).body.status).toBe('revoked');
}, 120_000);

it("lets the steward issue and rotate the department's Kafka credentials, showing each password once", async () => {
  await steward.goto(`${stack.url}/console/keys`);
  await steward.getByRole('button', { name: '签发' }).click();
  const first = (await steward.getByTestId('kafka-password').textContent())!;
  expect(first.length).toBeGreaterThanOrEqual(20);
  await shows(steward.locator('.ant-descriptions'), 'dept.psb');
  await steward.getByRole('button', { name: '轮换密码' }).click();
  await steward.getByTestId('kafka-password').filter({ hasNotText: first }).waitFor();
  await steward.reload();
  await shows(steward.locator('.ant-descriptions'), 'dept.psb');
  expect(await steward.getByTestId('kafka-password').count()).toBe(0);
}, 120_000);

it('keeps an admin\'s edit when another edit lands first, shows both, and merges them', async () => {
  const adminKey = await stack.key('info-office', 'admin');
  const admin = await signInWithKey(adminKey, '/console/catalog/legal-entity.registry/edit');
  const abstract = admin.getByRole('textbox', { name: 'abstract' });
  await abstract.fill('市场主体登记信息，每日更新（控制台编辑）');

  // another administrator saves first
  const current = await httpJson(`${stack.url}/v1/datasets/legal-entity.registry`, { key: adminKey });
  const other = await httpJson(`${stack.url}/v1/datasets/legal-entity.registry`, {
    method: 'PATCH', key: adminKey, headers: { 'if-match': current.headers.get('etag')! }, body: { title: { zh: '法人单位基础信息' } },
  });
  expect(other.status).toBe(200);

  await admin.getByRole('button', { name: '保存' }).click();
  const conflict = admin.getByTestId('conflict');
  await shows(conflict, '保存前此数据集已被他人修改');
  await shows(conflict, '法人单位基础信息');
  await shows(conflict, '市场主体登记信息，每日更新（控制台编辑）');
  // nothing typed was lost
  expect(await abstract.inputValue()).toBe('市场主体登记信息，每日更新（控制台编辑）');

  await conflict.getByRole('button', { name: '合并：在最新版本上应用我的修改' }).click();
  await admin.getByRole('button', { name: '保存' }).click();
  await shows(admin.getByTestId('abstract'), '市场主体登记信息，每日更新（控制台编辑）');
  await shows(admin.getByRole('heading'), '法人单位基础信息');
  const saved = await httpJson(`${stack.url}/v1/datasets/legal-entity.registry`, { key: adminKey });
  expect(saved.body).toMatchObject({ title: { zh: '法人单位基础信息' }, abstract: '市场主体登记信息，每日更新（控制台编辑）' });
}, 120_000);

/** Presses Tab until `target` has the focus (at most `max` times); fails when it never does. */
async function tabTo(page: Page, target: ReturnType<Page['locator']>, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === (el.ownerDocument as { activeElement: unknown }).activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error('the element never took the focus from the keyboard');
}

it('signs in, moves to the audit trail and verifies it with the keyboard alone, showing the result', async () => {
  const page = await contextPage();
  await page.goto(`${stack.url}/console/`);
  const keyInput = page.getByLabel('API 密钥');
  await tabTo(page, keyInput);
  await page.keyboard.type(await stack.key('info-office', 'admin'));
  await page.keyboard.press('Enter');
  await page.getByTestId('whoami').waitFor();
  await tabTo(page, page.getByRole('link', { name: '审计' }));
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/console\/audit$/);
  await shows(page.locator('.ant-table'), 'session.signin');
  await tabTo(page, page.getByRole('button', { name: '校验哈希链' }));
  await page.keyboard.press('Enter');
  await shows(page.getByTestId('verify-result'), /哈希链完整：已校验 \d+ 条记录/);
}, 120_000);
