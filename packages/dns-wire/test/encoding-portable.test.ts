// The plain-JavaScript hex and base64 (browsers) give exactly what Node's Buffer gives; base32hex
// against RFC 4648.
import { randomBytes } from 'node:crypto';
import {
  base64Decode,
  base64Encode,
  hexDecode,
  hexEncode,
} from '../src/values/encoding-portable.js';
import { base32hexDecode, base32hexEncode, base32hexEncodeUpper } from '../src/values/encoding.js';

describe('portable hex and base64 agree with Buffer', () => {
  it('on every length 0..70, many random inputs each', () => {
    for (let len = 0; len <= 70; len++) {
      for (let k = 0; k < 20; k++) {
        const bytes = new Uint8Array(randomBytes(len));
        const hex = Buffer.from(bytes).toString('hex').toUpperCase();
        const b64 = Buffer.from(bytes).toString('base64');
        expect(hexEncode(bytes)).toBe(hex);
        expect(base64Encode(bytes)).toBe(b64);
        expect(hexDecode(hex)).toEqual(bytes);
        expect(hexDecode(hex.toLowerCase())).toEqual(bytes);
        expect(base64Decode(b64)).toEqual(bytes);
      }
    }
  });

  it('ignores bits past the last octet as Buffer does', () => {
    for (const text of ['QR==', 'QUJ=', 'AB==', '////']) {
      expect(base64Decode(text)).toEqual(new Uint8Array(Buffer.from(text, 'base64')));
    }
  });
});

describe('base32hex (NSEC3 labels and next hashed owners)', () => {
  it('gives the RFC 4648 10 vectors without padding, in both cases', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'CO'],
      ['fo', 'CPNG'],
      ['foo', 'CPNMU'],
      ['foob', 'CPNMUOG'],
      ['fooba', 'CPNMUOJ1'],
      ['foobar', 'CPNMUOJ1E8'],
    ];
    for (const [text, b32] of vectors) {
      const bytes = new TextEncoder().encode(text);
      expect(base32hexEncodeUpper(bytes)).toBe(b32);
      expect(base32hexEncode(bytes)).toBe(b32.toLowerCase());
    }
  });

  it('decodes what it encodes on every length 0..41', () => {
    for (let len = 0; len <= 41; len++) {
      const bytes = new Uint8Array(randomBytes(len));
      expect(base32hexDecode(base32hexEncode(bytes))).toEqual(bytes);
      expect(base32hexDecode(base32hexEncodeUpper(bytes))).toEqual(bytes);
    }
  });
});
