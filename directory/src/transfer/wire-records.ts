import type { ResourceRecord } from '@switchboard/dns-wire';
import { decodeRecord, encodeRecord } from '@switchboard/dns-wire';

/**
 * Records encoded back to back (uncompressed wire form, RFC 1035 4.1.3), as the export worker
 * hands them over: record i is `data[offsets[i]..offsets[i+1])`. Both arrays normally live in
 * shared memory, so passing them between threads copies nothing.
 */
export interface WireRecords {
  readonly data: Uint8Array;
  /** One more than the number of records; the last is the end of the data. */
  readonly offsets: Uint32Array;
}

export function wireRecordCount(records: WireRecords): number {
  return records.offsets.length - 1;
}

/** Record `i`'s octets (a view, not a copy). */
export function wireRecord(records: WireRecords, i: number): Uint8Array {
  return records.data.subarray(records.offsets[i], records.offsets[i + 1]);
}

/** Every record decoded. */
export function decodeWireRecords(records: WireRecords): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  const n = wireRecordCount(records);
  for (let i = 0; i < n; i++) out.push(decodeRecord(records.data, records.offsets[i]).record);
  return out;
}

/** Records encoded (each already in octets) copied back to back into shared memory. */
export function packWireRecords(encoded: readonly Uint8Array[]): WireRecords {
  let total = 0;
  for (const e of encoded) total += e.length;
  const data = new Uint8Array(new SharedArrayBuffer(total));
  const offsets = new Uint32Array(new SharedArrayBuffer(4 * (encoded.length + 1)));
  let pos = 0;
  encoded.forEach((e, i) => {
    offsets[i] = pos;
    data.set(e, pos);
    pos += e.length;
  });
  offsets[encoded.length] = pos;
  return { data, offsets };
}

/** Records encoded (uncompressed, names as given) back to back into shared memory. */
export function encodeWireRecords(records: readonly ResourceRecord[]): WireRecords {
  return packWireRecords(records.map(encodeRecord));
}
