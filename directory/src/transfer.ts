import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import { encodeMessage, formatRecord, RRType } from '@switchboard/dns-wire';
import type { SigningKey } from '@switchboard/dnssec';
import { signZoneNsec3 } from '@switchboard/dnssec';
import type { OnlineSigner } from './signer.js';
import type { ZoneSnapshot } from './zone.js';

/** Every unsigned record of a snapshot, SOA first. */
export function unsignedRecords(zone: ZoneSnapshot): ResourceRecord[] {
  const apexNode = zone.nodes.get(zone.settings.apex);
  const out: ResourceRecord[] = [...(apexNode?.get(RRType.SOA) ?? [])];
  for (const [name, node] of zone.nodes) {
    for (const [type, rrset] of node) {
      if (name === zone.settings.apex && (type === RRType.SOA || type === RRType.DNSKEY)) continue;
      out.push(...rrset);
    }
  }
  return out;
}

/** The zone pre-signed with NSEC3 (RFC 9276: no salt, no extra iterations), SOA first. */
export interface SignedZone {
  readonly serial: number;
  readonly records: readonly ResourceRecord[];
  /** Seconds since the epoch when the earliest signature expires. */
  readonly expires: number;
}

/**
 * Signs a whole snapshot for transfer and export. The DNSKEY RRset is added by the signer.
 * NSEC3 hashes of a phone-number space can be brute-forced, so this form goes only to
 * secondaries and operators, never to the public (docs/directory-records.md).
 */
export function signZoneForExport(
  zone: ZoneSnapshot,
  key: SigningKey,
  signer: OnlineSigner,
  now: number,
): SignedZone {
  const { inception, expiration } = signer.validityWindow(now);
  const records = signZoneNsec3(unsignedRecords(zone), [key], {
    origin: zone.settings.apex,
    inception,
    expiration,
    dnskeyTtl: zone.settings.dnskeyTtl,
  });
  const soaFirst = [
    ...records.filter((r) => r.type === RRType.SOA),
    ...records.filter((r) => r.type !== RRType.SOA),
  ];
  return { serial: zone.serial, records: soaFirst, expires: expiration.getTime() / 1000 };
}

/** The zone file text of a signed zone (one record per line, presentation format). */
export function zoneFileText(zone: SignedZone, apex: string): string {
  const lines = [
    `; ${apex} serial ${zone.serial}, pre-signed with NSEC3 for export`,
    `$ORIGIN ${apex}`,
  ];
  for (const rr of zone.records) lines.push(formatRecord(rr));
  return `${lines.join('\n')}\n`;
}

/**
 * The records of an IXFR response (RFC 1995 section 4) condensed to one difference sequence:
 * new SOA, old SOA, records deleted, new SOA, records added, new SOA. Records are compared in
 * presentation form; every RRSIG that changed is part of the difference.
 */
export function ixfrRecords(from: SignedZone, to: SignedZone): ResourceRecord[] {
  const key = (rr: ResourceRecord): string => formatRecord(rr).toLowerCase();
  const body = (z: SignedZone): ResourceRecord[] => z.records.filter((r) => r.type !== RRType.SOA);
  const oldKeys = new Set(body(from).map(key));
  const newKeys = new Set(body(to).map(key));
  const oldSoa = from.records[0];
  const newSoa = to.records[0];
  if (!oldSoa || !newSoa) throw new Error('signed zone has no leading SOA');
  return [
    newSoa,
    oldSoa,
    ...body(from).filter((r) => !newKeys.has(key(r))),
    newSoa,
    ...body(to).filter((r) => !oldKeys.has(key(r))),
    newSoa,
  ];
}

/**
 * The messages of an AXFR response (RFC 5936 2.2): SOA, every record, SOA again, packed into
 * as few messages as fit `maxSize` octets (leaving room for a TSIG).
 */
export function axfrMessages(query: Message, zone: SignedZone, maxSize = 60_000): Message[] {
  const soa = zone.records[0];
  if (!soa || soa.type !== RRType.SOA) throw new Error('signed zone has no leading SOA');
  return transferMessages(query, [...zone.records, soa], maxSize);
}

/** Packs the records of a zone transfer into messages of at most `maxSize` octets. */
export function transferMessages(
  query: Message,
  all: readonly ResourceRecord[],
  maxSize = 60_000,
): Message[] {
  const messages: Message[] = [];
  const base: Message = {
    id: query.id,
    qr: true,
    opcode: query.opcode,
    aa: true,
    tc: false,
    rd: query.rd,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: query.questions,
    answers: [],
    authorities: [],
    additionals: [],
  };
  let batch: ResourceRecord[] = [];
  let size = 0;
  const flush = (): void => {
    messages.push({
      ...base,
      questions: messages.length === 0 ? query.questions : [],
      answers: batch,
    });
    batch = [];
    size = 0;
  };
  for (const rr of all) {
    // Uncompressed length bounds the compressed one, so a batch never overflows.
    const length =
      encodeMessage({ ...base, questions: [], answers: [rr] }, { compress: false }).length - 12;
    if (size + length > maxSize && batch.length > 0) flush();
    batch.push(rr);
    size += length;
  }
  if (batch.length > 0) flush();
  return messages;
}
