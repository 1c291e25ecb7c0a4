import {
  IdentityKeyPair,
  KEMKeyPair,
  KyberPreKeyRecord,
  PrivateKey,
  PreKeyRecord,
  SignedPreKeyRecord,
} from '@signalapp/libsignal-client';
import type { PublicKey } from '@signalapp/libsignal-client';
import { toBase64 } from '../bytes.js';
import { SwitchboardError } from '../errors.js';
import type { ProtocolStores } from './stores.js';

/** Public half of one signed key, as uploaded to a provider (base64, RFC 4648 §4). */
export interface SignedPublicKeyUpload {
  readonly keyId: number;
  readonly publicKey: string;
  readonly signature: string;
}

/** Public half of a one-time EC prekey. */
export interface PreKeyUpload {
  readonly keyId: number;
  readonly publicKey: string;
}

/** Everything a provider needs to register this device (public material only). */
export interface RegistrationUpload {
  readonly registrationId: number;
  readonly deviceId: number;
  readonly identityKey: string;
  readonly signedPreKey: SignedPublicKeyUpload;
  readonly kyberLastResortPreKey: SignedPublicKeyUpload;
  readonly oneTimePreKeys: ReadonlyArray<PreKeyUpload>;
}

export interface GenerateKeysOptions {
  /** libsignal device id, 1..127. */
  readonly deviceId?: number;
  /** How many one-time EC prekeys to create (0..200, the provider API's batch limit). */
  readonly oneTimePreKeyCount?: number;
  /** Clock for the signed-prekey timestamps (ms since epoch). */
  readonly now?: number;
  /** Registration id source (1..16380); defaults to crypto.getRandomValues. */
  readonly randomId?: () => number;
}

/** Key ids are 24-bit on the provider API (openapi `KeyId`). */
function random24(): number {
  const a = new Uint32Array(1);
  globalThis.crypto.getRandomValues(a);
  return (a[0]! % 0xfffffe) + 1;
}

/** Registration ids are 1..16380 (libsignal / openapi `RegisterAccount`). */
function randomRegistrationId(): number {
  const a = new Uint16Array(1);
  globalThis.crypto.getRandomValues(a);
  return (a[0]! % 16380) + 1;
}

/**
 * Creates this device's identity key, signed prekey, Kyber last-resort prekey and a batch of
 * one-time prekeys, stores the private halves in `stores` and returns the public upload.
 * Both signed keys are signed by the identity key (XEdDSA), as libsignal's bundle check expects.
 *
 * @example
 * const stores = createMemoryProtocolStores();
 * const upload = await generateRegistrationKeys(stores, { oneTimePreKeyCount: 100 });
 */
export async function generateRegistrationKeys(
  stores: ProtocolStores & {
    readonly kyberPreKey: {
      saveKyber(id: number, r: KyberPreKeyRecord, lr: boolean): Promise<void>;
    };
  },
  options: GenerateKeysOptions = {},
): Promise<RegistrationUpload> {
  const deviceId = options.deviceId ?? 1;
  if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > 127) {
    throw new SwitchboardError('invalid-input', 'device id must be an integer from 1 to 127');
  }
  const now = options.now ?? Date.now();
  const identity = IdentityKeyPair.generate();
  const registrationId = (options.randomId ?? randomRegistrationId)();
  await stores.identity.initialise(identity, registrationId);

  const signedPreKey = await rotateSignedPreKey(stores, identity.privateKey, now);
  const kyberLastResort = await createKyberPreKey(stores, identity.privateKey, now, true);
  const oneTimePreKeys = await createOneTimePreKeys(stores, options.oneTimePreKeyCount ?? 100);
  return {
    registrationId,
    deviceId,
    identityKey: toBase64(identity.publicKey.serialize()),
    signedPreKey,
    kyberLastResortPreKey: kyberLastResort,
    oneTimePreKeys,
  };
}

/** New signed EC prekey, stored and returned for upload. */
export async function rotateSignedPreKey(
  stores: ProtocolStores,
  identityPrivate: PrivateKey,
  now: number,
): Promise<SignedPublicKeyUpload> {
  const id = random24();
  const key = PrivateKey.generate();
  const signature = identityPrivate.sign(key.getPublicKey().serialize());
  await stores.signedPreKey.saveSignedPreKey(
    id,
    SignedPreKeyRecord.new(id, now, key.getPublicKey(), key, signature),
  );
  return {
    keyId: id,
    publicKey: toBase64(key.getPublicKey().serialize()),
    signature: toBase64(signature),
  };
}

/** New signed Kyber prekey (last-resort ones are kept after use). */
export async function createKyberPreKey(
  stores: {
    readonly kyberPreKey: {
      saveKyber(id: number, r: KyberPreKeyRecord, lr: boolean): Promise<void>;
    };
  },
  identityPrivate: PrivateKey,
  now: number,
  lastResort: boolean,
): Promise<SignedPublicKeyUpload> {
  const id = random24();
  const pair = KEMKeyPair.generate();
  const signature = identityPrivate.sign(pair.getPublicKey().serialize());
  await stores.kyberPreKey.saveKyber(
    id,
    KyberPreKeyRecord.new(id, now, pair, signature),
    lastResort,
  );
  return {
    keyId: id,
    publicKey: toBase64(pair.getPublicKey().serialize()),
    signature: toBase64(signature),
  };
}

/** `count` fresh one-time EC prekeys with random non-colliding ids. */
export async function createOneTimePreKeys(
  stores: ProtocolStores,
  count: number,
): Promise<PreKeyUpload[]> {
  if (!Number.isInteger(count) || count < 0 || count > 200) {
    throw new SwitchboardError('invalid-input', 'one-time prekey count must be from 0 to 200');
  }
  const out: PreKeyUpload[] = [];
  const ids = new Set<number>();
  while (ids.size < count) ids.add(random24());
  for (const id of ids) {
    const key = PrivateKey.generate();
    await stores.preKey.savePreKey(id, PreKeyRecord.new(id, key.getPublicKey(), key));
    out.push({ keyId: id, publicKey: toBase64(key.getPublicKey().serialize()) });
  }
  return out;
}

/** True when `signature` over `signedKey` verifies under `identityKey`. */
export function verifyKeySignature(
  identityKey: PublicKey,
  signedKey: Uint8Array<ArrayBuffer>,
  signature: Uint8Array<ArrayBuffer>,
): boolean {
  try {
    return identityKey.verify(signedKey, signature);
  } catch {
    return false;
  }
}
