// The SDK's browser bundle in Debian's Chromium (playwright-core, nothing downloaded): the
// provider's /examples/lookup/ page verifies the trust list with WebCrypto, asks the running
// directory over DNS over HTTPS (GET, cross-origin) and validates DNSSEC in the page. A published
// number is found, a missing one is proven absent, and an answer whose RRSIG was changed on the
// way (a DoH proxy flipping one signature byte) is refused.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { IdentityKeyPair } from '@signalapp/libsignal-client';
import type { Browser } from 'playwright-core';
import { RRType, decodeMessage, encodeMessage, isRecordType } from '@switchboard/dns-wire';
import { toBase64, toHex } from '../../src/index.js';
import { launchChromium, openPage } from './browser.js';
import type { TestDirectory } from './fixtures.js';
import { publish } from './fixtures.js';
import type { RunningProvider } from './services.js';
import { startSignedStack } from './services.js';

jest.setTimeout(180_000);

const PUBLISHED = '+442079460961';
const MISSING = '+442079460962';

let work: string;
let dir: TestDirectory;
let provider: RunningProvider;
let browser: Browser;
let identityKey: Uint8Array;
let proxy: ReturnType<typeof createServer>;
let proxyUrl: string;
let tampered = 0;

/** A DoH front end that flips one byte of the signature on every NAPTR answer's RRSIG. */
async function startTamperingProxy(upstream: string): Promise<void> {
  proxy = createServer((req, res) => {
    void (async () => {
      const query = new URL(req.url ?? '/', 'http://proxy').search;
      const up = await fetch(`${upstream}${query}`, {
        headers: { accept: 'application/dns-message' },
      });
      let body: Uint8Array = new Uint8Array(await up.arrayBuffer());
      const msg = decodeMessage(body);
      if (msg.questions[0]?.type === RRType.NAPTR && msg.answers.length > 0) {
        const answers = msg.answers.map((rr) => {
          if (!isRecordType(rr, RRType.RRSIG) || rr.data.typeCovered !== RRType.NAPTR) return rr;
          const signature = rr.data.signature.slice();
          signature[10] = (signature[10] as number) ^ 0x01;
          tampered++;
          return { ...rr, data: { ...rr.data, signature } };
        });
        body = encodeMessage({ ...msg, answers });
      }
      res.writeHead(up.status, {
        'content-type': up.headers.get('content-type') ?? 'application/octet-stream',
        'access-control-allow-origin': '*',
      });
      res.end(body);
    })().catch(() => res.writeHead(502).end());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/dns-query`;
}

beforeAll(async () => {
  const script = new URL('../../../scripts/build-browser.mjs', import.meta.url).href;
  const { buildBrowserBundle } = (await import(script)) as {
    buildBrowserBundle: () => Promise<{ inputs: string[] }>;
  };
  const { inputs } = await buildBrowserBundle();
  expect(inputs.some((p) => p.startsWith('node:'))).toBe(false);

  work = await mkdtemp(join(tmpdir(), 'sb-lookup-browser-'));
  ({ dir, provider } = await startSignedStack({
    work,
    providerId: 'provider-web',
    codeWebhook: 'http://127.0.0.1:9/codes',
  }));
  identityKey = IdentityKeyPair.generate().publicKey.serialize();
  await publish(dir, provider.provider, PUBLISHED, toBase64(identityKey), [
    { service: 'sip', uri: 'sip:web@sip.example.net' },
  ]);
  await startTamperingProxy(dir.directory.dohUrl);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  await provider?.stop();
  await dir?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Shown {
  readonly outcome: string;
  readonly text: string;
  readonly problems: string[];
  readonly csp: string;
}

/** Opens the example for `number` against `doh`, submits, and waits for the outcome. */
async function lookUp(number: string, doh: string): Promise<Shown> {
  const { page, problems } = await openPage(browser);
  try {
    const url = `${provider.url}/examples/lookup/?doh=${encodeURIComponent(doh)}&number=${encodeURIComponent(number)}`;
    const response = await page.goto(url);
    const csp = response?.headers()['content-security-policy'] ?? '';
    await page.getByRole('button', { name: 'Look up' }).click();
    const result = page.locator('#result[data-outcome]');
    await result.waitFor({ timeout: 90_000 });
    return {
      outcome: (await result.getAttribute('data-outcome')) ?? '',
      text: await result.innerText(),
      problems,
      csp,
    };
  } finally {
    await page.close();
  }
}

describe('lookup in the browser over DNS over HTTPS', () => {
  it('finds a published number with the DNSSEC chain validated in the page', async () => {
    const shown = await lookUp(PUBLISHED, dir.directory.dohUrl);
    expect(shown.problems).toEqual([]);
    expect(shown.outcome).toBe('secure');
    expect(shown.text).toContain('secure: validated in this browser up to directory dir-test');
    expect(shown.text).toContain('sip:web@sip.example.net');
    expect(shown.text).toContain(toHex(identityKey));
    // The page runs under the strict policy: scripts from itself only, no eval, and the one
    // DoH origin it was pointed at.
    expect(shown.csp).toContain("script-src 'self'");
    expect(shown.csp).not.toContain('unsafe-eval');
    expect(shown.csp).toContain(`connect-src 'self' ${new URL(dir.directory.dohUrl).origin}`);
  });

  it('shows a number that is not published as proven absent', async () => {
    const shown = await lookUp(MISSING, dir.directory.dohUrl);
    expect(shown.problems).toEqual([]);
    expect(shown.outcome).toBe('not-found');
    expect(shown.text).toContain('secure denial');
  });

  it('refuses an answer whose RRSIG was changed on the way', async () => {
    const before = tampered;
    const shown = await lookUp(PUBLISHED, proxyUrl);
    expect(tampered).toBeGreaterThan(before);
    expect(shown.problems).toEqual([]);
    expect(shown.outcome).toBe('refused');
    expect(shown.text).toContain('failed validation (signature-invalid)');
    expect(shown.text).not.toContain('sip:web@sip.example.net');
  });
});
