// The octets an RRSIG signs (RFC 4034 3.1.8.1) and the pure helpers around them: no Node
// built-ins, shared by signing (node:crypto) and validation (any injected crypto).
import {
  canonicalName,
  canonicalRdata,
  encodeName,
  labelCount,
  nameLabels,
  rdataCodec,
  RRType,
} from '@switchboard/dns-wire';
import type { DomainName, ResourceRecord, RrsigData } from '@switchboard/dns-wire';
import { DnssecError } from './errors.js';

/** Seconds since the epoch modulo 2^32 (RFC 4034 3.1.5). */
export function toSerialTime(d: Date): number {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new DnssecError('bad-option', 'invalid date');
  return Math.floor(ms / 1000) >>> 0;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** RRSIG rdata without the signature, signer name canonical (RFC 4034 3.1.8.1). */
function rrsigPrefix(rrsig: RrsigData): Uint8Array {
  const full = rdataCodec(RRType.RRSIG).encode({
    ...rrsig,
    signerName: canonicalName(rrsig.signerName),
    signature: new Uint8Array(0),
  });
  return full;
}

/** The canonical owner used in the signed data: `*.` + the rightmost `labels` labels if expanded. */
function signedOwner(owner: DomainName, labels: number): Uint8Array {
  const all = nameLabels(owner);
  const count = labelCount(owner);
  let name = owner;
  if (labels < count) name = ['*', ...all.slice(all.length - labels)].join('.') + '.';
  return encodeName(canonicalName(name));
}

/**
 * The octets an RRSIG signs (RFC 4034 3.1.8.1): RRSIG rdata (minus signature) followed by the
 * RRset in canonical form and order, each with the original TTL.
 */
export function rrsigSignedData(rrsig: RrsigData, rrset: readonly ResourceRecord[]): Uint8Array {
  const first = rrset[0];
  if (!first) return rrsigPrefix(rrsig);
  const owner = signedOwner(first.name, rrsig.labels);
  const fixed = new Uint8Array(10);
  const dv = new DataView(fixed.buffer);
  dv.setUint16(0, first.type);
  dv.setUint16(2, first.class);
  dv.setUint32(4, rrsig.originalTtl);
  const rdatas = rrset.map((rr) => canonicalRdata(rr)).sort(compareUint8);
  const parts: Uint8Array[] = [rrsigPrefix(rrsig)];
  let prev: Uint8Array | undefined;
  for (const rd of rdatas) {
    if (prev && compareUint8(prev, rd) === 0) continue; // RFC 4034 6.3: duplicates removed
    prev = rd;
    const head = fixed.slice();
    new DataView(head.buffer).setUint16(8, rd.length);
    parts.push(owner, head, rd);
  }
  return concat(parts);
}

export function compareUint8(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
