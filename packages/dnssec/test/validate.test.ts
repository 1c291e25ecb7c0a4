import { RRType, Rcode, isRecordType } from '@switchboard/dns-wire';
import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import {
  dsFromDnskey,
  generateSigningKey,
  minimalCoveringNsec,
  nsecPredecessor,
  nsecSuccessor,
  validateResponse,
  verifyRrsig,
} from '../src/index.js';
import type { BogusReason, ValidationResult } from '../src/index.js';
import { compareCanonicalNames } from '@switchboard/dns-wire';
import {
  APEX,
  EXPIRATION,
  INCEPTION,
  NOW,
  NUMBER,
  answer,
  compactNodata,
  compactNxdomain,
  makeZone,
  naptr,
  response,
  sign,
  whiteLieNxdomain,
} from './test-zone.js';
import type { TestZone } from './test-zone.js';

const zone = makeZone(13);

function validate(
  msg: Message,
  qname: string,
  qtype: number,
  over: Partial<Parameters<typeof validateResponse>[0]> = {},
): ValidationResult {
  return validateResponse({
    trustAnchor: zone.anchor,
    dnskeyRrset: zone.dnskeyRrset,
    response: msg,
    qname,
    qtype,
    now: NOW,
    ...over,
  });
}

function reason(r: ValidationResult): BogusReason | 'not bogus' {
  return r.status === 'bogus' ? r.reason : 'not bogus';
}

describe('validateResponse: secure answers', () => {
  it.each([13, 15] as const)(
    'NAPTR RRset signed by an algorithm %i ZSK under a DS anchor',
    (alg) => {
      const z: TestZone = alg === 13 ? zone : makeZone(15);
      const rrset = [naptr(NUMBER), naptr(NUMBER, 'E2U+xmpp')];
      const r = validateResponse({
        trustAnchor: z.anchor,
        dnskeyRrset: z.dnskeyRrset,
        response: answer(z, NUMBER, rrset),
        qname: NUMBER,
        qtype: RRType.NAPTR,
        now: NOW,
      });
      expect(r).toMatchObject({ status: 'secure', rrset });
    },
  );

  it('accepts a DNSKEY trust anchor and ignores the AD bit', () => {
    const msg = { ...answer(zone, NUMBER, [naptr(NUMBER)]), ad: false };
    const r = validate(msg, NUMBER.toUpperCase(), RRType.NAPTR, {
      trustAnchor: { zone: APEX, dnskeys: [zone.ksk.dnskey] },
    });
    expect(r.status).toBe('secure');
    // AD set on a forged answer does not help.
    const forged = { ...answer(zone, NUMBER, [naptr(NUMBER)]), ad: true };
    const tampered = {
      ...forged,
      answers: [naptr(NUMBER, 'E2U+evil'), ...forged.answers.slice(1)],
    };
    expect(reason(validate(tampered, NUMBER, RRType.NAPTR))).toBe('signature-invalid');
  });
});

describe('validateResponse: denial of existence', () => {
  it('RFC 9824 compact denial: NXNAME is reported as nxdomain', () => {
    const r = validate(compactNxdomain(zone, NUMBER, RRType.NAPTR), NUMBER, RRType.NAPTR);
    expect(r).toMatchObject({
      status: 'secure-denial',
      kind: 'nxdomain',
      proof: { method: 'nsec-compact' },
    });
  });

  it('RFC 9824 compact NODATA: bitmap without the type', () => {
    const r = validate(
      compactNodata(zone, NUMBER, RRType.AAAA, [RRType.NAPTR, RRType.TXT]),
      NUMBER,
      RRType.AAAA,
    );
    expect(r).toMatchObject({ status: 'secure-denial', kind: 'nodata', proof: { method: 'nsec' } });
  });

  it('RFC 4470 white lies: minimal covering NSEC for the name and the wildcard', () => {
    const r = validate(whiteLieNxdomain(zone, NUMBER, RRType.NAPTR), NUMBER, RRType.NAPTR);
    expect(r).toMatchObject({
      status: 'secure-denial',
      kind: 'nxdomain',
      proof: { method: 'nsec' },
    });
    if (r.status === 'secure-denial') expect(r.proof.records).toHaveLength(2);
  });

  it('white-lie predecessor/successor bracket the name and nothing else nearby', () => {
    for (const name of [NUMBER, `a.${APEX}`, `Z.${APEX}`, `a\\000.${APEX}`, `*.${APEX}`]) {
      expect(compareCanonicalNames(nsecPredecessor(name), name)).toBeLessThan(0);
      expect(compareCanonicalNames(name, nsecSuccessor(name))).toBeLessThan(0);
      // A sibling just before the name is not covered.
      const nsec = minimalCoveringNsec(name, { ttl: 1 });
      expect(compareCanonicalNames(nsec.name, `${APEX}`)).toBeGreaterThan(0);
    }
  });
});

describe('validateResponse: every bogus reason', () => {
  const good = answer(zone, NUMBER, [naptr(NUMBER)]);
  const strip = (m: Message): Message => ({
    ...m,
    answers: m.answers.filter((r) => r.type !== RRType.RRSIG),
  });
  const other = makeZone(13);
  const nsecOf = (m: Message): ResourceRecord =>
    m.authorities.find((r) => r.type === RRType.NSEC) as ResourceRecord;

  it.each<[string, () => ValidationResult, BogusReason]>([
    ['no signature', () => validate(strip(good), NUMBER, RRType.NAPTR), 'no-signature'],
    [
      'signature expired',
      () => validate(good, NUMBER, RRType.NAPTR, { now: new Date(EXPIRATION.getTime() + 1000) }),
      // the DNSKEY RRSIG expires at the same time, so the key set is reported first
      'signature-expired',
    ],
    [
      'signature not yet valid',
      () => validate(good, NUMBER, RRType.NAPTR, { now: new Date(INCEPTION.getTime() - 1000) }),
      'signature-not-yet-valid',
    ],
    [
      'answer signature expired while the keys are fine',
      () =>
        validate(
          response(NUMBER, RRType.NAPTR, {
            answers: [
              naptr(NUMBER),
              sign([naptr(NUMBER)], zone.zsk, {
                expiration: new Date(NOW.getTime() - 1000),
                inception: new Date(NOW.getTime() - 5000),
              }),
            ],
          }),
          NUMBER,
          RRType.NAPTR,
        ),
      'signature-expired',
    ],
    [
      'rdata changed after signing',
      () =>
        validate(
          { ...good, answers: [naptr(NUMBER, 'E2U+evil'), ...good.answers.slice(1)] },
          NUMBER,
          RRType.NAPTR,
        ),
      'signature-invalid',
    ],
    [
      'DS of another key',
      () => validate(good, NUMBER, RRType.NAPTR, { trustAnchor: other.anchor }),
      'ds-mismatch',
    ],
    [
      'DNSKEY anchor of another key',
      () =>
        validate(good, NUMBER, RRType.NAPTR, {
          trustAnchor: { zone: APEX, dnskeys: [other.ksk.dnskey] },
        }),
      'dnskey-not-trusted',
    ],
    [
      'no DNSKEYs',
      () => validate(good, NUMBER, RRType.NAPTR, { dnskeyRrset: [] }),
      'dnskey-missing',
    ],
    [
      'DNSKEY RRset unsigned',
      () =>
        validate(good, NUMBER, RRType.NAPTR, {
          dnskeyRrset: zone.dnskeyRrset.filter((r) => r.type !== RRType.RRSIG),
        }),
      'no-signature',
    ],
    [
      'DNSKEY RRset signed only by the ZSK (not the anchored key)',
      () =>
        validate(good, NUMBER, RRType.NAPTR, {
          dnskeyRrset: [
            ...zone.dnskeyRrset.filter((r) => r.type === RRType.DNSKEY),
            sign(
              zone.dnskeyRrset.filter((r) => r.type === RRType.DNSKEY),
              zone.zsk,
            ),
          ],
        }),
      'dnskey-not-trusted',
    ],
    [
      'signed by a key outside the DNSKEY set',
      () =>
        validate(
          response(NUMBER, RRType.NAPTR, {
            answers: [naptr(NUMBER), sign([naptr(NUMBER)], other.zsk)],
          }),
          NUMBER,
          RRType.NAPTR,
        ),
      'key-tag-mismatch',
    ],
    [
      'signer name is the parent zone',
      () =>
        validate(
          response(NUMBER, RRType.NAPTR, {
            answers: [
              naptr(NUMBER),
              sign([naptr(NUMBER)], zone.zsk, { signer: 'switchboard.test.' }),
            ],
          }),
          NUMBER,
          RRType.NAPTR,
        ),
      'wrong-signer',
    ],
    [
      'labels field larger than the owner',
      () => {
        const sig = good.answers[1] as ResourceRecord;
        if (!isRecordType(sig, RRType.RRSIG)) throw new Error('x');
        return validate(
          {
            ...good,
            answers: [
              good.answers[0] as ResourceRecord,
              { ...sig, data: { ...sig.data, labels: 20 } },
            ],
          },
          NUMBER,
          RRType.NAPTR,
        );
      },
      'labels-invalid',
    ],
    [
      'unsupported algorithm',
      () => {
        const sig = good.answers[1] as ResourceRecord;
        if (!isRecordType(sig, RRType.RRSIG)) throw new Error('x');
        const weird = { flags: 256, protocol: 3, algorithm: 16, publicKey: new Uint8Array(57) };
        const keys = [
          ...zone.dnskeyRrset.filter((r) => r.type === RRType.DNSKEY),
          { name: APEX, type: RRType.DNSKEY, class: 1, ttl: 3600, data: weird } as ResourceRecord,
        ];
        const dnskeyRrset = [...keys, sign(keys, zone.ksk)];
        const tag = (function keyTagOf(): number {
          return dsFromDnskey(APEX, weird).keyTag;
        })();
        return validate(
          {
            ...good,
            answers: [
              good.answers[0] as ResourceRecord,
              { ...sig, data: { ...sig.data, algorithm: 16, keyTag: tag } },
            ],
          },
          NUMBER,
          RRType.NAPTR,
          { dnskeyRrset },
        );
      },
      'algorithm-unsupported',
    ],
    [
      'name outside the anchor zone',
      () => validate(good, 'example.org.', RRType.NAPTR),
      'out-of-zone',
    ],
    [
      'question does not match',
      () => validate(good, `1.${APEX}`, RRType.NAPTR),
      'question-mismatch',
    ],
    [
      'SERVFAIL',
      () => validate({ ...good, rcode: Rcode.SERVFAIL }, NUMBER, RRType.NAPTR),
      'unexpected-rcode',
    ],
    [
      'NXDOMAIN without proof',
      () =>
        validate(response(NUMBER, RRType.NAPTR, { rcode: Rcode.NXDOMAIN }), NUMBER, RRType.NAPTR),
      'denial-missing',
    ],
    [
      'empty NOERROR without proof',
      () => validate(response(NUMBER, RRType.NAPTR, {}), NUMBER, RRType.NAPTR),
      'denial-missing',
    ],
    [
      'NSEC for another name',
      () =>
        validate(
          {
            ...compactNxdomain(zone, `9.${APEX}`, RRType.NAPTR),
            questions: [{ name: NUMBER, type: RRType.NAPTR, class: 1 }],
          },
          NUMBER,
          RRType.NAPTR,
        ),
      'denial-does-not-cover-name',
    ],
    [
      'NODATA bitmap lists the queried type',
      () =>
        validate(compactNodata(zone, NUMBER, RRType.NAPTR, [RRType.NAPTR]), NUMBER, RRType.NAPTR),
      'denial-type-present',
    ],
    [
      'white lie without the wildcard NSEC',
      () => validate(whiteLieNxdomain(zone, NUMBER, RRType.NAPTR, false), NUMBER, RRType.NAPTR),
      'denial-wildcard-not-covered',
    ],
    [
      'NSEC signature stripped',
      () => {
        const m = compactNxdomain(zone, NUMBER, RRType.NAPTR);
        return validate(
          {
            ...m,
            authorities: m.authorities.filter(
              (r) => !(isRecordType(r, RRType.RRSIG) && r.data.typeCovered === RRType.NSEC),
            ),
          },
          NUMBER,
          RRType.NAPTR,
        );
      },
      'no-signature',
    ],
    [
      'NSEC from a delegation point used to deny a name below it',
      () => {
        const nsec: ResourceRecord = {
          name: `sub.${APEX}`,
          type: RRType.NSEC,
          class: 1,
          ttl: 300,
          data: { nextDomainName: `z.${APEX}`, types: [RRType.NS, RRType.RRSIG, RRType.NSEC] },
        };
        const m = response(`x.sub.${APEX}`, RRType.NAPTR, {
          rcode: Rcode.NXDOMAIN,
          authorities: [nsec, sign([nsec], zone.zsk)],
        });
        return validate(m, `x.sub.${APEX}`, RRType.NAPTR);
      },
      'denial-does-not-cover-name',
    ],
    [
      'NSEC owned outside the zone',
      () => {
        const m = compactNxdomain(zone, NUMBER, RRType.NAPTR);
        const nsec = nsecOf(m);
        return validate(
          {
            ...m,
            authorities: m.authorities.map((r) => (r === nsec ? { ...r, name: 'evil.test.' } : r)),
          },
          NUMBER,
          RRType.NAPTR,
        );
      },
      'denial-wrong-zone',
    ],
    [
      'empty DS anchor',
      () => validate(good, NUMBER, RRType.NAPTR, { trustAnchor: { zone: APEX, ds: [] } }),
      'trust-anchor-invalid',
    ],
  ])('%s', (_what, run, expected) => {
    expect(reason(run())).toBe(expected);
  });

  it('an altered NSEC bitmap fails its signature', () => {
    const m = compactNxdomain(zone, NUMBER, RRType.AAAA);
    const nsec = nsecOf(m);
    if (!isRecordType(nsec, RRType.NSEC)) throw new Error('x');
    const altered = { ...nsec, data: { ...nsec.data, types: [RRType.RRSIG, RRType.NSEC] } };
    const r = validate(
      { ...m, authorities: m.authorities.map((x) => (x === nsec ? altered : x)) },
      NUMBER,
      RRType.AAAA,
    );
    expect(reason(r)).toBe('signature-invalid');
  });

  it('wildcard answer without a proof that the name does not exist', () => {
    const wild = naptr(`*.${APEX}`);
    const expanded = { ...wild, name: NUMBER };
    const sig = sign([wild], zone.zsk);
    const m = response(NUMBER, RRType.NAPTR, { answers: [expanded, { ...sig, name: NUMBER }] });
    expect(reason(validate(m, NUMBER, RRType.NAPTR))).toBe('wildcard-proof-missing');
    const cover = minimalCoveringNsec(NUMBER, { ttl: 300 });
    const withProof = { ...m, authorities: [cover, sign([cover], zone.zsk)] };
    expect(validate(withProof, NUMBER, RRType.NAPTR)).toMatchObject({
      status: 'secure',
      wildcard: `*.${APEX}`,
    });
  });
});

describe('verifyRrsig failure reasons', () => {
  const rrset = [naptr(NUMBER)];
  const sig = sign(rrset, zone.zsk);
  if (!isRecordType(sig, RRType.RRSIG)) throw new Error('x');
  it.each([
    ['empty-rrset', () => verifyRrsig([], sig, zone.zsk.dnskey, NOW)],
    [
      'rrset-inconsistent',
      () => verifyRrsig([...rrset, naptr(`x.${APEX}`)], sig, zone.zsk.dnskey, NOW),
    ],
    [
      'type-mismatch',
      () =>
        verifyRrsig(
          [
            {
              ...rrset[0],
              type: RRType.TXT,
              data: { texts: [new Uint8Array(1)] },
            } as ResourceRecord,
          ],
          sig,
          zone.zsk.dnskey,
          NOW,
        ),
    ],
    ['algorithm-mismatch', () => verifyRrsig(rrset, sig, generateSigningKey(15).dnskey, NOW)],
    ['key-tag-mismatch', () => verifyRrsig(rrset, sig, zone.ksk.dnskey, NOW)],
    [
      'dnskey-not-zone-key',
      () =>
        verifyRrsig(
          rrset,
          {
            ...sig,
            data: {
              ...sig.data,
              keyTag: dsFromDnskey(APEX, { ...zone.zsk.dnskey, flags: 0 }).keyTag,
            },
          },
          { ...zone.zsk.dnskey, flags: 0 },
          NOW,
        ),
    ],
    [
      'signature-invalid',
      () =>
        verifyRrsig(
          rrset,
          { ...sig, data: { ...sig.data, signature: new Uint8Array(64) } },
          zone.zsk.dnskey,
          NOW,
        ),
    ],
  ])('%s', (expected, run) => {
    expect(run()).toEqual({ ok: false, reason: expected });
  });
});
