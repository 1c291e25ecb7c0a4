import {
  RRClass,
  RRType,
  canonicalRdata,
  compareCanonicalNames,
  isRecordType,
  nameLabels,
  parseZone,
} from '@switchboard/dns-wire';
import type { ResourceRecord, RrsigData } from '@switchboard/dns-wire';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  DnssecError,
  base32hexDecode,
  bindKeyBaseName,
  dsFromDnskey,
  dsMatchesDnskey,
  exportBindPrivateKey,
  exportPrivateKeyPem,
  formatBindPublicKey,
  generateSigningKey,
  importBindPrivateKey,
  importPrivateKeyPem,
  nsec3Hash,
  signZoneNsec3,
  signZoneNsec3Parallel,
  signingKeyFromPrivateKey,
  verifyRrsig,
} from '../src/index.js';
import { zoneRdata } from '../src/signing/zone-sign.js';
import { APEX, EXPIRATION, INCEPTION, NOW } from './test-zone.js';

describe('keys', () => {
  it.each([13, 15] as const)('algorithm %i: PEM and BIND private files round-trip', (alg) => {
    const key = generateSigningKey(alg, { flags: 256 });
    const pem = exportPrivateKeyPem(key);
    expect(pem).toContain('BEGIN PRIVATE KEY');
    expect(importPrivateKeyPem(pem, { flags: 256 }).dnskey).toEqual(key.dnskey);
    const bind = exportBindPrivateKey(key, NOW);
    expect(bind).toContain(`Algorithm: ${alg} (`);
    expect(bind).toContain('Created: 20261122000000');
    const back = importBindPrivateKey(bind, { flags: 256 });
    expect(back.keyTag).toBe(key.keyTag);
    expect(bindKeyBaseName('Example.', key)).toBe(
      `Kexample.+0${alg}+${String(key.keyTag).padStart(5, '0')}`,
    );
    expect(formatBindPublicKey('example.', key)).toMatch(
      /^; This is a zone-signing key, keyid \d+, for example\.\nexample\. IN DNSKEY 256 3 1[35] /,
    );
    expect(key.dnskey.publicKey).toHaveLength(alg === 13 ? 64 : 32);
  });

  it('DS digests: SHA-256 and SHA-384 match, others do not', () => {
    const key = generateSigningKey(13);
    for (const digestType of [2, 4]) {
      const ds = dsFromDnskey(APEX, key.dnskey, digestType);
      expect(ds.digest).toHaveLength(digestType === 2 ? 32 : 48);
      expect(dsMatchesDnskey(APEX.toUpperCase(), ds, key.dnskey)).toBe(true);
      expect(dsMatchesDnskey(`x.${APEX}`, ds, key.dnskey)).toBe(false);
    }
    expect(() => dsFromDnskey(APEX, key.dnskey, 3)).toThrow(DnssecError);
  });

  it('refuses unreadable or unsupported keys with typed errors', () => {
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        if (e instanceof DnssecError) return e.code;
        throw e;
      }
      return 'none';
    };
    expect(code(() => importPrivateKeyPem('nope'))).toBe('bad-key');
    expect(code(() => importBindPrivateKey('Algorithm: 13\n'))).toBe('bad-key-file');
    expect(code(() => importBindPrivateKey('Algorithm: 8\nPrivateKey: AAAA\n'))).toBe(
      'bad-key-file',
    );
    expect(
      code(() =>
        importBindPrivateKey(
          `Algorithm: 8\nPrivateKey: ${Buffer.alloc(32, 1).toString('base64')}\n`,
        ),
      ),
    ).toBe('unsupported-algorithm');
    const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(code(() => signingKeyFromPrivateKey(rsa))).toBe('unsupported-algorithm');
    expect(code(() => signingKeyFromPrivateKey(createPublicKey(rsa)))).toBe('bad-key');
    expect(code(() => generateSigningKey(8 as 13))).toBe('unsupported-algorithm');
  });
});

const ZONE_TEXT = `$ORIGIN ${APEX}
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 60
  NS ns1
ns1 A 192.0.2.1
7.6.5.4.3.2.1.5.5.5.1 NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:a@b!" .
  TXT "v=sbkey1"
sub NS ns.sub
sub DS 1 13 2 0000000000000000000000000000000000000000000000000000000000000000
ns.sub A 192.0.2.7
`;

describe('signZoneNsec3', () => {
  const ksk = generateSigningKey(13);
  const zsk = generateSigningKey(13, { flags: 256 });
  const signed = signZoneNsec3(parseZone(ZONE_TEXT), [ksk, zsk], {
    origin: APEX,
    inception: INCEPTION,
    expiration: EXPIRATION,
    salt: Uint8Array.from([0xab]),
    iterations: 1,
  });
  const byType = (t: number): ResourceRecord[] => signed.filter((r) => r.type === t);

  it('signs every authoritative RRset, with the KSK only over DNSKEY', () => {
    const sigs = byType(RRType.RRSIG).filter((r) => isRecordType(r, RRType.RRSIG));
    const covered = new Set(
      sigs.map((s) => (isRecordType(s, RRType.RRSIG) ? `${s.name} ${s.data.typeCovered}` : '')),
    );
    for (const rr of signed) {
      if (rr.type === RRType.RRSIG) continue;
      const glue = rr.name === `ns.sub.${APEX}`;
      const delegationNs = rr.name === `sub.${APEX}` && rr.type === RRType.NS;
      expect(covered.has(`${rr.name} ${rr.type}`)).toBe(!glue && !delegationNs);
    }
    for (const sig of sigs) {
      if (!isRecordType(sig, RRType.RRSIG)) continue;
      const rrset = signed.filter((r) => r.type === sig.data.typeCovered && r.name === sig.name);
      const key = sig.data.keyTag === ksk.keyTag ? ksk : zsk;
      expect(sig.data.typeCovered === RRType.DNSKEY).toBe(key === ksk);
      expect(verifyRrsig(rrset, sig, key.dnskey, NOW)).toEqual({ ok: true });
    }
  });

  it('builds a closed NSEC3 ring over names and empty non-terminals, without glue', () => {
    const nsec3 = byType(RRType.NSEC3).filter((r) => isRecordType(r, RRType.NSEC3));
    // apex, ns1, sub, 11 labels of the number (10 ENTs + the name) = 14
    expect(nsec3).toHaveLength(14);
    const owners = nsec3.map((r) => base32hexDecode(nameLabels(r.name)[0] as string));
    const nexts = nsec3.map((r) =>
      isRecordType(r, RRType.NSEC3) ? r.data.nextHashedOwner : new Uint8Array(),
    );
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    expect(new Set(nexts.map(hex))).toEqual(new Set(owners.map(hex)));
    const expect3 = (name: string): string => hex(nsec3Hash(name, Uint8Array.from([0xab]), 1));
    expect(owners.map(hex)).toContain(expect3(`1.${APEX}`));
    expect(owners.map(hex)).not.toContain(expect3(`ns.sub.${APEX}`));
    const sub = nsec3.find(
      (r) => hex(base32hexDecode(nameLabels(r.name)[0] as string)) === expect3(`sub.${APEX}`),
    );
    expect(sub && isRecordType(sub, RRType.NSEC3) && sub.data.types).toEqual([
      RRType.NS,
      RRType.DS,
      RRType.RRSIG,
    ]);
    expect(byType(RRType.NSEC3PARAM)).toHaveLength(1);
    expect(nsec3[0]?.ttl).toBe(60);
  });

  it('refuses zones without an SOA, records outside the origin, and bad options', () => {
    const soaLess = parseZone(ZONE_TEXT).filter((r) => r.type !== RRType.SOA);
    const opts = { origin: APEX, inception: INCEPTION, expiration: EXPIRATION };
    expect(() => signZoneNsec3(soaLess, [ksk], opts)).toThrow(DnssecError);
    const outside: ResourceRecord = {
      name: 'example.org.',
      type: RRType.A,
      class: RRClass.IN,
      ttl: 1,
      data: { address: '192.0.2.1' },
    };
    expect(() => signZoneNsec3([...parseZone(ZONE_TEXT), outside], [ksk], opts)).toThrow(
      DnssecError,
    );
    expect(() => signZoneNsec3(parseZone(ZONE_TEXT), [], opts)).toThrow(DnssecError);
    expect(() =>
      signZoneNsec3(parseZone(ZONE_TEXT), [ksk], { ...opts, expiration: INCEPTION }),
    ).toThrow(DnssecError);
  });
});

describe('signZoneNsec3 keeping signatures (memo)', () => {
  const ksk = generateSigningKey(13);
  const zsk = generateSigningKey(13, { flags: 256 });
  const rrsigs = (zone: ResourceRecord[]): Map<string, string> =>
    new Map(
      zone
        .filter((r) => isRecordType(r, RRType.RRSIG))
        .map((r) => [
          `${r.name} ${(r.data as { typeCovered: number }).typeCovered} ${(r.data as { keyTag: number }).keyTag}`,
          Buffer.from((r.data as { signature: Uint8Array }).signature).toString('hex'),
        ]),
    );
  const sign = (
    text: string,
    previous: ReadonlyMap<string, RrsigData>,
    keepUntil: number,
    keys = [ksk, zsk],
  ): { zone: ResourceRecord[]; next: Map<string, RrsigData> } => {
    const next = new Map<string, RrsigData>();
    const zone = signZoneNsec3(parseZone(text), keys, {
      origin: APEX,
      inception: INCEPTION,
      expiration: EXPIRATION,
      memo: { previous, next, keepUntil },
    });
    return { zone, next };
  };
  // A new serial and a changed address: the SOA and ns1's A RRsets change, nothing else.
  const changed = ZONE_TEXT.replace('hostmaster 1 7200', 'hostmaster 2 7200').replace(
    'ns1 A 192.0.2.1',
    'ns1 A 192.0.2.9',
  );

  it('keeps the RRSIG of every unchanged RRset, signs changed ones anew, and all verify', () => {
    const before = NOW.getTime() / 1000;
    const first = sign(ZONE_TEXT, new Map(), before);
    const second = sign(changed, first.next, before);
    const a = rrsigs(first.zone);
    const b = rrsigs(second.zone);
    let kept = 0;
    let renewed = 0;
    for (const [k, sig] of b) {
      if (a.get(k) === sig) kept += 1;
      else renewed += 1;
    }
    expect(renewed).toBe(2);
    expect(kept).toBe(b.size - 2);
    for (const [owner, type] of [
      [APEX, RRType.SOA],
      [`ns1.${APEX}`, RRType.A],
    ] as const) {
      const k = [...b.keys()].find((x) => x.startsWith(`${owner} ${type} `))!;
      expect(b.get(k)).not.toBe(a.get(k));
    }
    for (const sig of second.zone.filter((r) => isRecordType(r, RRType.RRSIG))) {
      if (!isRecordType(sig, RRType.RRSIG)) continue;
      const rrset = second.zone.filter(
        (r) => r.type === sig.data.typeCovered && r.name === sig.name,
      );
      const key = sig.data.keyTag === ksk.keyTag ? ksk : zsk;
      expect(verifyRrsig(rrset, sig, key.dnskey, NOW)).toEqual({ ok: true });
    }
  });

  it('renews signatures expiring before keepUntil, and those of another key', () => {
    const first = sign(ZONE_TEXT, new Map(), NOW.getTime() / 1000);
    const late = sign(ZONE_TEXT, first.next, EXPIRATION.getTime() / 1000);
    const a = rrsigs(first.zone);
    for (const [k, sig] of rrsigs(late.zone)) expect(sig).not.toBe(a.get(k));
    const otherZsk = generateSigningKey(13, { flags: 256 });
    const other = sign(ZONE_TEXT, first.next, NOW.getTime() / 1000, [ksk, otherZsk]);
    const b = rrsigs(other.zone);
    for (const [k, sig] of b) {
      if (k.endsWith(` ${otherZsk.keyTag}`)) expect([...a.values()]).not.toContain(sig);
    }
    // The DNSKEY RRset changed with the new ZSK, so its KSK signature is new too.
    const dnskeyKey = [...b.keys()].find((k) => k.startsWith(`${APEX} ${RRType.DNSKEY} `))!;
    expect(b.get(dnskeyKey)).not.toBe(a.get(dnskeyKey));
  });
});

describe('signZoneNsec3Parallel', () => {
  it('gives the same zone as signZoneNsec3, every signature made on worker threads verifying', async () => {
    const ksk = generateSigningKey(13);
    const zsk = generateSigningKey(15, { flags: 256 });
    const opts = { origin: APEX, inception: INCEPTION, expiration: EXPIRATION };
    const sync = signZoneNsec3(parseZone(ZONE_TEXT), [ksk, zsk], opts);
    const par = await signZoneNsec3Parallel(parseZone(ZONE_TEXT), [ksk, zsk], {
      ...opts,
      threads: 2,
      batchSize: 3,
    });
    const strip = (rs: readonly ResourceRecord[]): unknown[] =>
      rs.map((r) =>
        isRecordType(r, RRType.RRSIG) ? { ...r, data: { ...r.data, signature: null } } : r,
      );
    expect(strip(par)).toEqual(strip(sync));
    let checked = 0;
    for (const sig of par) {
      if (!isRecordType(sig, RRType.RRSIG)) continue;
      const rrset = par.filter((r) => r.type === sig.data.typeCovered && r.name === sig.name);
      const key = [ksk, zsk].find(
        (k) => k.keyTag === sig.data.keyTag && k.algorithm === sig.data.algorithm,
      );
      expect(key && verifyRrsig(rrset, sig, key.dnskey, NOW)).toEqual({ ok: true });
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
    await expect(
      signZoneNsec3Parallel(parseZone(ZONE_TEXT), [ksk], { ...opts, threads: 0 }),
    ).rejects.toThrow(DnssecError);
  });
});

describe('zone signing with unusual names', () => {
  // Escaped octets 0 and 1 (which must sort before any other octet and after a label's end),
  // upper case, a wildcard, and one owner written without its trailing dot.
  const text = `$ORIGIN ${APEX}
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 60
  NS ns1
ns1 A 192.0.2.1
a A 192.0.2.2
a\\000 A 192.0.2.3
a\\001 A 192.0.2.4
a\\002 A 192.0.2.5
B.a A 192.0.2.6
*.w TXT "wild"
Z.y.x A 192.0.2.7
`;
  const zsk = generateSigningKey(13, { flags: 256 });
  const ksk = generateSigningKey(13);
  const records = [
    ...parseZone(text),
    {
      name: `m.${APEX.slice(0, -1)}`,
      type: RRType.A,
      class: RRClass.IN,
      ttl: 300,
      data: { address: '192.0.2.8' },
    } as ResourceRecord,
  ];
  const opts = { origin: APEX.toUpperCase(), inception: INCEPTION, expiration: EXPIRATION };

  it('emits owners in canonical order, signed with the right labels count', () => {
    const signed = signZoneNsec3(records, [ksk, zsk], opts);
    const owners = signed.filter((r) => r.type !== RRType.NSEC3 && r.type !== RRType.RRSIG);
    for (let i = 1; i < owners.length; i++)
      expect(
        compareCanonicalNames(
          (owners[i - 1] as ResourceRecord).name,
          (owners[i] as ResourceRecord).name,
        ),
      ).toBeLessThanOrEqual(0);
    expect(owners.map((r) => r.name)).toContain(`a\\000.${APEX}`);
    for (const sig of signed) {
      if (!isRecordType(sig, RRType.RRSIG)) continue;
      expect(sig.data.signerName).toBe(APEX);
      const rrset = signed.filter((r) => r.type === sig.data.typeCovered && r.name === sig.name);
      const key = sig.data.keyTag === ksk.keyTag ? ksk : zsk;
      expect(verifyRrsig(rrset, sig, key.dnskey, NOW)).toEqual({ ok: true });
      if (sig.name.startsWith('*.')) expect(sig.data.labels).toBe(nameLabels(sig.name).length - 1);
    }
    // Its wire form ends in the origin's octets, but not at a label boundary.
    const lookalike: ResourceRecord = {
      name: 'x\\004e164.switchboard.test.',
      type: RRType.A,
      class: RRClass.IN,
      ttl: 1,
      data: { address: '192.0.2.9' },
    };
    expect(() => signZoneNsec3([...records, lookalike], [ksk, zsk], opts)).toThrow(DnssecError);
    // Names: apex, ns1, a, a\000, a\001, a\002, B.a, *.w, w (ENT), Z.y.x, y.x, x (ENTs), m.
    expect(signed.filter((r) => r.type === RRType.NSEC3)).toHaveLength(13);
  });

  it('in parallel: the same zone, handed out in order as signatures arrive', async () => {
    const sync = signZoneNsec3(records, [ksk, zsk], opts);
    const ends: number[] = [];
    const par = await signZoneNsec3Parallel(records, [ksk, zsk], {
      ...opts,
      threads: 2,
      batchSize: 2,
      onReady: (done, end) => {
        ends.push(end);
        for (const r of done.slice(0, end))
          if (isRecordType(r, RRType.RRSIG)) expect(r.data.signature).toHaveLength(64);
      },
    });
    expect(par.map((r) => `${r.name} ${r.type}`)).toEqual(sync.map((r) => `${r.name} ${r.type}`));
    expect(ends.at(-1)).toBe(par.length);
    expect([...ends].sort((a, b) => a - b)).toEqual(ends);
    await expect(
      signZoneNsec3Parallel(records, [ksk, zsk], {
        ...opts,
        onReady: () => {
          throw new Error('disk full');
        },
      }),
    ).rejects.toThrow('disk full');
  });
});

describe('zoneRdata', () => {
  it('equals canonicalRdata for NAPTR and TXT, plain or not, and for other types', () => {
    const text = [
      'a. 1 IN NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:u1@Example.NET!" .',
      'a. 1 IN NAPTR 65535 0 "" "" "" Repl.Example.',
      'a. 1 IN NAPTR 1 2 "U" "E2U+sip" "!^.*$!sip:caf\\195\\169@x!" a\\.B.c.',
      'a. 1 IN NAPTR 1 2 "U" "E2U+sip" "!^.*$!sip:café@x!" \\065.',
      'a. 1 IN TXT "v=sbkey1; k=abc" "" "\\000\\255"',
      'a. 1 IN TXT ""',
      'a. 1 IN NSEC3 1 0 0 - H4J61QK7SGAAA4Q2BSNA5G0A8M7AN1AS NS SOA RRSIG DNSKEY NSEC3PARAM',
      'a. 1 IN NSEC3 1 1 12 ABCD H4J61QK7SGAAA4Q2BSNA5G0A8M7AN1AS',
      'a. 1 IN NSEC3 1 0 0 - H4J61QK7SGAAA4Q2BSNA5G0A8M7AN1AS A TXT A TYPE255',
      'a. 1 IN NSEC3 1 0 0 - H4J61QK7SGAAA4Q2BSNA5G0A8M7AN1AS A CAA TYPE1000',
      'a. 1 IN NS Ns1.Example.',
      'a. 1 IN A 192.0.2.1',
    ].join('\n');
    for (const rr of parseZone(text)) expect(zoneRdata(rr)).toEqual(canonicalRdata(rr));
    const huge: ResourceRecord = {
      name: 'a.',
      type: RRType.NAPTR,
      class: RRClass.IN,
      ttl: 1,
      data: { order: 70000, preference: 1, flags: '', services: '', regexp: '', replacement: '.' },
    };
    expect(() => zoneRdata(huge)).toThrow();
  });
});
