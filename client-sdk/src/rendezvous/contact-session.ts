import { IdentityKeyPair, ProtocolAddress, PublicKey } from '@signalapp/libsignal-client';
import type { PrivateKey } from '@signalapp/libsignal-client';
import { ByteReader, ByteWriter, copyBytes, fromBase64 } from '../bytes.js';
import { SwitchboardError } from '../errors.js';
import { createKyberPreKey, rotateSignedPreKey } from '../signal/keys.js';
import type { PreKeyBundleInput } from '../signal/session.js';
import { SignalSessions } from '../signal/session.js';
import type { ProtocolStores } from '../signal/stores.js';
import { createProtocolStores } from '../signal/stores.js';
import type { KeyValueStorage, StorageWrite } from '../storage.js';
import { storesBytes } from '../storage.js';

/**
 * A view of `inner` under a key prefix: one connection's libsignal stores stay apart. It offers
 * `batch`, bytes and `getValue` exactly when `inner` does, so a message's writes stay one transaction.
 */
class PrefixedStorage implements KeyValueStorage {
  readonly #inner: KeyValueStorage;
  readonly #prefix: string;
  readonly batch?: (writes: readonly StorageWrite[]) => Promise<void>;
  readonly getBytes?: (key: string) => Promise<Uint8Array | undefined>;
  readonly getValue?: (key: string) => Promise<string | Uint8Array | undefined>;
  readonly setBytes?: (
    key: string,
    value: Uint8Array,
    options?: { readonly secret?: boolean },
  ) => Promise<void>;

  constructor(inner: KeyValueStorage, prefix: string) {
    this.#inner = inner;
    this.#prefix = prefix;
    if (inner.batch) {
      this.batch = (writes) => inner.batch!(writes.map((w) => ({ ...w, key: prefix + w.key })));
    }
    if (storesBytes(inner)) {
      this.getBytes = (key) => inner.getBytes!(prefix + key);
      this.setBytes = (key, value, options) => inner.setBytes!(prefix + key, value, options);
      if (inner.getValue) this.getValue = (key) => inner.getValue!(prefix + key);
    }
  }

  get(key: string): Promise<string | undefined> {
    return this.#inner.get(this.#prefix + key);
  }

  set(key: string, value: string, options?: { readonly secret?: boolean }): Promise<void> {
    return this.#inner.set(this.#prefix + key, value, options);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(this.#prefix + key);
  }

  async list(prefix: string): Promise<string[]> {
    const keys = await this.#inner.list(this.#prefix + prefix);
    return keys.map((k) => k.slice(this.#prefix.length));
  }
}

/** One connection's libsignal stores. */
export type ContactStores = ReturnType<typeof createProtocolStores>;

/** libsignal device id of every card contact (one device per per-contact identity). */
export const CARD_DEVICE_ID = 1;

/** Storage prefix of the libsignal stores of the connection with `contactId`. */
export function contactStoragePrefix(contactId: string): string {
  return `rendezvous/signal/${contactId}/`;
}

/**
 * The libsignal stores and sessions of one card connection. The local identity is our
 * per-contact key for this contact, so every connection has its own libsignal identity.
 */
export function contactSessions(
  storage: KeyValueStorage,
  contactId: string,
  ownContactId: string,
): { readonly stores: ContactStores; readonly sessions: SignalSessions; readonly peer: Peer } {
  const stores = createProtocolStores(
    new PrefixedStorage(storage, contactStoragePrefix(contactId)),
  );
  return {
    stores,
    sessions: new SignalSessions(stores, { name: ownContactId, deviceId: CARD_DEVICE_ID }),
    peer: { name: contactId, deviceId: CARD_DEVICE_ID },
  };
}

interface Peer {
  readonly name: string;
  readonly deviceId: number;
}

function randomRegistrationId(): number {
  const a = new Uint16Array(1);
  globalThis.crypto.getRandomValues(a);
  return (a[0]! % 16380) + 1;
}

/**
 * Sets up a new connection's libsignal identity: ours is the per-contact private key; theirs
 * is pinned to the per-contact key from their card, so a session or message under any other
 * identity key fails with `identity-key-changed` instead of being accepted.
 */
export async function initContactIdentity(
  stores: ProtocolStores,
  ownContactPrivate: PrivateKey,
  theirContactKey: Uint8Array,
  contactId: string,
): Promise<void> {
  const pair = new IdentityKeyPair(ownContactPrivate.getPublicKey(), ownContactPrivate);
  await stores.identity.initialise(pair, randomRegistrationId());
  await stores.identity.saveIdentity(
    ProtocolAddress.new(contactId, CARD_DEVICE_ID),
    PublicKey.deserialize(copyBytes(theirContactKey)),
  );
}

/**
 * Creates the replier's prekey bundle for one connection: a signed prekey and a Kyber
 * last-resort prekey, both signed by the per-contact key. No one-time prekey: the bundle
 * reaches a single contact, inside the authenticated card channel.
 */
export async function createContactBundle(
  stores: ContactStores,
  ownContactPrivate: PrivateKey,
  nowMs: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const signed = await rotateSignedPreKey(stores, ownContactPrivate, nowMs);
  const kyber = await createKyberPreKey(stores, ownContactPrivate, nowMs, true);
  const b64 = (s: string): Uint8Array<ArrayBuffer> => fromBase64(s)!;
  const spk = b64(signed.publicKey);
  const spkSig = b64(signed.signature);
  const kpk = b64(kyber.publicKey);
  const kpkSig = b64(kyber.signature);
  return new ByteWriter()
    .u16(await stores.identity.getLocalRegistrationId())
    .u32(signed.keyId)
    .u16(spk.length)
    .bytes(spk)
    .u16(spkSig.length)
    .bytes(spkSig)
    .u32(kyber.keyId)
    .u16(kpk.length)
    .bytes(kpk)
    .u16(kpkSig.length)
    .bytes(kpkSig)
    .finish();
}

/**
 * Reads a bundle from the card channel. The identity key is not on the wire: it is the
 * sender's per-contact key from its card, so libsignal checks both prekey signatures under it.
 */
export function decodeContactBundle(
  bytes: Uint8Array,
  theirContactKey: Uint8Array,
): PreKeyBundleInput {
  const r = new ByteReader(
    bytes,
    (what) => new SwitchboardError('message-rejected', `prekey bundle is truncated at ${what}`),
  );
  const registrationId = r.u16('registration id');
  const signedId = r.u32('signed prekey id');
  const signedKey = r.bytes(r.u16('signed prekey length'), 'signed prekey');
  const signedSig = r.bytes(r.u16('signature length'), 'signed prekey signature');
  const kyberId = r.u32('Kyber prekey id');
  const kyberKey = r.bytes(r.u16('Kyber prekey length'), 'Kyber prekey');
  const kyberSig = r.bytes(r.u16('signature length'), 'Kyber prekey signature');
  if (r.remaining !== 0) {
    throw new SwitchboardError('message-rejected', 'prekey bundle has trailing bytes');
  }
  return {
    registrationId,
    deviceId: CARD_DEVICE_ID,
    identityKey: theirContactKey,
    signedPreKey: { keyId: signedId, publicKey: signedKey, signature: signedSig },
    kyberPreKey: { keyId: kyberId, publicKey: kyberKey, signature: kyberSig },
  };
}
