import { type Browser, type BrowserContext, chromium, type Locator } from 'playwright-core';

/** Debian's Chromium (installed by .ci/run); playwright-core never downloads a browser, and gives each launch a fresh profile. */
export const chromiumPath = process.env.GOVX_CHROMIUM ?? '/usr/bin/chromium';

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (its own cookies), in the given language and the given time zone. */
  context: (opts?: { locale?: string; timezoneId?: string }) => Promise<BrowserContext>;
  close: () => Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  return {
    browser,
    context: (opts = {}) =>
      browser.newContext({ locale: opts.locale ?? 'zh-CN', timezoneId: opts.timezoneId ?? 'Asia/Shanghai', viewport: { width: 1440, height: 900 } }),
    close: () => browser.close(),
  };
}

/** Waits until the locator shows text matching `text` (generous deadline: the machine is shared). */
export async function shows(locator: Locator, text: string | RegExp, timeout = 30_000): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor({ state: 'visible', timeout });
}
