import { RRType, Rcode, decodeMessage, encodeMessage } from '@switchboard/dns-wire';
import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import {
  compactDenialNsec,
  dsFromDnskey,
  generateSigningKey,
  nodeDnssecCrypto,
  signRrset,
} from '@switchboard/dnssec';
import type { DirectoryEntry } from '@switchboard/charter/verify';
import { enumNameFor } from '@switchboard/e164';
import { readEntry, readZoneKeys } from '../src/index.js';
import type { DnsTransport } from '../src/index.js';

// readEntry over a small zone signed here with @switchboard/dnssec (a TXT record for one number,
// compact denial for everything else), answered the way the directory answers, then tampered
// with. The same reading against the real directory runs in the client SDK's lookup tests.

const APEX = 'e164.switchboard.test.';
const NUMBER = '+442079460958';
const NAME = enumNameFor(NUMBER, APEX);
const now = new Date();
const signing = {
  signer: APEX,
  inception: new Date(now.getTime() - 3_600_000),
  expiration: new Date(now.getTime() + 86_400_000),
};
const key = generateSigningKey(13, { flags: 257 });
const dnskey: ResourceRecord = {
  name: APEX,
  type: RRType.DNSKEY,
  class: 1,
  ttl: 3600,
  data: key.dnskey,
};
const txt: ResourceRecord = {
  name: NAME,
  type: RRType.TXT,
  class: 1,
  ttl: 60,
  data: { texts: [new TextEncoder().encode('v=sbkey1;k=AA;p=acme')] },
};
const signed = (rrset: ResourceRecord[]): ResourceRecord[] => [
  ...rrset,
  signRrset(rrset, key, signing),
];

/** The zone's answer to a query: the RRset with its RRSIG, or a signed compact denial. */
function answer(q: Message, change: (m: Message) => Message = (m) => m): Uint8Array {
  const { name, type } = q.questions[0]!;
  const base = { ...q, qr: true, aa: true, edns: undefined, rcode: Rcode.NOERROR };
  let m: Message;
  if (name === APEX && type === RRType.DNSKEY) m = { ...base, answers: signed([dnskey]) };
  else if (name === NAME && type === RRType.TXT) m = { ...base, answers: signed([txt]) };
  else {
    const types = name === NAME ? [RRType.TXT] : 'nxdomain';
    const nsec = compactDenialNsec(name, types, { ttl: 60 });
    m = { ...base, authorities: signed([nsec]) };
  }
  return encodeMessage(change(m));
}

const zone = (change?: (m: Message) => Message): DnsTransport => ({
  exchange: (_server, bytes) => Promise.resolve(answer(decodeMessage(bytes), change)),
});

const ds = dsFromDnskey(APEX, key.dnskey, 2);
const dir = (digest = Buffer.from(ds.digest).toString('hex')): DirectoryEntry => ({
  id: 'dir-test',
  operator: 'Test directory',
  apex: APEX,
  trustAnchors: [{ type: 'DS', keyTag: ds.keyTag, algorithm: 13, digestType: 2, digest }],
  nameservers: ['192.0.2.1:53'],
  publishEndpoint: 'https://directory.example',
  status: 'active',
});

const options = (dns: DnsTransport) => ({ dns, crypto: nodeDnssecCrypto, now });

describe('readEntry', () => {
  it('returns each asked RRset validated from the anchor, in the order asked', async () => {
    const r = await readEntry(dir(), NUMBER, [RRType.TXT], options(zone()));
    expect(r).toMatchObject({ status: 'secure', apex: APEX, name: NAME });
    if (r.status !== 'secure') return;
    expect(r.rrsets).toHaveLength(1);
    expect(r.rrsets[0]).toEqual([txt]);
  });

  it('stops at the first type the zone proves absent', async () => {
    const r = await readEntry(dir(), NUMBER, [RRType.NAPTR, RRType.TXT], options(zone()));
    expect(r).toEqual({ status: 'denied', apex: APEX, name: NAME, qtype: RRType.NAPTR });
  });

  it('says which part failed: the zone keys under another anchor, a changed record', async () => {
    const wrong = await readEntry(dir('ab'.repeat(32)), NUMBER, [RRType.TXT], options(zone()));
    expect(wrong).toEqual({ status: 'bogus', part: 'zone keys', reason: 'ds-mismatch' });
    const forged = zone((m) =>
      m.questions[0]?.type === RRType.TXT
        ? {
            ...m,
            answers: m.answers.map((rr) =>
              rr.type === RRType.TXT
                ? { ...txt, data: { texts: [new TextEncoder().encode('v=sbkey1;k=BB;p=acme')] } }
                : rr,
            ),
          }
        : m,
    );
    const r = await readEntry(dir(), NUMBER, [RRType.TXT], options(forged));
    expect(r).toEqual({ status: 'bogus', part: RRType.TXT, reason: 'signature-invalid' });
  });

  it('refuses answers whose signatures were stripped, whatever the AD bit says', async () => {
    const stripped = zone((m) => ({
      ...m,
      ad: true,
      answers: m.answers.filter((rr) => rr.type !== RRType.RRSIG),
    }));
    const keys = await readZoneKeys(dir(), options(stripped));
    expect(keys.status).toBe('bogus');
  });
});
