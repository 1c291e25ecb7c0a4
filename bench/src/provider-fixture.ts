// What the provider benchmark's server child prepares and the parent sends.
import type { KeyObject } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client';
import type { BenchAsker } from './signed-requests.js';

/** A stored-fixture file the parent reads. */
export interface HttpFixture {
  readonly bundleTargets: readonly string[];
  /**
   * The bundle accounts as askers (same order as `bundleTargets`): account id and device key,
   * to sign bundle fetches with. Empty in a bare child's fixture.
   */
  readonly askers: readonly BenchAsker[];
  readonly sessions: readonly string[];
  readonly bundleBytes: number;
  /** One-time prekeys of each kind stored over all bundle targets when serving starts. */
  readonly oneTimePreKeysPerKind: number;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/**
 * A registration body with real libsignal keys (one-time prekeys share one key: the server
 * stores them, never uses them) and the public half of `deviceKey` (default: a new key).
 */
export function registrationBody(
  sessionId: string,
  oneTime: number,
  deviceKey: KeyObject = generateKeyPairSync('ed25519').publicKey,
): Record<string, unknown> {
  const identity = IdentityKeyPair.generate();
  const spk = PrivateKey.generate().getPublicKey().serialize();
  const lastResort = KEMKeyPair.generate().getPublicKey().serialize();
  const ec = b64(PrivateKey.generate().getPublicKey().serialize());
  const kyber = KEMKeyPair.generate().getPublicKey().serialize();
  const kyberSig = b64(identity.privateKey.sign(kyber));
  const device = deviceKey.export({ format: 'der', type: 'spki' });
  return {
    sessionId,
    registrationId: 1 + Math.floor(Math.random() * 16000),
    identityKey: b64(identity.publicKey.serialize()),
    signedPreKey: { keyId: 7, publicKey: b64(spk), signature: b64(identity.privateKey.sign(spk)) },
    kyberLastResortPreKey: {
      keyId: 9,
      publicKey: b64(lastResort),
      signature: b64(identity.privateKey.sign(lastResort)),
    },
    oneTimePreKeys: Array.from({ length: oneTime }, (_, i) => ({ keyId: 100 + i, publicKey: ec })),
    oneTimeKyberPreKeys: Array.from({ length: oneTime }, (_, i) => ({
      keyId: 10_000 + i,
      publicKey: b64(kyber),
      signature: kyberSig,
    })),
    deviceKey: b64(device.subarray(-32)),
  };
}
