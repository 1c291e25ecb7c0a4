// RFC 4034 6.3: canonical RR ordering within an RRset.
import { canonicalRdata } from './message.js';
import { compareBytes } from '../values/name.js';
import type { ResourceRecord } from '../types.js';

/**
 * The RRset in canonical order (by canonical rdata octets), with duplicate rdata removed
 * (RFC 4034 6.3). Owner, class and TTL are taken as they are.
 */
export function canonicalRrset(rrset: readonly ResourceRecord[]): ResourceRecord[] {
  const keyed = rrset.map((rr) => ({ rr, key: canonicalRdata(rr) }));
  keyed.sort((a, b) => compareBytes(a.key, b.key));
  const out: ResourceRecord[] = [];
  let prev: Uint8Array | undefined;
  for (const k of keyed) {
    if (prev && compareBytes(prev, k.key) === 0) continue;
    out.push(k.rr);
    prev = k.key;
  }
  return out;
}
