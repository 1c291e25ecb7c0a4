// The unsigned zone's AXFR and IXFR, streamed: nothing of the zone is held whole. An image on
// disk is read on a worker thread (xfr-worker.ts), batch by batch as the secondary takes them;
// an in-memory image (tests) on the event loop, in slices. IXFR answers from the image's
// journal (zone/image.ts), the whole zone when the journal does not reach back.
import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { ResourceRecord } from '@switchboard/dns-wire';
import { encodeRecord, RRType } from '@switchboard/dns-wire';
import type { ImageFiles, JournalDifference } from '../zone/image.js';
import type { ZoneSnapshot } from '../zone/zone.js';
import { UNSERVABLE } from '../zone/zone.js';
import type { XfrBatch, XfrReply, XfrWorkerData } from './xfr-worker.js';

/** An unsigned transfer under way: the serial and SOA it answers, its records in batches. */
export interface StreamedTransfer {
  readonly serial: number;
  readonly soa: ResourceRecord;
  /** `ixfr`: a difference from the journal; `axfr`: the whole zone (also for IXFR). */
  readonly kind: 'axfr' | 'ixfr';
  /**
   * Every record of the answer in wire form, SOA first and last, in batches; read once. A
   * batch's records are views made as they are taken (none kept for the whole batch).
   */
  readonly records: AsyncIterable<Iterable<Uint8Array>>;
}

/** Octets of journal records read on the event loop at most (more: on a worker). */
const SMALL_JOURNAL = 256 * 1024;
/** Records encoded per slice on the event loop (in-memory images). */
const SLICE = 2048;

/**
 * The unsigned transfer of `zone` (the snapshot served now): the condensed difference from
 * `from` when the journal holds it (RFC 1995 4), else the whole zone (RFC 5936). Rejects when
 * the version cannot be read (the image moved on from the snapshot's serial: the secondary asks
 * again); a failure after the first records ends the stream with an error. A difference of
 * more than `smallJournal` octets is read on a worker.
 */
export async function unsignedTransfer(
  zone: ZoneSnapshot,
  from?: number,
  smallJournal = SMALL_JOURNAL,
): Promise<StreamedTransfer> {
  const soa = (zone.apexNode.get(RRType.SOA) ?? [])[0];
  if (!soa || soa.data === undefined || !('serial' in soa.data)) {
    throw new Error('zone has no SOA');
  }
  const files = zone.image.files;
  const base = { serial: zone.serial, soa };
  // Up to date: the SOA alone (the caller's), nothing read.
  if (from === zone.serial) return { ...base, kind: 'ixfr', records: none() };
  if (from !== undefined) {
    // A small difference (the usual IXFR after NOTIFY) is read here at once; a large one on
    // a worker, as an AXFR is.
    let diff = zone.image.journal(from, zone.serial, files ? smallJournal : Infinity);
    if (diff === null && files) diff = await journalOnWorker(files, zone, from);
    if (diff) return { ...base, kind: 'ixfr', records: ixfrBatches(soa, from, diff) };
  }
  const numbers = files ? await axfrOnWorker(files, zone) : memoryNumbers(zone);
  return { ...base, kind: 'axfr', records: axfrBatches(zone, numbers) };
}

async function* none(): AsyncGenerator<readonly Uint8Array[]> {}

/** RFC 1995 4, one difference sequence: new SOA, old SOA, deleted, new SOA, added, new SOA. */
async function* ixfrBatches(
  soa: ResourceRecord,
  from: number,
  diff: JournalDifference,
): AsyncGenerator<readonly Uint8Array[]> {
  const newSoa = encodeRecord(soa);
  const oldSoa = encodeRecord({ ...soa, data: { ...soa.data, serial: from } } as ResourceRecord);
  yield [newSoa, oldSoa];
  for (let i = 0; i < diff.deleted.length; i += SLICE) yield diff.deleted.slice(i, i + SLICE);
  yield [newSoa];
  for (let i = 0; i < diff.added.length; i += SLICE) yield diff.added.slice(i, i + SLICE);
  yield [newSoa];
}

/** RFC 5936 2.2: SOA, the apex's other records, every number's records, SOA. */
async function* axfrBatches(
  zone: ZoneSnapshot,
  numbers: AsyncIterable<Iterable<Uint8Array>>,
): AsyncGenerator<Iterable<Uint8Array>> {
  const soa = (zone.apexNode.get(RRType.SOA) ?? []).map(encodeRecord);
  const apex: Uint8Array[] = [...soa];
  for (const [type, rrset] of zone.apexNode) {
    if (type !== RRType.SOA) for (const rr of rrset) apex.push(encodeRecord(rr));
  }
  yield apex;
  yield* numbers;
  yield soa;
}

/**
 * The numbers' records of an in-memory image, encoded on the event loop in slices: read whole
 * at once when the entries are its own (tests), else from the store's file row by row in one
 * read transaction of a connection of its own (an image in memory because every file was held).
 * The read begins now, so a version that cannot be read fails before anything is sent.
 */
function memoryNumbers(zone: ZoneSnapshot): AsyncIterable<readonly Uint8Array[]> {
  const rows = zone.image.entries(zone.serial);
  const first = rows.next();
  return (async function* () {
    try {
      let batch: Uint8Array[] = [];
      for (let next = first; !next.done; next = rows.next()) {
        const node = zone.nodes.ofEntry(next.value);
        if (node === UNSERVABLE) continue;
        for (const rrset of node.values()) for (const rr of rrset) batch.push(encodeRecord(rr));
        if (batch.length >= SLICE) {
          yield batch;
          batch = [];
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      yield batch;
    } finally {
      rows.return(undefined);
    }
  })();
}

/** A transfer worker (xfr-worker.ts) and a way to ask it for its next reply. */
class XfrWorker {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  #waiting: ((reply: XfrReply) => void) | undefined;
  #failed: string | undefined;

  constructor(files: ImageFiles, zone: ZoneSnapshot, from?: number) {
    const { port1, port2 } = new MessageChannel();
    const data: XfrWorkerData = {
      port: port2,
      files,
      settings: zone.settings,
      serial: zone.serial,
      ...(from !== undefined ? { from } : {}),
    };
    this.#worker = new Worker(new URL('./xfr-worker.js', import.meta.url), {
      workerData: data,
      transferList: [port2],
    });
    this.#worker.unref();
    this.#port = port1;
    port1.on('message', (reply: XfrReply) => this.#told(reply));
    const fail = (why: string): void => this.#told({ kind: 'error', error: why });
    this.#worker.on('error', (err) => fail(`transfer worker failed: ${err.message}`));
    this.#worker.on('exit', (code) => fail(`transfer worker exited (${code})`));
  }

  #told(reply: XfrReply): void {
    if (reply.kind === 'error') this.#failed ??= reply.error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(reply);
  }

  /** The worker's next reply (after asking for it, when `ask`). */
  next(ask: boolean): Promise<XfrReply> {
    if (this.#failed !== undefined) {
      return Promise.resolve({ kind: 'error', error: this.#failed });
    }
    const reply = new Promise<XfrReply>((resolve) => (this.#waiting = resolve));
    if (ask) this.#port.postMessage('next');
    return reply;
  }

  stop(): void {
    this.#port.close();
    void this.#worker.terminate();
  }
}

async function journalOnWorker(
  files: ImageFiles,
  zone: ZoneSnapshot,
  from: number,
): Promise<JournalDifference | undefined> {
  const worker = new XfrWorker(files, zone, from);
  try {
    const reply = await worker.next(false);
    if (reply.kind === 'error') throw new Error(reply.error);
    return reply.kind === 'journal' ? reply : undefined;
  } finally {
    worker.stop();
  }
}

/**
 * The numbers' records read on a worker: resolves once the first batch came (so a version
 * that cannot be read fails before anything is sent); then each batch is asked for as the one
 * before it is taken, one ahead at most.
 */
async function axfrOnWorker(
  files: ImageFiles,
  zone: ZoneSnapshot,
): Promise<AsyncIterable<Iterable<Uint8Array>>> {
  const worker = new XfrWorker(files, zone);
  const batchOf = async (pending: Promise<XfrReply>): Promise<XfrBatch> => {
    const reply = await pending;
    if (reply.kind !== 'batch') {
      throw new Error(reply.kind === 'error' ? reply.error : 'unexpected transfer reply');
    }
    return reply.batch;
  };
  let first: XfrBatch;
  try {
    first = await batchOf(worker.next(true));
  } catch (err) {
    worker.stop();
    throw err;
  }
  return (async function* () {
    try {
      let batch = first;
      for (;;) {
        const ahead = batch.done ? undefined : batchOf(worker.next(true));
        // A failure of the batch ahead is seen when it is awaited, not before.
        ahead?.catch(() => undefined);
        reportBad(zone, batch);
        yield recordsOf(batch);
        if (!ahead) return;
        batch = await ahead;
      }
    } finally {
      worker.stop();
    }
  })();
}

/**
 * The records of a batch, each a view made when taken: a view per record kept for the whole
 * batch (thousands, alive across the socket's drains) was promoted to the old generation and
 * piled up there (heap 0.9 GB after an AXFR of 1,000,000 numbers, 1.75 GB after two).
 */
function* recordsOf(batch: XfrBatch): Generator<Uint8Array> {
  let start = 0;
  for (const end of batch.ends) {
    yield batch.data.subarray(start, end);
    start = end;
  }
}

function reportBad(zone: ZoneSnapshot, batch: XfrBatch): void {
  for (const { digits, entry } of batch.bad) zone.nodes.report(digits, entry);
}
