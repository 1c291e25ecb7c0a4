import { KEMPublicKey, PublicKey } from '@signalapp/libsignal-client';
import type { ProviderErrorCode } from '@switchboard/openapi';
import { fail } from './errors.js';
import { fromBase64 } from './encoding.js';

/** An EC prekey as the API carries it. */
export interface EcPreKeyInput {
  readonly keyId: number;
  readonly publicKey: string;
}

/** A signed prekey (EC or Kyber) as the API carries it. */
export interface SignedPreKeyInput extends EcPreKeyInput {
  readonly signature: string;
}

/** A key checked by libsignal, with its serialized bytes. */
export interface CheckedKey {
  readonly keyId: number;
  readonly publicKey: Uint8Array<ArrayBuffer>;
  readonly signature: Uint8Array<ArrayBuffer> | null;
}

/** Parses an identity key (libsignal `PublicKey`), or fails with `keys.identity-key-invalid`. */
export function parseIdentityKey(text: string): PublicKey {
  return ecKey(text, 'keys.identity-key-invalid', 'identity key');
}

function ecKey(text: string, code: ProviderErrorCode, what: string): PublicKey {
  try {
    return PublicKey.deserialize(fromBase64(text));
  } catch {
    throw fail(code, `the ${what} is not a serialized libsignal public key (33 bytes, type 0x05)`);
  }
}

/** Checks a signed EC prekey against the identity key. */
export function checkSignedPreKey(identity: PublicKey, input: SignedPreKeyInput): CheckedKey {
  const key = ecKey(input.publicKey, 'keys.signed-prekey-invalid', 'signed prekey');
  const signature = fromBase64(input.signature);
  if (!identity.verify(key.serialize(), signature)) {
    throw fail(
      'keys.signed-prekey-signature-invalid',
      'the signed prekey signature does not verify with the identity key',
    );
  }
  return { keyId: input.keyId, publicKey: key.serialize(), signature };
}

/** Checks a signed Kyber prekey (one-time or last resort) against the identity key. */
export function checkKyberPreKey(identity: PublicKey, input: SignedPreKeyInput): CheckedKey {
  let key: KEMPublicKey;
  try {
    key = KEMPublicKey.deserialize(fromBase64(input.publicKey));
  } catch {
    throw fail(
      'keys.kyber-prekey-invalid',
      'a Kyber prekey is not a serialized libsignal KEM public key',
    );
  }
  const signature = fromBase64(input.signature);
  if (!identity.verify(key.serialize(), signature)) {
    throw fail(
      'keys.kyber-prekey-signature-invalid',
      'a Kyber prekey signature does not verify with the identity key',
    );
  }
  return { keyId: input.keyId, publicKey: key.serialize(), signature };
}

/** Checks a batch of one-time EC prekeys: each deserializes, no key id repeats. */
export function checkOneTimePreKeys(inputs: readonly EcPreKeyInput[]): CheckedKey[] {
  uniqueIds(inputs, 'one-time prekey');
  return inputs.map((p) => ({
    keyId: p.keyId,
    publicKey: ecKey(p.publicKey, 'keys.one-time-prekey-invalid', 'one-time prekey').serialize(),
    signature: null,
  }));
}

/** Checks a batch of one-time Kyber prekeys (signed by the identity key). */
export function checkOneTimeKyberPreKeys(
  identity: PublicKey,
  inputs: readonly SignedPreKeyInput[],
): CheckedKey[] {
  uniqueIds(inputs, 'one-time Kyber prekey');
  return inputs.map((p) => checkKyberPreKey(identity, p));
}

function uniqueIds(inputs: readonly { keyId: number }[], what: string): void {
  const seen = new Set<number>();
  for (const p of inputs) {
    if (seen.has(p.keyId)) {
      throw fail('keys.duplicate-key-id', `two ${what}s in the request share key id ${p.keyId}`);
    }
    seen.add(p.keyId);
  }
}
