import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PublicKey } from '@signalapp/libsignal-client';
import { fromBase64, safetyNumber, toHex, verifyKeySignature } from '../../src/index.js';

interface Golden {
  aliceNumber: string;
  aliceIdentityKey: string;
  bobNumber: string;
  bobIdentityKey: string;
  signedPreKey: string;
  signedPreKeySignature: string;
  kyberPreKey: string;
  kyberPreKeySignature: string;
  safetyNumber: string;
  scannableHex: string;
}

const g = JSON.parse(
  readFileSync(
    fileURLToPath(new URL('../../../test/golden/libsignal-keys.json', import.meta.url)),
    'utf8',
  ),
) as Golden;

describe('libsignal-produced golden keys', () => {
  it('accepts the signatures libsignal made and refuses them on other keys', () => {
    const alice = PublicKey.deserialize(fromBase64(g.aliceIdentityKey)!);
    const bob = PublicKey.deserialize(fromBase64(g.bobIdentityKey)!);
    const spk = fromBase64(g.signedPreKey)!;
    const kyber = fromBase64(g.kyberPreKey)!;
    expect(kyber.length).toBe(1569);
    expect(verifyKeySignature(alice, spk, fromBase64(g.signedPreKeySignature)!)).toBe(true);
    expect(verifyKeySignature(alice, kyber, fromBase64(g.kyberPreKeySignature)!)).toBe(true);
    expect(verifyKeySignature(bob, spk, fromBase64(g.signedPreKeySignature)!)).toBe(false);
    expect(verifyKeySignature(alice, kyber, fromBase64(g.signedPreKeySignature)!)).toBe(false);
  });

  it('computes the recorded safety number from both sides', () => {
    const a = fromBase64(g.aliceIdentityKey)!;
    const b = fromBase64(g.bobIdentityKey)!;
    const fromAlice = safetyNumber(g.aliceNumber, a, g.bobNumber, b);
    expect(fromAlice.display).toBe(g.safetyNumber);
    expect(toHex(fromAlice.scannable)).toBe(g.scannableHex);
    expect(safetyNumber(g.bobNumber, b, g.aliceNumber, a).display).toBe(g.safetyNumber);
  });
});
