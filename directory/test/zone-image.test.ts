import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, RRType } from '@switchboard/dns-wire';
import type { DialectName } from '@switchboard/db';
import { openDatabase } from '@switchboard/db';
import { ALL_DIALECTS, openTestDatabase } from '@switchboard/db/testing';
import { DnssecAlgorithm, generateSigningKey } from '@switchboard/dnssec';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';
import { fastInfo, fastReply } from '../src/dns/fast-path.js';
import { DirectoryStore } from '../src/state/store.js';
import { ZoneState } from '../src/state/zone-state.js';
import SQLite from 'better-sqlite3';
import { ZoneImage } from '../src/zone/image.js';
import { OnlineSigner } from '../src/zone/signer.js';
import { defaultZoneSettings, nodeAt } from '../src/zone/zone.js';
import { entry, query } from './helpers.js';

const APEX = 'e164.switchboard.test.';
const NOW = 1_790_000_000;
const A = '+14155552671';
const B = '+14155552672';
const C = '+14155552673';

describe('zone image (zone/image.ts) kept in step with the store', () => {
  const key = generateSigningKey(DnssecAlgorithm.ECDSAP256SHA256, { flags: 257 });
  const settings = defaultZoneSettings(APEX);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-zone-image-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const put = async (store: DirectoryStore, number: string): Promise<void> => {
    const e = entry(number);
    expect(
      await store.put(e, (await store.get(number as E164Number))?.provider, NOW),
    ).toBeDefined();
  };
  /** Answers `number`'s NAPTR with DNSSEC on the fast path; the signatures that took. */
  const ask = (zone: ZoneState, number: string): number => {
    const before = zone.signer.signatures;
    const packet = encodeMessage(query(enumNameFor(number, APEX), RRType.NAPTR));
    const reply = fastReply(packet, 'udp', zone.snapshot, zone.signer, NOW, fastInfo());
    expect(reply).toBeDefined();
    return zone.signer.signatures - before;
  };
  const load = (store: DirectoryStore, storeFile?: string): Promise<ZoneState> =>
    ZoneState.load(store, settings, key, new OnlineSigner(key, APEX), {
      imagePath: join(dir, 'zone-image.db'),
      ...(storeFile ? { storeFile } : {}),
    });
  const held = (zone: ZoneState, number: string): boolean =>
    nodeAt(zone.snapshot, enumNameFor(number, APEX)) !== undefined;

  describe.each(ALL_DIALECTS)('on %s', (dialect: DialectName) => {
    it('a restart catches up with what changed meanwhile (removals too) and keeps the answers of unchanged numbers', async () => {
      const database = await openTestDatabase<unknown>(dialect);
      try {
        const store = await DirectoryStore.open(database);
        await put(store, A);
        await put(store, B);
        let zone = await load(store);
        expect(held(zone, A) && held(zone, B)).toBe(true);
        expect(ask(zone, A)).toBe(1);
        expect(ask(zone, B)).toBe(1);
        await zone.close();

        // While stopped: B removed, C published, A unchanged.
        expect(await store.delete(B as E164Number, 'acme-telecom')).toBe(true);
        await put(store, C);
        zone = await load(store);
        expect(zone.snapshot.serial).toBe(await store.serial());
        expect([held(zone, A), held(zone, B), held(zone, C)]).toEqual([true, false, true]);
        expect(zone.snapshot.image.count).toBe(2);
        // A's answer was kept in the image: no signature. C is new: signed when asked.
        expect(ask(zone, A)).toBe(0);
        expect(ask(zone, C)).toBe(1);

        // B published again (a number removed, then published, while running).
        await put(store, B);
        await zone.refresh();
        expect(held(zone, B)).toBe(true);
        expect(ask(zone, B)).toBe(1);
        await zone.close();
      } finally {
        await database.dispose();
      }
    });
  });

  it('an image whose fill was interrupted, or that cannot be read, is made anew when opened', async () => {
    const path = join(dir, 'zone-image.db');
    const store = await openDatabase<unknown>({ url: `sqlite:${join(dir, 'store.db')}` });
    const directoryStore = await DirectoryStore.open(store);
    await put(directoryStore, A);
    const image = ZoneImage.open(path, 'x');
    image.fillFromSqlite(join(dir, 'store.db'), 'token');
    expect(image.count).toBe(1);
    image.close();
    // As a crash in the middle of a fill (made without a journal) leaves it.
    const raw = new SQLite(path);
    raw.prepare("INSERT INTO meta VALUES ('filling', '1')").run();
    raw.close();
    const again = ZoneImage.open(path, 'x');
    expect([again.serial, again.count]).toEqual([undefined, 0]);
    again.close();
    await writeFile(path, 'not a database, '.repeat(512));
    const fresh = ZoneImage.open(path, 'x');
    expect(fresh.serial).toBeUndefined();
    fresh.fillFromSqlite(join(dir, 'store.db'), 'token');
    expect(fresh.entry(A.slice(1))?.serial).toBeGreaterThan(0);
    fresh.close();
    await store.close();
  });

  it('an image made from another database is filled anew, not caught up', async () => {
    const open = async (
      name: string,
    ): Promise<{ store: DirectoryStore; close: () => Promise<void>; file: string }> => {
      const file = join(dir, name);
      const database = await openDatabase<unknown>({ url: `sqlite:${file}` });
      return { store: await DirectoryStore.open(database), close: () => database.close(), file };
    };
    const first = await open('first.db');
    await put(first.store, A);
    let zone = await load(first.store, first.file);
    expect(held(zone, A)).toBe(true);
    expect(ask(zone, A)).toBe(1);
    await zone.close();
    await first.close();

    // Another database, at a serial the image would otherwise take as its own future.
    const second = await open('second.db');
    await put(second.store, B);
    await put(second.store, C);
    zone = await load(second.store, second.file);
    expect([held(zone, A), held(zone, B), held(zone, C)]).toEqual([false, true, true]);
    expect(zone.snapshot.image.count).toBe(2);
    await zone.close();
    await second.close();
  });
});
