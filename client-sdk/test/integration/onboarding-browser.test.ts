// The provider's web onboarding page in Debian's Chromium (playwright-core, no browser download),
// against the real provider API and directory, handed over to the `switchboard` CLI.
// Screenshots are kept under $SWITCHBOARD_TEST_OUTPUT (default: <tmpdir>/switchboard-test-output).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jest } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage, screenshots } from './browser.js';
import type { TestDirectory } from './fixtures.js';
import { APEX, waitForDns } from './fixtures.js';
import type { RunningProvider } from './services.js';
import { CodeInbox, startSignedStack } from './services.js';

jest.setTimeout(180_000);

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const NUMBER = '+442079460959';
const shot = screenshots('onboarding-browser');

let work: string;
let dir: TestDirectory;
let provider: RunningProvider;
let inbox: CodeInbox;
let browser: Browser;
let env: NodeJS.ProcessEnv;

function cli(
  args: string[],
  home = 'device',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--data-dir', join(work, home), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sb-onboarding-'));
  inbox = new CodeInbox();
  await inbox.start();
  // The provider reads the same signed list as the CLI: it validates the published entry
  // from the list's anchor to show its DNSSEC status in the page.
  ({ dir, provider, env } = await startSignedStack({
    work,
    providerId: 'provider-a',
    codeWebhook: inbox.url,
  }));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await provider?.stop();
  await dir?.stop();
  await inbox?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('web onboarding', () => {
  it('verifies a number in the page and hands over to the CLI, which registers and publishes', async () => {
    const { page, problems } = await openPage(browser, { failedLoads: 'expected' });
    await page.goto(`${provider.url}/`);
    await shot(page, '1-start');
    await page.getByLabel('Phone number in international format').fill(NUMBER);
    await page.getByLabel('Send the code by').selectOption('sms');
    await page.getByRole('button', { name: 'Send code' }).click();
    const status = page.getByRole('status');
    await status.getByText('Code sent. Enter it below.').waitFor();
    const code = await inbox.codeFor(NUMBER);

    // A wrong code is explained, and the person can try again.
    const wrong = code === '000000' ? '111111' : '000000';
    await page.getByLabel('6-digit code').fill(wrong);
    await page.getByLabel('6-digit code').press('Enter');
    await status.getByText('Not verified: the code does not match').waitFor();
    await shot(page, '2-wrong-code');

    await page.getByLabel('6-digit code').fill(code);
    await page.getByLabel('6-digit code').press('Enter'); // keyboard only
    await status.getByText(/^Verified\./).waitFor();
    await shot(page, '3-verified');

    // Publishing without an address is refused with an explanation.
    await page.getByRole('button', { name: 'Create registration link' }).click();
    await status.getByText(/give at least one address/).waitFor();
    await page.getByLabel('SIP address to publish (optional)').fill('sip:dora@a.example');
    await page.getByLabel('Matrix address to publish (optional)').fill('https://not-matrix');
    await page.getByRole('button', { name: 'Create registration link' }).click();
    await status.getByText(/^Addresses start with sip:, xmpp: or matrix:/).waitFor();
    await page.getByLabel('Matrix address to publish (optional)').fill('');
    await page.getByRole('button', { name: 'Create registration link' }).click();
    await page
      .getByRole('heading', { name: 'Finish on the device that keeps your keys' })
      .waitFor();
    const link = (await page.locator('#handover-link').textContent()) ?? '';
    expect(link).toMatch(/^switchboard:\/\/register\?provider=[^&]+&token=[\w-]{43}&publish=/);
    expect(link).not.toContain(NUMBER.slice(1)); // neither the number nor the session id
    expect(await page.locator('#handover-command').textContent()).toBe(
      `switchboard register '${link}'`,
    );
    const qr = page.getByRole('img', { name: 'QR code of the registration link' });
    // Rendered from the data: URL (the CSP allows no other image source).
    await qr.waitFor();
    await page.waitForFunction(
      "document.getElementById('handover-qr').complete && document.getElementById('handover-qr').naturalWidth > 0",
    );
    await status.getByText('Waiting for your device to register.').waitFor();
    await shot(page, '4-handover');

    const reg = await cli(['--json', 'register', link, '--prekeys', '3']);
    expect(reg.stderr).toBe('');
    expect(reg.code).toBe(0);
    const registered = JSON.parse(reg.stdout) as { identityKeyFingerprint: string };
    expect(registered).toMatchObject({
      number: NUMBER,
      provider: 'provider-a',
      discoverable: true,
    });

    // The page polls and shows what was registered and published.
    await page.getByRole('heading', { name: 'Registered' }).waitFor({ timeout: 60_000 });
    await status.getByText(/^Registered\./).waitFor();
    const result = page.locator('#result');
    expect(await result.locator('#result-number').textContent()).toBe(NUMBER);
    expect(await result.locator('#result-published').textContent()).toContain('Yes');
    expect(await result.locator('#result-contacts').textContent()).toBe('sip:dora@a.example');
    expect(await result.locator('#result-fingerprint').textContent()).toBe(
      registered.identityKeyFingerprint,
    );
    // The provider validated the published entry as a client does (DNSSEC from the trust
    // list's anchor, the identity key compared); the page keeps checking until it is served.
    const dnssec = result.locator('#result-dnssec');
    await dnssec.getByText(/^Validated: directory dir-test serves your entry/).waitFor({
      timeout: 60_000,
    });
    expect(await dnssec.textContent()).toContain(`(${APEX})`);
    expect(await dnssec.getAttribute('class')).toBe('secure');
    expect(await result.locator('#result-enum').textContent()).toBe(
      `9.5.9.0.6.4.9.7.0.2.4.4.${APEX}`,
    );
    await status.getByText(/^Registered\. Your device holds the keys/).waitFor();
    await shot(page, '5-registered');

    await waitForDns(dir.server, NUMBER);
    const found = await cli(['--json', 'lookup', NUMBER]);
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({
      dnssec: { status: 'secure' },
      identityKeyFingerprint: registered.identityKeyFingerprint,
      contacts: [{ service: 'sip', uri: 'sip:dora@a.example' }],
    });
    // The link is single-use: a second device is refused with the provider's explanation.
    const again = await cli(['register', link], 'other');
    expect(again.code).toBe(6);
    expect(again.stderr).toContain('already used');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a rendez-vous card made on the device as a QR code, and refuses a changed one', async () => {
    const { page, problems } = await openPage(browser, { failedLoads: 'expected' });
    await page.goto(`${provider.url}/`);
    const svgPath = join(work, 'card.svg');
    const made = await cli(
      [
        '--json',
        'card',
        'create',
        '--mailbox',
        provider.url,
        '--label',
        'Dora',
        '--qr',
        'svg',
        '--out',
        svgPath,
      ],
      'carder',
    );
    expect(made.code).toBe(0);
    const { card } = JSON.parse(made.stdout) as { card: string };
    const cardStatus = page.locator('#card-status');

    // One changed character: the card's own signature no longer holds.
    const body = card.slice(5);
    const flipped = `SBC1:${body.slice(0, 40)}${body[40] === 'A' ? 'B' : 'A'}${body.slice(41)}`;
    await page.getByLabel('Rendez-vous card (text starting with SBC1:)').fill(flipped);
    await page.getByRole('button', { name: 'Show as QR code' }).click();
    await cardStatus.getByText(/^Not shown: /).waitFor();
    expect(await page.locator('#card-result').isHidden()).toBe(true);
    await shot(page, '6-card-refused');

    await page.getByLabel('Rendez-vous card (text starting with SBC1:)').fill(card);
    await page.getByLabel('Rendez-vous card (text starting with SBC1:)').press('Tab');
    await page.keyboard.press('Enter'); // the button, by keyboard
    await cardStatus.getByText(/^Card checked: signed by its own key and valid/).waitFor();
    const qr = page.getByRole('img', { name: 'QR code of the rendez-vous card' });
    await qr.waitFor();
    await page.waitForFunction(
      "document.getElementById('card-qr').complete && document.getElementById('card-qr').naturalWidth > 0",
    );
    // The page's QR code is the very code the device renders for this card.
    const src = (await qr.getAttribute('src')) ?? '';
    const shown = Buffer.from(src.replace(/^data:image\/svg\+xml;base64,/, ''), 'base64');
    expect(shown.toString('utf8')).toBe(await readFile(svgPath, 'utf8'));
    expect(await page.locator('#card-kind').textContent()).toBe('Offer (for someone to accept)');
    expect(await page.locator('#card-label').textContent()).toBe('Dora');
    expect(await page.locator('#card-reach').textContent()).toBe(`mailbox at ${provider.url}`);
    await shot(page, '7-card-qr');

    // The card shown works: another device accepts it through the provider's mailbox.
    const accepted = await cli(
      ['--json', 'card', 'accept', card, '--mailbox', provider.url],
      'friend',
    );
    expect(accepted.stderr).toBe('');
    expect(accepted.code).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });
});
