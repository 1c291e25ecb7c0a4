// Stores keep records in memory and write one message's changes together before the message's
// result is returned. The guarantee under test: if the process dies (or storage fails) between
// decrypting and writing, storage still holds the state from before, so the same ciphertext
// decrypts on the next start (nothing lost), and once written a message is never decrypted
// again (nothing shown twice).
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Direction, IdentityKeyPair, ProtocolAddress } from '@signalapp/libsignal-client';
import type { KeyValueStorage, PreKeyBundleInput, StorageWrite } from '../../src/index.js';
import {
  MemoryStorage,
  SignalSessions,
  SwitchboardError,
  createProtocolStores,
  fromBase64,
  fromUtf8,
  generateRegistrationKeys,
  toBase64,
  utf8,
} from '../../src/index.js';
import { FileStorage } from '../../src/node/index.js';

const ALICE = { name: '+15550100', deviceId: 1 };
const BOB = { name: '+15550111', deviceId: 1 };

/**
 * Storage whose writes fail while `failing` is set, as a full disk or a crash would; with
 * `bytes`, it takes binary values (libsignal records stored as bytes), else text only.
 */
class FailingStorage implements KeyValueStorage {
  failing = false;
  batches = 0;
  readonly getBytes?: (key: string) => Promise<Uint8Array | undefined>;
  readonly setBytes?: (key: string, value: Uint8Array) => Promise<void>;
  constructor(
    readonly inner: MemoryStorage,
    bytes: boolean,
  ) {
    if (!bytes) return;
    this.getBytes = (key) => inner.getBytes(key);
    this.setBytes = async (key, value) => {
      if (this.failing) throw new SwitchboardError('storage-failed', 'disk gone');
      await inner.setBytes(key, value);
    };
  }
  get(key: string): Promise<string | undefined> {
    return this.inner.get(key);
  }
  async set(key: string, value: string): Promise<void> {
    if (this.failing) throw new SwitchboardError('storage-failed', 'disk gone');
    await this.inner.set(key, value);
  }
  async delete(key: string): Promise<void> {
    if (this.failing) throw new SwitchboardError('storage-failed', 'disk gone');
    await this.inner.delete(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  async batch(writes: readonly StorageWrite[]): Promise<void> {
    if (this.failing) throw new SwitchboardError('storage-failed', 'disk gone');
    this.batches += 1;
    await this.inner.batch!(writes);
  }
}

type RegistrationUpload = Awaited<ReturnType<typeof generateRegistrationKeys>>;

/** The bundle a registration's upload offers, without a one-time prekey. */
function bundleOf(upload: RegistrationUpload): Omit<PreKeyBundleInput, 'preKey'> {
  return {
    registrationId: upload.registrationId,
    deviceId: upload.deviceId,
    identityKey: fromBase64(upload.identityKey)!,
    signedPreKey: {
      keyId: upload.signedPreKey.keyId,
      publicKey: fromBase64(upload.signedPreKey.publicKey)!,
      signature: fromBase64(upload.signedPreKey.signature)!,
    },
    kyberPreKey: {
      keyId: upload.kyberLastResortPreKey.keyId,
      publicKey: fromBase64(upload.kyberLastResortPreKey.publicKey)!,
      signature: fromBase64(upload.kyberLastResortPreKey.signature)!,
    },
  };
}

async function bobsBundle(storage: KeyValueStorage): Promise<PreKeyBundleInput> {
  const upload = await generateRegistrationKeys(createProtocolStores(storage), {
    oneTimePreKeyCount: 2,
  });
  const otk = upload.oneTimePreKeys[0]!;
  return {
    ...bundleOf(upload),
    preKey: { keyId: otk.keyId, publicKey: fromBase64(otk.publicKey)! },
  };
}

/** Alice's session with Bob and her first two messages to him. */
async function aliceWrites(bobStorage: KeyValueStorage) {
  const aliceStores = createProtocolStores(new MemoryStorage());
  await generateRegistrationKeys(aliceStores, { oneTimePreKeyCount: 1 });
  const alice = new SignalSessions(aliceStores, ALICE);
  await alice.establish(BOB, await bobsBundle(bobStorage));
  return [await alice.encrypt(BOB, utf8('first')), await alice.encrypt(BOB, utf8('second'))];
}

describe('one unit of store writes per message', () => {
  // Text storage: records as base64 text; a restart reads them through a storage that takes
  // bytes (as an earlier version's records are read). Binary storage: records as bytes.
  const cases = ['text', 'binary'].flatMap((kind) =>
    [
      ['the session start', 'the same process'],
      ['the session start', 'a restarted process'],
      ['a later message', 'the same process'],
      ['a later message', 'a restarted process'],
    ].map(([which, retry]) => [which!, retry!, kind] as const),
  );
  it.each(cases)(
    'storage failing between decrypt and write of %s: %s decrypts it again, once (%s storage)',
    async (which, retry, kind) => {
      const disk = new MemoryStorage();
      const storage = new FailingStorage(disk, kind === 'binary');
      const [first, second] = await aliceWrites(storage);
      const bob = new SignalSessions(createProtocolStores(storage), BOB);
      const later = which === 'a later message';
      if (later) expect(fromUtf8(await bob.decrypt(ALICE, first!))).toBe('first');
      const target = later ? second! : first!;
      const before = storage.batches;
      storage.failing = true;
      await expect(bob.decrypt(ALICE, target)).rejects.toMatchObject({ code: 'storage-failed' });
      expect(storage.batches).toBe(before); // nothing of the failed message reached storage
      storage.failing = false;
      const retrying =
        retry === 'the same process'
          ? bob
          : new SignalSessions(
              createProtocolStores(new FailingStorage(disk, kind === 'binary')),
              BOB,
            );
      expect(fromUtf8(await retrying.decrypt(ALICE, target))).toBe(later ? 'second' : 'first');
      await expect(retrying.decrypt(ALICE, target)).rejects.toMatchObject({
        code: 'replayed-message',
      });
      const restarted = new SignalSessions(createProtocolStores(disk), BOB);
      await expect(restarted.decrypt(ALICE, target)).rejects.toMatchObject({
        code: 'replayed-message',
      });
    },
  );

  it('runs messages started together one at a time, in order, past a failing one', async () => {
    const disk = new MemoryStorage();
    const storage = new FailingStorage(disk, true);
    const [first, second] = await aliceWrites(storage);
    const keysWritten = storage.batches;
    const bob = new SignalSessions(createProtocolStores(storage), BOB);
    const bogus = { kind: 'whisper' as const, body: new Uint8Array(second!.body.length) };
    const results = await Promise.allSettled([
      bob.decrypt(ALICE, first!),
      bob.decrypt(ALICE, bogus),
      bob.decrypt({ name: '', deviceId: 1 }, first!),
      bob.decrypt(ALICE, second!),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? fromUtf8(r.value) : r.status))).toEqual([
      'first',
      'rejected',
      'rejected',
      'second',
    ]);
    expect(storage.batches - keysWritten).toBe(2);
    // Both messages' states reached storage (no unit overwrote another's session).
    const restarted = new SignalSessions(createProtocolStores(disk), BOB);
    for (const message of [first!, second!]) {
      await expect(restarted.decrypt(ALICE, message)).rejects.toMatchObject({
        code: 'replayed-message',
      });
    }
  });

  it('writes each decrypted message in one batch', async () => {
    const disk = new MemoryStorage();
    const storage = new FailingStorage(disk, true);
    const [first, second] = await aliceWrites(storage);
    const keysWritten = storage.batches;
    const bob = new SignalSessions(createProtocolStores(storage), BOB);
    await bob.decrypt(ALICE, first!);
    await bob.decrypt(ALICE, second!);
    expect(storage.batches - keysWritten).toBe(2);
  });
});

describe('last-resort Kyber prekey replay guard', () => {
  // The store's refusal reaches the SDK through libsignal, which keeps only its text.
  const REFUSED_START = {
    code: 'decrypt-failed',
    cause: { message: expect.stringContaining('session-start message was already used') },
  };

  /** Alice's first message to Bob, whose bundle has no one-time prekeys (last-resort Kyber). */
  async function sessionStart() {
    const disk = new MemoryStorage();
    const upload = await generateRegistrationKeys(createProtocolStores(disk), {
      oneTimePreKeyCount: 0,
    });
    const bobBundle: PreKeyBundleInput = bundleOf(upload);
    const aliceStores = createProtocolStores(new MemoryStorage());
    await generateRegistrationKeys(aliceStores, { oneTimePreKeyCount: 0 });
    const alice = new SignalSessions(aliceStores, ALICE);
    await alice.establish(BOB, bobBundle);
    const first = await alice.encrypt(BOB, utf8('first'));
    return { disk, first, kyberId: upload.kyberLastResortPreKey.keyId };
  }

  /** Bob after losing his session with Alice (the guard is what is left). */
  function bobWithoutSession(disk: MemoryStorage) {
    return disk
      .delete(`session/${ALICE.name}.${ALICE.deviceId}`)
      .then(() => new SignalSessions(createProtocolStores(disk), BOB));
  }

  it('refuses the same session start twice, with one small record per start', async () => {
    const { disk, first } = await sessionStart();
    const bob = new SignalSessions(createProtocolStores(disk), BOB);
    expect(fromUtf8(await bob.decrypt(ALICE, first))).toBe('first');
    expect(await disk.list('kyber-used/')).toHaveLength(1);
    await expect((await bobWithoutSession(disk)).decrypt(ALICE, first)).rejects.toMatchObject(
      REFUSED_START,
    );
  });

  it('honours the pairs an earlier version kept inside the Kyber record', async () => {
    const { disk, first, kyberId } = await sessionStart();
    await new SignalSessions(createProtocolStores(disk), BOB).decrypt(ALICE, first);
    // Move the pair into the record as earlier versions stored it: `signedId:base64(baseKey)`.
    const [usedKey] = await disk.list('kyber-used/');
    const pair = usedKey!.slice(usedKey!.lastIndexOf('/') + 1);
    const [signedId, base] = pair.split(':');
    const legacyTag = `${signedId}:${Buffer.from(base!, 'base64url').toString('base64')}`;
    const recordKey = `kyber-prekey/${kyberId}`;
    const record = JSON.parse((await disk.get(recordKey))!) as Record<string, unknown>;
    await disk.set(recordKey, JSON.stringify({ ...record, used: [legacyTag] }));
    await disk.delete(usedKey!);
    await expect((await bobWithoutSession(disk)).decrypt(ALICE, first)).rejects.toMatchObject(
      REFUSED_START,
    );
  });
});

describe("a contact's identity key", () => {
  const address = ProtocolAddress.new(BOB.name, BOB.deviceId);
  const stored = `identity/remote/${BOB.name}.${BOB.deviceId}`;
  const key = IdentityKeyPair.generate().publicKey;
  const other = IdentityKeyPair.generate().publicKey;

  it('is stored as bytes where the storage takes them, and read back after a restart', async () => {
    const disk = new MemoryStorage();
    await createProtocolStores(disk).identity.saveIdentity(address, key);
    expect((await disk.getBytes(stored))?.length).toBe(key.serialize().length + 8);
    expect(await disk.get(stored)).toBeUndefined();
    const restarted = createProtocolStores(disk).identity;
    expect((await restarted.getIdentity(address))?.equals(key)).toBe(true);
    expect(await restarted.isTrustedIdentity(address, other, Direction.Receiving)).toBe(false);
  });

  it('is still read (and a different key refused) when an earlier version stored it as JSON', async () => {
    const disk = new MemoryStorage();
    await disk.set(stored, JSON.stringify({ key: toBase64(key.serialize()), firstSeen: 1 }));
    const identity = createProtocolStores(disk).identity;
    expect(await identity.isTrustedIdentity(address, other, Direction.Receiving)).toBe(false);
    expect(await identity.isTrustedIdentity(address, key, Direction.Receiving)).toBe(true);
    expect((await identity.getIdentity(address))?.equals(key)).toBe(true);
  });
});

describe('FileStorage batches', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-batch-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes and deletes a batch together and leaves no journal behind', async () => {
    const storage = new FileStorage(dir);
    await storage.set('session/a', '"old"');
    await storage.batch([
      { key: 'session/b', value: '"new"', secret: true },
      { key: 'session/a', value: undefined },
    ]);
    expect(await storage.get('session/a')).toBeUndefined();
    expect(await storage.get('session/b')).toBe('"new"');
    expect((await readdir(dir)).sort()).toEqual(['session%2Fb.json']);
  });

  it('applies a committed journal found at start (the process died while applying it)', async () => {
    const first = new FileStorage(dir);
    await first.set('prekey/1', '"x"');
    const journal: StorageWrite[] = [
      { key: 'session/a', value: '"after"' },
      { key: 'prekey/1', value: undefined },
    ];
    await writeFile(join(dir, 'batch.journal'), JSON.stringify(journal));
    await writeFile(join(dir, 'batch.journal.tmp'), '[{"key":"session/z","value":"torn"'); // uncommitted
    const restarted = new FileStorage(dir);
    expect(await restarted.get('session/a')).toBe('"after"');
    expect(await restarted.get('prekey/1')).toBeUndefined();
    expect(await restarted.get('session/z')).toBeUndefined();
    expect(await readdir(dir)).toEqual(['session%2Fa.json']);
  });

  it('keeps bytes as bytes: one .bin file, the text form of the key removed, listed once', async () => {
    const storage = new FileStorage(dir);
    await storage.set('session/a', '"old text form"');
    await storage.batch([{ key: 'session/a', value: new Uint8Array([0, 1, 254, 255]) }]);
    expect(await storage.getBytes('session/a')).toEqual(Buffer.from([0, 1, 254, 255]));
    expect(await storage.get('session/a')).toBeUndefined();
    expect(await storage.list('session/')).toEqual(['session/a']);
    expect(await readdir(dir)).toEqual(['session%2Fa.bin']);
    await storage.delete('session/a');
    expect(await storage.getBytes('session/a')).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });

  it('applies bytes from a committed journal found at start', async () => {
    const journal = [{ key: 'session/a', bytes: Buffer.from([7, 8, 9]).toString('base64') }];
    await writeFile(join(dir, 'batch.journal'), JSON.stringify(journal));
    const restarted = new FileStorage(dir);
    expect(await restarted.getBytes('session/a')).toEqual(Buffer.from([7, 8, 9]));
  });

  it('stores a session as bytes and reads it back after a restart', async () => {
    const [first, second] = await aliceWrites(new FileStorage(dir));
    const bob = new SignalSessions(createProtocolStores(new FileStorage(dir)), BOB);
    expect(fromUtf8(await bob.decrypt(ALICE, first!))).toBe('first');
    expect((await readdir(dir)).filter((n) => n.startsWith('session'))).toEqual([
      `session%2F${encodeURIComponent(ALICE.name)}.${ALICE.deviceId}.bin`,
    ]);
    const restarted = new SignalSessions(createProtocolStores(new FileStorage(dir)), BOB);
    expect(fromUtf8(await restarted.decrypt(ALICE, second!))).toBe('second');
  });

  it('refuses a batch with a bad key before writing any of it', async () => {
    const storage = new FileStorage(dir);
    await expect(
      storage.batch([
        { key: 'session/ok', value: '"1"' },
        { key: '../escape', value: '"2"' },
      ]),
    ).rejects.toMatchObject({ code: 'storage-failed' });
    expect(await storage.get('session/ok')).toBeUndefined();
  });
});
