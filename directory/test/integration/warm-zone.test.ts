import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { enumNameFor } from '@switchboard/e164';
import { identity } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { run, waitFor } from './tools.js';

// Nothing is signed before the first answer; then directory/src/dns/warmer.ts signs in the
// background what changed (after a first start: every number), and /healthz says warm once
// done. What was signed is kept in the zone image (directory/src/zone/image.ts): asked, or asked
// after a restart, a number's answer is served without signing anything; once due for renewal
// it is renewed in the background.
const NUMBERS = ['+442079460958', '+14155552671', '+16175550123'];

describe('answers signed on demand and kept in the zone image', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const health = async (d: TestDirectory): Promise<{ serial: number; warm: boolean }> =>
    (await (await fetch(`${d.dir.apiUrl}/healthz`)).json()) as { serial: number; warm: boolean };
  const signatures = async (d: TestDirectory): Promise<number> => {
    const text = await (await fetch(d.dir.metricsUrl)).text();
    return Number(/^directory_signatures_total (\d+)/m.exec(text)?.[1]);
  };
  const validateAll = async (d: TestDirectory): Promise<void> => {
    const anchor = join(d.dataDir, 'anchor.conf');
    await writeFile(anchor, `${d.dir.trustAnchor}\n`);
    for (const number of NUMBERS) {
      for (const type of ['NAPTR', 'TXT']) {
        const out = await run('delv', [
          '-a',
          anchor,
          '+root=' + APEX,
          '-p',
          String(d.dir.dns.port),
          '@127.0.0.1',
          enumNameFor(number, APEX),
          type,
        ]);
        expect(out.stdout + out.stderr).toMatch(/fully validated/);
      }
    }
  };
  const warmAt = async (d: TestDirectory, serial: number): Promise<boolean> =>
    waitFor(async () => {
      const h = await health(d);
      return h.serial === serial && h.warm;
    }, 10_000);

  it('signs published numbers in the background, then answers them without signing, across a restart too', async () => {
    const first = await startTestDirectory({ providers: [acme] });
    t = first;
    for (const number of NUMBERS) {
      const res = await first.request(acme, 'PUT', `/v1/numbers/${number}`, {
        identityKey: identity().publicBase64,
        contacts: CONTACTS,
      });
      expect(res.status).toBe(201);
    }
    const { serial } = await first.dir.store.snapshot();
    expect(await warmAt(first, serial)).toBe(true);
    const signed = await signatures(first);
    await validateAll(first);
    expect(await signatures(first)).toBe(signed);

    // A restart on the same data directory: the image and the answers it keeps are reused.
    await first.dir.stop();
    t = await startTestDirectory({ providers: [acme], dataDir: first.dataDir });
    expect(await warmAt(t, serial)).toBe(true);
    const restarted = await signatures(t);
    await validateAll(t);
    expect(await signatures(t)).toBe(restarted);
  });

  it('renews kept answers in the background once they are due, without a query', async () => {
    let clock = Date.now();
    const policy = { validity: 7 * 86_400, backdate: 3600, refreshBefore: 3 * 86_400 };
    t = await startTestDirectory({
      providers: [acme],
      extra: { now: () => clock, signaturePolicy: policy },
    });
    const d = t;
    for (const number of NUMBERS) {
      const res = await d.request(acme, 'PUT', `/v1/numbers/${number}`, {
        identityKey: identity().publicBase64,
        contacts: CONTACTS,
      });
      expect(res.status).toBe(201);
    }
    const { serial } = await d.dir.store.snapshot();
    expect(await warmAt(d, serial)).toBe(true);
    await validateAll(d);
    const signed = await signatures(d);
    // Past the renewal time (3 days before expiry) of what was signed: each kept answer is
    // signed again in the background, with no query asking.
    clock += (policy.validity - policy.refreshBefore + 3600) * 1000;
    expect(
      await waitFor(async () => (await signatures(d)) >= signed + 2 * NUMBERS.length, 20_000),
    ).toBe(true);
  });
});
