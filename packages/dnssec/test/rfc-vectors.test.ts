// Known answers from RFC 6605 section 6 (ECDSA) and RFC 8080 section 6 (Ed25519, with erratum
// 4935), and RFC 5155 appendix A hashes (checked with BIND's nsec3hash).
import {
  RRType,
  fromHex,
  parseRecord,
  toHex,
  isRecordType,
  rdataCodec,
} from '@switchboard/dns-wire';
import type { DnskeyData, ResourceRecord } from '@switchboard/dns-wire';
import {
  base32hexEncode,
  computeKeyTag,
  dsFromDnskey,
  importBindPrivateKey,
  nsec3Hash,
  rrsigSignedData,
  signRrset,
  verifyRrsig,
} from '../src/index.js';
import type { RrsigRecord } from '../src/index.js';

function rrsigOf(text: string): RrsigRecord {
  const rr = parseRecord(text);
  if (!isRecordType(rr, RRType.RRSIG)) throw new Error('not an RRSIG');
  return rr;
}
function dnskeyOf(text: string): DnskeyData {
  const rr = parseRecord(text);
  if (!isRecordType(rr, RRType.DNSKEY)) throw new Error('not a DNSKEY');
  return rr.data;
}

const P256_KEY = dnskeyOf(
  'example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==',
);
const P256_PRIVATE =
  'Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\n';
const WWW: ResourceRecord[] = [parseRecord('www.example.net. 3600 IN A 192.0.2.1')];
const P256_SIG = rrsigOf(
  'www.example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==',
);
const P384_KEY = dnskeyOf(
  'example.net. 3600 IN DNSKEY 257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40',
);
const P384_SIG = rrsigOf(
  'www.example.net. 3600 IN RRSIG A 14 3 3600 20100909102025 20100812102025 10771 example.net. /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm',
);
const ED_PRIVATE =
  'Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n';
const ED_KEY = dnskeyOf(
  'example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=',
);
const MX: ResourceRecord[] = [parseRecord('example.com. 3600 IN MX 10 mail.example.com.')];
const ED_SIG = rrsigOf(
  'example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 example.com. oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==',
);

describe('RFC 6605 ECDSA examples', () => {
  it('BIND private key -> DNSKEY, key tag 55648, DS', () => {
    const key = importBindPrivateKey(P256_PRIVATE);
    expect(toHex(rdataCodec(RRType.DNSKEY).encode(key.dnskey))).toBe(
      toHex(rdataCodec(RRType.DNSKEY).encode(P256_KEY)),
    );
    expect(key.keyTag).toBe(55648);
    const ds = dsFromDnskey('example.net.', P256_KEY, 2);
    expect(ds).toMatchObject({ keyTag: 55648, algorithm: 13, digestType: 2 });
    expect(toHex(ds.digest)).toBe(
      'B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17',
    );
  });

  it('the P-256 and P-384 signatures verify at their inception time', () => {
    expect(verifyRrsig(WWW, P256_SIG, P256_KEY, new Date(1281607479 * 1000))).toEqual({ ok: true });
    expect(computeKeyTag(P384_KEY)).toBe(10771);
    expect(verifyRrsig(WWW, P384_SIG, P384_KEY, new Date(1281608425 * 1000))).toEqual({ ok: true });
  });

  it('a fresh ECDSA signature by the example key verifies too', () => {
    const key = importBindPrivateKey(P256_PRIVATE);
    const sig = signRrset(WWW, key, {
      signer: 'example.net.',
      inception: new Date(1281607479 * 1000),
      expiration: new Date(1284026679 * 1000),
    });
    expect(sig.data.signature).toHaveLength(64);
    expect(verifyRrsig(WWW, sig, P256_KEY, new Date(1281607479 * 1000))).toEqual({ ok: true });
  });
});

describe('RFC 8080 Ed25519 example (deterministic signature)', () => {
  it('key, key tag 3613, DS, signed data and the exact signature', () => {
    const key = importBindPrivateKey(ED_PRIVATE);
    expect(toHex(key.dnskey.publicKey)).toBe(toHex(ED_KEY.publicKey));
    expect(key.keyTag).toBe(3613);
    expect(toHex(dsFromDnskey('example.com.', ED_KEY, 2).digest)).toBe(
      '3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B',
    );
    const signed = rrsigSignedData({ ...ED_SIG.data, signature: new Uint8Array(0) }, MX);
    expect(toHex(signed)).toBe(
      '000F0F0200000E1055D4FC6055B94CE00E1D076578616D706C6503636F6D00076578616D706C6503636F6D00000F000100000E100014000A046D61696C076578616D706C6503636F6D00',
    );
    const sig = signRrset(MX, key, {
      signer: 'example.com.',
      inception: new Date(1438207200 * 1000),
      expiration: new Date(1440021600 * 1000),
    });
    expect(Buffer.from(sig.data.signature).toString('base64')).toBe(
      Buffer.from(ED_SIG.data.signature).toString('base64'),
    );
    expect(verifyRrsig(MX, ED_SIG, ED_KEY, new Date(1438207200 * 1000))).toEqual({ ok: true });
  });
});

describe('NSEC3 hash (RFC 5155 appendix A, BIND nsec3hash)', () => {
  it.each([
    ['example', 'aabbccdd', 12, '0p9mhaveqvm6t7vbl5lop2u3t2rp3tom'],
    ['a.example', 'aabbccdd', 12, '35mthgpgcu1qg68fab165klnsnk3dpvl'],
    ['*.w.example', 'aabbccdd', 12, 'r53bq7cc2uvmubfu5ocmm6pers9tk9en'],
    ['E164.Switchboard.Test', '', 0, 'h4j61qk7sgaaa4q2bsna5g0a8m7an1as'],
  ])('H(%s)', (name, salt, iterations, expected) => {
    expect(base32hexEncode(nsec3Hash(name, fromHex(salt), iterations))).toBe(expected);
  });
});
