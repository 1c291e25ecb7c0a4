import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import { decodeRecord, encodeMessage, encodeRecord, RRType } from '@switchboard/dns-wire';
import type { SigningKey } from '@switchboard/dnssec';
import type { ExportSigner } from './export-signer.js';
import type { OnlineSigner } from '../zone/signer.js';
import type { WireRecords } from './wire-records.js';
import { packWireRecords, wireRecord, wireRecordCount } from './wire-records.js';
import type { ZoneSnapshot } from '../zone/zone.js';
import { eachNode } from '../zone/zone.js';

/**
 * What secondaries receive by AXFR/IXFR: `unsigned` (the default) is the zone without any
 * RRSIG, NSEC or NSEC3, for secondaries that sign online themselves (Knot's mod-onlinesign);
 * `presigned-nsec3` is the zone signed with NSEC3, whose hashes of a phone-number space can
 * be brute-forced: walkable, an explicit opt-in only (docs/secondaries.md).
 */
export type TransferForm = 'unsigned' | 'presigned-nsec3';

/** The transfer forms, for checking configuration. */
export const TRANSFER_FORMS: readonly TransferForm[] = ['unsigned', 'presigned-nsec3'];

/**
 * Every unsigned record of a snapshot, SOA first. The apex DNSKEY RRset is left out unless
 * `withDnskey` (the NSEC3 signer adds it itself).
 */
export function unsignedRecords(zone: ZoneSnapshot, withDnskey = false): ResourceRecord[] {
  return [...eachUnsignedRecord(zone, withDnskey)];
}

/** {@link unsignedRecords} one at a time (nothing held whole: the CLI's `export`). */
export function* eachUnsignedRecord(
  zone: ZoneSnapshot,
  withDnskey: boolean,
): Generator<ResourceRecord> {
  yield* zone.apexNode.get(RRType.SOA) ?? [];
  for (const [name, node] of eachNode(zone)) {
    for (const [type, rrset] of node) {
      if (name === zone.settings.apex && type === RRType.SOA) continue;
      if (name === zone.settings.apex && type === RRType.DNSKEY && !withDnskey) continue;
      yield* rrset;
    }
  }
}

/** Lets the event loop run (I/O included) before continuing. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The unsigned records of a snapshot, SOA first, in wire form for the export worker; encoded in
 * slices of `slice` records with the event loop free between them.
 */
export async function encodeUnsignedRecords(
  zone: ZoneSnapshot,
  slice = 2048,
  withDnskey = false,
): Promise<WireRecords> {
  const encoded: Uint8Array[] = [];
  let inSlice = 0;
  for (const rr of eachUnsignedRecord(zone, withDnskey)) {
    encoded.push(encodeRecord(rr));
    if (++inSlice === slice) {
      inSlice = 0;
      await yieldToLoop();
    }
  }
  return packWireRecords(encoded);
}

/**
 * One version of the zone as transferred, SOA first, as records in wire form (names lower
 * case) held in shared memory: unsigned, or pre-signed with NSEC3 (RFC 9276: no salt, no
 * extra iterations).
 */
export interface TransferZone {
  readonly form: TransferForm;
  readonly serial: number;
  readonly records: WireRecords;
  /** The leading SOA, decoded. */
  readonly soa: ResourceRecord;
  /** Seconds since the epoch when the earliest signature expires (Infinity when unsigned). */
  readonly expires: number;
}

/**
 * The unsigned zone for transfer (the default form): SOA, NS, the DNSKEY RRset (the
 * directory's key and the secondary operators' keys) and every number's records, with no
 * RRSIG, NSEC or NSEC3. Encoded in slices with the event loop free between them.
 */
export async function unsignedZoneForTransfer(zone: ZoneSnapshot): Promise<TransferZone> {
  const records = await encodeUnsignedRecords(zone, 2048, true);
  if (wireRecordCount(records) === 0) throw new Error('zone is empty');
  const soa = decodeRecord(records.data, records.offsets[0]).record;
  if (soa.type !== RRType.SOA) throw new Error('zone has no leading SOA');
  return { form: 'unsigned', serial: zone.serial, records, soa, expires: Infinity };
}

/**
 * Signs a whole snapshot for transfer and export on the export worker thread; the DNSKEY RRset
 * is added by the signer. NSEC3 hashes of a phone-number space can be brute-forced, so this
 * form goes only to secondaries and operators, never to the public (docs/directory-records.md).
 */
export async function signZoneForExport(
  zone: ZoneSnapshot,
  key: SigningKey,
  signer: OnlineSigner,
  worker: ExportSigner,
  now: number,
): Promise<TransferZone> {
  const { inception, expiration } = signer.validityWindow(now);
  const unsigned = await encodeUnsignedRecords(zone);
  const { records, expires } = await worker.sign(unsigned, {
    key,
    origin: zone.settings.apex,
    inception: inception.getTime(),
    expiration: expiration.getTime(),
    dnskeyTtl: zone.settings.dnskeyTtl,
    keepUntil: signer.keepSignaturesUntil(now),
  });
  if (wireRecordCount(records) === 0) throw new Error('signed zone is empty');
  const soa = decodeRecord(records.data, records.offsets[0]).record;
  if (soa.type !== RRType.SOA) throw new Error('signed zone has no leading SOA');
  return { form: 'presigned-nsec3', serial: zone.serial, records, soa, expires };
}

/** The zone file text of a transfer zone (one record per line, presentation format). */
export function zoneFileText(
  zone: TransferZone,
  apex: string,
  worker: ExportSigner,
): Promise<string> {
  const how =
    zone.form === 'unsigned'
      ? 'unsigned, for secondaries that sign online'
      : 'pre-signed with NSEC3 for export (walkable: its hashes can be brute-forced)';
  const header = `; ${apex} serial ${zone.serial}, ${how}\n$ORIGIN ${apex}`;
  return worker.text(zone.records, header);
}

/** The records (in wire form) of an AXFR response (RFC 5936 2.2): SOA, every record, SOA. */
export function* axfrRecords(zone: TransferZone): Generator<Uint8Array> {
  const n = wireRecordCount(zone.records);
  for (let i = 0; i < n; i++) yield wireRecord(zone.records, i);
  yield wireRecord(zone.records, 0);
}

/**
 * The records (in wire form) of an IXFR response (RFC 1995 section 4) condensed to one
 * difference sequence: new SOA, old SOA, records deleted, new SOA, records added, new SOA.
 * Records are compared octet for octet (on the export worker); every RRSIG that changed is part
 * of the difference.
 */
export async function ixfrRecords(
  from: TransferZone,
  to: TransferZone,
  worker: ExportSigner,
): Promise<Iterable<Uint8Array>> {
  const { deleted, added } = await worker.diff(from.records, to.records);
  return (function* () {
    const newSoa = wireRecord(to.records, 0);
    yield newSoa;
    yield wireRecord(from.records, 0);
    for (const i of deleted) yield wireRecord(from.records, i);
    yield newSoa;
    for (const i of added) yield wireRecord(to.records, i);
    yield newSoa;
  })();
}

/**
 * Packs the records of a zone transfer (each in wire form) into messages of at most about
 * `maxSize` octets of records (leaving room for a TSIG): the header as the query asked (ID,
 * opcode, RD) with QR and AA, the question in the first message only. Owner names are
 * compressed against earlier names in the same message (RFC 1035 4.1.4); names inside RDATA
 * are left as they are (RRSIG's signer name may not be compressed, RFC 4034 3.1.7).
 */
export function* transferMessages(
  query: Message,
  records: Iterable<Uint8Array>,
  maxSize = 60_000,
): Generator<Uint8Array> {
  const packer = new MessagePacker(query, maxSize);
  for (const rr of records) {
    const message = packer.add(rr);
    if (message) yield message;
  }
  const last = packer.end();
  if (last) yield last;
}

/**
 * {@link transferMessages} one record at a time, for records that come in batches (a streamed
 * transfer): {@link add} gives a message when the one being filled is full, {@link end} the last.
 */
export class MessagePacker {
  readonly #query: Message;
  readonly #maxSize: number;
  /** The question section exactly as encodeMessage writes it (uncompressed). */
  readonly #question: Uint8Array;
  readonly #flags: number;
  #first = true;
  #batch: Uint8Array[] = [];
  #size = 0;

  constructor(query: Message, maxSize = 60_000) {
    this.#query = query;
    this.#maxSize = maxSize;
    this.#question = encodeMessage(
      {
        id: 0,
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
      },
      { compress: false },
    ).subarray(12);
    this.#flags = 0x8000 | ((query.opcode & 0xf) << 11) | 0x0400 | (query.rd ? 0x0100 : 0);
  }

  /** Adds a record (wire form); returns the message filled before it, if it was full. */
  add(rr: Uint8Array): Uint8Array | undefined {
    const full =
      (this.#size + rr.length > this.#maxSize || this.#batch.length === 0xffff) &&
      this.#batch.length > 0;
    const out = full ? this.#flush() : undefined;
    this.#batch.push(rr);
    this.#size += rr.length;
    return out;
  }

  /** The last message, if any record is left. */
  end(): Uint8Array | undefined {
    return this.#batch.length > 0 ? this.#flush() : undefined;
  }

  #flush(): Uint8Array {
    const first = this.#first;
    const q = first ? this.#question : new Uint8Array(0);
    const out = new Uint8Array(12 + q.length + this.#size);
    const view = new DataView(out.buffer);
    view.setUint16(0, this.#query.id);
    view.setUint16(2, this.#flags);
    view.setUint16(4, first ? this.#query.questions.length : 0);
    view.setUint16(6, this.#batch.length);
    out.set(q, 12);
    const names = new Map<string, number>();
    if (first) remember(names, q, labelsOf(q, 0), 12);
    let pos = 12 + q.length;
    for (const rr of this.#batch) pos = writeRecord(out, pos, rr, names);
    this.#first = false;
    this.#batch = [];
    this.#size = 0;
    return out.subarray(0, pos);
  }
}

/** The label starts of the wire name at `at` in `bytes` (no pointers), and where it ends. */
function labelsOf(bytes: Uint8Array, at: number): { starts: number[]; end: number } {
  const starts: number[] = [];
  let p = at;
  while (bytes[p] !== 0) {
    starts.push(p);
    p += (bytes[p] as number) + 1;
  }
  return { starts, end: p + 1 };
}

/** The name from `bytes[start]` to `bytes[end]` as a dictionary key. */
function suffixKey(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/**
 * Notes where the suffixes of a name written uncompressed are (`base` + their offset in
 * `bytes`): the first `count` labels' suffixes, those not known already.
 */
function remember(
  names: Map<string, number>,
  bytes: Uint8Array,
  { starts, end }: { starts: readonly number[]; end: number },
  base: number,
  count = starts.length,
): void {
  for (let i = 0; i < count; i++) {
    const start = starts[i] as number;
    if (base + start >= 0x4000) break;
    const key = suffixKey(bytes, start, end);
    if (!names.has(key)) names.set(key, base + start);
  }
}

/** Writes one wire record at `pos` with its owner name compressed; returns the end. */
function writeRecord(
  out: Uint8Array,
  pos: number,
  rr: Uint8Array,
  names: Map<string, number>,
): number {
  const owner = labelsOf(rr, 0);
  const { starts, end } = owner;
  let cut = starts.length;
  let pointer = -1;
  for (let i = 0; i < starts.length; i++) {
    const offset = names.get(suffixKey(rr, starts[i] as number, end));
    if (offset !== undefined) {
      cut = i;
      pointer = offset;
      break;
    }
  }
  // The labels before the known suffix, written out (and remembered for later records).
  const literal = cut < starts.length ? (starts[cut] as number) : end - 1;
  out.set(rr.subarray(0, literal), pos);
  remember(names, rr, owner, pos, cut);
  let w = pos + literal;
  if (pointer >= 0) {
    out[w] = 0xc0 | (pointer >> 8);
    out[w + 1] = pointer & 0xff;
    w += 2;
  } else {
    out[w] = 0;
    w += 1;
  }
  out.set(rr.subarray(end), w);
  return w + rr.length - end;
}
