// The one validation logic run three ways must agree: synchronously on node:crypto
// (validateResponse), and asynchronously on WebCrypto (what browsers use) and on node:crypto
// wrapped. Cases: BIND's NSEC3 responses (ECDSA, SHA-1 NSEC3, DS SHA-256), our own Ed25519 and
// P-256 zones, an RSA/SHA-256 zone, each also tampered byte by byte.
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  RRClass,
  RRType,
  decodeMessage,
  isRecordType,
  labelCount,
  parseRecord,
} from '@switchboard/dns-wire';
import type { DnskeyData, Message, ResourceRecord } from '@switchboard/dns-wire';
import {
  computeKeyTag,
  dsFromDnskey,
  nodeDnssecCrypto,
  rrsigSignedData,
  validateDnskeyRrset,
  validateResponse,
  validateResponseWith,
  webCryptoDnssec,
} from '../src/index.js';
import type { DnssecCrypto, ValidateResponseInput } from '../src/index.js';
import * as portable from '../src/portable.js';
import { toSerialTime } from '../src/core/rrsig-data.js';
import {
  APEX,
  EXPIRATION,
  INCEPTION,
  NOW,
  NUMBER,
  answer,
  compactNxdomain,
  makeZone,
  naptr,
  response as reply,
  whiteLieNxdomain,
} from './test-zone.js';

const FIXTURES = new URL('../../../dns-wire/test/fixtures/', import.meta.url);
const meta = JSON.parse(readFileSync(new URL('meta.json', FIXTURES), 'utf8')) as {
  zone: string;
  capturedAt: number;
  ds: string;
};
const load = (name: string): Message =>
  decodeMessage(
    new Uint8Array(Buffer.from(readFileSync(new URL(name, FIXTURES), 'utf8').trim(), 'hex')),
  );

const web = webCryptoDnssec();
const DRIVERS: [string, DnssecCrypto][] = [
  ['webcrypto', web],
  ['node async', nodeDnssecCrypto],
];

/** Copies of `msg` with one byte of one RRSIG signature flipped, one per RRSIG (the SOA's
 *  RRSIG in a denial proves nothing and is not checked). */
function tamperedSignatures(msg: Message): Message[] {
  const out: Message[] = [];
  for (const section of ['answers', 'authorities'] as const) {
    msg[section].forEach((rr, i) => {
      if (!isRecordType(rr, RRType.RRSIG) || rr.data.typeCovered === RRType.SOA) return;
      const signature = rr.data.signature.slice();
      signature[signature.length >> 1] = (signature[signature.length >> 1] as number) ^ 0x01;
      const copy = [...msg[section]];
      copy[i] = { ...rr, data: { ...rr.data, signature } };
      out.push({ ...msg, [section]: copy });
    });
  }
  return out;
}

async function expectAgreement(input: ValidateResponseInput): Promise<string> {
  const expected = validateResponse(input);
  for (const [, crypto] of DRIVERS)
    expect(await validateResponseWith(crypto, input)).toEqual(expected);
  return expected.status;
}

describe('sync, WebCrypto and async node validation agree', () => {
  const ds = parseRecord(meta.ds);
  if (!isRecordType(ds, RRType.DS)) throw new Error('fixture DS');
  const bind = {
    trustAnchor: { zone: meta.zone, ds: [ds.data] },
    dnskeyRrset: load('bind-dnskey.response.hex').answers,
    now: new Date(meta.capturedAt * 1000),
  };
  const number = `7.6.5.4.3.2.1.5.5.5.1.${meta.zone}`;
  const cases: [string, string, number, string][] = [
    ['bind-naptr-dnssec.response.hex', number, RRType.NAPTR, 'secure'],
    [
      'bind-nxdomain-nsec3.response.hex',
      `9.9.9.9.5.5.5.1.${meta.zone}`,
      RRType.NAPTR,
      'secure-denial',
    ],
    ['bind-nodata-nsec3.response.hex', number, RRType.AAAA, 'secure-denial'],
    ['bind-wildcard.response.hex', `x.wild.${meta.zone}`, RRType.A, 'secure'],
  ];

  it.each(cases)(
    'BIND %s, and each of its signatures tampered',
    async (file, qname, qtype, status) => {
      const response = load(file);
      expect(await expectAgreement({ ...bind, response, qname, qtype })).toBe(status);
      const tampered = tamperedSignatures(response);
      expect(tampered.length).toBeGreaterThan(0);
      for (const t of tampered)
        expect(await expectAgreement({ ...bind, response: t, qname, qtype })).toBe('bogus');
    },
  );

  it('a DS digest with one bit changed is refused by every driver', async () => {
    const digest = ds.data.digest.slice();
    digest[0] = (digest[0] as number) ^ 0x80;
    const input = {
      ...bind,
      trustAnchor: { zone: meta.zone, ds: [{ ...ds.data, digest }] },
      response: load('bind-naptr-dnssec.response.hex'),
      qname: number,
      qtype: RRType.NAPTR,
    };
    expect(validateResponse(input)).toEqual({ status: 'bogus', reason: 'ds-mismatch' });
    await expectAgreement(input);
  });

  it.each([13, 15] as const)(
    'algorithm %i zone: answer, compact and white-lie denials',
    async (alg) => {
      const zone = makeZone(alg);
      const base = { trustAnchor: zone.anchor, dnskeyRrset: zone.dnskeyRrset, now: NOW };
      const rrset = [naptr(NUMBER)];
      const msgs: [Message, string, number, string][] = [
        [answer(zone, NUMBER, rrset), NUMBER, RRType.NAPTR, 'secure'],
        [compactNxdomain(zone, NUMBER, RRType.NAPTR), NUMBER, RRType.NAPTR, 'secure-denial'],
        [whiteLieNxdomain(zone, NUMBER, RRType.NAPTR), NUMBER, RRType.NAPTR, 'secure-denial'],
      ];
      for (const [response, qname, qtype, status] of msgs) {
        expect(await expectAgreement({ ...base, response, qname, qtype })).toBe(status);
        for (const t of tamperedSignatures(response))
          expect(await expectAgreement({ ...base, response: t, qname, qtype })).toBe('bogus');
      }
    },
  );

  it('RSA/SHA-256 (algorithm 8), signed here with node:crypto', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const e = Buffer.from(jwk.e as string, 'base64url');
    const n = Buffer.from(jwk.n as string, 'base64url');
    const dnskey: DnskeyData = {
      flags: 257,
      protocol: 3,
      algorithm: 8,
      publicKey: new Uint8Array(Buffer.concat([Buffer.from([e.length]), e, n])),
    };
    const rsaSign = (rrset: ResourceRecord[]): ResourceRecord => {
      const first = rrset[0] as ResourceRecord;
      const data = {
        typeCovered: first.type,
        algorithm: 8,
        labels: labelCount(first.name),
        originalTtl: first.ttl,
        expiration: toSerialTime(EXPIRATION),
        inception: toSerialTime(INCEPTION),
        keyTag: computeKeyTag(dnskey),
        signerName: APEX,
        signature: new Uint8Array(0),
      };
      const signature = new Uint8Array(
        nodeSign('sha256', rrsigSignedData(data, rrset), privateKey),
      );
      return {
        name: first.name,
        type: RRType.RRSIG,
        class: RRClass.IN,
        ttl: first.ttl,
        data: { ...data, signature },
      };
    };
    const keys: ResourceRecord[] = [
      { name: APEX, type: RRType.DNSKEY, class: RRClass.IN, ttl: 3600, data: dnskey },
    ];
    const dnskeyRrset = [...keys, rsaSign(keys)];
    const trustAnchor = { zone: APEX, ds: [dsFromDnskey(APEX, dnskey)] };
    expect(validateDnskeyRrset(trustAnchor, dnskeyRrset, NOW).status).toBe('secure');
    const rrset = [naptr(NUMBER)];
    const response = reply(NUMBER, RRType.NAPTR, { answers: [...rrset, rsaSign(rrset)] });
    const input = {
      trustAnchor,
      dnskeyRrset,
      response,
      qname: NUMBER,
      qtype: RRType.NAPTR,
      now: NOW,
    };
    expect(await expectAgreement(input)).toBe('secure');
    for (const t of tamperedSignatures(response))
      expect(await expectAgreement({ ...input, response: t })).toBe('bogus');
  });

  it('the portable entry exports the same asynchronous validator', () => {
    expect(portable.validateResponseWith).toBe(validateResponseWith);
    expect(portable.webCryptoDnssec).toBe(webCryptoDnssec);
  });
});
