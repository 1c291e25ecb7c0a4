import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityKeyPair, PublicKey } from '@signalapp/libsignal-client';
import {
  IdentityKeyChangedError,
  SignalSessions,
  SwitchboardError,
  createMemoryProtocolStores,
  createProtocolStores,
  fromBase64,
  fromUtf8,
  generateRegistrationKeys,
  safetyNumber,
  utf8,
  verifyKeySignature,
} from '../../src/index.js';
import type { PreKeyBundleInput, RegistrationUpload } from '../../src/index.js';
import { FileStorage } from '../../src/node/index.js';

function bundleFrom(upload: RegistrationUpload, withOneTime = true): PreKeyBundleInput {
  const otk = upload.oneTimePreKeys[0];
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
    preKey:
      withOneTime && otk ? { keyId: otk.keyId, publicKey: fromBase64(otk.publicKey)! } : undefined,
  };
}

const ALICE = { name: '+15550100', deviceId: 1 };
const BOB = { name: '+15550111', deviceId: 1 };

describe('registration keys', () => {
  it('signs the signed prekey and the Kyber prekey with the identity key', async () => {
    const stores = createMemoryProtocolStores();
    const upload = await generateRegistrationKeys(stores, { oneTimePreKeyCount: 5 });
    const identity = PublicKey.deserialize(fromBase64(upload.identityKey)!);
    expect(
      verifyKeySignature(
        identity,
        fromBase64(upload.signedPreKey.publicKey)!,
        fromBase64(upload.signedPreKey.signature)!,
      ),
    ).toBe(true);
    expect(
      verifyKeySignature(
        identity,
        fromBase64(upload.kyberLastResortPreKey.publicKey)!,
        fromBase64(upload.kyberLastResortPreKey.signature)!,
      ),
    ).toBe(true);
    expect(new Set(upload.oneTimePreKeys.map((k) => k.keyId)).size).toBe(5);
    expect(await stores.countPreKeys()).toBe(5);
    await expect(generateRegistrationKeys(stores)).rejects.toThrow(SwitchboardError);
  });
});

describe('sessions', () => {
  async function pair() {
    const a = createMemoryProtocolStores();
    const b = createMemoryProtocolStores();
    const aUp = await generateRegistrationKeys(a, { oneTimePreKeyCount: 2 });
    const bUp = await generateRegistrationKeys(b, { oneTimePreKeyCount: 2 });
    return {
      a,
      b,
      aUp,
      bUp,
      alice: new SignalSessions(a, ALICE),
      bob: new SignalSessions(b, BOB),
    };
  }

  it('establishes from a bundle and exchanges messages both ways', async () => {
    const { bUp, alice, bob, b } = await pair();
    await alice.establish(BOB, bundleFrom(bUp), fromBase64(bUp.identityKey));
    const first = await alice.encrypt(BOB, utf8('hello bob'));
    expect(first.kind).toBe('prekey');
    expect(fromUtf8(await bob.decrypt(ALICE, first))).toBe('hello bob');
    expect(await b.countPreKeys()).toBe(1);
    const reply = await bob.encrypt(ALICE, utf8('hi alice'));
    expect(reply.kind).toBe('whisper');
    expect(fromUtf8(await alice.decrypt(BOB, reply))).toBe('hi alice');
    const again = await alice.encrypt(BOB, utf8('second'));
    expect(again.kind).toBe('whisper');
    expect(fromUtf8(await bob.decrypt(ALICE, again))).toBe('second');
    // The same ciphertext twice is a replay.
    await expect(bob.decrypt(ALICE, again)).rejects.toMatchObject({ code: 'replayed-message' });
  });

  it('refuses a bundle whose identity key differs from the expected one', async () => {
    const { bUp, alice } = await pair();
    const other = IdentityKeyPair.generate().publicKey.serialize();
    await expect(alice.establish(BOB, bundleFrom(bUp), other)).rejects.toMatchObject({
      code: 'provider-key-mismatch',
    });
  });

  it('refuses a bundle with a forged prekey signature', async () => {
    const { bUp, alice } = await pair();
    const bundle = bundleFrom(bUp);
    const sig = bundle.signedPreKey.signature.slice();
    sig[5] = sig[5]! ^ 1;
    await expect(
      alice.establish(BOB, { ...bundle, signedPreKey: { ...bundle.signedPreKey, signature: sig } }),
    ).rejects.toMatchObject({ code: 'invalid-input' });
  });

  it('surfaces a changed identity key and accepts it only after approval', async () => {
    const { bUp, alice, a } = await pair();
    await alice.establish(BOB, bundleFrom(bUp));
    // Bob reinstalls: new identity, same address.
    const b2 = createMemoryProtocolStores();
    const b2Up = await generateRegistrationKeys(b2, { oneTimePreKeyCount: 1 });
    const err = await alice.establish(BOB, bundleFrom(b2Up)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityKeyChangedError);
    expect((err as IdentityKeyChangedError).newIdentityKey).toEqual(fromBase64(b2Up.identityKey));
    // Still pinned to the old key.
    const { ProtocolAddress } = await import('@signalapp/libsignal-client');
    const addr = ProtocolAddress.new(BOB.name, BOB.deviceId);
    expect((await a.identity.getIdentity(addr))?.serialize()).toEqual(fromBase64(bUp.identityKey));
    await a.identity.approveIdentity(addr, PublicKey.deserialize(fromBase64(b2Up.identityKey)!));
    await alice.establish(BOB, bundleFrom(b2Up));
    const bob2 = new SignalSessions(b2, BOB);
    expect(fromUtf8(await bob2.decrypt(ALICE, await alice.encrypt(BOB, utf8('again'))))).toBe(
      'again',
    );
  });

  it('reports a tampered ciphertext as decrypt-failed and a missing session as no-session', async () => {
    const { bUp, alice, bob } = await pair();
    await expect(alice.encrypt(BOB, utf8('x'))).rejects.toMatchObject({ code: 'no-session' });
    await alice.establish(BOB, bundleFrom(bUp));
    const ct = await alice.encrypt(BOB, utf8('x'));
    const body = ct.body.slice();
    body[body.length - 3] = body[body.length - 3]! ^ 0xff;
    await expect(bob.decrypt(ALICE, { kind: ct.kind, body })).rejects.toMatchObject({
      code: 'decrypt-failed',
    });
  });

  it('reports a session without a usable current state (unused for over 30 days) as no-session', async () => {
    const { a, bUp, alice } = await pair();
    await alice.establish(BOB, bundleFrom(bUp));
    const later = new SignalSessions(a, ALICE, () => new Date(Date.now() + 31 * 86_400_000));
    expect(await later.hasSession(BOB)).toBe(false);
    await expect(later.encrypt(BOB, utf8('x'))).rejects.toMatchObject({ code: 'no-session' });
    expect((await alice.encrypt(BOB, utf8('x'))).kind).toBe('prekey');
  });

  it('gives both sides the same safety number', async () => {
    const { aUp, bUp } = await pair();
    const ak = fromBase64(aUp.identityKey)!;
    const bk = fromBase64(bUp.identityKey)!;
    const fromA = safetyNumber(ALICE.name, ak, BOB.name, bk);
    const fromB = safetyNumber(BOB.name, bk, ALICE.name, ak);
    expect(fromA.display).toBe(fromB.display);
    expect(fromA.display).toMatch(/^(\d{5} ){11}\d{5}$/);
    const other = IdentityKeyPair.generate().publicKey.serialize();
    expect(safetyNumber(ALICE.name, ak, BOB.name, other).display).not.toBe(fromA.display);
  });
});

describe('file-backed stores', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-sdk-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('persists keys and sessions across instances, 0600 files in a 0700 directory', async () => {
    const path = join(dir, 'keys');
    const bob = createMemoryProtocolStores();
    const bUp = await generateRegistrationKeys(bob, { oneTimePreKeyCount: 1 });
    const a1 = createProtocolStores(new FileStorage(path));
    await generateRegistrationKeys(a1, { oneTimePreKeyCount: 3 });
    await new SignalSessions(a1, ALICE).establish(BOB, bundleFrom(bUp));
    const ct = await new SignalSessions(a1, ALICE).encrypt(BOB, utf8('persisted'));

    const a2 = createProtocolStores(new FileStorage(path));
    expect(await new SignalSessions(a2, ALICE).hasSession(BOB)).toBe(true);
    expect(await a2.countPreKeys()).toBe(3);
    expect(fromUtf8(await new SignalSessions(bob, BOB).decrypt(ALICE, ct))).toBe('persisted');

    expect((await stat(path)).mode & 0o777).toBe(0o700);
    const files = await readdir(path);
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
    for (const f of files) expect((await stat(join(path, f))).mode & 0o777).toBe(0o600);
  });
});
