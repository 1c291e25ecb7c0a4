import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import {
  canonicalName,
  decodeMessage,
  EdnsFlag,
  encodeMessage,
  Rcode,
  RRType,
} from '@switchboard/dns-wire';
import { DnssecAlgorithm, generateSigningKey, validateResponse } from '@switchboard/dnssec';
import { enumNameFor } from '@switchboard/e164';
import fc from 'fast-check';
import { answerQuery } from '../src/dns/answer.js';
import { fastIdentity, fastInfo, fastReply } from '../src/dns/fast-path.js';
import { processPacket } from '../src/dns/server.js';
import { OnlineSigner } from '../src/zone/signer.js';
import { buildZone, defaultZoneSettings, nodeAt } from '../src/zone/zone.js';
import { entry, query } from './helpers.js';

const APEX = 'e164.switchboard.test.';
const NOW = 1_790_000_000;
const PUBLISHED = '+442079460958';
const OTHER = '+14155550100';

/** A record with its names lowercased, for comparing replies that differ only in name case. */
function canonicalRecord(rr: ResourceRecord): unknown {
  const data = rr.data as unknown as Record<string, unknown>;
  const names: Record<string, unknown> = {};
  // Names in rdata may be compressed against the question, whose case the reply keeps.
  for (const k of ['nextDomainName', 'signerName', 'mname', 'rname', 'target', 'replacement']) {
    if (typeof data[k] === 'string') names[k] = canonicalName(data[k] as string);
  }
  return { ...rr, name: canonicalName(rr.name), data: { ...data, ...names } };
}

function comparable(m: Message): unknown {
  return {
    ...m,
    questions: m.questions,
    answers: m.answers.map(canonicalRecord),
    authorities: m.authorities.map(canonicalRecord),
    additionals: m.additionals.map(canonicalRecord),
  };
}

describe.each([DnssecAlgorithm.ECDSAP256SHA256, DnssecAlgorithm.ED25519])(
  'fast paths (algorithm %i)',
  (alg) => {
    const key = generateSigningKey(alg, { flags: 257 });
    const zone = buildZone(
      defaultZoneSettings(APEX),
      7,
      [entry(PUBLISHED), entry(OTHER)],
      [key.dnskey],
    );
    const signer = new OnlineSigner(key, APEX);
    const general = (packet: Uint8Array): Message => {
      const q = decodeMessage(packet);
      const message = answerQuery(zone, signer, q, NOW).message;
      return decodeMessage(encodeMessage(message));
    };
    const dnskeyRrset = answerQuery(zone, signer, query(APEX, RRType.DNSKEY), NOW).message.answers;

    // Query names the fast path takes: unpublished numbers, ENT prefixes, non-digit names, any
    // case; and options it must mirror: DO, CO, no EDNS, small payloads, RD/CD, odd types.
    const label = fc.oneof(
      fc.constantFrom(...'0123456789'),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
    );
    const randomCase = (text: string): fc.Arbitrary<string> =>
      fc
        .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
        .map((up) => [...text].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
    const names = fc.oneof(
      fc.array(label, { minLength: 1, maxLength: 16 }).map((ls) => ls.join('.') + '.' + APEX),
      fc
        .array(fc.constantFrom(...'0123456789'), { minLength: 1, maxLength: 15 })
        .map((ds) => ds.join('.') + '.' + APEX),
      fc
        .constantFrom(enumNameFor(PUBLISHED, APEX), enumNameFor(OTHER, APEX), APEX)
        .chain(randomCase),
    );
    const options = fc.record({
      edns: fc.boolean(),
      dnssec: fc.boolean(),
      co: fc.boolean(),
      payload: fc.constantFrom(512, 1232, 4096, 100),
      rd: fc.boolean(),
      cd: fc.boolean(),
      type: fc.constantFrom(
        RRType.NAPTR,
        RRType.TXT,
        RRType.A,
        RRType.ANY,
        RRType.NSEC,
        RRType.NXNAME,
        RRType.SOA,
        RRType.DNSKEY,
        RRType.NS,
        65280,
      ),
      id: fc.integer({ min: 0, max: 0xffff }),
    });

    it('answers every query it takes exactly as the general path does (but for name case)', () => {
      const taken = { answer: 0, nodata: 0, nxname: 0 };
      fc.assert(
        fc.property(names, options, (name, o) => {
          const q = query(name, o.type, {
            dnssec: o.dnssec,
            payload: o.payload,
            id: o.id,
            edns: o.edns,
          });
          const message: Message = {
            ...q,
            rd: o.rd,
            cd: o.cd,
            ...(q.edns ? { edns: { ...q.edns, zFlags: o.co ? EdnsFlag.CO : 0 } } : {}),
          };
          const packet = encodeMessage(message);
          const info = fastInfo();
          const fast = fastReply(packet, 'udp', zone, signer, NOW, info);
          const node = nodeAt(zone, canonicalName(name));
          const special = ([RRType.ANY, RRType.RRSIG] as number[]).includes(o.type);
          const longWay = o.type === RRType.NSEC || o.type === RRType.NXNAME;
          if ((node && (!node.has(o.type) || special)) || longWay) {
            expect(fast).toBeUndefined(); // NODATA, meta types, NSEC, NXNAME: the general path
            return;
          }
          const want = general(packet);
          if (!fast) {
            // Declined only when the reply may not fit the client's size (the general path
            // truncates); this path does not compress the SOA's names, so it is up to ~64
            // octets larger.
            const limit = o.edns ? Math.min(Math.max(o.payload, 512), 1232) : 512;
            expect(encodeMessage(want).length).toBeGreaterThan(limit - 64);
            return;
          }
          taken[info.kind] += 1;
          const got = decodeMessage(fast);
          // Denial signatures are made per reply (and ECDSA is randomised): compare them by
          // validating instead.
          const unsign = (rr: ResourceRecord): ResourceRecord =>
            rr.type === RRType.RRSIG
              ? ({
                  ...rr,
                  data: { ...rr.data, signature: new Uint8Array(0) },
                } as unknown as ResourceRecord)
              : rr;
          const strip = (m: Message): unknown =>
            comparable({
              ...m,
              answers: m.answers.map(unsign),
              authorities: m.authorities.map(unsign),
            });
          expect(strip(got)).toEqual(strip(want));
          expect(info.rcode).toBe(want.rcode);
          // The response rate limiting identity is the general path's too.
          const generalKind = answerQuery(zone, signer, decodeMessage(packet), NOW).kind;
          expect(info.kind).toBe(generalKind);
          expect(fastIdentity(packet, info, APEX)).toBe(
            generalKind === 'answer'
              ? `${canonicalName(name)}/${o.type}`
              : `${APEX}/${generalKind}/${want.rcode}`,
          );
          if (o.edns && o.dnssec) {
            const result = validateResponse({
              trustAnchor: { zone: APEX, dnskeys: [key.dnskey] },
              dnskeyRrset,
              response: got,
              qname: name,
              qtype: o.type,
              now: new Date(NOW * 1000),
            });
            expect(result.status).toBe(node ? 'secure' : 'secure-denial');
          }
        }),
        { numRuns: 300 },
      );
      // Each kind of reply was really produced here, not only declined.
      expect(Math.min(taken.answer, taken.nodata, taken.nxname)).toBeGreaterThan(10);
    });

    it('renews a kept answer when the signer renews its RRSIG, never serving one past it', () => {
      const policy = { validity: 7 * 86_400, backdate: 3600, refreshBefore: 3 * 86_400 };
      const own = new OnlineSigner(key, APEX, policy);
      const packet = encodeMessage(query(enumNameFor(PUBLISHED, APEX), RRType.NAPTR));
      const rrsigOf = (now: number): ResourceRecord => {
        const reply = fastReply(packet, 'udp', zone, own, now, fastInfo());
        return decodeMessage(reply!).answers.find((rr) => rr.type === RRType.RRSIG)!;
      };
      const first = rrsigOf(NOW);
      const data = first.data as { expiration: number };
      expect(rrsigOf(NOW + 3600)).toEqual(first); // kept
      const renewal = data.expiration - policy.refreshBefore;
      const renewed = rrsigOf(renewal);
      expect((renewed.data as { expiration: number }).expiration).toBeGreaterThan(data.expiration);
      expect(
        own.renewalTime(
          own.signHeld(nodeAt(zone, enumNameFor(PUBLISHED, APEX))!.get(RRType.NAPTR)!, renewal),
        ),
      ).toBeGreaterThan(renewal);
    });

    it('leaves to the general path what it does not handle', () => {
      const published = enumNameFor(PUBLISHED, APEX);
      const missing = enumNameFor('+14155552671', APEX);
      const declined: Message[] = [
        query(published, RRType.AAAA), // NODATA at a published number
        query(published, RRType.ANY),
        query(published, RRType.RRSIG),
        query(published, RRType.NSEC),
        query('example.org.', RRType.A), // outside: REFUSED
        query(missing, RRType.AXFR),
        query(missing, RRType.IXFR),
        query(missing, RRType.NAPTR, { cls: 3 }), // CHAOS
        query(missing, RRType.NAPTR, { opcode: 2 }), // STATUS: NOTIMP
        query('*.' + APEX, RRType.NAPTR), // wildcard label changes the RRSIG labels count
        { ...query(missing, RRType.NAPTR), qr: true }, // a response
        {
          ...query(missing, RRType.NAPTR),
          edns: { udpPayloadSize: 1232, version: 1, dnssecOk: true, options: [] },
        },
        { ...query(missing, RRType.NAPTR), questions: [] },
      ];
      for (const m of declined) {
        expect(fastReply(encodeMessage(m), 'udp', zone, signer, NOW, fastInfo())).toBeUndefined();
      }
      // A name with escapes (non-printing octets) and a compressed question also go the long way.
      const escaped = encodeMessage(query('a\\000b.' + APEX, RRType.A));
      expect(fastReply(escaped, 'udp', zone, signer, NOW, fastInfo())).toBeUndefined();
      const plain = encodeMessage(query(missing, RRType.NAPTR));
      expect(fastReply(plain, 'udp', zone, signer, NOW, fastInfo())).toBeDefined();
      // Trailing octets or a broken OPT: the general path answers FORMERR.
      const trailing = new Uint8Array([...plain, 0]);
      expect(fastReply(trailing, 'udp', zone, signer, NOW, fastInfo())).toBeUndefined();
      expect(decodeMessage(processOutcome(trailing)).rcode).toBe(Rcode.FORMERR);
      for (let cut = 1; cut < plain.length; cut++) {
        expect(
          fastReply(plain.subarray(0, cut), 'udp', zone, signer, NOW, fastInfo()),
        ).toBeUndefined();
      }
    });

    it('leaves replies larger than the client accepts to the general path, which truncates', () => {
      const long = Array.from({ length: 55 }, () => 'abc').join('.') + '.' + APEX;
      const packet = encodeMessage(query(long, RRType.A, { payload: 512 }));
      expect(fastReply(packet, 'udp', zone, signer, NOW, fastInfo())).toBeUndefined();
      expect(fastReply(packet, 'tcp', zone, signer, NOW, fastInfo())).toBeDefined();
      expect(decodeMessage(processOutcome(packet)).tc).toBe(true);
    });

    function processOutcome(packet: Uint8Array): Uint8Array {
      const outcome = processPacket(packet, 'udp', '127.0.0.1', {
        zone: { snapshot: zone, signer } as never,
        transfer: { tsigKeys: [], allowFrom: [] },
        now: () => NOW * 1000,
      });
      if (outcome.kind !== 'reply') throw new Error('dropped');
      return outcome.messages[0]!;
    }
  },
);
