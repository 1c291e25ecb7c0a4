// A small signed zone and an in-memory "authoritative server" that builds the responses an
// online signer sends (answers, RFC 9824 compact denial, RFC 4470 white lies).
import { RRClass, RRType, Rcode, labelCount, normalizeName } from '@switchboard/dns-wire';
import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import {
  compactDenialNsec,
  dsFromDnskey,
  generateSigningKey,
  minimalCoveringNsec,
  signRrset,
} from '../src/index.js';
import type { SigningKey, TrustAnchor } from '../src/index.js';

export const APEX = 'e164.switchboard.test.';
export const NOW = new Date('2026-11-22T00:00:00Z');
export const INCEPTION = new Date(NOW.getTime() - 3600_000);
export const EXPIRATION = new Date(NOW.getTime() + 7 * 86400_000);
export const NUMBER = `7.6.5.4.3.2.1.5.5.5.1.${APEX}`;

export interface TestZone {
  readonly ksk: SigningKey;
  readonly zsk: SigningKey;
  readonly dnskeyRrset: ResourceRecord[];
  readonly anchor: TrustAnchor;
  readonly soa: ResourceRecord;
}

export function makeZone(algorithm: 13 | 15 = 13): TestZone {
  const ksk = generateSigningKey(algorithm);
  const zsk = generateSigningKey(algorithm, { flags: 256 });
  const dnskeys: ResourceRecord[] = [ksk, zsk].map((k) => ({
    name: APEX,
    type: RRType.DNSKEY,
    class: RRClass.IN,
    ttl: 3600,
    data: k.dnskey,
  }));
  const dnskeyRrset = [...dnskeys, sign(dnskeys, ksk)];
  const soa: ResourceRecord = {
    name: APEX,
    type: RRType.SOA,
    class: RRClass.IN,
    ttl: 300,
    data: {
      mname: `ns1.${APEX}`,
      rname: `hostmaster.${APEX}`,
      serial: 1,
      refresh: 7200,
      retry: 3600,
      expire: 1209600,
      minimum: 300,
    },
  };
  return {
    ksk,
    zsk,
    dnskeyRrset,
    anchor: { zone: APEX, ds: [dsFromDnskey(APEX, ksk.dnskey)] },
    soa,
  };
}

export function sign(
  rrset: readonly ResourceRecord[],
  key: SigningKey,
  overrides: Partial<{ signer: string; inception: Date; expiration: Date }> = {},
): ResourceRecord {
  return signRrset(rrset, key, {
    signer: APEX,
    inception: INCEPTION,
    expiration: EXPIRATION,
    ...overrides,
  });
}

export function naptr(name: string, service = 'E2U+sip'): ResourceRecord {
  return {
    name,
    type: RRType.NAPTR,
    class: RRClass.IN,
    ttl: 300,
    data: {
      order: 100,
      preference: 10,
      flags: 'u',
      services: service,
      regexp: '!^.*$!sip:a@b.example!',
      replacement: '.',
    },
  };
}

export function response(
  qname: string,
  qtype: number,
  parts: Partial<Pick<Message, 'answers' | 'authorities' | 'rcode'>>,
): Message {
  return {
    id: 1,
    qr: true,
    opcode: 0,
    aa: true,
    tc: false,
    rd: false,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: parts.rcode ?? Rcode.NOERROR,
    questions: [{ name: normalizeName(qname), type: qtype, class: RRClass.IN }],
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
    additionals: [],
  };
}

export function answer(zone: TestZone, qname: string, rrset: ResourceRecord[]): Message {
  const first = rrset[0] as ResourceRecord;
  return response(qname, first.type, { answers: [...rrset, sign(rrset, zone.zsk)] });
}

/** RFC 9824: NOERROR, SOA + NSEC at qname with NXNAME. */
export function compactNxdomain(zone: TestZone, qname: string, qtype: number): Message {
  const nsec = compactDenialNsec(qname, 'nxdomain', { ttl: 300 });
  return response(qname, qtype, {
    authorities: [zone.soa, sign([zone.soa], zone.zsk), nsec, sign([nsec], zone.zsk)],
  });
}

export function compactNodata(
  zone: TestZone,
  qname: string,
  qtype: number,
  present: number[],
): Message {
  const nsec = compactDenialNsec(qname, present, { ttl: 300 });
  return response(qname, qtype, {
    authorities: [zone.soa, sign([zone.soa], zone.zsk), nsec, sign([nsec], zone.zsk)],
  });
}

/**
 * RFC 4470: NXDOMAIN with a minimal NSEC covering qname and one covering the wildcard at the
 * closest encloser those NSECs imply (qname's parent).
 */
export function whiteLieNxdomain(
  zone: TestZone,
  qname: string,
  qtype: number,
  withWildcard = true,
): Message {
  const a = minimalCoveringNsec(qname, { ttl: 300 });
  const b = minimalCoveringNsec(`*.${qname.slice(qname.indexOf('.') + 1)}`, { ttl: 300 });
  const authorities = [zone.soa, sign([zone.soa], zone.zsk), a, sign([a], zone.zsk)];
  if (withWildcard) authorities.push(b, sign([b], zone.zsk));
  return response(qname, qtype, { rcode: Rcode.NXDOMAIN, authorities });
}

export { labelCount };
