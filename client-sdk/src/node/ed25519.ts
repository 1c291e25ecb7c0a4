import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { signRequest } from '@switchboard/http-signature';
import type { Ed25519, Ed25519KeyPairBytes, HttpRequestToSign } from '../crypto.js';

// PKCS#8 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  const der = new Uint8Array(PKCS8_PREFIX.length + 32);
  der.set(PKCS8_PREFIX);
  der.set(seed, PKCS8_PREFIX.length);
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
}

/** Ed25519 over node:crypto, request signing over @switchboard/http-signature. */
export class NodeEd25519 implements Ed25519 {
  generate(): Ed25519KeyPairBytes {
    const { privateKey } = generateKeyPairSync('ed25519');
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const seed = new Uint8Array(der.subarray(der.length - 32));
    return { seed, publicKey: this.publicKeyOf(seed) };
  }

  publicKeyOf(seed: Uint8Array): Uint8Array {
    const spki = createPublicKey(privateKeyFromSeed(seed)).export({ format: 'der', type: 'spki' });
    return new Uint8Array(spki.subarray(spki.length - 32));
  }

  signRequest(
    seed: Uint8Array,
    keyId: string,
    request: HttpRequestToSign,
    nowSeconds: number,
  ): Readonly<Record<string, string>> {
    return signRequest({
      method: request.method,
      url: request.url,
      body: request.body,
      keyId,
      privateKey: privateKeyFromSeed(seed),
      now: nowSeconds,
    });
  }
}
