import { encodeMessage, RRType } from '@switchboard/dns-wire';
import { DnssecAlgorithm, generateSigningKey } from '@switchboard/dnssec';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';
import { createLogger } from '@switchboard/service-kit';
import { fastInfo, fastReply } from '../src/dns/fast-path.js';
import { ZoneWarmer } from '../src/dns/warmer.js';
import type { ZoneState } from '../src/state/zone-state.js';
import { query, seededImageZone } from './helpers.js';
import type { SeededZone } from './helpers.js';

// The warmer (src/dns/warmer.ts) gives way to queries: it checks its clock after every number,
// and while the listeners' query counter moves its slices are short. No wall clock here: the
// warmer's clock is the signer's count of signatures (one "millisecond" per signature), and the
// numbers each slice warmed are read when the next slice reads the query counter (once a slice).
const APEX = 'e164.switchboard.test.';
const NOW = 1_790_000_000;
const NUMBERS = Array.from({ length: 40 }, (_, i) => `+1415555${String(100 + i).padStart(4, '0')}`);

describe('zone warmer: a time budget per number, and short slices while queries come', () => {
  const key = generateSigningKey(DnssecAlgorithm.ECDSAP256SHA256, { flags: 257 });
  let seeded: SeededZone;
  let zone: ZoneState;
  let warmer: ZoneWarmer | undefined;

  beforeEach(async () => {
    seeded = await seededImageZone('sb-warmer-', NUMBERS, key, NOW);
    ({ zone } = seeded);
  });
  afterEach(async () => {
    warmer?.stop();
    warmer = undefined;
    await seeded.close();
  });

  /**
   * Starts a warmer whose clock is the signature count; `queried(slice)` says whether a query
   * came before that slice (0-based). Returns the numbers warmed by each slice once warm.
   */
  const warmAll = async (
    options: { sliceMs: number; busySliceMs: number; quietMs: number; busyPauseMs?: number },
    queried: (slice: number) => boolean,
  ): Promise<number[]> => {
    const starts: number[] = [];
    let queries = 0;
    const w = new ZoneWarmer(
      zone,
      () => NOW * 1000,
      createLogger({ service: 't', level: 'silent' }),
      {
        ...options,
        // Renewal (the other reader of the counter) not before the test ends.
        pauseMs: 3_600_000,
        clock: () => zone.signer.signatures,
        queries: () => {
          // Read once at the start of each slice (warmer.ts #until).
          if (queried(starts.length)) queries += 1;
          starts.push(w.warmed);
          return queries;
        },
      },
    );
    warmer = w;
    w.start();
    // A turn of the event loop at a time, timers included (slices wait `busyPauseMs` while
    // queries come).
    for (let turns = 0; !w.warm && turns < 10_000; turns++) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    expect(w.warm).toBe(true);
    expect(w.warmed).toBe(NUMBERS.length);
    return starts.map((at, i) => (starts[i + 1] ?? w.warmed) - at);
  };

  /** Signatures made answering `number`'s NAPTR with DNSSEC (0 when the warmer kept it). */
  const ask = (number: string): number => {
    const before = zone.signer.signatures;
    const packet = encodeMessage(query(enumNameFor(number as E164Number, APEX), RRType.NAPTR));
    expect(fastReply(packet, 'udp', zone.snapshot, zone.signer, NOW, fastInfo())).toBeDefined();
    return zone.signer.signatures - before;
  };

  it('stops a slice once its budget is spent, number by number, and still warms every number', async () => {
    const perSlice = await warmAll({ sliceMs: 5, busySliceMs: 1, quietMs: 1 }, () => false);
    // Each number takes at least one signature (one "ms"): at most 5 numbers per 5 ms slice
    // (the pass reads 200 numbers at a time, all of them in one slice before).
    expect(Math.max(...perSlice)).toBeLessThanOrEqual(5);
    expect(perSlice.length).toBeGreaterThanOrEqual(NUMBERS.length / 5);
    expect(perSlice.reduce((a, b) => a + b, 0)).toBe(NUMBERS.length);
    for (const n of NUMBERS) expect(ask(n)).toBe(0);
  });

  it('warms one number per slice while queries come, full slices once they stop', async () => {
    const BUSY = 10;
    const perSlice = await warmAll(
      { sliceMs: 1000, busySliceMs: 0.5, quietMs: 3, busyPauseMs: 1 },
      (slice) => slice < BUSY,
    );
    // A query before each of the first slices: one number each (the least that makes progress).
    expect(perSlice.slice(0, BUSY)).toEqual(Array(BUSY).fill(1));
    // Quiet for 3 "ms" (signatures) after the last query: then the rest in one full slice.
    expect(perSlice.length).toBeLessThanOrEqual(BUSY + 4);
    expect(Math.max(...perSlice.slice(BUSY))).toBeGreaterThan(1);
    for (const n of NUMBERS) expect(ask(n)).toBe(0);
  });
});
