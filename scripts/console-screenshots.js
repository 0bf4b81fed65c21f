#!/usr/bin/env node
'use strict';
// Screenshots of each role's main console page, in Chinese, for docs/console/ (referenced from the README).
// Against a running gateway (`npm start`, or GOVX_URL) and its database (DATABASE_URL): it makes one key per role
// with the CLI, puts a pending request in the steward's inbox, signs in with each key in Debian's Chromium
// (playwright-core, never a downloaded browser) and saves docs/console/<role>.png.
//   node scripts/console-screenshots.js
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { chromium } = require('playwright-core');

const root = path.resolve(__dirname, '..');
const url = (process.env.GOVX_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const out = path.join(root, 'docs', 'console');

function key(department, role) {
  const json = execFileSync(process.execPath, [path.join(root, 'bin', 'govx.js'), 'keys', 'create', '--department', department, '--role', role, '--label', 'console screenshots', '--json'], { encoding: 'utf8' });
  return JSON.parse(json).key;
}

async function api(method, p, k, body) {
  const res = await fetch(`${url}${p}`, { method, headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function main() {
  const keys = { admin: key('info-office', 'admin'), steward: key('psb', 'steward'), consumer: key('civil-affairs', 'consumer') };
  const until = new Date(Date.now() + 365 * 86_400_000).toISOString();
  const pending = await api('POST', '/v1/subscriptions', keys.consumer, { dataset: 'population.residents', fields: ['name', 'birth_date', 'household_district'], purpose: '高龄津贴发放', legalBasis: '《老年人权益保障法》第三十条', expiresAt: until, delivery: 'http' });
  const second = await api('POST', '/v1/subscriptions', keys.consumer, { dataset: 'population.residents', fields: ['id_number', 'name', 'address'], purpose: '最低生活保障资格复核', expiresAt: until, delivery: 'kafka' });
  await api('POST', `/v1/subscriptions/${second.id}/approve`, keys.steward, { masking: { address: 'hash' } });
  await api('POST', '/v1/subscriptions', keys.consumer, { dataset: 'legal-entity.registry', fields: ['uscc', 'name', 'district'], purpose: '社会组织登记核验', expiresAt: until, delivery: 'http' });
  const browser = await chromium.launch({
    executablePath: process.env.GOVX_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const shots = [
      ['admin', '/console/catalog', '数据目录'],
      ['steward', '/console/approvals', '高龄津贴发放'],
      ['consumer', '/console/subscriptions', '最低生活保障资格复核'],
    ];
    for (const [role, page, waitFor] of shots) {
      const context = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1440, height: 900 } });
      const tab = await context.newPage();
      await tab.goto(`${url}${page}`);
      await tab.getByLabel('API 密钥').fill(keys[role]);
      await tab.getByRole('button', { name: '使用 API 密钥登录' }).click();
      await tab.getByText(waitFor).first().waitFor({ timeout: 30_000 });
      if (role === 'steward') {
        await tab.getByTestId(`decide-${pending.id}`).click();
        await tab.getByTestId('preview').waitFor({ timeout: 30_000 });
      }
      await tab.waitForTimeout(500);
      await tab.screenshot({ path: path.join(out, `${role}.png`) });
      await context.close();
      console.log(`docs/console/${role}.png`);
    }
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
