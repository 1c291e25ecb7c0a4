// The provider's operator page in Debian's Chromium (playwright-core, no browser download),
// against the real provider API and directory, with accounts registered by the `switchboard`
// CLI. Screenshots are kept under $SWITCHBOARD_TEST_OUTPUT (default:
// <tmpdir>/switchboard-test-output)/operator-browser.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jest } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, screenshots } from './browser.js';
import type { TestDirectory } from './fixtures.js';
import { APEX, waitForDns } from './fixtures.js';
import type { RunningProvider } from './services.js';
import { CodeInbox, startSignedStack } from './services.js';

jest.setTimeout(300_000);

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const shot = screenshots('operator-browser');
const NUMBERS = [1, 2, 3, 4, 5, 6].map((i) => `+44207946100${i}`);

let work: string;
let dir: TestDirectory;
let dirStopped = false;
let provider: RunningProvider;
let inbox: CodeInbox;
let browser: Browser;
let env: NodeJS.ProcessEnv;
let operatorKey: string;
let deadServer: string;

function register(number: string, publish: boolean): Promise<{ code: number; stderr: string }> {
  const args = ['register', number, '--provider', provider.url, '--prekeys', '1'];
  if (publish) args.push('--publish', `sip:u${number.slice(-1)}@a.example`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--data-dir', join(work, number), ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
    inbox.codeFor(number).then(
      (code) => child.stdin.end(`${code}\n`),
      (err: unknown) => reject(err as Error),
    );
  });
}

/** host:port where nothing listens (bound, then closed). */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `127.0.0.1:${port}`;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sb-operator-'));
  inbox = new CodeInbox();
  await inbox.start();
  // The list names the directory's server and a second nameserver that does not answer.
  deadServer = await closedPort();
  let providerDataDir: string;
  ({ dir, provider, env, providerDataDir } = await startSignedStack({
    work,
    providerId: 'provider-a',
    codeWebhook: inbox.url,
    nameservers: (d) => [d.server, deadServer],
  }));
  operatorKey = (
    await readFile(join(providerDataDir, 'provider-api', 'operator-api-key'), 'utf8')
  ).trim();
  for (const [i, number] of NUMBERS.entries()) {
    const r = await register(number, i % 2 === 1);
    expect(r.stderr).toBe('Enter the code you received: ');
    expect(r.code).toBe(0);
  }
  await waitForDns(dir.server, NUMBERS[5]!);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await provider?.stop();
  if (!dirStopped) await dir?.stop();
  await inbox?.stop();
  await rm(work, { recursive: true, force: true });
});

async function rows(page: Page, body: string): Promise<string[][]> {
  return page
    .locator(`#${body} tr`)
    .evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
}

describe('operator page', () => {
  it('refuses a wrong key, then shows accounts (paged, searchable), zone, nameservers, bridge and errors', async () => {
    const { page, problems } = await openPage(browser, { failedLoads: 'expected' });
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    const response = await page.goto(`${provider.url}/operator`);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(response?.headers()['x-content-type-options']).toBe('nosniff');
    await shot(page, '1-sign-in');
    const status = page.getByRole('status');

    await page.getByLabel('Operator key').fill(`sbk_${'0'.repeat(32)}_${'x'.repeat(43)}`);
    await page.getByLabel('Operator key').press('Enter');
    await status.getByText(/^Key refused: /).waitFor();
    await shot(page, '2-key-refused');

    await page.getByLabel('Operator key').fill(operatorKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await status.getByText(/^Updated /).waitFor();
    expect(await page.locator('#account-counts').textContent()).toBe(
      '6 accounts, 3 published in the directory.',
    );
    expect(await page.locator('#accounts-caption').textContent()).toBe(
      'Accounts: page 1 of 1 (6 matching)',
    );
    const all = await rows(page, 'accounts');
    expect(all.map((r) => r[0]).sort()).toEqual([...NUMBERS].sort());
    expect(all.find((r) => r[0] === NUMBERS[1])?.slice(1, 3)).toEqual(['yes', 'sip:u2@a.example']);
    expect(all.find((r) => r[0] === NUMBERS[0])?.slice(1, 3)).toEqual(['no', 'none']);

    // Zone: the directory's serial and its signing, validated from the list's anchor.
    const zone = await page.locator('#zone').textContent();
    const health = (await (await fetch(`${dir.directory.apiUrl}/healthz`)).json()) as {
      serial: number;
    };
    expect(zone).toContain('Directory publish APIanswering');
    expect(zone).toContain(`Apex${APEX}`);
    expect(zone).toMatch(
      /Signingsigned, DNSKEY validated from the trust list anchor \(algorithm 13,/,
    );
    const serial = Number(/Serial(\d+)/.exec(zone ?? '')?.[1]);
    expect(serial).toBeGreaterThan(0);
    expect(serial).toBeLessThanOrEqual(health.serial);
    const servers = await rows(page, 'nameservers');
    expect(servers[0]?.slice(0, 2)).toEqual([dir.server, 'in-step']);
    expect(servers[0]?.[3]).toBe('yes');
    expect(servers[1]?.[0]).toBe(deadServer);
    // The transport's reason, not only that no server answered.
    expect(servers[1]?.[1]).toMatch(
      /^unreachable \(the nameserver (refused the connection|did not answer in time)\)$/,
    );
    expect(await page.locator('#bridge-state').textContent()).toMatch(/^Not configured/);
    await shot(page, '3-overview');

    // Paging and search, by keyboard and mouse.
    await page.getByLabel('Rows per page').selectOption('5');
    await page.locator('#accounts-caption').getByText('page 1 of 2 (6 matching)').waitFor();
    expect(await rows(page, 'accounts')).toHaveLength(5);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.locator('#accounts-caption').getByText('page 2 of 2').waitFor();
    expect(await rows(page, 'accounts')).toHaveLength(1);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByLabel('Search numbers (digits)').fill('+44 20 7946 1003');
    await page.getByLabel('Search numbers (digits)').press('Enter');
    await page.locator('#accounts-caption').getByText('page 1 of 1 (1 matching)').waitFor();
    expect((await rows(page, 'accounts')).map((r) => r[0])).toEqual([NUMBERS[2]]);
    await shot(page, '4-search');

    // The directory goes away: publishing fails (502), which the page lists as a recent error.
    await dir.stop();
    dirStopped = true;
    const failed = await register('+442079461007', true);
    expect(failed.code).not.toBe(0);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#errors').getByText('directory.publish-failed').waitFor();
    const errors = await rows(page, 'errors');
    expect(errors[0]?.slice(1)).toEqual([
      'PUT /v1/account/discoverability',
      '502',
      'directory.publish-failed',
    ]);
    expect(await page.locator('#zone').textContent()).toMatch(/Directory publish APIunreachable/);
    await shot(page, '5-directory-down');

    // Signing out forgets the key; it never went into a URL.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await status.getByText('Signed out.').waitFor();
    expect(urls.some((u) => u.includes(operatorKey.slice(-20)))).toBe(false);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('serves the same data as JSON to a key with accounts:read, and nothing without one', async () => {
    const url = `${provider.url}/v1/operator/overview?q=1002&pageSize=3`;
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    const res = await fetch(url, { headers: { authorization: `Bearer ${operatorKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as {
      accounts: { total: number; matching: number; items: { number: string }[] };
      nameservers: { address: string }[];
      bridge: { status: string };
    };
    expect(body.accounts.total).toBeGreaterThanOrEqual(6);
    expect(body.accounts.matching).toBe(1);
    expect(body.accounts.items.map((i) => i.number)).toEqual([NUMBERS[1]]);
    expect(body.nameservers.map((n) => n.address)).toEqual([dir.server, deadServer]);
    expect(body.bridge.status).toBe('not-configured');
  });
});
