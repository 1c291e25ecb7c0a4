// What the page tests share: Debian's Chromium (/usr/bin/chromium) through playwright-core, so
// nothing is downloaded; the problems a page reports; screenshots kept under
// $SWITCHBOARD_TEST_OUTPUT (default: <tmpdir>/switchboard-test-output)/<test name>.
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

/** Headless Chromium from the system, with nothing of its own phoning home. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * A new page and the problems it reports as they come: script errors and console errors
 * (refused content, e.g. by the CSP). With `failedLoads: 'expected'`, answers the flow expects
 * (a 422 for a wrong code, a 404 for /favicon.ico) are not problems.
 */
export async function openPage(
  browser: Browser,
  options: { readonly failedLoads?: 'expected' } = {},
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (options.failedLoads === 'expected' && m.text().startsWith('Failed to load resource')) {
      return;
    }
    problems.push(m.text());
  });
  return { page, problems };
}

/** `shot(page, '1-start')` keeps a full-page screenshot in the test's own output folder. */
export function screenshots(test: string): (page: Page, name: string) => Promise<void> {
  const folder = join(
    process.env['SWITCHBOARD_TEST_OUTPUT'] ?? join(tmpdir(), 'switchboard-test-output'),
    test,
  );
  return async (page, name) => {
    await mkdir(folder, { recursive: true });
    await page.screenshot({ path: join(folder, `${name}.png`), fullPage: true });
  };
}
