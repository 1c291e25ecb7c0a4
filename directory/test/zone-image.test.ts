import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { decodeRecord, encodeMessage, RRType } from '@switchboard/dns-wire';
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
import type { ImageHit } from '../src/zone/image.js';
import { ZoneImage } from '../src/zone/image.js';
import { OnlineSigner } from '../src/zone/signer.js';
import { defaultZoneSettings, nodeAt } from '../src/zone/zone.js';
import { entry, query } from './helpers.js';

const APEX = 'e164.switchboard.test.';
const NOW = 1_790_000_000;
const A = '+14155552671';
const B = '+14155552672';
const C = '+14155552673';
const D = '+14155552674';

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

  /**
   * A restart catches up with what changed meanwhile (removals too) and keeps the answers of
   * unchanged numbers; `storeFile`: the image reads the numbers from it.
   */
  const restartCatchesUp = async (store: DirectoryStore, storeFile?: string): Promise<void> => {
    await put(store, A);
    await put(store, B);
    await put(store, D);
    let zone = await load(store, storeFile);
    expect(held(zone, A) && held(zone, B)).toBe(true);
    expect(ask(zone, A)).toBe(1);
    expect(ask(zone, B)).toBe(1);
    expect(ask(zone, D)).toBe(1);
    const before = zone.snapshot.serial;
    await zone.close();

    // While stopped: B removed, C published, D published again, A unchanged.
    expect(await store.delete(B as E164Number, 'acme-telecom')).toBe(true);
    // Nothing to remove: no new serial.
    const serial = await store.serial();
    expect(await store.delete(B as E164Number, 'acme-telecom')).toBe(false);
    expect(await store.serial()).toBe(serial);
    await put(store, C);
    await put(store, D);
    zone = await load(store, storeFile);
    expect(zone.snapshot.serial).toBe(await store.serial());
    // The catch-up is journaled for IXFR: B's records went, C's came, D's were replaced (each
    // entry gets an identity key of its own), A's are in neither.
    const diff = zone.snapshot.image.journal(before, zone.snapshot.serial);
    const owners = (rrs: readonly Uint8Array[] | undefined): string[] =>
      [...new Set((rrs ?? []).map((rr) => decodeRecord(rr, 0).record.name))].sort();
    const names = (...numbers: string[]): string[] =>
      numbers.map((n) => enumNameFor(n, APEX)).sort();
    expect(owners(diff?.deleted)).toEqual(names(B, D));
    expect(owners(diff?.added)).toEqual(names(C, D));
    expect([held(zone, A), held(zone, B), held(zone, C)]).toEqual([true, false, true]);
    expect(zone.snapshot.image.count).toBe(3);
    // A's answer was kept in the image: no signature. C is new, D's entry changed: signed when
    // asked.
    expect(ask(zone, A)).toBe(0);
    expect(ask(zone, C)).toBe(1);
    expect(ask(zone, D)).toBe(1);

    // B published again (a number removed, then published, while running).
    await put(store, B);
    await zone.refresh();
    expect(held(zone, B)).toBe(true);
    expect(ask(zone, B)).toBe(1);
    await zone.close();
  };

  describe.each(ALL_DIALECTS)('on %s, the image holding its own copy', (dialect: DialectName) => {
    it('a restart catches up with what changed meanwhile (removals too) and keeps the answers of unchanged numbers', async () => {
      const database = await openTestDatabase<unknown>(dialect);
      try {
        await restartCatchesUp(await DirectoryStore.open(database));
      } finally {
        await database.dispose();
      }
    });
  });

  it("reading the store's file: a restart catches up with what changed meanwhile (removals too) and keeps the answers of unchanged numbers", async () => {
    const storeFile = join(dir, 'store.db');
    const database = await openDatabase<unknown>({ url: `sqlite:${storeFile}` });
    try {
      await restartCatchesUp(await DirectoryStore.open(database), storeFile);
    } finally {
      await database.close();
    }
  });

  it("reading the store's file: a number another connection removes is not found from the next turn on; writes end the turn's read", async () => {
    const storeFile = join(dir, 'store.db');
    const database = await openDatabase<unknown>({ url: `sqlite:${storeFile}` });
    const store = await DirectoryStore.open(database);
    await put(store, A);
    await put(store, B);
    const image = ZoneImage.open(join(dir, 'zone-image.db'), 'x', storeFile);
    try {
      image.follow(await store.serial(), 'token');
      const hit: ImageHit = { renewAt: 0, bytes: undefined };
      const a = A.slice(1);
      // A lookup, then a write of the image's own connection in the same turn.
      expect(image.find(a, RRType.NAPTR, true, hit)?.bytes).toBeUndefined();
      image.keepAnswer(a, RRType.NAPTR, true, NOW + 3600, Uint8Array.of(7, 8, 9));
      image.flush();
      expect(image.find(a, RRType.NAPTR, true, hit)?.bytes).toEqual(Uint8Array.of(7, 8, 9));
      expect(await store.delete(A as E164Number, 'acme-telecom')).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(image.find(a, RRType.NAPTR, true, hit)).toBeUndefined();
      expect(image.find(B.slice(1), RRType.NAPTR, true, hit)).toBeDefined();
    } finally {
      image.close();
      await database.close();
    }
  });

  it('an image that cannot be read, or of another format or source, is made anew when opened', async () => {
    const path = join(dir, 'zone-image.db');
    const storeFile = join(dir, 'store.db');
    const store = await openDatabase<unknown>({ url: `sqlite:${storeFile}` });
    const directoryStore = await DirectoryStore.open(store);
    await put(directoryStore, A);
    const serial = await directoryStore.serial();
    const image = ZoneImage.open(path, 'x', storeFile);
    image.follow(serial, 'token');
    expect([image.serial, image.count, image.entry(A.slice(1))?.serial]).toEqual([
      serial,
      1,
      serial,
    ]);
    image.close();
    // Another format (as an older version left it).
    const raw = new SQLite(path);
    raw.prepare("UPDATE meta SET v = '2' WHERE k = 'format'").run();
    raw.close();
    const again = ZoneImage.open(path, 'x', storeFile);
    expect(again.serial).toBeUndefined();
    again.follow(serial, 'token');
    again.close();
    // Another source: an image of its own (a PostgreSQL store's) is not one reading a file.
    const own = ZoneImage.open(path, 'x');
    expect([own.serial, own.count, own.entry(A.slice(1))]).toEqual([undefined, 0, undefined]);
    own.close();
    await writeFile(path, 'not a database, '.repeat(512));
    const fresh = ZoneImage.open(path, 'x', storeFile);
    expect(fresh.serial).toBeUndefined();
    fresh.follow(serial, 'token');
    expect(fresh.entry(A.slice(1))?.serial).toBe(serial);
    fresh.close();
    await store.close();
  });

  it('taken anew from the same store, it keeps only the answers of numbers unchanged since', async () => {
    const storeFile = join(dir, 'store.db');
    const database = await openDatabase<unknown>({ url: `sqlite:${storeFile}` });
    const store = await DirectoryStore.open(database);
    for (const n of [A, B, C]) await put(store, n);
    const image = ZoneImage.open(join(dir, 'zone-image.db'), 'x', storeFile);
    image.follow(await store.serial(), 'token');
    for (const n of [A, B, C])
      image.keepAnswer(n.slice(1), RRType.NAPTR, true, NOW, new Uint8Array([1]));
    // A written again, B removed, C unchanged, as a store too far ahead to catch up with.
    await put(store, A);
    expect(await store.delete(B as E164Number, 'acme-telecom')).toBe(true);
    image.follow(await store.serial(), 'token');
    const kept = (n: string): boolean =>
      image.find(n.slice(1), RRType.NAPTR, true, { renewAt: 0, bytes: undefined })?.bytes !==
      undefined;
    expect([kept(A), kept(B), kept(C)]).toEqual([false, false, true]);
    // A store gone back to an older serial (restored from a copy): nothing kept holds.
    image.follow(1, 'token');
    expect(kept(C)).toBe(false);
    image.close();
    await database.close();
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

describe('zone image writes beside another writer (a warm worker)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-zone-image-writers-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A worker thread writing answers to `path` in short transactions until `stop[0]` is 1. */
  const startWriter = (path: string, stop: Int32Array, commits: Int32Array): Worker =>
    new Worker(
      `const { workerData } = require('node:worker_threads');
       const SQLite = require('better-sqlite3');
       const db = new SQLite(workerData.path, { timeout: 60000 });
       const put = db.prepare('INSERT OR REPLACE INTO answers VALUES (?, 35, 1, 0, ?)');
       const write = db.transaction((i) => put.run('w' + (i % 100), Buffer.alloc(64)));
       for (let i = 0; Atomics.load(workerData.stop, 0) === 0; i++) {
         write.immediate(i);
         Atomics.add(workerData.commits, 0, 1);
       }
       db.close();`,
      { eval: true, workerData: { path, stop, commits } },
    );

  it('applies every change while the other connection commits between them (no "database is locked")', async () => {
    const path = join(dir, 'zone-image.db');
    const image = ZoneImage.open(path, 'test');
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const commits = new Int32Array(new SharedArrayBuffer(4));
    const worker = startWriter(path, stop, commits);
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    try {
      while (Atomics.load(commits, 0) === 0) await new Promise((r) => setTimeout(r, 5));
      let applied = 0;
      // Each apply reads (is the number held?) before it writes: the window a deferred
      // transaction loses when the worker commits inside it.
      for (let serial = 1; serial <= 3000; serial++) {
        const digits = `1415555${String(serial % 1000).padStart(4, '0')}`;
        image.apply(
          serial,
          [{ digits, serial, provider: 'p', identityKey: 'k', contacts: '[]' }],
          [],
          't',
        );
        applied += 1;
      }
      expect(applied).toBe(3000);
      expect(Atomics.load(commits, 0)).toBeGreaterThan(1);
      expect(image.serial).toBe(3000);
    } finally {
      Atomics.store(stop, 0, 1);
      await exited;
      image.close();
    }
  });
});
