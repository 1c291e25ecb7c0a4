import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import {
  decodeMessage,
  EdnsFlag,
  encodeMessage,
  Opcode,
  Rcode,
  RRClass,
  RRType,
} from '@switchboard/dns-wire';
import type { NsecRecord } from '@switchboard/dnssec';
import {
  DnssecAlgorithm,
  generateSigningKey,
  validateResponse,
  verifyRrsig,
} from '@switchboard/dnssec';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';
import { answerQuery } from '../src/dns/answer.js';
import { OnlineSigner } from '../src/zone/signer.js';
import { buildZone, defaultZoneSettings, updateZone } from '../src/zone/zone.js';
import { entry, query } from './helpers.js';

const APEX = 'e164.switchboard.test.';
const NOW = 1_790_000_000;
const NUMBER = '+442079460958';
const NAME = enumNameFor(NUMBER, APEX);

describe.each([DnssecAlgorithm.ECDSAP256SHA256, DnssecAlgorithm.ED25519])(
  'answers (algorithm %i)',
  (alg) => {
    const key = generateSigningKey(alg, { flags: 257 });
    const settings = defaultZoneSettings(APEX);
    const zone = buildZone(settings, 7, [entry(NUMBER)], [key.dnskey]);
    const signer = new OnlineSigner(key, APEX);
    const anchor = { zone: APEX, dnskeys: [key.dnskey] };
    const dnskeyRrset = (): ResourceRecord[] =>
      answerQuery(zone, signer, query(APEX, RRType.DNSKEY), NOW).message.answers.slice();
    const ask = (name: string, type: number, opts = {}): Message => {
      // Through the codec, as on the wire.
      const msg = answerQuery(zone, signer, query(name, type, opts), NOW).message;
      return decodeMessage(encodeMessage(msg));
    };
    const validate = (
      response: Message,
      qname: string,
      qtype: number,
    ): ReturnType<typeof validateResponse> =>
      validateResponse({
        trustAnchor: anchor,
        dnskeyRrset: dnskeyRrset(),
        response,
        qname,
        qtype,
        now: new Date(NOW * 1000),
      });

    it('answers NAPTR in published order with a valid RRSIG and AA', () => {
      const response = ask(NAME, RRType.NAPTR);
      expect(response.aa).toBe(true);
      expect(response.rcode).toBe(Rcode.NOERROR);
      const naptrs = response.answers.filter((rr) => rr.type === RRType.NAPTR);
      expect(
        naptrs.map((rr) =>
          'services' in rr.data ? [rr.data.preference, rr.data.services, rr.data.regexp] : [],
        ),
      ).toEqual([
        [10, 'E2U+sip', '!^.*$!sip:alice@sip.example.net!'],
        [20, 'E2U+xmpp', '!^.*$!xmpp:alice@xmpp.example.net!'],
        [30, 'E2U+matrix', '!^.*$!matrix:u/alice:example.net!'],
      ]);
      const rrsig = response.answers.find((rr) => rr.type === RRType.RRSIG);
      expect(rrsig).toBeDefined();
      expect(verifyRrsig(naptrs, rrsig as never, key.dnskey, new Date(NOW * 1000))).toEqual({
        ok: true,
      });
      expect(validate(response, NAME, RRType.NAPTR).status).toBe('secure');
    });

    it('answers the sbkey1 TXT naming the provider', () => {
      const response = ask(NAME, RRType.TXT);
      const txt = response.answers.find((rr) => rr.type === RRType.TXT);
      const text = txt && 'texts' in txt.data ? Buffer.from(txt.data.texts[0]!).toString() : '';
      expect(text).toMatch(/^v=sbkey1; k=[A-Za-z0-9+/]{44}; p=acme-telecom$/);
      expect(validate(response, NAME, RRType.TXT).status).toBe('secure');
    });

    it('answers an unknown number exactly like an empty non-terminal, with a validated denial', () => {
      const missing = enumNameFor('+14155552671', APEX);
      const ent = '4.4.' + APEX;
      for (const name of [missing, ent]) {
        const response = ask(name, RRType.NAPTR);
        expect(response.rcode).toBe(Rcode.NOERROR);
        expect(response.answers).toEqual([]);
        const nsec = response.authorities.find((rr) => rr.type === RRType.NSEC) as NsecRecord;
        expect(nsec.name).toBe(name);
        expect(nsec.data.types).toEqual([RRType.RRSIG, RRType.NSEC]);
        expect(response.authorities.some((rr) => rr.type === RRType.SOA)).toBe(true);
        const result = validate(response, name, RRType.NAPTR);
        expect(result.status).toBe('secure-denial');
      }
    });

    it('answers a query for NSEC at a name holding nothing with its NSEC, validated', () => {
      for (const [name, types] of [
        [enumNameFor('+14155552671', APEX), [RRType.RRSIG, RRType.NSEC]],
        ['www.' + APEX, [RRType.RRSIG, RRType.NSEC, RRType.NXNAME]],
      ] as const) {
        const response = ask(name, RRType.NSEC);
        expect(response.rcode).toBe(Rcode.NOERROR);
        const nsec = response.answers.find((rr) => rr.type === RRType.NSEC) as NsecRecord;
        expect(nsec.name).toBe(name);
        expect(nsec.data.types).toEqual(types);
        expect(validate(response, name, RRType.NSEC).status).toBe('secure');
      }
    });

    it('refuses a query for the NXNAME type as malformed (RFC 9824 3.5)', () => {
      for (const name of [NAME, enumNameFor('+14155552671', APEX), 'www.' + APEX]) {
        expect(ask(name, RRType.NXNAME).rcode).toBe(Rcode.FORMERR);
      }
    });

    it('gives NODATA with the real bitmap at an existing name', () => {
      const response = ask(NAME, RRType.AAAA);
      const nsec = response.authorities.find((rr) => rr.type === RRType.NSEC) as NsecRecord;
      expect(nsec.data.types).toEqual(
        [RRType.TXT, RRType.NAPTR, RRType.RRSIG, RRType.NSEC].sort((a, b) => a - b),
      );
      expect(validate(response, NAME, RRType.AAAA)).toMatchObject({
        status: 'secure-denial',
        kind: 'nodata',
      });
    });

    it('uses NXNAME (RFC 9824) outside the digit tree', () => {
      const name = 'www.' + APEX;
      const response = ask(name, RRType.A);
      expect(response.rcode).toBe(Rcode.NOERROR);
      const nsec = response.authorities.find((rr) => rr.type === RRType.NSEC) as NsecRecord;
      expect(nsec.data.types).toEqual([RRType.RRSIG, RRType.NSEC, RRType.NXNAME]);
      expect(nsec.data.nextDomainName.toLowerCase()).toBe(`\\000.${name}`);
      expect(validate(response, name, RRType.A)).toMatchObject({
        status: 'secure-denial',
        kind: 'nxdomain',
      });
      // Without DO there is nothing to prove it with, so the classic rcode is used.
      expect(ask(name, RRType.A, { dnssec: false }).rcode).toBe(Rcode.NXDOMAIN);
      // RFC 9824 section 4: a querier that sets CO gets NXDOMAIN with the proof, and CO back.
      const co = query(name, RRType.A);
      const withCo = decodeMessage(
        encodeMessage(
          answerQuery(zone, signer, { ...co, edns: { ...co.edns!, zFlags: EdnsFlag.CO } }, NOW)
            .message,
        ),
      );
      expect(withCo.rcode).toBe(Rcode.NXDOMAIN);
      expect(withCo.edns?.zFlags).toBe(EdnsFlag.CO);
      expect(validate(withCo, name, RRType.A)).toMatchObject({ status: 'secure-denial' });
    });

    it('serves SOA, NS and DNSKEY at the apex, signed', () => {
      for (const type of [RRType.SOA, RRType.NS, RRType.DNSKEY]) {
        const response = ask(APEX, type);
        expect(response.answers.some((rr) => rr.type === type)).toBe(true);
        expect(validate(response, APEX, type).status).toBe('secure');
      }
    });

    it('refuses names outside the zone and other classes, BADVERS for EDNS 1, NOTIMP for UPDATE', () => {
      expect(ask('example.com.', RRType.A).rcode).toBe(Rcode.REFUSED);
      expect(ask('example.com.', RRType.A).aa).toBe(false);
      expect(ask(NAME, RRType.TXT, { cls: RRClass.CH }).rcode).toBe(Rcode.REFUSED);
      const v1 = query(NAME, RRType.NAPTR);
      const badvers = answerQuery(
        zone,
        signer,
        { ...v1, edns: { ...v1.edns!, version: 1 } },
        NOW,
      ).message;
      expect(badvers.rcode).toBe(Rcode.BADVERS);
      expect(
        answerQuery(zone, signer, query(NAME, RRType.NAPTR, { opcode: Opcode.UPDATE }), NOW).message
          .rcode,
      ).toBe(Rcode.NOTIMP);
    });

    it('omits RRSIG and NSEC without the DO bit', () => {
      const response = ask(NAME, RRType.NAPTR, { dnssec: false });
      expect(response.answers.every((rr) => rr.type === RRType.NAPTR)).toBe(true);
      const denial = ask(enumNameFor('+14155552671', APEX), RRType.NAPTR, { dnssec: false });
      expect(denial.authorities.map((rr) => rr.type)).toEqual([RRType.SOA]);
    });
  },
);

describe('signature cache', () => {
  it('signs a hot name once, and again only after the zone changed it', () => {
    const key = generateSigningKey(DnssecAlgorithm.ECDSAP256SHA256, { flags: 257 });
    const settings = defaultZoneSettings(APEX);
    const signer = new OnlineSigner(key, APEX);
    const zone = buildZone(
      settings,
      1,
      [entry(NUMBER, 'acme-telecom', 1), entry('+14155552671', 'acme-telecom', 1)],
      [key.dnskey],
    );
    answerQuery(zone, signer, query(NAME, RRType.NAPTR), NOW);
    const after = signer.signatures;
    for (let i = 0; i < 50; i += 1) answerQuery(zone, signer, query(NAME, RRType.NAPTR), NOW + i);
    expect(signer.signatures).toBe(after);
    // A new snapshot where only the other number changed keeps this name's signature.
    const next = updateZone(
      zone,
      2,
      [NUMBER, '+14155552671'] as E164Number[],
      [entry('+14155552671', 'acme-telecom', 2)],
      [key.dnskey],
    );
    answerQuery(next, signer, query(NAME, RRType.NAPTR), NOW);
    expect(signer.signatures).toBe(after);
    // Close to expiry it is re-signed.
    answerQuery(next, signer, query(NAME, RRType.NAPTR), NOW + 6 * 86_400);
    expect(signer.signatures).toBe(after + 1);
  });
});
