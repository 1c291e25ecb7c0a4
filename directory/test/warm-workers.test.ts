import { mkdir, rm } from 'node:fs/promises';
import { encodeMessage, RRType } from '@switchboard/dns-wire';
import { DnssecAlgorithm, generateSigningKey } from '@switchboard/dnssec';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';
import { createLogger } from '@switchboard/service-kit';
import { fastInfo, fastReply } from '../src/dns/fast-path.js';
import { ZoneWarmer } from '../src/dns/warmer.js';
import type { ZoneState } from '../src/state/zone-state.js';
import type { ImageHit } from '../src/zone/image.js';
import { ImageWarmRows } from '../src/zone/image.js';
import { nameHash, wireName } from '../src/zone/name-index.js';
import { query, seededImageZone } from './helpers.js';
import type { SeededZone } from './helpers.js';

// Whole passes of the warmer on worker threads (src/dns/warm-worker.ts): every number's answers
// kept in the zone image as the event loop makes them (only the ECDSA signature differs),
// numbers already kept are not signed again (a pass killed half-way resumes), an answer made
// from an entry changed meanwhile is not kept, and queries coming slow the workers down but do
// not stop them.
const APEX = 'e164.switchboard.test.';
const NOW = 1_790_000_000;
const NUMBERS = Array.from({ length: 300 }, (_, i) => `+1415555${String(1000 + i)}`);
const TYPES = [RRType.NAPTR, RRType.TXT];
const wireOf = (number: string): Uint8Array => wireName(enumNameFor(number as E164Number, APEX));

describe('zone warmer on worker threads', () => {
  const key = generateSigningKey(DnssecAlgorithm.ECDSAP256SHA256, { flags: 257 });
  let seeded: SeededZone;
  let zone: ZoneState;
  let warmer: ZoneWarmer | undefined;

  beforeEach(async () => {
    seeded = await seededImageZone('sb-warm-workers-', NUMBERS, key, NOW);
    ({ zone } = seeded);
  });
  afterEach(async () => {
    warmer?.stop();
    warmer = undefined;
    await seeded.close();
  });

  /** Warms the zone on two workers (ranges of 64 numbers); `queries`: the listeners' count. */
  const warmOnWorkers = async (queries: () => number = () => 0): Promise<ZoneWarmer> => {
    const w = new ZoneWarmer(
      zone,
      () => NOW * 1000,
      createLogger({ service: 't', level: 'silent' }),
      { threads: 2, rangeSize: 64, pauseMs: 3_600_000, busyPauseMs: 1, queries },
    );
    warmer = w;
    w.start();
    for (let i = 0; !w.warm && i < 3000; i++) await new Promise((r) => setTimeout(r, 10));
    expect(w.warm).toBe(true);
    return w;
  };

  /** The answer kept in the image for `number` (DNSSEC). */
  const kept = (number: string, qtype: number): ImageHit | undefined =>
    zone.snapshot.image.find(number.slice(1), qtype, true, { renewAt: 0, bytes: undefined });

  /** Signatures made answering `number` with DNSSEC now (0 when its answer is kept). */
  const ask = (number: string, qtype: number): number => {
    const before = zone.signer.signatures;
    const packet = encodeMessage(query(enumNameFor(number as E164Number, APEX), qtype));
    expect(fastReply(packet, 'udp', zone.snapshot, zone.signer, NOW, fastInfo())).toBeDefined();
    return zone.signer.signatures - before;
  };

  it('keeps every answer as the event loop makes it, the signature aside, and counts its signatures', async () => {
    // Made on the event loop first (a query), then dropped from the image to be made by workers.
    const number = NUMBERS[7] as string;
    expect(ask(number, RRType.NAPTR)).toBe(1);
    zone.snapshot.image.flush();
    const mine = kept(number, RRType.NAPTR)?.bytes;
    expect(mine).toBeDefined();
    const { image } = zone.snapshot;
    image.apply(image.serial ?? 0, [image.entry(number.slice(1))!], [], image.token ?? '');
    expect(kept(number, RRType.NAPTR)?.bytes).toBeUndefined();
    const w = await warmOnWorkers();
    expect(w.warmed).toBe(NUMBERS.length);
    // The apex's three RRsets (on the event loop), the query's, then every number's two.
    expect(zone.signer.signatures).toBe(3 + 1 + 2 * NUMBERS.length);
    const theirs = kept(number, RRType.NAPTR);
    // ECDSA P-256: the last 64 octets of the RRSIG, before the OPT record (11 octets).
    const unsigned = (b: Uint8Array): Uint8Array =>
      Uint8Array.from([...b.subarray(0, b.length - 75), ...b.subarray(b.length - 11)]);
    expect(unsigned(theirs?.bytes as Uint8Array)).toEqual(unsigned(mine as Uint8Array));
    expect(theirs?.renewAt).toBe(
      zone.signer.renewalOf(
        zone.signer.numberExpiration(NOW, wireOf(number), wireOf(number).length),
      ),
    );
    // Kept in memory too, as the event loop's pass keeps them.
    const wire = wireName(enumNameFor(number as E164Number, APEX));
    const found = { bytes: new Uint8Array(0), start: 0, length: 0 };
    const cache = zone.snapshot.answers;
    expect(cache.find(wire, wire.length, nameHash(wire), RRType.NAPTR, true, NOW, found)).toBe(
      true,
    );
    expect(found.bytes.subarray(found.start, found.start + found.length)).toEqual(theirs?.bytes);
    for (const n of NUMBERS) for (const t of TYPES) expect(ask(n, t)).toBe(0);
  });

  it('does not sign again what is kept (a pass resumed), nor keep answers of a changed entry', async () => {
    for (const n of NUMBERS.slice(0, 100)) expect(ask(n, RRType.TXT)).toBe(1);
    zone.snapshot.image.flush();
    const before = zone.signer.signatures;
    await warmOnWorkers();
    expect(zone.signer.signatures - before).toBe(3 + 2 * NUMBERS.length - 100);

    // An answer made from an entry whose serial is not the one held is not written.
    const files = zone.snapshot.image.files;
    expect(files).toBeDefined();
    const rows = new ImageWarmRows(files!);
    try {
      const [row] = rows.rows('14155551000', '14155551001');
      expect(row?.digits).toBe('14155551001');
      expect(row?.kept.get(RRType.NAPTR)).toBe(
        zone.signer.renewalOf(
          zone.signer.numberExpiration(NOW, wireOf('+14155551001'), wireOf('+14155551001').length),
        ),
      );
      const held = kept('+14155551001', RRType.NAPTR)?.bytes;
      rows.keep({ ...row!, serial: row!.serial + 1 }, RRType.NAPTR, 1, Uint8Array.of(1, 2, 3));
      rows.commit();
      // The image's lookups see another connection's commits from the next turn of the loop.
      await nextTurn();
      expect(kept('+14155551001', RRType.NAPTR)?.bytes).toEqual(held);
      rows.keep(row!, RRType.NAPTR, 1, Uint8Array.of(1, 2, 3));
      rows.commit();
      await nextTurn();
      expect(kept('+14155551001', RRType.NAPTR)?.bytes).toEqual(Uint8Array.of(1, 2, 3));
    } finally {
      rows.close();
    }
  });

  it('leaves the pass to the event loop when a worker fails', async () => {
    // The workers open the image by its path: gone, they fail; the event loop's connection
    // still holds the (unlinked) file and warms every number itself.
    const files = zone.snapshot.image.files;
    for (const f of ['', '-wal', '-shm']) await rm(`${files!.path}${f}`, { force: true });
    await mkdir(files!.path); // no database can be opened there
    const w = await warmOnWorkers();
    expect(w.warmed).toBe(NUMBERS.length);
    for (const n of NUMBERS) for (const t of TYPES) expect(ask(n, t)).toBe(0);
  });

  it('finishes the pass while queries keep coming (the workers then wait between numbers)', async () => {
    let queries = 0;
    const w = await warmOnWorkers(() => ++queries);
    expect(w.warmed).toBe(NUMBERS.length);
    for (const n of NUMBERS) for (const t of TYPES) expect(ask(n, t)).toBe(0);
  });
});

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
