// Responses captured from BIND 9.18 serving a zone signed by dnssec-signzone with NSEC3
// (packages/dns-wire/test/fixtures/capture.py), validated from the captured DS.
import { readFileSync } from 'node:fs';
import { RRType, decodeMessage, isRecordType, parseRecord } from '@switchboard/dns-wire';
import type { Message } from '@switchboard/dns-wire';
import { validateResponse } from '../src/index.js';
import type { TrustAnchor, ValidationResult } from '../src/index.js';

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

const dsRecord = parseRecord(meta.ds);
if (!isRecordType(dsRecord, RRType.DS)) throw new Error('fixture DS');
const anchor: TrustAnchor = { zone: meta.zone, ds: [dsRecord.data] };
const dnskeyRrset = load('bind-dnskey.response.hex').answers;
const NOW = new Date(meta.capturedAt * 1000);
const NUMBER = `7.6.5.4.3.2.1.5.5.5.1.${meta.zone}`;

function validate(file: string, qname: string, qtype: number, now = NOW): ValidationResult {
  return validateResponse({
    trustAnchor: anchor,
    dnskeyRrset,
    response: load(file),
    qname,
    qtype,
    now,
  });
}

describe('validating real BIND responses', () => {
  it('NAPTR answer is secure', () => {
    const r = validate('bind-naptr-dnssec.response.hex', NUMBER, RRType.NAPTR);
    expect(r.status).toBe('secure');
    if (r.status === 'secure') expect(r.rrset).toHaveLength(2);
  });

  it('NXDOMAIN is proven by the NSEC3 closest encloser proof', () => {
    const qname = `9.9.9.9.5.5.5.1.${meta.zone}`;
    expect(validate('bind-nxdomain-nsec3.response.hex', qname, RRType.NAPTR)).toMatchObject({
      status: 'secure-denial',
      kind: 'nxdomain',
      proof: { method: 'nsec3', closestEncloser: `5.5.5.1.${meta.zone}` },
    });
  });

  it('NODATA is proven by the matching NSEC3', () => {
    expect(validate('bind-nodata-nsec3.response.hex', NUMBER, RRType.AAAA)).toMatchObject({
      status: 'secure-denial',
      kind: 'nodata',
      proof: { method: 'nsec3' },
    });
  });

  it('a wildcard-expanded answer is secure with its NSEC3 next-closer proof', () => {
    expect(validate('bind-wildcard.response.hex', `x.wild.${meta.zone}`, RRType.A)).toMatchObject({
      status: 'secure',
      wildcard: `*.wild.${meta.zone}`,
    });
  });

  it('the same responses are bogus 40 days later, or with a proof record removed', () => {
    const later = new Date(NOW.getTime() + 40 * 86400_000);
    expect(validate('bind-naptr-dnssec.response.hex', NUMBER, RRType.NAPTR, later)).toMatchObject({
      status: 'bogus',
      reason: 'signature-expired',
    });
    const nx = load('bind-nxdomain-nsec3.response.hex');
    const qname = `9.9.9.9.5.5.5.1.${meta.zone}`;
    const reasons = new Set<string>();
    // Drop each NSEC3 in turn: every one of them is needed for the proof.
    for (const drop of nx.authorities.filter((r) => r.type === RRType.NSEC3)) {
      const r = validateResponse({
        trustAnchor: anchor,
        dnskeyRrset,
        response: { ...nx, authorities: nx.authorities.filter((x) => x !== drop) },
        qname,
        qtype: RRType.NAPTR,
        now: NOW,
      });
      expect(r.status).toBe('bogus');
      if (r.status === 'bogus') reasons.add(r.reason);
    }
    expect([...reasons].sort()).toEqual(
      [
        'denial-does-not-cover-name',
        'denial-wildcard-not-covered',
        'nsec3-closest-encloser-missing',
      ].sort(),
    );
    const wildcard = load('bind-wildcard.response.hex');
    const stripped = { ...wildcard, authorities: [] };
    expect(
      validateResponse({
        trustAnchor: anchor,
        dnskeyRrset,
        response: stripped,
        qname: `x.wild.${meta.zone}`,
        qtype: RRType.A,
        now: NOW,
      }),
    ).toMatchObject({ status: 'bogus', reason: 'wildcard-proof-missing' });
  });
});
