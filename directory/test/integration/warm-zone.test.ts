import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { enumNameFor } from '@switchboard/e164';
import { identity } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { run, waitFor } from './tools.js';

// The zone is signed ahead of queries (directory/src/dns/warmer.ts): after a publish, /healthz
// turns warm again once the new RRsets are signed, and answering them then signs nothing.
const NUMBERS = ['+442079460958', '+14155552671', '+16175550123'];

describe('zone signed ahead of queries', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;

  beforeAll(async () => {
    t = await startTestDirectory({ providers: [acme] });
  });
  afterAll(async () => {
    await t.close();
  });

  const health = async (): Promise<{ serial: number; warm: boolean }> =>
    (await (await fetch(`${t.dir.apiUrl}/healthz`)).json()) as { serial: number; warm: boolean };
  const signatures = async (): Promise<number> => {
    const text = await (await fetch(t.dir.metricsUrl)).text();
    return Number(/^directory_signatures_total (\d+)/m.exec(text)?.[1]);
  };

  it('reports warm once every RRset is signed, and then answers without signing', async () => {
    const anchor = join(t.dataDir, 'anchor.conf');
    await writeFile(anchor, `${t.dir.trustAnchor}\n`);
    for (const number of NUMBERS) {
      const res = await t.request(acme, 'PUT', `/v1/numbers/${number}`, {
        identityKey: identity().publicBase64,
        contacts: CONTACTS,
      });
      expect(res.status).toBe(201);
    }
    const { serial } = await t.dir.store.snapshot();
    expect(
      await waitFor(async () => {
        const h = await health();
        return h.serial === serial && h.warm;
      }, 10_000),
    ).toBe(true);
    const before = await signatures();
    // Each published number: NAPTR and TXT, validated by delv from the directory's key.
    for (const number of NUMBERS) {
      for (const type of ['NAPTR', 'TXT']) {
        const out = await run('delv', [
          '-a',
          anchor,
          '+root=' + APEX,
          '-p',
          String(t.dir.dns.port),
          '@127.0.0.1',
          enumNameFor(number, APEX),
          type,
        ]);
        expect(out.stdout + out.stderr).toMatch(/fully validated/);
      }
    }
    expect(await signatures()).toBe(before);
  });
});
