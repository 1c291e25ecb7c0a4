import {
  DnsWireError,
  Opcode,
  RRClass,
  RRType,
  Rcode,
  decodeMessage,
  encodeMessage,
  isRecordType,
  txtData,
} from '../src/index.js';
import type { ResourceRecord } from '../src/index.js';
import { header, roundTripMessage, roundTripRdata } from './helpers.js';

const IN = RRClass.IN;
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('rdata codecs round-trip', () => {
  it('A and AAAA (RFC 5952 canonical output)', () => {
    expect(roundTripRdata(RRType.A, { address: '192.0.2.1' })).toEqual({ address: '192.0.2.1' });
    expect(roundTripRdata(RRType.AAAA, { address: '2001:DB8:0:0:0:0:0:1' })).toEqual({
      address: '2001:db8::1',
    });
    expect(roundTripRdata(RRType.AAAA, { address: '::ffff:192.0.2.1' })).toEqual({
      address: '::ffff:c000:201',
    });
    expect(roundTripRdata(RRType.AAAA, { address: '2001:db8:0:1:1:1:1:1' }).address).toBe(
      '2001:db8:0:1:1:1:1:1',
    );
  });

  it('names, SOA, MX, TXT, NAPTR', () => {
    roundTripRdata(RRType.NS, { target: 'ns1.example.' });
    roundTripRdata(RRType.SOA, {
      mname: 'ns1.example.',
      rname: 'host\\.master.example.',
      serial: 0xffffffff,
      refresh: 1,
      retry: 2,
      expire: 3,
      minimum: 4,
    });
    roundTripRdata(RRType.MX, { preference: 10, exchange: 'mx.example.' });
    roundTripRdata(RRType.TXT, txtData('x'.repeat(300), ''));
    expect(txtData('x'.repeat(300)).texts.map((t) => t.length)).toEqual([255, 45]);
    roundTripRdata(RRType.NAPTR, {
      order: 100,
      preference: 10,
      flags: 'u',
      services: 'E2U+sip',
      regexp: '!^.*$!sip:alice@example.com!',
      replacement: '.',
    });
  });

  it('DNSSEC types', () => {
    roundTripRdata(RRType.DS, {
      keyTag: 1,
      algorithm: 13,
      digestType: 2,
      digest: new Uint8Array(32),
    });
    roundTripRdata(RRType.DNSKEY, {
      flags: 257,
      protocol: 3,
      algorithm: 15,
      publicKey: new Uint8Array(32).fill(1),
    });
    roundTripRdata(RRType.RRSIG, {
      typeCovered: RRType.NAPTR,
      algorithm: 13,
      labels: 3,
      originalTtl: 300,
      expiration: 0xfffffff0,
      inception: 5,
      keyTag: 65535,
      signerName: 'Example.',
      signature: new Uint8Array(64).fill(7),
    });
    expect(
      roundTripRdata(RRType.NSEC, {
        nextDomainName: 'b.example.',
        types: [RRType.NXNAME, 1, 46, 47, 65534, 1],
      }).types,
    ).toEqual([1, 46, 47, 128, 65534]);
    roundTripRdata(RRType.NSEC3, {
      hashAlgorithm: 1,
      flags: 0,
      iterations: 0,
      salt: new Uint8Array(0),
      nextHashedOwner: new Uint8Array(20).fill(9),
      types: [],
    });
    roundTripRdata(RRType.NSEC3PARAM, {
      hashAlgorithm: 1,
      flags: 0,
      iterations: 10,
      salt: bytes(0xaa, 0xbb),
    });
    roundTripRdata(RRType.TSIG, {
      algorithm: 'hmac-sha256.',
      timeSigned: 0xffffffffff,
      fudge: 300,
      mac: new Uint8Array(32).fill(3),
      originalId: 77,
      error: Rcode.BADTIME,
      otherData: bytes(0, 1, 2, 3, 4, 5),
    });
    roundTripRdata(RRType.CAA, {
      flags: 128,
      tag: 'issue',
      value: new TextEncoder().encode('ca.example'),
    });
  });

  it('RFC 4034 4.1.2 example bitmap: A MX RRSIG NSEC TYPE1234', () => {
    const rdata = roundTripRdata(RRType.NSEC, {
      nextDomainName: 'host.example.com.',
      types: [RRType.A, RRType.MX, RRType.RRSIG, RRType.NSEC, 1234],
    });
    expect(rdata.types).toEqual([1, 15, 46, 47, 1234]);
  });
});

describe('encodeMessage / decodeMessage', () => {
  const answers: ResourceRecord[] = [
    { name: 'a.example.', type: RRType.A, class: IN, ttl: 60, data: { address: '192.0.2.1' } },
    {
      name: 'a.example.',
      type: RRType.CNAME,
      class: IN,
      ttl: 60,
      data: { target: 'b.a.example.' },
    },
    { name: 'a.example.', type: 65280, class: IN, ttl: 60, data: { raw: bytes(1, 2, 3) } },
  ];

  it('round-trips a full response with EDNS and extended rcode', () => {
    const msg = header({
      qr: true,
      aa: true,
      rcode: Rcode.BADVERS,
      questions: [{ name: 'a.example.', type: RRType.A, class: IN }],
      answers,
      edns: {
        udpPayloadSize: 1232,
        version: 0,
        dnssecOk: true,
        zFlags: 0,
        options: [{ code: 10, data: bytes(1, 2, 3, 4, 5, 6, 7, 8) }],
      },
    });
    const decoded = roundTripMessage(msg);
    expect(decoded.rcode).toBe(16);
    expect(decoded.edns?.dnssecOk).toBe(true);
    expect(decoded.answers).toEqual(answers);
  });

  it('round-trips NOTIFY and UPDATE opcodes and all header bits', () => {
    for (const opcode of [Opcode.NOTIFY, Opcode.UPDATE]) {
      const decoded = roundTripMessage(
        header({ opcode, z: true, ad: true, cd: true, tc: true, ra: true }),
      );
      expect(decoded).toMatchObject({ opcode, z: true, ad: true, cd: true, tc: true, ra: true });
    }
  });

  it('compresses owner names and NS/CNAME/SOA/MX/PTR rdata but not NAPTR/RRSIG/NSEC names', () => {
    const base = header({ questions: [{ name: 'x.example.', type: RRType.A, class: IN }] });
    const withCname = encodeMessage({
      ...base,
      answers: [
        {
          name: 'x.example.',
          type: RRType.CNAME,
          class: IN,
          ttl: 1,
          data: { target: 'y.x.example.' },
        },
      ],
    });
    // owner: pointer (2); rdata: "y" label (2) + pointer (2)
    expect(withCname.length).toBe(12 + 15 + 2 + 10 + 4);
    const withNaptr = encodeMessage({
      ...base,
      answers: [
        {
          name: 'x.example.',
          type: RRType.NAPTR,
          class: IN,
          ttl: 1,
          data: {
            order: 1,
            preference: 1,
            flags: '',
            services: '',
            regexp: '',
            replacement: 'x.example.',
          },
        },
      ],
    });
    expect(withNaptr.length).toBe(12 + 15 + 2 + 10 + 7 + 11);
    const uncompressed = encodeMessage({ ...base, answers: [] }, { compress: false });
    expect(uncompressed.length).toBe(12 + 15);
  });

  it('maxSize drops whole records, sets TC, keeps question and OPT', () => {
    const many: ResourceRecord[] = Array.from({ length: 50 }, (_, i) => ({
      name: `n${i}.example.`,
      type: RRType.TXT,
      class: IN,
      ttl: 60,
      data: txtData('y'.repeat(40)),
    }));
    const msg = header({
      qr: true,
      questions: [{ name: 'example.', type: RRType.TXT, class: IN }],
      answers: many,
      additionals: many.slice(0, 2),
      edns: { udpPayloadSize: 512, version: 0, dnssecOk: true, options: [] },
    });
    const out = encodeMessage(msg, { maxSize: 512 });
    expect(out.length).toBeLessThanOrEqual(512);
    const d = decodeMessage(out);
    expect(d.tc).toBe(true);
    expect(d.questions).toEqual(msg.questions);
    expect(d.edns?.udpPayloadSize).toBe(512);
    expect(d.answers.length).toBeGreaterThan(0);
    expect(d.answers).toEqual(many.slice(0, d.answers.length));
    expect(d.additionals).toEqual([]);
    // Additional-only overflow does not set TC (RFC 2181 9).
    const small = header({
      qr: true,
      answers: many.slice(0, 1),
      additionals: many,
      edns: msg.edns,
    });
    const s = decodeMessage(encodeMessage(small, { maxSize: 300 }));
    expect(s.tc).toBe(false);
    expect(s.answers).toHaveLength(1);
    expect(s.edns).toBeDefined();
  });

  it('refuses values it cannot encode with a typed error', () => {
    const codeOf = (m: Parameters<typeof encodeMessage>[0]): string => {
      try {
        encodeMessage(m);
      } catch (e) {
        if (e instanceof DnsWireError) return e.code;
        throw e;
      }
      return 'none';
    };
    expect(codeOf(header({ rcode: 16 }))).toBe('bad-value');
    const huge = Array.from({ length: 300 }, (_, i) => ({
      name: `n${i}.example.`,
      type: RRType.TXT,
      class: IN,
      ttl: 1,
      data: txtData('z'.repeat(250)),
    }));
    expect(codeOf(header({ answers: huge }))).toBe('too-large');
    expect(decodeMessage(encodeMessage(header({ answers: huge }), { maxSize: 65535 })).tc).toBe(
      true,
    );
    expect(codeOf(header({ id: 70000 }))).toBe('bad-value');
    expect(codeOf(header({ questions: [{ name: 'a'.repeat(64) + '.', type: 1, class: 1 }] }))).toBe(
      'bad-label',
    );
    expect(
      codeOf(
        header({ questions: [{ name: ('a'.repeat(60) + '.').repeat(5), type: 1, class: 1 }] }),
      ),
    ).toBe('name-too-long');
    expect(codeOf(header({ questions: [{ name: 'a..b.', type: 1, class: 1 }] }))).toBe('bad-value');
    expect(
      codeOf(
        header({
          answers: [{ name: '.', type: RRType.A, class: IN, ttl: 1, data: { address: '1.2.3' } }],
        }),
      ),
    ).toBe('bad-value');
  });

  it('isRecordType narrows and rejects raw rdata', () => {
    const rr: ResourceRecord = answers[0] as ResourceRecord;
    expect(isRecordType(rr, RRType.A) && rr.data.address).toBe('192.0.2.1');
    const raw: ResourceRecord = {
      name: '.',
      type: RRType.A,
      class: IN,
      ttl: 0,
      data: { raw: bytes(1, 2, 3, 4) },
    };
    expect(isRecordType(raw, RRType.A)).toBe(false);
    // Raw rdata of a known type is still encoded as given (RFC 3597).
    const d = decodeMessage(encodeMessage(header({ answers: [raw] })));
    expect(d.answers[0]).toEqual({ ...raw, data: { address: '1.2.3.4' } });
  });

  it('keeps case of names and escapes unusual octets', () => {
    const name = 'We\\.ird\\032Name\\255.Example.';
    const d = roundTripMessage(header({ questions: [{ name, type: 1, class: 1 }] }));
    expect(d.questions[0]?.name).toBe(name);
  });
});
