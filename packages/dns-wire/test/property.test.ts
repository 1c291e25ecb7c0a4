// fast-check properties: random messages round-trip; mutated real packets never throw anything
// but DnsWireError.
import fc from 'fast-check';
import {
  DnsWireError,
  RRType,
  decodeMessage,
  encodeMessage,
  formatIpv6,
  formatRecord,
  canonicalName,
  labelsToName,
  lowerLabels,
  nameToLabels,
  normalizeName,
  parseZone,
} from '../src/index.js';
import type { Message, ResourceRecord } from '../src/index.js';
import { fixtureBytes, roundTripMessage } from './helpers.js';

const label = fc.oneof(
  fc.stringMatching(/^[a-zA-Z0-9-]{1,12}$/).map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ minLength: 1, maxLength: 10 }),
);
const name = fc.array(label, { maxLength: 4 }).map(labelsToName);
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const ascii = fc.stringMatching(/^[ -~]{0,30}$/);
const types = fc.uniqueArray(u16, { maxLength: 8 }).map((t) => [...t].sort((a, b) => a - b));

const rdata: fc.Arbitrary<Pick<ResourceRecord, 'type' | 'data'>> = fc.oneof(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c, d]) => ({
    type: RRType.A,
    data: { address: `${a}.${b}.${c}.${d}` },
  })),
  fc
    .uint8Array({ minLength: 16, maxLength: 16 })
    .map((b) => ({ type: RRType.AAAA, data: { address: formatIpv6(b) } })),
  name.map((target) => ({ type: RRType.NS, data: { target } })),
  name.map((target) => ({ type: RRType.PTR, data: { target } })),
  fc
    .tuple(u16, name)
    .map(([preference, exchange]) => ({ type: RRType.MX, data: { preference, exchange } })),
  fc
    .array(bytes(255), { minLength: 1, maxLength: 3 })
    .map((texts) => ({ type: RRType.TXT, data: { texts } })),
  fc
    .record({
      order: u16,
      preference: u16,
      flags: ascii,
      services: ascii,
      regexp: ascii,
      replacement: name,
    })
    .map((data) => ({
      type: RRType.NAPTR,
      data,
    })),
  fc
    .record({
      mname: name,
      rname: name,
      serial: u32,
      refresh: u32,
      retry: u32,
      expire: u32,
      minimum: u32,
    })
    .map((data) => ({ type: RRType.SOA, data })),
  fc
    .record({ keyTag: u16, algorithm: fc.nat(255), digestType: fc.nat(255), digest: bytes(48) })
    .map((data) => ({
      type: RRType.DS,
      data,
    })),
  fc
    .record({ flags: u16, protocol: fc.nat(255), algorithm: fc.nat(255), publicKey: bytes(64) })
    .map((data) => ({
      type: RRType.DNSKEY,
      data,
    })),
  fc
    .record({
      typeCovered: u16,
      algorithm: fc.nat(255),
      labels: fc.nat(255),
      originalTtl: u32,
      expiration: u32,
      inception: u32,
      keyTag: u16,
      signerName: name,
      signature: bytes(64),
    })
    .map((data) => ({ type: RRType.RRSIG, data })),
  fc.record({ nextDomainName: name, types }).map((data) => ({ type: RRType.NSEC, data })),
  fc
    .record({
      hashAlgorithm: fc.nat(255),
      flags: fc.nat(255),
      iterations: u16,
      salt: bytes(8),
      nextHashedOwner: fc.uint8Array({ minLength: 1, maxLength: 20 }),
      types,
    })
    .map((data) => ({ type: RRType.NSEC3, data })),
  fc
    .tuple(fc.integer({ min: 65280, max: 65534 }), bytes(20))
    .map(([type, raw]) => ({ type, data: { raw } })),
);

const record: fc.Arbitrary<ResourceRecord> = fc
  .tuple(name, rdata, fc.constantFrom(1, 3, 255), u32)
  .map(
    ([n, rd, cls, ttl]) =>
      ({ name: n, type: rd.type, class: cls, ttl, data: rd.data }) as ResourceRecord,
  );

const edns = fc.record({
  udpPayloadSize: u16,
  version: fc.nat(255),
  dnssecOk: fc.boolean(),
  zFlags: fc.nat(0x7fff),
  options: fc.array(fc.record({ code: u16, data: bytes(12) }), { maxLength: 3 }),
});

const message: fc.Arbitrary<Message> = fc
  .record({
    id: u16,
    qr: fc.boolean(),
    opcode: fc.nat(15),
    aa: fc.boolean(),
    tc: fc.boolean(),
    rd: fc.boolean(),
    ra: fc.boolean(),
    z: fc.boolean(),
    ad: fc.boolean(),
    cd: fc.boolean(),
    questions: fc.array(fc.record({ name, type: u16, class: u16 }), { maxLength: 3 }),
    answers: fc.array(record, { maxLength: 5 }),
    authorities: fc.array(record, { maxLength: 5 }),
    additionals: fc.array(record, { maxLength: 5 }),
    edns: fc.option(edns, { nil: undefined }),
    rcode: fc.nat(0xfff),
  })
  .map((m) => {
    const { edns: e, ...rest } = m;
    return e ? { ...rest, edns: e } : { ...rest, rcode: m.rcode & 0xf };
  });

describe('properties', () => {
  it('random messages round-trip exactly', () => {
    fc.assert(
      fc.property(message, (msg) => {
        const decoded = roundTripMessage(msg);
        expect(decoded).toEqual(msg);
      }),
      { numRuns: 300 },
    );
  });

  it('random records survive zone-file formatting and parsing', () => {
    fc.assert(
      fc.property(record, (rr) => {
        expect(parseZone(formatRecord(rr))).toEqual([rr]);
      }),
      { numRuns: 300 },
    );
  });

  const seeds = [
    'kdig-naptr-dnssec.query.hex',
    'dig-aaaa-cookie.query.hex',
    'bind-naptr-dnssec.response.hex',
    'bind-nxdomain-nsec3.response.hex',
    'bind-wildcard.response.hex',
  ].map(fixtureBytes);

  const mutation = fc.tuple(
    fc.nat(seeds.length - 1),
    fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
    fc.option(fc.nat(), { nil: undefined }),
  );

  it('mutated real packets only ever throw DnsWireError', () => {
    fc.assert(
      fc.property(mutation, ([which, flips, cut]) => {
        const original = seeds[which] as Uint8Array;
        let bytes = original.slice();
        for (const [pos, value] of flips) bytes[pos % bytes.length] = value;
        if (cut !== undefined) bytes = bytes.slice(0, cut % (bytes.length + 1));
        try {
          const msg = decodeMessage(bytes);
          // Whatever decodes must encode again (possibly refusing values with a typed error).
          decodeMessage(encodeMessage(msg));
        } catch (err) {
          if (!(err instanceof DnsWireError)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('arbitrary zone text only ever throws DnsWireError', () => {
    const token = fc.oneof(
      fc.constantFrom(
        '$ORIGIN',
        '$TTL',
        '@',
        '(',
        ')',
        ';',
        '"',
        '\\',
        '\\#',
        'IN',
        'ANY',
        'A',
        'NAPTR',
        'RRSIG',
        'NSEC3',
        'TXT',
        'DS',
        '\n',
        ' ',
        '1',
        '300',
        'a.b.',
        '-',
      ),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 30 }), (tokens) => {
        try {
          parseZone(tokens.join(' '));
        } catch (err) {
          if (!(err instanceof DnsWireError)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('names without escapes take a shortcut that gives what the label round trip gives', () => {
    // Presentation names of every kind: plain, escaped, relative, overlong, with empty labels.
    const text = fc.oneof(
      name,
      name.map((n) => n.slice(0, -1)),
      fc.stringMatching(/^[ -~]{0,70}$/),
      fc.array(fc.stringMatching(/^[a-zA-Z0-9]{1,70}$/), { maxLength: 6 }).map((l) => l.join('.')),
    );
    const outcome = (f: () => string): string => {
      try {
        return f();
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    };
    fc.assert(
      fc.property(text, (n) => {
        expect(outcome(() => normalizeName(n))).toBe(outcome(() => labelsToName(nameToLabels(n))));
        expect(outcome(() => canonicalName(n))).toBe(
          outcome(() => labelsToName(lowerLabels(nameToLabels(n)))),
        );
      }),
      { numRuns: 3000 },
    );
  });
});
