// Whole-zone signing with an NSEC3 chain (RFC 5155 7.1, RFC 4035 2), for zone export.
//
// Names are handled as their canonical wire form held in a string (one char per octet, char
// codes 0..255): a map key, the NSEC3 hash input and the RRSIG owner at once, whose parent is
// `key.slice(1 + key.charCodeAt(0))`. Each RRset's signed data (RFC 4034 3.1.8.1) is built in
// one reused buffer and handed to a `SignatureSink`, which signs it there (`signZoneNsec3`) or
// copies it into a batch for a worker thread (`signZoneNsec3Parallel`).
import { Buffer } from 'node:buffer';
import { createHash, sign as cryptoSign } from 'node:crypto';
import type { SignKeyObjectInput } from 'node:crypto';
import {
  RRClass,
  RRType,
  canonicalRdata,
  lowerLabels,
  nameToLabels,
  normalizeName,
} from '@switchboard/dns-wire';
import type {
  DomainName,
  NaptrData,
  Nsec3Data,
  RecordOf,
  ResourceRecord,
  RrsigData,
  TxtData,
} from '@switchboard/dns-wire';
import { DnssecAlgorithm, DnskeyFlag } from '../core/constants.js';
import type { SigningKey, ZoneSignOptions } from '../core/constants.js';
import { DnssecError } from '../core/errors.js';
import { nsec3HashWire } from '../nsec3/nsec3.js';
import { compareUint8, toSerialTime } from './sign.js';

const STRIPPED: ReadonlySet<number> = new Set([
  RRType.RRSIG,
  RRType.NSEC,
  RRType.NSEC3,
  RRType.NSEC3PARAM,
]);

/** RRSIG rdata whose signature the sink fills in (now, or when a worker has made it). */
export type PendingRrsig = { -readonly [K in keyof RrsigData]: RrsigData[K] };

/**
 * Receives the signed data of one RRSIG (valid only during the call: the buffer is reused)
 * and sets `rrsig.signature`, at once or before the zone is handed out.
 */
export type SignatureSink = (
  key: SigningKey,
  signedData: Uint8Array,
  rrsig: PendingRrsig,
  /** Where the RRSIG record is in the output. */
  index: number,
) => void;

/** Placeholder until the sink sets the signature. */
const NO_SIGNATURE = new Uint8Array(0);

/** Names of printable ASCII without escapes: their wire form follows from the text alone. */
const PLAIN_NAME =
  /^(?:[\x21-\x2d\x2f-\x5b\x5d-\x7e]{1,63}\.)*[\x21-\x2d\x2f-\x5b\x5d-\x7e]{1,63}\.?$/;

/** The canonical (lowercased) wire form of a name as a string of octets. */
export function canonicalWireKey(name: DomainName): string {
  if (name === '.' || name === '') return '\0';
  const n = name.length;
  if (n <= 253 && PLAIN_NAME.test(name)) {
    let key = '';
    let start = 0;
    for (;;) {
      const dot = name.indexOf('.', start);
      const end = dot < 0 ? n : dot;
      if (end > start) key += String.fromCharCode(end - start) + name.slice(start, end);
      if (dot < 0 || dot === n - 1) break;
      start = dot + 1;
    }
    // Only A-Z change: length octets are below 64, label octets printable ASCII.
    return (key + '\0').toLowerCase();
  }
  let key = '';
  for (const label of lowerLabels(nameToLabels(name)))
    key += String.fromCharCode(label.length) + octetString(label);
  return key + '\0';
}

function octetString(b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[]);
}

/** Labels of a wire key (root: none), left to right. */
function wireLabels(key: string): string[] {
  const labels: string[] = [];
  for (let p = 0; ;) {
    const len = key.charCodeAt(p);
    if (len === 0 || Number.isNaN(len)) return labels;
    labels.push(key.slice(p + 1, p + 1 + len));
    p += 1 + len;
  }
}

/**
 * A string whose code-unit order is RFC 4034 6.1 canonical order: labels right to left, each
 * ended by U+0000. Octets 0 and 1 are escaped (as 1,1 and 1,2) so a label end sorts first.
 */
function canonicalSortKey(key: string): string {
  const labels = wireLabels(key);
  let out = '';
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = labels[i] as string;
    let low = false;
    for (let j = 0; j < label.length && !low; j++) low = label.charCodeAt(j) <= 1;
    out += (low ? escapeLow(label) : label) + '\0';
  }
  return out;
}

function escapeLow(label: string): string {
  let out = '';
  for (let j = 0; j < label.length; j++) {
    const c = label.charCodeAt(j);
    out += c === 0 ? '\x01\x01' : c === 1 ? '\x01\x02' : label[j];
  }
  return out;
}

/**
 * Wire octets of a key, in a buffer reused from call to call: valid until the next call (the
 * signing step copies it into the signed data, hashing reads it at once).
 */
const wireScratch = Buffer.alloc(256);
function wireOf(key: string): Uint8Array {
  return wireScratch.subarray(0, wireScratch.write(key, 0, 'latin1'));
}

function isUint8(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xff;
}

function isUint16(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffff;
}

/** True if every char is ASCII and the string fits a character-string (then octets = chars). */
function isShortAscii(text: string): boolean {
  if (text.length > 255) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Largest rdata (RDLENGTH is 16 bits). */
const MAX_RDATA = 0xffff;

/** Where `zoneRdata` encodes before copying out. */
const rdataScratch = new Uint8Array(MAX_RDATA);

/**
 * `canonicalRdata`, with the types an exported directory zone is mostly made of (NAPTR with
 * ASCII fields, TXT, NSEC3 with types below 256) encoded straight into one array; anything
 * else, or any value out of range, goes through the generic codec (which reports the errors).
 */
export function zoneRdata(rr: ResourceRecord): Uint8Array {
  const end = zoneRdataInto(rr, rdataScratch, 0);
  return end < 0 ? canonicalRdata(rr) : rdataScratch.slice(0, end);
}

/**
 * Encodes the canonical rdata of the common types into `out` at `o` (which has room for
 * MAX_RDATA octets there) and returns where it ends, or -1 when the generic codec must do it.
 */
function zoneRdataInto(rr: ResourceRecord, out: Uint8Array, o: number): number {
  if ('raw' in rr.data) return -1;
  if (rr.type === RRType.TXT) return txtRdata(rr.data as TxtData, out, o);
  if (rr.type === RRType.NAPTR) return naptrRdata(rr.data as NaptrData, out, o);
  if (rr.type === RRType.NSEC3) return nsec3Rdata(rr.data as Nsec3Data, out, o);
  return -1;
}

/** TXT rdata into `out` at `o`: its end, or -1 for the codec (no strings, or one too long). */
function txtRdata({ texts }: TxtData, out: Uint8Array, o: number): number {
  let length = 0;
  for (const t of texts) {
    if (t.length > 255) return -1;
    length += 1 + t.length;
  }
  if (texts.length === 0 || length > MAX_RDATA) return -1;
  for (const t of texts) {
    out[o] = t.length;
    out.set(t, o + 1);
    o += 1 + t.length;
  }
  return o;
}

/** NAPTR rdata into `out` at `o`: its end, or -1 for the codec (a field out of range or not ASCII). */
function naptrRdata(d: NaptrData, out: Uint8Array, o: number): number {
  if (
    !isUint16(d.order) ||
    !isUint16(d.preference) ||
    !isShortAscii(d.flags) ||
    !isShortAscii(d.services) ||
    !isShortAscii(d.regexp)
  )
    return -1;
  // RFC 4034 6.2: the replacement name is lowercased.
  const replacement = canonicalWireKey(d.replacement);
  out[o] = d.order >>> 8;
  out[o + 1] = d.order & 0xff;
  out[o + 2] = d.preference >>> 8;
  out[o + 3] = d.preference & 0xff;
  o += 4;
  o = charString(d.flags, out, o);
  o = charString(d.services, out, o);
  o = charString(d.regexp, out, o);
  for (let i = 0; i < replacement.length; i++) out[o++] = replacement.charCodeAt(i);
  return o;
}

/** An ASCII character-string (length octet, then the chars) into `out` at `o`; its end. */
function charString(text: string, out: Uint8Array, o: number): number {
  out[o++] = text.length;
  for (let i = 0; i < text.length; i++) out[o++] = text.charCodeAt(i);
  return o;
}

/** NSEC3 rdata into `out` at `o`: its end, or -1 for the codec (types from 256, a field out of range). */
function nsec3Rdata(d: Nsec3Data, out: Uint8Array, o: number): number {
  // Types below 256 only (one bitmap window); anything else through the codec.
  const { types } = d;
  let last = -1;
  for (let i = 0; i < types.length; i++) {
    const t = types[i] as number;
    if (!Number.isInteger(t) || t < 0 || t > 255) return -1;
    if (t >>> 3 > last) last = t >>> 3;
  }
  if (
    !isUint8(d.hashAlgorithm) ||
    !isUint8(d.flags) ||
    !isUint16(d.iterations) ||
    d.salt.length > 255 ||
    d.nextHashedOwner.length > 255
  )
    return -1;
  out[o] = d.hashAlgorithm;
  out[o + 1] = d.flags;
  out[o + 2] = d.iterations >>> 8;
  out[o + 3] = d.iterations & 0xff;
  out[o + 4] = d.salt.length;
  out.set(d.salt, o + 5);
  o += 5 + d.salt.length;
  out[o] = d.nextHashedOwner.length;
  out.set(d.nextHashedOwner, o + 1);
  o += 1 + d.nextHashedOwner.length;
  if (last < 0) return o;
  out[o] = 0; // window 0
  out[o + 1] = last + 1;
  // The bitmap straight into the output (which is reused: cleared first).
  const bitmap = o + 2;
  out.fill(0, bitmap, bitmap + last + 1);
  for (let i = 0; i < types.length; i++) {
    const t = types[i] as number;
    out[bitmap + (t >>> 3)] = (out[bitmap + (t >>> 3)] as number) | (0x80 >>> (t & 7));
  }
  return bitmap + last + 1;
}

interface Node {
  readonly key: string;
  readonly labels: number;
  /** Types present, and their RRsets (same index); few per node, so arrays beat a Map. */
  readonly types: number[];
  readonly sets: ResourceRecord[][];
  glue: boolean;
}

function rrsetOf(node: Node, type: number): ResourceRecord[] | undefined {
  const i = node.types.indexOf(type);
  return i < 0 ? undefined : node.sets[i];
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
  return buildSignedZone(records, keys, options, directSink());
}

/** A sink that signs on the calling thread, with one options object per key. */
export function directSink(): SignatureSink {
  const inputs = new Map<SigningKey, SignKeyObjectInput>();
  return (key, data, rrsig) => {
    let input = inputs.get(key);
    if (!input) {
      input = { key: key.privateKey, dsaEncoding: 'ieee-p1363' };
      inputs.set(key, input);
    }
    const sig = cryptoSign(
      key.algorithm === DnssecAlgorithm.ECDSAP256SHA256 ? 'sha256' : null,
      data,
      input,
    );
    rrsig.signature = new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
  };
}

/** Where the signed zone goes, record by record in output order. */
export interface SignedZoneOutput {
  /** Takes the next record; returns where it went (what the sink gets as `index` for an RRSIG). */
  add(rr: ResourceRecord): number;
}

/** The output as an array of records (`index` is the position in it). */
export function recordArrayOutput(): SignedZoneOutput & { readonly records: ResourceRecord[] } {
  const records: ResourceRecord[] = [];
  return { records, add: (rr) => records.push(rr) - 1 };
}

/** The whole zone-signing pipeline with the signature step injected. */
export function buildSignedZone(
  records: readonly ResourceRecord[],
  keys: readonly SigningKey[],
  options: ZoneSignOptions,
  sink: SignatureSink,
): ResourceRecord[] {
  const output = recordArrayOutput();
  for (const _ of buildSignedZoneSteps(records, keys, options, sink, output));
  return output.records;
}

/** RRsets emitted between two steps of `buildSignedZoneSteps`. */
const STEP_RRSETS = 2048;

/**
 * The pipeline as a generator that pauses every few thousand RRsets (after the set-up, which
 * runs at the first step), so an asynchronous caller can let signatures arrive and write out
 * finished output meanwhile.
 */
export function* buildSignedZoneSteps(
  records: readonly ResourceRecord[],
  keys: readonly SigningKey[],
  options: ZoneSignOptions,
  sink: SignatureSink,
  output: SignedZoneOutput,
): Generator<void, void, void> {
  const params = signParams(keys, options);
  const nodes = collectNodes(records, params);
  const { apex, soaTtl, soaMinimum } = apexOf(nodes, params.originKey);
  const nsec3Ttl = options.nsec3Ttl ?? Math.min(soaTtl, soaMinimum);
  addApexRecords(apex, keys, params, options.dnskeyTtl ?? soaTtl, nsec3Ttl);
  const cuts = markGlue(nodes, apex, params.originKey);
  const isCut = (n: Node): boolean => n !== apex && cuts.has(n.key);
  const nsec3Types = nsec3OwnerTypes(nodes, isCut, params.originKey);
  const signer = new RrsetSigner(params, keys, options.memo, sink, output);
  yield* emitNodes(nodes, isCut, signer);
  yield* emitNsec3Chain(hashOrder(nsec3Types, params), nsec3Types, params, nsec3Ttl, signer);
}

/** The checked options of one signing, with the origin in its forms. */
interface SignParams {
  readonly origin: DomainName;
  readonly originKey: string;
  readonly originLabels: number;
  readonly salt: Uint8Array;
  readonly iterations: number;
  /** RRSIG inception and expiration (serial time). */
  readonly inception: number;
  readonly expiration: number;
}

function signParams(keys: readonly SigningKey[], options: ZoneSignOptions): SignParams {
  if (keys.length === 0) throw new DnssecError('bad-option', 'no signing keys');
  const origin = normalizeName(options.origin);
  const originKey = canonicalWireKey(origin);
  const originLabels = wireLabels(originKey).length;
  const salt = options.salt ?? new Uint8Array(0);
  const iterations = options.iterations ?? 0;
  if (salt.length > 255) throw new DnssecError('bad-option', 'NSEC3 salt longer than 255 octets');
  if (!Number.isInteger(iterations) || iterations < 0 || iterations > 2500)
    throw new DnssecError('bad-option', 'NSEC3 iterations out of range');
  const inception = toSerialTime(options.inception);
  const expiration = toSerialTime(options.expiration);
  if (options.expiration.getTime() <= options.inception.getTime())
    throw new DnssecError('bad-option', 'expiration must be after inception');
  return { origin, originKey, originLabels, salt, iterations, inception, expiration };
}

/** Label count of `key` if it is at or below the origin, else -1. */
function labelsUnderOrigin(key: string, { originKey, originLabels }: SignParams): number {
  const tail = key.length - originKey.length;
  if (tail < 0 || !key.endsWith(originKey)) return -1;
  let p = 0;
  let count = originLabels;
  while (p < tail) {
    p += 1 + key.charCodeAt(p);
    count++;
  }
  return p === tail ? count : -1;
}

/** The zone's records grouped by owner and type, without old DNSSEC records. */
function collectNodes(records: readonly ResourceRecord[], params: SignParams): Map<string, Node> {
  const nodes = new Map<string, Node>();
  let lastName: DomainName | undefined;
  let lastNode: Node | undefined;
  for (const rr of records) {
    if (STRIPPED.has(rr.type)) continue;
    if (rr.class !== RRClass.IN)
      throw new DnssecError('bad-zone', 'only class IN zones can be signed');
    let node: Node;
    if (rr.name === lastName && lastNode) node = lastNode;
    else {
      const key = canonicalWireKey(rr.name);
      const found = nodes.get(key);
      if (found) node = found;
      else {
        const labels = labelsUnderOrigin(key, params);
        if (labels < 0) throw new DnssecError('bad-zone', 'record outside the zone origin');
        node = { key, labels, types: [], sets: [], glue: false };
        nodes.set(key, node);
      }
      lastName = rr.name;
      lastNode = node;
    }
    const i = node.types.indexOf(rr.type);
    if (i >= 0) (node.sets[i] as ResourceRecord[]).push(rr);
    else {
      node.types.push(rr.type);
      node.sets.push([rr]);
    }
  }
  return nodes;
}

/** The apex node and its SOA's TTL and minimum; an error without an SOA at the origin. */
function apexOf(
  nodes: ReadonlyMap<string, Node>,
  originKey: string,
): { apex: Node; soaTtl: number; soaMinimum: number } {
  const apex = nodes.get(originKey);
  const soa = apex && rrsetOf(apex, RRType.SOA)?.[0];
  if (!apex || !soa || soa.type !== RRType.SOA || 'raw' in soa.data)
    throw new DnssecError('bad-zone', 'the zone has no SOA at its origin');
  const soaData = soa.data as RecordOf<typeof RRType.SOA>['data'];
  return { apex, soaTtl: soa.ttl, soaMinimum: soaData.minimum };
}

/** Adds the keys to the apex DNSKEY RRset (keeping existing ones) and the NSEC3PARAM. */
function addApexRecords(
  apex: Node,
  keys: readonly SigningKey[],
  { origin, iterations, salt }: SignParams,
  dnskeyTtl: number,
  nsec3Ttl: number,
): void {
  const dnskeys = rrsetOf(apex, RRType.DNSKEY) ?? [];
  const present = new Set(dnskeys.map((r) => Buffer.from(canonicalRdata(r)).toString('hex')));
  for (const k of keys) {
    const rr: ResourceRecord = {
      name: origin,
      type: RRType.DNSKEY,
      class: RRClass.IN,
      ttl: dnskeyTtl,
      data: k.dnskey,
    };
    const hex = Buffer.from(canonicalRdata(rr)).toString('hex');
    if (present.has(hex)) continue;
    present.add(hex);
    dnskeys.push(rr);
  }
  if (!apex.types.includes(RRType.DNSKEY)) {
    apex.types.push(RRType.DNSKEY);
    apex.sets.push(dnskeys);
  }
  apex.types.push(RRType.NSEC3PARAM);
  apex.sets.push([
    {
      name: origin,
      type: RRType.NSEC3PARAM,
      class: RRClass.IN,
      ttl: nsec3Ttl,
      data: { hashAlgorithm: 1, flags: 0, iterations, salt },
    },
  ]);
}

/**
 * Zone cuts: NS below the apex. Names strictly below a cut are glue (unsigned, no NSEC3): marks
 * them, and returns the cuts' keys.
 */
function markGlue(nodes: ReadonlyMap<string, Node>, apex: Node, originKey: string): Set<string> {
  const cuts = new Set<string>();
  for (const n of nodes.values()) if (n !== apex && n.types.includes(RRType.NS)) cuts.add(n.key);
  if (cuts.size > 0)
    for (const n of nodes.values())
      for (let p = n.key; p.length > originKey.length;) {
        p = p.slice(1 + p.charCodeAt(0));
        if (cuts.has(p)) {
          n.glue = true;
          break;
        }
      }
  return cuts;
}

/** The type list of an empty non-terminal (shared: type lists are never changed once made). */
const NO_TYPES: number[] = [];

/**
 * NSEC3 owners and their type bitmaps: every authoritative name and the empty non-terminals up
 * to the apex. Equal type lists are one shared array (a zone has few distinct ones), so a big
 * zone leaves no array per owner for the collector to trace.
 */
function nsec3OwnerTypes(
  nodes: ReadonlyMap<string, Node>,
  isCut: (n: Node) => boolean,
  originKey: string,
): Map<string, number[]> {
  const nsec3Types = new Map<string, number[]>();
  const shared = new Map<string, number[]>();
  for (const n of nodes.values()) {
    if (n.glue) continue;
    let types: number[];
    if (isCut(n)) {
      types = [RRType.NS];
      if (n.types.includes(RRType.DS)) types.push(RRType.DS, RRType.RRSIG);
    } else {
      types = [...n.types];
      if (types.length > 0) types.push(RRType.RRSIG);
    }
    types.sort((a, b) => a - b);
    const id = types.join(',');
    const same = shared.get(id);
    if (same) types = same;
    else shared.set(id, types);
    nsec3Types.set(n.key, types);
    for (let p = n.key; p.length > originKey.length;) {
      p = p.slice(1 + p.charCodeAt(0));
      // Seen before: its ancestors were added then too.
      if (nsec3Types.has(p)) break;
      // An empty non-terminal, or a node the loop has yet to reach (it then sets its types).
      nsec3Types.set(p, NO_TYPES);
    }
  }
  return nsec3Types;
}

/**
 * RFC 4035 2.2: every algorithm in the DNSKEY RRset signs every RRset. Within an algorithm, SEP
 * keys sign the DNSKEY RRset and the others the rest (a lone kind signs everything).
 */
function splitKeys(keys: readonly SigningKey[]): { ksks: SigningKey[]; zsks: SigningKey[] } {
  const ksks: SigningKey[] = [];
  const zsks: SigningKey[] = [];
  for (const alg of new Set(keys.map((k) => k.algorithm))) {
    const same = keys.filter((k) => k.algorithm === alg);
    const sep = same.filter((k) => (k.flags & DnskeyFlag.SEP) !== 0);
    const zone = same.filter((k) => (k.flags & DnskeyFlag.SEP) === 0);
    ksks.push(...(sep.length ? sep : zone));
    zsks.push(...(zone.length ? zone : sep));
  }
  return { ksks, zsks };
}

/** The RRset's rdata in canonical form and order, duplicates removed (RFC 4034 6.3). */
function canonicalRdatas(rrset: readonly ResourceRecord[]): Uint8Array[] {
  if (rrset.length === 1) return [zoneRdata(rrset[0] as ResourceRecord)];
  const sorted = rrset.map(zoneRdata).sort(compareUint8);
  const rdatas: Uint8Array[] = [];
  let prev: Uint8Array | undefined;
  for (const rd of sorted) {
    if (prev && compareUint8(prev, rd) === 0) continue;
    prev = rd;
    rdatas.push(rd);
  }
  return rdatas;
}

/**
 * Signs RRsets into `out`: each RRset's signed data (RRSIG rdata without signature, then the
 * RRset in canonical form and order, each record with the original TTL) is built in one buffer,
 * grown when needed, and handed to the sink per key, or a kept signature from the memo reused.
 */
class RrsetSigner {
  /** RRsets signed (or kept) so far. */
  count = 0;
  private scratch = new Uint8Array(1 << 16);
  private view = new DataView(this.scratch.buffer);
  private readonly ksks: SigningKey[];
  private readonly zsks: SigningKey[];
  /** The origin is normalized (escapes for all but printable ASCII): lowercased, it is canonical. */
  readonly signerName: DomainName;
  readonly signerWire: Uint8Array;
  private readonly prefixLen: number;
  /** In the RRSIG fields' form (seconds, 32 bits): plain comparisons hold until 2106. */
  private readonly keepUntil: number;

  constructor(
    private readonly params: SignParams,
    keys: readonly SigningKey[],
    private readonly memo: ZoneSignOptions['memo'],
    private readonly sink: SignatureSink,
    readonly output: SignedZoneOutput,
  ) {
    ({ ksks: this.ksks, zsks: this.zsks } = splitKeys(keys));
    this.signerName = params.origin.toLowerCase();
    this.signerWire = Buffer.from(params.originKey, 'latin1');
    this.prefixLen = 18 + this.signerWire.length;
    this.keepUntil = memo ? toSerialTime(new Date(memo.keepUntil * 1000)) : 0;
  }

  sign(
    name: DomainName,
    ownerWire: Uint8Array,
    labels: number,
    type: number,
    rrset: readonly ResourceRecord[],
  ): void {
    const ttl = (rrset[0] as ResourceRecord).ttl;
    const data =
      (rrset.length === 1 &&
        this.signedDataOne(ownerWire, labels, type, ttl, rrset[0] as ResourceRecord)) ||
      this.signedData(ownerWire, labels, type, ttl, canonicalRdatas(rrset));
    // What the signature covers but its window: the RRset in canonical form (owner, type, TTL,
    // data) and the labels count; the key is added per key.
    const { memo } = this;
    this.count++;
    const covered = memo
      ? `${labels}:${createHash('sha256').update(data.subarray(this.prefixLen)).digest('base64')}`
      : '';
    for (const key of type === RRType.DNSKEY ? this.ksks : this.zsks) {
      const id = memo ? `${key.algorithm}:${key.keyTag}:${covered}` : '';
      if (memo) {
        const kept = memo.previous.get(id);
        if (kept && kept.expiration > this.keepUntil && kept.signature.length > 0) {
          this.output.add({ name, type: RRType.RRSIG, class: RRClass.IN, ttl, data: kept });
          memo.next.set(id, kept);
          continue;
        }
      }
      const rrsig = this.signWith(key, data, labels, type, ttl);
      const index = this.output.add({
        name,
        type: RRType.RRSIG,
        class: RRClass.IN,
        ttl,
        data: rrsig,
      });
      this.sink(key, data, rrsig, index);
      memo?.next.set(id, rrsig);
    }
  }

  /**
   * `signedData` of a one-record RRset, its rdata encoded in place (no array per record), or
   * undefined when the generic codec must encode it.
   */
  private signedDataOne(
    ownerWire: Uint8Array,
    labels: number,
    type: number,
    ttl: number,
    rr: ResourceRecord,
  ): Uint8Array | undefined {
    const rdataAt = this.prefixLen + ownerWire.length + 10;
    this.reserve(rdataAt + MAX_RDATA);
    const end = zoneRdataInto(rr, this.scratch, rdataAt);
    if (end < 0) return undefined;
    this.writeHeader(labels, type, ttl);
    const o = this.prefixLen;
    this.scratch.set(ownerWire, o);
    this.writeRecordFields(o + ownerWire.length, type, ttl, end - rdataAt);
    return this.scratch.subarray(0, end);
  }

  /** Grows the buffer to at least `length` octets. */
  private reserve(length: number): void {
    if (length <= this.scratch.length) return;
    this.scratch = new Uint8Array(Math.max(length, this.scratch.length * 2));
    this.view = new DataView(this.scratch.buffer);
  }

  /** The RRSIG rdata fields before the signature but the algorithm and key tag. */
  private writeHeader(labels: number, type: number, ttl: number): void {
    const { view } = this;
    view.setUint16(0, type);
    view.setUint8(3, labels);
    view.setUint32(4, ttl);
    view.setUint32(8, this.params.expiration);
    view.setUint32(12, this.params.inception);
    this.scratch.set(this.signerWire, 18);
  }

  /** TYPE, CLASS, TTL and RDLENGTH of one record at `o` (after its owner). */
  private writeRecordFields(o: number, type: number, ttl: number, rdLength: number): void {
    const { view } = this;
    view.setUint16(o, type);
    view.setUint16(o + 2, RRClass.IN);
    view.setUint32(o + 4, ttl);
    view.setUint16(o + 8, rdLength);
  }

  /** The signed data but the algorithm and key tag (set per key), in the reused buffer. */
  private signedData(
    ownerWire: Uint8Array,
    labels: number,
    type: number,
    ttl: number,
    rdatas: readonly Uint8Array[],
  ): Uint8Array {
    let length = this.prefixLen;
    for (const rd of rdatas) length += ownerWire.length + 10 + rd.length;
    this.reserve(length);
    this.writeHeader(labels, type, ttl);
    const { scratch } = this;
    let o = this.prefixLen;
    for (const rd of rdatas) {
      scratch.set(ownerWire, o);
      o += ownerWire.length;
      this.writeRecordFields(o, type, ttl, rd.length);
      scratch.set(rd, o + 10);
      o += 10 + rd.length;
    }
    return scratch.subarray(0, length);
  }

  /** Sets the key's fields in the signed data; the RRSIG rdata whose signature the sink sets. */
  private signWith(
    key: SigningKey,
    data: Uint8Array,
    labels: number,
    type: number,
    ttl: number,
  ): PendingRrsig {
    this.view.setUint8(2, key.algorithm);
    this.view.setUint16(16, key.keyTag);
    return {
      typeCovered: type,
      algorithm: key.algorithm,
      labels,
      originalTtl: ttl,
      expiration: this.params.expiration,
      inception: this.params.inception,
      keyTag: key.keyTag,
      signerName: this.signerName,
      signature: NO_SIGNATURE,
    };
  }
}

/** Emits the zone in canonical owner order: each RRset, then its signatures. */
function* emitNodes(
  nodes: ReadonlyMap<string, Node>,
  isCut: (n: Node) => boolean,
  signer: RrsetSigner,
): Generator<void, void, void> {
  const ordered = [...nodes.values()].map((n) => ({ n, sortKey: canonicalSortKey(n.key) }));
  ordered.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  for (const { n } of ordered) {
    const order = n.types.map((_, i) => i);
    order.sort((a, b) => (n.types[a] as number) - (n.types[b] as number));
    const ownerWire = wireOf(n.key);
    const wildcard = n.key.charCodeAt(0) === 1 && n.key.charCodeAt(1) === 0x2a;
    const labels = n.labels - (wildcard ? 1 : 0);
    const cut = isCut(n);
    for (const i of order) {
      const t = n.types[i] as number;
      const rrset = n.sets[i] as ResourceRecord[];
      for (const rr of rrset) signer.output.add(rr);
      if (n.glue || (cut && t !== RRType.DS)) continue;
      signer.sign((rrset[0] as ResourceRecord).name, ownerWire, labels, t, rrset);
    }
    if (signer.count >= STEP_RRSETS) {
      signer.count = 0;
      yield;
    }
  }
}

/** SHA-1, the one NSEC3 hash algorithm (RFC 5155 11): 20 octets. */
const HASH_OCTETS = 20;

/**
 * The NSEC3 owners in hash order, kept flat (no object or buffer per owner: at millions of
 * owners those made most of what the collector traced): owner `i` is `keys[i]`, its hash
 * `hashes[20 i .. 20 i + 20)`, and `order` lists the owners in hash order.
 */
interface HashedOwners {
  readonly keys: readonly string[];
  readonly hashes: Uint8Array;
  readonly order: Uint32Array;
}

/** The NSEC3 owners' hashes in hash order; an error on a collision. */
function hashOrder(
  nsec3Types: ReadonlyMap<string, number[]>,
  { salt, iterations }: SignParams,
): HashedOwners {
  const keys = [...nsec3Types.keys()];
  const n = keys.length;
  const hashes = new Uint8Array(n * HASH_OCTETS);
  // One 64-bit sort key per owner: the hash's first four octets above the owner's index (a
  // native numeric sort, no comparator call per comparison).
  const sortKeys = new BigUint64Array(n);
  const words = new Uint32Array(sortKeys.buffer);
  const high = new Uint32Array([1]);
  const low = new Uint8Array(high.buffer)[0] === 1 ? 0 : 1;
  for (let i = 0; i < n; i++) {
    const hash = nsec3HashWire(wireOf(keys[i] as string), salt, iterations);
    if (hash.length !== HASH_OCTETS) throw new DnssecError('bad-zone', 'unexpected NSEC3 hash');
    hashes.set(hash, i * HASH_OCTETS);
    words[2 * i + low] = i;
    words[2 * i + 1 - low] =
      (((hash[0] as number) << 24) |
        ((hash[1] as number) << 16) |
        ((hash[2] as number) << 8) |
        (hash[3] as number)) >>>
      0;
  }
  sortKeys.sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = words[2 * i + low] as number;
  sortEqualTops(order, words, low, hashes);
  return { keys, hashes, order };
}

/** Hash `i` of `hashes` (a view). */
function hashAt(hashes: Uint8Array, i: number): Uint8Array {
  return hashes.subarray(i * HASH_OCTETS, (i + 1) * HASH_OCTETS);
}

/**
 * Orders the runs of owners whose hashes share the first four octets (sorted by index so far)
 * by their whole hash; an error on two equal hashes.
 */
function sortEqualTops(
  order: Uint32Array,
  words: Uint32Array,
  low: number,
  hashes: Uint8Array,
): void {
  const top = (k: number): number => words[2 * k + 1 - low] as number;
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && top(end) === top(start)) end++;
    if (end - start > 1) {
      const run = Array.from(order.subarray(start, end));
      run.sort((a, b) => compareUint8(hashAt(hashes, a), hashAt(hashes, b)));
      for (let j = 1; j < run.length; j++)
        if (
          compareUint8(hashAt(hashes, run[j - 1] as number), hashAt(hashes, run[j] as number)) === 0
        )
          throw new DnssecError('bad-zone', 'NSEC3 hash collision; choose another salt');
      order.set(run, start);
    }
    start = end;
  }
}

/** Lowercase base32hex digits (RFC 4648 7) as octets. */
const B32_OCTETS = Buffer.from('0123456789abcdefghijklmnopqrstuv', 'latin1');

/** Base32hex without padding of `bytes`, as ASCII octets into `out` at `o`. */
function base32hexInto(bytes: Uint8Array, out: Uint8Array, o: number): void {
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    buffer = ((buffer << 8) | (bytes[i] as number)) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out[o++] = B32_OCTETS[(buffer >>> (bits - 5)) & 31] as number;
      bits -= 5;
    }
  }
  if (bits > 0) out[o] = B32_OCTETS[(buffer << (5 - bits)) & 31] as number;
}

/** Emits the NSEC3 chain in hash order, each record followed by its signatures. */
function* emitNsec3Chain(
  { keys, hashes, order }: HashedOwners,
  nsec3Types: ReadonlyMap<string, number[]>,
  { iterations, salt, originLabels }: SignParams,
  nsec3Ttl: number,
  signer: RrsetSigner,
): Generator<void, void, void> {
  const { signerWire } = signer;
  const signerText = signer.signerName === '.' ? '' : signer.signerName;
  // One owner buffer while the label length stays (it does: every hash has the same length).
  let ownerWire = Buffer.alloc(0);
  for (let i = 0; i < order.length; i++) {
    const at = order[i] as number;
    const key = keys[at] as string;
    const hash = hashAt(hashes, at);
    // The owner's wire form first, its base32hex label written from the hash in place; the
    // name's label is then read back from it (one flat string).
    const labelLength = Math.ceil((hash.length * 8) / 5);
    if (ownerWire.length !== 1 + labelLength + signerWire.length) {
      ownerWire = Buffer.alloc(1 + labelLength + signerWire.length);
      ownerWire[0] = labelLength;
      ownerWire.set(signerWire, 1 + labelLength);
    }
    base32hexInto(hash, ownerWire, 1);
    const label = ownerWire.toString('latin1', 1, 1 + labelLength);
    const next = hashAt(hashes, order[(i + 1) % order.length] as number);
    const nsec3: ResourceRecord = {
      name: `${label}.${signerText}`,
      type: RRType.NSEC3,
      class: RRClass.IN,
      ttl: nsec3Ttl,
      data: {
        hashAlgorithm: 1,
        flags: 0,
        iterations,
        salt,
        nextHashedOwner: next,
        types: nsec3Types.get(key) as number[],
      },
    };
    signer.output.add(nsec3);
    signer.sign(nsec3.name, ownerWire, originLabels + 1, RRType.NSEC3, [nsec3]);
    if (signer.count >= STEP_RRSETS) {
      signer.count = 0;
      yield;
    }
  }
}
