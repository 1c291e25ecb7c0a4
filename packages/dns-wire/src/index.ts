// Public API of @switchboard/dns-wire.
import { codecFor } from './wire/rdata-codecs.js';
import { Reader } from './wire/reader.js';
import type { KnownRecord, KnownType, RdataByType, ResourceRecord } from './types.js';
import { Writer } from './wire/writer.js';
import { DnsWireError } from './errors.js';

export * from './types.js';
export type { DnsWireErrorCode } from './errors.js';
export { DnsWireError, isDnsWireError } from './errors.js';
export {
  canonicalRdata,
  decodeMessage,
  decodeRdata,
  decodeRecord,
  encodeMessage,
  encodeQuery,
  encodeRdata,
  encodeRecord,
  peekHeader,
} from './wire/message.js';
export type { QueryOptions } from './wire/message.js';
export { canonicalRrset } from './wire/canonical.js';
export {
  canonicalName,
  compareCanonicalNames,
  compareLabelSequences,
  labelsToName,
  lowerLabels,
  nameToLabels,
  decodeName,
  encodeName,
  isSubdomainOf,
  labelCount,
  nameLabels,
  namesEqual,
  normalizeName,
  PRINTS_AS_ITSELF,
  simpleAbsoluteName,
  stripLabels,
} from './values/name.js';
export { formatRecord, parseRecord, parseZone, txtData } from './presentation/presentation.js';
export {
  classToString,
  rcodeToString,
  typeFromString,
  typeToString,
} from './presentation/mnemonics.js';
export {
  base32hexDecode,
  base32hexEncode,
  fromBase64,
  fromHex,
  toBase64,
  toHex,
} from './values/encoding.js';
export { formatIpv6, parseIpv6 } from './values/addresses.js';

/** One codec per rdata TYPE (dns-packet shape, without mutable `encode.bytes`). */
export interface RdataCodec<D> {
  /** Octets `encode` writes (uncompressed). */
  encodingLength(data: D): number;
  /** Writes the uncompressed rdata at `offset`; returns the number of octets written. */
  encodeInto(data: D, buf: Uint8Array, offset: number): number;
  encode(data: D): Uint8Array;
  /** Decodes `length` rdata octets at `offset`; `buf` is the whole message (for pointers). */
  decode(buf: Uint8Array, offset: number, length: number): D;
}

/** The codec for one TYPE's rdata (uncompressed, case kept). */
export function rdataCodec<T extends KnownType>(type: T): RdataCodec<RdataByType[T]> {
  const wire = codecFor(type);
  const encode = (data: RdataByType[T]): Uint8Array => {
    const w = new Writer({ compress: false, canonical: false }, 64);
    wire.encode(w, data);
    return w.result();
  };
  return {
    encode,
    encodingLength: (data) => encode(data).length,
    encodeInto(data, buf, offset) {
      const bytes = encode(data);
      if (offset < 0 || offset + bytes.length > buf.length)
        throw new DnsWireError('bad-value', offset, 'buffer too small for rdata');
      buf.set(bytes, offset);
      return bytes.length;
    },
    decode(buf, offset, length) {
      if (offset < 0 || length < 0 || offset + length > buf.length)
        throw new DnsWireError('truncated', offset, 'rdata runs past the end');
      const r = new Reader(buf, offset, offset + length);
      const data = wire.decode(r) as RdataByType[T];
      if (r.pos !== r.end)
        throw new DnsWireError('bad-rdata', r.pos, 'rdata longer than its content');
      return data;
    },
  };
}

/**
 * Narrows a record to one known TYPE with typed rdata.
 *
 * @example
 * for (const rr of msg.answers) if (isRecordType(rr, RRType.NAPTR)) use(rr.data.regexp);
 */
export function isRecordType<T extends KnownType>(
  rr: ResourceRecord,
  type: T,
): rr is Extract<KnownRecord, { type: T }> {
  return rr.type === type && !('raw' in rr.data);
}
