import { generateKeyPairSync } from 'node:crypto';
import { formatRecord, RRClass, RRType } from '@switchboard/dns-wire';
import { computeKeyTag, generateSigningKey } from '@switchboard/dnssec';
import { publicKeyMaterial } from '../src/directory.js';
import { parseOperatorKeys } from '../src/zone/keys.js';

const APEX = 'e164.switchboard.test.';

function pem(): { pub: string; priv: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    pub: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    priv: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

function dnskeyLine(owner: string, data: ReturnType<typeof generateSigningKey>['dnskey']): string {
  return formatRecord({ name: owner, type: RRType.DNSKEY, class: RRClass.IN, ttl: 3600, data });
}

describe('secondary operator keys', () => {
  it('reads a PEM public key as a KSK (flags 257) and DNSKEY records as given', () => {
    const [fromPem] = parseOperatorKeys(pem().pub, 'b.pem', APEX, 13);
    expect(fromPem).toMatchObject({ flags: 257, protocol: 3, algorithm: 13 });
    const zsk = generateSigningKey(13, { flags: 256 });
    const [fromRecord] = parseOperatorKeys(dnskeyLine(APEX, zsk.dnskey), 'b.key', APEX, 13);
    expect(fromRecord && computeKeyTag(fromRecord)).toBe(zsk.keyTag);
    expect(fromRecord?.flags).toBe(256);
  });

  it('refuses private keys, other algorithms, other owners and non-DNSKEY records', () => {
    expect(() => parseOperatorKeys(pem().priv, 'b.pem', APEX, 13)).toThrow(/holds a private key/);
    expect(() => parseOperatorKeys(pem().pub, 'b.pem', APEX, 15)).toThrow(
      /uses algorithm 13; the zone signs with 15/,
    );
    const key = generateSigningKey(13, { flags: 257 });
    expect(() => parseOperatorKeys(dnskeyLine('example.net.', key.dnskey), 'k', APEX, 13)).toThrow(
      /only DNSKEY records/,
    );
    expect(() => parseOperatorKeys(`${APEX} 60 IN TXT "x"`, 'k', APEX, 13)).toThrow(
      /only DNSKEY records/,
    );
    expect(() => parseOperatorKeys('', 'k', APEX, 13)).toThrow(/holds no key/);
    expect(() => parseOperatorKeys('-----BEGIN PUBLIC KEY-----\nxx\n', 'k', APEX, 13)).toThrow(
      /not a readable PEM public key/,
    );
  });

  it("puts the zone key and operators' KSKs (not ZSKs) in the DS set and trust anchor", () => {
    const zone = generateSigningKey(13, { flags: 257 });
    const ksk = generateSigningKey(13, { flags: 257 });
    const zsk = generateSigningKey(13, { flags: 256 });
    const { dsText, trustAnchor } = publicKeyMaterial(
      APEX,
      [zone.dnskey, ksk.dnskey, zsk.dnskey, zone.dnskey],
      3600,
    );
    const ds = dsText.split('\n').filter((l) => /\tDS\t/.test(l));
    expect(ds.map((l) => Number(l.split('\t')[4]?.split(' ')[0]))).toEqual([
      zone.keyTag,
      ksk.keyTag,
    ]);
    expect(dsText.split('\n').filter((l) => /\tDNSKEY\t/.test(l))).toHaveLength(3);
    expect(trustAnchor.match(/static-key/g)).toHaveLength(2);
    expect(trustAnchor).not.toContain(Buffer.from(zsk.dnskey.publicKey).toString('base64'));
  });
});
