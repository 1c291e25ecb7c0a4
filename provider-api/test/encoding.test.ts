import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { ed25519PublicKey } from '../src/core/encoding.js';

describe('ed25519PublicKey', () => {
  it('imports a raw key as the same key as its SubjectPublicKeyInfo, which verifies', () => {
    const pair = generateKeyPairSync('ed25519');
    const spki = pair.publicKey.export({ format: 'der', type: 'spki' });
    const key = ed25519PublicKey(new Uint8Array(spki.subarray(-32)));
    expect(key?.asymmetricKeyType).toBe('ed25519');
    expect(key?.equals(pair.publicKey)).toBe(true);
    const message = Buffer.from('signed request');
    expect(verify(null, message, key!, sign(null, message, pair.privateKey))).toBe(true);
  });

  it('refuses anything but 32 bytes', () => {
    expect(ed25519PublicKey(new Uint8Array(31))).toBeUndefined();
    expect(ed25519PublicKey(new Uint8Array(33))).toBeUndefined();
    expect(ed25519PublicKey(new Uint8Array(0))).toBeUndefined();
  });
});
