import type { ResourceRecord } from '@switchboard/dns-wire';
import { decodeMessage, encodeMessage, RRType } from '@switchboard/dns-wire';
import { DnssecAlgorithm, generateSigningKey } from '@switchboard/dnssec';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';
import { createLogger } from '@switchboard/service-kit';
import { fastInfo, fastReply } from '../src/dns/fast-path.js';
import { ZoneWarmer } from '../src/dns/warmer.js';
import type { DirectoryStore } from '../src/state/store.js';
import type { ZoneState } from '../src/state/zone-state.js';
import type { ImageHit } from '../src/zone/image.js';
import { wireName } from '../src/zone/name-index.js';
import { DEFAULT_SIGNATURE_POLICY, OnlineSigner } from '../src/zone/signer.js';
import { entry, query, seededImageZone } from './helpers.js';
import type { SeededZone } from './helpers.js';

// Signature validity jittered by owner name (so the answers of one pass come due over a day, not
// in one hour), and renewal passes on the warming workers: due answers re-signed, fresh ones
// left, a number changed meanwhile never left with an answer of its old entry.
const APEX = 'e164.switchboard.test.';
const NOW = 1_790_000_000;
const NUMBERS = Array.from({ length: 300 }, (_, i) => `+1415555${String(1000 + i)}`);
const TYPES = [RRType.NAPTR, RRType.TXT];
const wireOf = (number: string): Uint8Array => wireName(enumNameFor(number as E164Number, APEX));
const key = generateSigningKey(DnssecAlgorithm.ECDSAP256SHA256, { flags: 257 });

describe('signature validity jitter', () => {
  it('spreads the expiries of many numbers evenly over the jitter span, each safely valid', () => {
    const signer = new OnlineSigner(key, APEX);
    const { validity, refreshBefore } = DEFAULT_SIGNATURE_POLICY;
    const jitter = DEFAULT_SIGNATURE_POLICY.jitter!;
    const inception = signer.inception(NOW);
    const hours = new Array<number>(jitter / 3600).fill(0);
    const count = 24_000;
    let low = Infinity;
    let high = -Infinity;
    let soonest = Infinity;
    for (let i = 0; i < count; i++) {
      const wire = wireOf(`+4930${String(1_000_000 + i)}`);
      const expiration = signer.numberExpiration(NOW, wire, wire.length);
      low = Math.min(low, expiration);
      high = Math.max(high, expiration);
      soonest = Math.min(soonest, signer.renewalOf(expiration));
      const hour = Math.floor((inception + validity - expiration) / 3600);
      hours[hour] = (hours[hour] ?? 0) + 1;
    }
    expect(high).toBeLessThanOrEqual(inception + validity);
    expect(low).toBeGreaterThan(inception + validity - jitter);
    // Not due when made; renewed the renewal margin before it expires.
    expect(soonest).toBeGreaterThan(NOW);
    expect(soonest).toBeGreaterThanOrEqual(signer.earliestRenewal(NOW));
    expect(high - signer.renewalOf(high)).toBe(refreshBefore);
    // 1,000 a hour expected; a binomial spread keeps every hour within a fifth of that.
    for (const n of hours) expect(Math.abs(n - count / hours.length)).toBeLessThan(200);
  });

  it('refuses a policy whose fresh signatures would already be due', () => {
    const day = 86_400;
    expect(
      () =>
        new OnlineSigner(key, APEX, {
          validity: 7 * day,
          backdate: 3600,
          refreshBefore: 3 * day,
          jitter: 4 * day,
        }),
    ).toThrow(/renewal margin/);
    expect(
      () =>
        new OnlineSigner(key, APEX, {
          validity: 7 * day,
          backdate: 3600,
          refreshBefore: 3 * day,
          jitter: 2 * day,
        }),
    ).not.toThrow();
  });
});

describe('renewal passes on the warming workers', () => {
  let seeded: SeededZone;
  let store: DirectoryStore;
  let zone: ZoneState;
  let warmers: ZoneWarmer[] = [];

  beforeEach(async () => {
    seeded = await seededImageZone('sb-renewal-', NUMBERS, key, NOW);
    ({ zone, store } = seeded);
  });
  afterEach(async () => {
    for (const w of warmers) w.stop();
    warmers = [];
    await seeded.close();
  });

  const warmerAt = (at: number, threads = 2): ZoneWarmer => {
    const w = new ZoneWarmer(
      zone,
      () => at * 1000,
      createLogger({ service: 't', level: 'silent' }),
      {
        threads,
        rangeSize: 64,
        pauseMs: 1,
        busyPauseMs: 1,
      },
    );
    warmers.push(w);
    return w;
  };
  const until = async (done: () => boolean): Promise<void> => {
    for (let i = 0; !done() && i < 3000; i++) await new Promise((r) => setTimeout(r, 10));
    expect(done()).toBe(true);
  };
  const kept = (number: string, qtype: number): ImageHit => {
    const hit = zone.snapshot.image.find(number.slice(1), qtype, true, {
      renewAt: 0,
      bytes: undefined,
    });
    return {
      renewAt: hit?.renewAt ?? 0,
      bytes: hit?.bytes ? Uint8Array.from(hit.bytes) : undefined,
    };
  };
  const rrsigOf = (bytes: Uint8Array): ResourceRecord =>
    decodeMessage(bytes).answers.find((rr) => rr.type === RRType.RRSIG)!;

  /** Warms every number on the workers at NOW; then the answers kept, by number and type. */
  const warmAll = async (): Promise<Map<string, ImageHit>> => {
    const w = warmerAt(NOW);
    w.start();
    await until(() => w.warm);
    w.stop();
    zone.snapshot.image.flush();
    const all = new Map<string, ImageHit>();
    for (const n of NUMBERS) for (const t of TYPES) all.set(`${n}/${t}`, kept(n, t));
    return all;
  };

  it('re-signs the answers due and leaves the fresh ones', async () => {
    const before = await warmAll();
    const times = [...before.values()].map((h) => h.renewAt).sort((a, b) => a - b);
    // Halfway through the renewal times of the pass: about half are due.
    const at = times[Math.floor(times.length / 2)]!;
    const due = times.filter((t) => t <= at).length;
    expect(due).toBeGreaterThan(times.length / 4);
    expect(due).toBeLessThan(times.length);
    const w = warmerAt(at);
    w.start();
    await until(() => w.renewed >= due);
    await new Promise((r) => setTimeout(r, 100));
    expect(w.renewedByWorkers).toBe(due);
    expect(w.renewed).toBe(due);
    zone.snapshot.image.flush();
    for (const [id, old] of before) {
      const [n, t] = id.split('/') as [string, string];
      const now = kept(n, Number(t));
      if (old.renewAt <= at) {
        expect(now.renewAt).toBeGreaterThan(at);
        const rrsig = rrsigOf(now.bytes!).data as { inception: number; expiration: number };
        expect(rrsig.inception).toBeLessThanOrEqual(at);
        expect(rrsig.expiration - DEFAULT_SIGNATURE_POLICY.refreshBefore).toBe(now.renewAt);
      } else {
        expect(now).toEqual(old);
      }
    }
    // Served from what was kept: no signature made answering.
    for (const n of NUMBERS) {
      const before = zone.signer.signatures;
      const packet = encodeMessage(query(enumNameFor(n as E164Number, APEX), RRType.NAPTR));
      const reply = fastReply(packet, 'udp', zone.snapshot, zone.signer, at, fastInfo());
      expect(reply).toBeDefined();
      expect(zone.signer.signatures).toBe(before);
    }
  });

  it('keeps no answer of an entry changed while the workers renew', async () => {
    const before = await warmAll();
    // Every answer due (and none expired: renewed the margin before expiry).
    const at = Math.max(...[...before.values()].map((h) => h.renewAt));
    const w = warmerAt(at);
    w.start();
    await until(() => w.renewedByWorkers > 0);
    // Changed mid-pass: new contacts, a new serial.
    const changed = NUMBERS.slice(-20);
    for (const n of changed) {
      const e = entry(n);
      const contacts = [{ service: 'sip' as const, uri: 'sip:bob@sip.example.net' }];
      expect(await store.put({ ...e, contacts }, 'acme-telecom', NOW)).toBeDefined();
    }
    await zone.refresh();
    w.start();
    await until(() => w.renewed >= 2 * NUMBERS.length - 2 * changed.length && w.warm);
    await new Promise((r) => setTimeout(r, 200));
    zone.snapshot.image.flush();
    for (const n of NUMBERS) {
      const hit = kept(n, RRType.NAPTR);
      const packet = encodeMessage(query(enumNameFor(n as E164Number, APEX), RRType.NAPTR));
      const reply = fastReply(packet, 'udp', zone.snapshot, zone.signer, at, fastInfo());
      const naptrs = decodeMessage(reply!).answers.filter((rr) => rr.type === RRType.NAPTR);
      expect(naptrs).toHaveLength(changed.includes(n) ? 1 : 3);
      if (hit.bytes) {
        // Whatever was kept is the current entry's, and fresh.
        const kNaptrs = decodeMessage(hit.bytes).answers.filter((rr) => rr.type === RRType.NAPTR);
        expect(kNaptrs).toHaveLength(changed.includes(n) ? 1 : 3);
        expect(hit.renewAt).toBeGreaterThan(at);
      }
    }
  });
});
