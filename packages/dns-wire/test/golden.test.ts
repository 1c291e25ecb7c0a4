// Packets captured from kdig 3.2.6, dig 9.18 and BIND 9.18 named (see fixtures/capture.py).
import {
  EdnsOptionCode,
  RRType,
  decodeMessage,
  encodeMessage,
  isRecordType,
  parseZone,
  formatRecord,
} from '../src/index.js';
import { fixtureBytes, fixtureText, roundTripMessage } from './helpers.js';

const ZONE = 'e164.switchboard.test.';
const NUMBER_NAME = `7.6.5.4.3.2.1.5.5.5.1.${ZONE}`;

describe('queries captured from kdig and dig', () => {
  it.each(['kdig-naptr-dnssec', 'dig-naptr-dnssec', 'kdig-a-plain', 'dig-aaaa-cookie'])(
    '%s re-encodes to the identical bytes',
    (name) => {
      const bytes = fixtureBytes(`${name}.query.hex`);
      const msg = decodeMessage(bytes);
      expect(Buffer.from(encodeMessage(msg)).equals(Buffer.from(bytes))).toBe(true);
      roundTripMessage(msg);
    },
  );

  it('kdig NAPTR +dnssec: question, RD, DO bit, payload size', () => {
    const msg = decodeMessage(fixtureBytes('kdig-naptr-dnssec.query.hex'));
    expect(msg.questions).toEqual([{ name: NUMBER_NAME, type: RRType.NAPTR, class: 1 }]);
    expect(msg).toMatchObject({ qr: false, rd: true, opcode: 0 });
    expect(msg.edns).toMatchObject({ dnssecOk: true, version: 0, udpPayloadSize: 4096 });
  });

  it('kdig lowercases the question; dig sends cookie + NSID options', () => {
    expect(decodeMessage(fixtureBytes('kdig-a-plain.query.hex')).questions[0]?.name).toBe(
      'www.example.com.',
    );
    const dig = decodeMessage(fixtureBytes('dig-aaaa-cookie.query.hex'));
    expect(dig.edns?.options.map((o) => o.code).sort((a, b) => a - b)).toEqual([
      EdnsOptionCode.NSID,
      EdnsOptionCode.COOKIE,
    ]);
    expect(dig.edns?.options.find((o) => o.code === EdnsOptionCode.COOKIE)?.data.length).toBe(8);
  });
});

describe('responses captured from BIND named', () => {
  it.each([
    'bind-naptr-dnssec',
    'bind-dnskey',
    'bind-nxdomain-nsec3',
    'bind-nodata-nsec3',
    'bind-wildcard',
    'bind-any',
  ])('%s decodes and survives re-encoding (never longer than BIND)', (name) => {
    const bytes = fixtureBytes(`${name}.response.hex`);
    const msg = decodeMessage(bytes);
    const again = encodeMessage(msg);
    expect(again.length).toBeLessThanOrEqual(bytes.length);
    expect(decodeMessage(again)).toEqual(msg);
  });

  it('NAPTR answer carries the typed rdata and its RRSIG', () => {
    const msg = decodeMessage(fixtureBytes('bind-naptr-dnssec.response.hex'));
    expect(msg).toMatchObject({ qr: true, aa: true, rcode: 0 });
    const naptrs = msg.answers.filter((r) => isRecordType(r, RRType.NAPTR));
    expect(naptrs.map((r) => isRecordType(r, RRType.NAPTR) && r.data.services).sort()).toEqual([
      'E2U+sip',
      'E2U+xmpp',
    ]);
    const sig = msg.answers.find((r) => isRecordType(r, RRType.RRSIG));
    expect(sig && isRecordType(sig, RRType.RRSIG) && sig.data).toMatchObject({
      typeCovered: RRType.NAPTR,
      algorithm: 13,
      labels: 14,
      signerName: ZONE,
    });
  });

  it('NXDOMAIN carries NSEC3 records in the authority section', () => {
    const msg = decodeMessage(fixtureBytes('bind-nxdomain-nsec3.response.hex'));
    expect(msg.rcode).toBe(3);
    const nsec3 = msg.authorities.filter((r) => isRecordType(r, RRType.NSEC3));
    expect(nsec3.length).toBeGreaterThanOrEqual(2);
    for (const r of nsec3)
      if (isRecordType(r, RRType.NSEC3)) expect(r.data.nextHashedOwner).toHaveLength(20);
  });

  it('the BIND-signed zone file parses, and every record formats and parses back', () => {
    const records = parseZone(fixtureText('bind-signed.zone'));
    const types = new Set(records.map((r) => r.type));
    for (const t of [
      RRType.SOA,
      RRType.DNSKEY,
      RRType.RRSIG,
      RRType.NSEC3,
      RRType.NSEC3PARAM,
      RRType.NAPTR,
    ])
      expect(types.has(t)).toBe(true);
    for (const r of records) expect(parseZone(formatRecord(r))).toEqual([r]);
  });
});
