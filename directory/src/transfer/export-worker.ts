// Worker thread for the zone pre-signed with NSEC3 (AXFR/IXFR and export). It is given the
// snapshot's unsigned records as wire octets and the key, builds and signs the NSEC3 zone here,
// and answers with every signed record encoded back to back in one SharedArrayBuffer (plus
// offsets), so the event loop neither signs nor receives a graph of objects. It also computes
// IXFR differences and zone-file text from such buffers.
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { formatRecord, RRType } from '@switchboard/dns-wire';
import type { RrsigData } from '@switchboard/dns-wire';
import type { SigningKey } from '@switchboard/dnssec';
import { signZoneNsec3 } from '@switchboard/dnssec';
import type { WireRecords } from './wire-records.js';
import {
  decodeWireRecords,
  encodeWireRecords,
  wireRecord,
  wireRecordCount,
} from './wire-records.js';

/** Sign the records (SOA first) with NSEC3 for `origin`. */
export interface SignRequest {
  readonly kind: 'sign';
  readonly id: number;
  readonly unsigned: WireRecords;
  readonly key: SigningKey;
  readonly origin: string;
  /** Milliseconds since the epoch. */
  readonly inception: number;
  readonly expiration: number;
  readonly dnskeyTtl: number;
  /** Seconds since the epoch: signatures of the previous signing expiring later are kept. */
  readonly keepUntil: number;
}

/** Indexes of the records only in `from` (deleted) and only in `to` (added). */
export interface DiffRequest {
  readonly kind: 'diff';
  readonly id: number;
  readonly from: WireRecords;
  readonly to: WireRecords;
}

/** Zone-file text of signed records. */
export interface TextRequest {
  readonly kind: 'text';
  readonly id: number;
  readonly records: WireRecords;
  readonly header: string;
}

export type ExportRequest = SignRequest | DiffRequest | TextRequest;

export type ExportResponse =
  | {
      readonly id: number;
      readonly ok: true;
      readonly records: WireRecords;
      /** Seconds since the epoch when the earliest signature expires. */
      readonly expires: number;
    }
  | {
      readonly id: number;
      readonly ok: true;
      readonly deleted: Uint32Array;
      readonly added: Uint32Array;
    }
  | { readonly id: number; readonly ok: true; readonly text: string }
  | { readonly id: number; readonly ok: false; readonly error: string };

/**
 * The signatures of the last signing, by what they cover: an unchanged RRset keeps its RRSIG
 * (until close to expiry), so consecutive versions differ, in an IXFR, only where they changed.
 */
let memo: ReadonlyMap<string, RrsigData> = new Map();

function sign(request: SignRequest): { records: WireRecords; expires: number } {
  const next = new Map<string, RrsigData>();
  const signed = signZoneNsec3(decodeWireRecords(request.unsigned), [request.key], {
    origin: request.origin,
    inception: new Date(request.inception),
    expiration: new Date(request.expiration),
    dnskeyTtl: request.dnskeyTtl,
    memo: { previous: memo, next, keepUntil: request.keepUntil },
  });
  memo = next;
  let expires = request.expiration / 1000;
  for (const rr of signed) {
    if (rr.type === RRType.RRSIG) expires = Math.min(expires, (rr.data as RrsigData).expiration);
  }
  const records = encodeWireRecords([
    ...signed.filter((r) => r.type === RRType.SOA),
    ...signed.filter((r) => r.type !== RRType.SOA),
  ]);
  return { records, expires };
}

/** Records compared octet for octet (names are lower case throughout the zone). */
function diff(request: DiffRequest): { deleted: Uint32Array; added: Uint32Array } {
  const keys = (z: WireRecords): string[] => {
    const out: string[] = [];
    const n = wireRecordCount(z);
    for (let i = 0; i < n; i++) out.push(Buffer.from(wireRecord(z, i)).toString('latin1'));
    return out;
  };
  const oldKeys = keys(request.from);
  const newKeys = keys(request.to);
  const oldSet = new Set(oldKeys);
  const newSet = new Set(newKeys);
  const only = (list: string[], other: Set<string>): Uint32Array => {
    const out: number[] = [];
    // Index 0 is the SOA, which IXFR places itself.
    for (let i = 1; i < list.length; i++) if (!other.has(list[i] as string)) out.push(i);
    return Uint32Array.from(out);
  };
  return { deleted: only(oldKeys, newSet), added: only(newKeys, oldSet) };
}

function text(request: TextRequest): string {
  const lines = [request.header];
  for (const rr of decodeWireRecords(request.records)) lines.push(formatRecord(rr));
  return `${lines.join('\n')}\n`;
}

// Requests come on a port of their own, not parentPort: modules loaded here (the dnssec package
// loads its own sign worker's module) may listen on parentPort and must not see them.
const port = (workerData as { port?: MessagePort } | null)?.port;
port?.on('message', (request: ExportRequest) => {
  let response: ExportResponse;
  const transfer: ArrayBuffer[] = [];
  try {
    if (request.kind === 'sign') {
      response = { id: request.id, ok: true, ...sign(request) };
    } else if (request.kind === 'diff') {
      const { deleted, added } = diff(request);
      transfer.push(deleted.buffer as ArrayBuffer, added.buffer as ArrayBuffer);
      response = { id: request.id, ok: true, deleted, added };
    } else {
      response = { id: request.id, ok: true, text: text(request) };
    }
  } catch (err) {
    response = {
      id: request.id,
      ok: false,
      error: err instanceof Error ? err.message : String(err),
    };
  }
  port?.postMessage(response, transfer);
});
