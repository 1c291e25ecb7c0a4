// Whole-zone signing with an NSEC3 chain (RFC 5155 7.1, RFC 4035 2), for zone export.
import { Buffer } from 'node:buffer';
import {
  RRClass,
  RRType,
  canonicalRdata,
  compareLabelSequences,
  encodeName,
  labelsToName,
  lowerLabels,
  nameToLabels,
  normalizeName,
  base32hexEncode,
  rdataCodec,
} from '@switchboard/dns-wire';
import type { DomainName, RecordOf, ResourceRecord } from '@switchboard/dns-wire';
import { DnskeyFlag } from './constants.js';
import type { SigningKey, ZoneSignOptions } from './constants.js';
import { DnssecError } from './errors.js';
import { nsec3HashWire } from './nsec3.js';
import { compareUint8, signBytes, toSerialTime } from './sign.js';

const STRIPPED: ReadonlySet<number> = new Set([
  RRType.RRSIG,
  RRType.NSEC,
  RRType.NSEC3,
  RRType.NSEC3PARAM,
]);

interface Node {
  readonly name: DomainName;
  readonly labels: Uint8Array[];
  readonly wire: Uint8Array;
  readonly rrsets: Map<number, ResourceRecord[]>;
}

/** A map key for lowercased labels (one char per octet; U+0100 cannot occur in it). */
function keyOf(labels: readonly Uint8Array[]): string {
  let key = '';
  for (const l of labels) key += String.fromCharCode(...l) + '\u0100';
  return key;
}

/**
 * Signs a zone for export: adds DNSKEY (for the given keys), NSEC3PARAM, the NSEC3 chain (no
 * opt-out; empty non-terminals included) and an RRSIG for every authoritative RRset. SEP keys
 * (flags 257) sign the DNSKEY RRset, the other keys everything else; with only one kind, it
 * signs everything. Existing RRSIG/NSEC/NSEC3/NSEC3PARAM records are replaced. The output has
 * the zone's names in canonical order (each RRset followed by its RRSIGs), then the NSEC3 chain
 * in hash order.
 */
export function signZoneNsec3(
  records: readonly ResourceRecord[],
  keys: readonly SigningKey[],
  options: ZoneSignOptions,
): ResourceRecord[] {
  return buildSignedZone(records, keys, options, signBytes);
}

/** Signs one prepared signed-data buffer; the parallel signer defers the work to workers. */
export type SignatureSource = (key: SigningKey, signedData: Uint8Array) => Uint8Array;

/** The whole zone-signing pipeline with the signature step injected. */
export function buildSignedZone(
  records: readonly ResourceRecord[],
  keys: readonly SigningKey[],
  options: ZoneSignOptions,
  signature: SignatureSource,
): ResourceRecord[] {
  if (keys.length === 0) throw new DnssecError('bad-option', 'no signing keys');
  const origin = normalizeName(options.origin);
  const originLabels = lowerLabels(nameToLabels(origin));
  const salt = options.salt ?? new Uint8Array(0);
  const iterations = options.iterations ?? 0;
  if (salt.length > 255) throw new DnssecError('bad-option', 'NSEC3 salt longer than 255 octets');
  if (!Number.isInteger(iterations) || iterations < 0 || iterations > 2500)
    throw new DnssecError('bad-option', 'NSEC3 iterations out of range');
  const inception = toSerialTime(options.inception);
  const expiration = toSerialTime(options.expiration);
  if (options.expiration.getTime() <= options.inception.getTime())
    throw new DnssecError('bad-option', 'expiration must be after inception');

  const nodes = new Map<string, Node>();
  const nodeFor = (labels: Uint8Array[], name: DomainName): Node => {
    const lower = lowerLabels(labels);
    const k = keyOf(lower);
    let n = nodes.get(k);
    if (!n) {
      const wireLen = lower.reduce((a, l) => a + l.length + 1, 1);
      const wire = new Uint8Array(wireLen);
      let p = 0;
      for (const l of lower) {
        wire[p++] = l.length;
        wire.set(l, p);
        p += l.length;
      }
      n = { name, labels: lower, wire, rrsets: new Map() };
      nodes.set(k, n);
    }
    return n;
  };
  const isUnderOrigin = (labels: readonly Uint8Array[]): boolean => {
    if (labels.length < originLabels.length) return false;
    for (let i = 1; i <= originLabels.length; i++)
      if (
        compareUint8(
          labels[labels.length - i] as Uint8Array,
          originLabels[originLabels.length - i] as Uint8Array,
        ) !== 0
      )
        return false;
    return true;
  };

  for (const rr of records) {
    if (STRIPPED.has(rr.type)) continue;
    if (rr.class !== RRClass.IN)
      throw new DnssecError('bad-zone', 'only class IN zones can be signed');
    const labels = nameToLabels(rr.name);
    if (!isUnderOrigin(lowerLabels(labels)))
      throw new DnssecError('bad-zone', 'record outside the zone origin');
    const node = nodeFor(labels, normalizeName(rr.name));
    const set = node.rrsets.get(rr.type);
    if (set) set.push(rr);
    else node.rrsets.set(rr.type, [rr]);
  }
  const apex = nodes.get(keyOf(originLabels));
  const soa = apex?.rrsets.get(RRType.SOA)?.[0];
  if (!apex || !soa || soa.type !== RRType.SOA || 'raw' in soa.data)
    throw new DnssecError('bad-zone', 'the zone has no SOA at its origin');
  const soaData = soa.data as RecordOf<typeof RRType.SOA>['data'];
  const nsec3Ttl = options.nsec3Ttl ?? Math.min(soa.ttl, soaData.minimum);
  const dnskeyTtl = options.dnskeyTtl ?? soa.ttl;

  // DNSKEY RRset: keep existing ones, add ours.
  const dnskeys = (apex.rrsets.get(RRType.DNSKEY) ?? []) as ResourceRecord[];
  const dnskeyCodec = rdataCodec(RRType.DNSKEY);
  const present = new Set(dnskeys.map((r) => Buffer.from(canonicalRdata(r)).toString('hex')));
  for (const k of keys) {
    const hex = Buffer.from(dnskeyCodec.encode(k.dnskey)).toString('hex');
    if (present.has(hex)) continue;
    present.add(hex);
    dnskeys.push({
      name: origin,
      type: RRType.DNSKEY,
      class: RRClass.IN,
      ttl: dnskeyTtl,
      data: k.dnskey,
    });
  }
  apex.rrsets.set(RRType.DNSKEY, dnskeys);
  apex.rrsets.set(RRType.NSEC3PARAM, [
    {
      name: origin,
      type: RRType.NSEC3PARAM,
      class: RRClass.IN,
      ttl: nsec3Ttl,
      data: { hashAlgorithm: 1, flags: 0, iterations, salt },
    },
  ]);

  // Zone cuts: NS below the apex. Names strictly below a cut are glue (unsigned, no NSEC3).
  const cuts: Uint8Array[][] = [];
  for (const n of nodes.values()) if (n !== apex && n.rrsets.has(RRType.NS)) cuts.push(n.labels);
  const below = (labels: readonly Uint8Array[], cut: readonly Uint8Array[]): boolean =>
    labels.length > cut.length &&
    cut.every(
      (l, i) => compareUint8(l, labels[labels.length - cut.length + i] as Uint8Array) === 0,
    );
  const isGlue = (n: Node): boolean => cuts.some((c) => below(n.labels, c));
  const isCut = (n: Node): boolean => n !== apex && n.rrsets.has(RRType.NS);

  // Empty non-terminals between each authoritative name and the apex.
  const authoritative = [...nodes.values()].filter((n) => !isGlue(n));
  const nsec3Names = new Map<string, Node>();
  for (const n of authoritative) {
    nsec3Names.set(keyOf(n.labels), n);
    for (let i = 1; n.labels.length - i > originLabels.length; i++) {
      const anc = n.labels.slice(i);
      const k = keyOf(anc);
      // Seen before: its ancestors were added then too.
      if (nsec3Names.has(k)) break;
      nsec3Names.set(k, nodes.get(k) ?? nodeFor(anc, labelsToName(anc)));
    }
  }

  // RFC 4035 2.2: every algorithm in the DNSKEY RRset signs every RRset. Within an algorithm,
  // SEP keys sign the DNSKEY RRset and the others the rest (a lone kind signs everything).
  const ksks: SigningKey[] = [];
  const zsks: SigningKey[] = [];
  for (const alg of new Set(keys.map((k) => k.algorithm))) {
    const same = keys.filter((k) => k.algorithm === alg);
    const sep = same.filter((k) => (k.flags & DnskeyFlag.SEP) !== 0);
    const zone = same.filter((k) => (k.flags & DnskeyFlag.SEP) === 0);
    ksks.push(...(sep.length ? sep : zone));
    zsks.push(...(zone.length ? zone : sep));
  }
  const signerName = labelsToName(originLabels);
  const signerWire = encodeName(signerName);

  const signedTypes = (n: Node): number[] => {
    if (isCut(n)) return n.rrsets.has(RRType.DS) ? [RRType.DS] : [];
    return [...n.rrsets.keys()];
  };

  const out: ResourceRecord[] = [];
  // One buffer per signature: RRSIG rdata prefix (RFC 4034 3.1.8.1) + the canonical RRset,
  // which is built once per RRset and shared by every key.
  const sign = (n: Node, type: number, rrset: readonly ResourceRecord[]): void => {
    const first = rrset[0] as ResourceRecord;
    const signers = type === RRType.DNSKEY ? ksks : zsks;
    const firstLabel = n.labels[0];
    const wildcard = firstLabel !== undefined && firstLabel.length === 1 && firstLabel[0] === 0x2a;
    const labels = n.labels.length - (wildcard ? 1 : 0);
    const rdatas = rrset.map((r) => canonicalRdata(r)).sort(compareUint8);
    let bodyLen = 0;
    let prev: Uint8Array | undefined;
    const unique: Uint8Array[] = [];
    for (const rd of rdatas) {
      if (prev && compareUint8(prev, rd) === 0) continue;
      prev = rd;
      unique.push(rd);
      bodyLen += n.wire.length + 10 + rd.length;
    }
    const prefixLen = 18 + signerWire.length;
    const signed = new Uint8Array(prefixLen + bodyLen);
    const dv = new DataView(signed.buffer);
    dv.setUint16(0, type);
    dv.setUint8(3, labels);
    dv.setUint32(4, first.ttl);
    dv.setUint32(8, expiration);
    dv.setUint32(12, inception);
    signed.set(signerWire, 18);
    let o = prefixLen;
    for (const rd of unique) {
      signed.set(n.wire, o);
      o += n.wire.length;
      dv.setUint16(o, type);
      dv.setUint16(o + 2, RRClass.IN);
      dv.setUint32(o + 4, first.ttl);
      dv.setUint16(o + 8, rd.length);
      signed.set(rd, o + 10);
      o += 10 + rd.length;
    }
    for (const key of signers) {
      dv.setUint8(2, key.algorithm);
      dv.setUint16(16, key.keyTag);
      out.push({
        name: first.name,
        type: RRType.RRSIG,
        class: RRClass.IN,
        ttl: first.ttl,
        data: {
          typeCovered: type,
          algorithm: key.algorithm,
          labels,
          originalTtl: first.ttl,
          expiration,
          inception,
          keyTag: key.keyTag,
          signerName,
          signature: signature(key, signed),
        },
      });
    }
  };

  // NSEC3 chain.
  const hashed = [...nsec3Names.values()].map((n) => ({
    node: n,
    hash: nsec3HashWire(n.wire, salt, iterations),
  }));
  hashed.sort((a, b) => compareUint8(a.hash, b.hash));
  for (let i = 1; i < hashed.length; i++)
    if (
      compareUint8(
        (hashed[i - 1] as { hash: Uint8Array }).hash,
        (hashed[i] as { hash: Uint8Array }).hash,
      ) === 0
    )
      throw new DnssecError('bad-zone', 'NSEC3 hash collision; choose another salt');
  const nsec3Records: ResourceRecord[] = [];
  for (let i = 0; i < hashed.length; i++) {
    const { node, hash } = hashed[i] as { node: Node; hash: Uint8Array };
    const next = (hashed[(i + 1) % hashed.length] as { hash: Uint8Array }).hash;
    let types: number[];
    if (isCut(node)) {
      types = [RRType.NS, ...(node.rrsets.has(RRType.DS) ? [RRType.DS, RRType.RRSIG] : [])];
    } else {
      types = [...node.rrsets.keys()];
      if (types.length > 0) types.push(RRType.RRSIG);
    }
    nsec3Records.push({
      name: `${base32hexEncode(hash)}.${signerName === '.' ? '' : signerName}`,
      type: RRType.NSEC3,
      class: RRClass.IN,
      ttl: nsec3Ttl,
      data: {
        hashAlgorithm: 1,
        flags: 0,
        iterations,
        salt,
        nextHashedOwner: next,
        types: types.sort((a, b) => a - b),
      },
    });
  }

  // Emit in canonical owner order: data, then signatures.
  const ordered = [...nodes.values()].sort((a, b) => compareLabelSequences(a.labels, b.labels));
  for (const n of ordered) {
    const glue = isGlue(n);
    const types = [...n.rrsets.keys()].sort((a, b) => a - b);
    const toSign = glue ? [] : signedTypes(n);
    for (const t of types) {
      const rrset = n.rrsets.get(t) as ResourceRecord[];
      out.push(...rrset);
      if (toSign.includes(t)) sign(n, t, rrset);
    }
  }
  for (const [i, rr] of nsec3Records.entries()) {
    out.push(rr);
    const label = new TextEncoder().encode(
      base32hexEncode((hashed[i] as { hash: Uint8Array }).hash),
    );
    const wire = new Uint8Array(1 + label.length + signerWire.length);
    wire[0] = label.length;
    wire.set(label, 1);
    wire.set(signerWire, 1 + label.length);
    sign(
      { name: rr.name, labels: [label, ...originLabels], wire, rrsets: new Map() },
      RRType.NSEC3,
      [rr],
    );
  }
  return out;
}
