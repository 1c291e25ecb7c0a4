// What the provider benchmark's server child prepares and the parent sends.
import { generateKeyPairSync } from 'node:crypto';
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client';

/** A stored-fixture file the parent reads. */
export interface HttpFixture {
  readonly bundleTargets: readonly string[];
  readonly sessions: readonly string[];
  readonly bundleBytes: number;
  /** One-time prekeys of each kind stored over all bundle targets when serving starts. */
  readonly oneTimePreKeysPerKind: number;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** A registration body with real libsignal keys (one-time prekeys share one key: the server stores them, never uses them). */
export function registrationBody(sessionId: string, oneTime: number): Record<string, unknown> {
  const identity = IdentityKeyPair.generate();
  const spk = PrivateKey.generate().getPublicKey().serialize();
  const lastResort = KEMKeyPair.generate().getPublicKey().serialize();
  const ec = b64(PrivateKey.generate().getPublicKey().serialize());
  const kyber = KEMKeyPair.generate().getPublicKey().serialize();
  const kyberSig = b64(identity.privateKey.sign(kyber));
  const device = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
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
