import { RRType } from '@switchboard/dns-wire';
import type { RrsigRecord } from '@switchboard/dnssec';
import { identity } from './helpers.js';
import type { TestDirectory } from './support.js';
import { CONTACTS, makeProvider, startTestDirectory } from './support.js';

describe('signature validity', () => {
  const acme = makeProvider('acme-telecom');
  let clock = Date.now();
  let t: TestDirectory;
  beforeAll(async () => {
    t = await startTestDirectory({ providers: [acme], now: () => clock });
    await t.request(acme, 'PUT', '/v1/numbers/+442079460958', {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const earliestExpiry = (): number =>
    Math.min(
      ...t.dir.zone
        .signedZone(clock / 1000)
        .records.filter((r): r is RrsigRecord => r.type === RRType.RRSIG)
        .map((r) => r.data.expiration),
    );

  it('re-signs the transferred zone with a new serial before its signatures expire', async () => {
    const serial = t.dir.zone.snapshot.serial;
    const firstExpiry = earliestExpiry();
    expect(firstExpiry - clock / 1000).toBeGreaterThan(6 * 86_400);
    expect(await t.dir.renewExportSignatures()).toBe(false);
    clock += 5 * 86_400_000; // 5 days on: less than the 3-day margin is left
    expect(await t.dir.renewExportSignatures()).toBe(true);
    expect(t.dir.zone.snapshot.serial).toBe(serial + 1);
    expect(earliestExpiry()).toBeGreaterThan(firstExpiry + 4 * 86_400);
    expect(await t.dir.renewExportSignatures()).toBe(false);
  });
});
