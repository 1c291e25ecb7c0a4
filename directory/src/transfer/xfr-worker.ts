// Worker thread of one unsigned zone transfer (xfr-stream.ts): reads the zone image on a
// read-only connection of its own, in one read transaction (a WAL snapshot, so one version
// whatever is committed meanwhile, and the DNS path's connection is never held), and hands
// the event loop the records in wire form batch by batch, one batch per request: it never
// reads far ahead of what the secondary takes. AXFR: every number's records, encoded straight
// from its stored entry. IXFR: the journal's condensed difference.
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import type { ImageEntry, ImageFiles } from '../zone/image.js';
import { ImageTransferReader } from '../zone/image.js';
import type { UnservableEntry, ZoneSettings } from '../zone/zone.js';
import { wireRecordsOfRow } from '../zone/zone.js';

/** What a transfer worker is started with. */
export interface XfrWorkerData {
  readonly port: MessagePort;
  readonly files: ImageFiles;
  readonly settings: ZoneSettings;
  /** The version to read; `from`: an IXFR's difference from that serial. */
  readonly serial: number;
  readonly from?: number;
}

/** One batch of records: record i is `data[ends[i-1] ?? 0 .. ends[i])`. */
export interface XfrBatch {
  readonly data: Uint8Array;
  readonly ends: Uint32Array;
  /** Entries left out (unservable), with their digits, for the event loop to report. */
  readonly bad: ReadonlyArray<{ readonly digits: string; readonly entry: UnservableEntry }>;
  readonly done: boolean;
}

export type XfrReply =
  | { readonly kind: 'batch'; readonly batch: XfrBatch }
  | { readonly kind: 'journal'; readonly deleted: Uint8Array[]; readonly added: Uint8Array[] }
  | { readonly kind: 'no-journal' }
  | { readonly kind: 'error'; readonly error: string };

/** Octets of records per batch, about. */
const BATCH_OCTETS = 256 * 1024;

function packBatch(records: readonly Uint8Array[], bad: XfrBatch['bad'], done: boolean): XfrBatch {
  let size = 0;
  for (const rr of records) size += rr.length;
  const data = new Uint8Array(size);
  const ends = new Uint32Array(records.length);
  let at = 0;
  records.forEach((rr, i) => {
    data.set(rr, at);
    at += rr.length;
    ends[i] = at;
  });
  return { data, ends, bad, done };
}

/** The batches of every number's records of `serial`, made one per `next()`. */
function* axfrBatches(
  reader: ImageTransferReader,
  settings: ZoneSettings,
  serial: number,
): Generator<XfrBatch> {
  let records: Uint8Array[] = [];
  let bad: Array<{ digits: string; entry: UnservableEntry }> = [];
  let size = 0;
  for (const row of reader.entries(serial) as Iterable<ImageEntry>) {
    const made = wireRecordsOfRow(row, settings);
    if (!Array.isArray(made)) {
      bad.push({ digits: row.digits, entry: made });
      continue;
    }
    for (const rr of made) {
      records.push(rr);
      size += rr.length;
    }
    if (size >= BATCH_OCTETS) {
      yield packBatch(records, bad, false);
      records = [];
      bad = [];
      size = 0;
    }
  }
  yield packBatch(records, bad, true);
}

function main(data: XfrWorkerData): void {
  const { port, files, settings, serial, from } = data;
  const reader = new ImageTransferReader(files);
  const reply = (message: XfrReply, transfer: ArrayBuffer[] = []): void =>
    port.postMessage(message, transfer);
  if (from !== undefined) {
    try {
      const diff = reader.journal(from, serial);
      reply(
        diff
          ? { kind: 'journal', deleted: [...diff.deleted], added: [...diff.added] }
          : {
              kind: 'no-journal',
            },
      );
    } catch (err) {
      reply({ kind: 'error', error: (err as Error).message });
    }
    return;
  }
  const batches = axfrBatches(reader, settings, serial);
  port.on('message', () => {
    try {
      const next = batches.next();
      const batch = next.done ? packBatch([], [], true) : next.value;
      reply({ kind: 'batch', batch }, [batch.data.buffer as ArrayBuffer]);
    } catch (err) {
      reply({ kind: 'error', error: (err as Error).message });
    }
  });
}

main(workerData as XfrWorkerData);
