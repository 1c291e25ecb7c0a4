// signZoneNsec3 with the signatures made on worker threads. The workers start first and get the
// keys once; the zone is then built on the calling thread, and each full batch of signed data
// goes to a worker as soon as it is packed (one transferred ArrayBuffer, no object graph), so
// the workers sign while the rest of the zone is still being built.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ResourceRecord } from '@switchboard/dns-wire';
import type { SigningKey, ZoneSignOptions } from '../core/constants.js';
import { DnssecError } from '../core/errors.js';
import { SIGN_WORKER_ROLE, SIGNATURE_LENGTH } from './sign-worker.js';
import type { SignBatch, SignerKeys } from './sign-worker.js';
import { buildSignedZone } from './zone-sign.js';
import type { PendingRrsig } from './zone-sign.js';

export interface ParallelZoneSignOptions extends ZoneSignOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  readonly threads?: number;
  /** Signatures per message to a worker; default 512. */
  readonly batchSize?: number;
  /**
   * Called as signatures arrive, once the zone is built: `records[0..end)` are final (every
   * RRSIG among them signed), `end` grows from call to call and is `records.length` in the
   * last. Lets a caller format and write the zone while the last signatures are being made.
   */
  readonly onReady?: (records: readonly ResourceRecord[], end: number) => void;
}

interface Batch {
  readonly targets: PendingRrsig[];
  /** Output index of the batch's first RRSIG. */
  readonly first: number;
  done: boolean;
}

const BATCH_BYTES = 1 << 18;

/** Worker threads fed round-robin with packed batches; results come back in order per worker. */
class SigningPool {
  readonly #workers: Worker[];
  /** Per worker: the batches sent and not yet answered, oldest first. */
  readonly #waiting: Batch[][];
  /** Every batch sent, in output order; batches before `#frontier` are all signed. */
  readonly #batches: Batch[] = [];
  #frontier = 0;
  #output:
    | {
        records: readonly ResourceRecord[];
        onReady: NonNullable<ParallelZoneSignOptions['onReady']>;
      }
    | undefined;
  #reported = 0;
  readonly #keyIndex = new Map<SigningKey, number>();
  readonly #batchSize: number;
  #next = 0;
  #outstanding = 0;
  #failure: Error | undefined;
  #settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  // The batch being packed.
  #data = new Uint8Array(BATCH_BYTES);
  #pos = 0;
  #offsets: Uint32Array;
  #keys: Uint8Array;
  #targets: PendingRrsig[] = [];
  #first = 0;

  constructor(keys: readonly SigningKey[], threads: number, batchSize: number) {
    this.#batchSize = batchSize;
    this.#offsets = new Uint32Array(batchSize + 1);
    this.#keys = new Uint8Array(batchSize);
    keys.forEach((k, i) => this.#keyIndex.set(k, i));
    const init: SignerKeys = {
      keys: keys.map((k) => k.privateKey),
      algorithms: keys.map((k) => k.algorithm),
    };
    this.#workers = [];
    this.#waiting = [];
    for (let w = 0; w < threads; w++) {
      const worker = new Worker(new URL('./sign-worker.js', import.meta.url), {
        workerData: SIGN_WORKER_ROLE,
      });
      const queue: Batch[] = [];
      worker.on('message', (sigs: Uint8Array) => {
        const batch = queue.shift();
        if (!batch) return;
        const { targets } = batch;
        for (let i = 0; i < targets.length; i++)
          (targets[i] as PendingRrsig).signature = sigs.subarray(
            i * SIGNATURE_LENGTH,
            (i + 1) * SIGNATURE_LENGTH,
          );
        batch.done = true;
        this.#outstanding--;
        this.#progress();
      });
      worker.once('error', (err) => this.#fail(err));
      worker.once('exit', (code) => {
        if (queue.length > 0) this.#fail(new Error(`signing worker exited (${code})`));
      });
      worker.postMessage(init);
      this.#workers.push(worker);
      this.#waiting.push(queue);
    }
  }

  /** The SignatureSink: packs one signed-data buffer into the current batch. */
  readonly sink = (
    key: SigningKey,
    signedData: Uint8Array,
    rrsig: PendingRrsig,
    index: number,
  ): void => {
    const n = this.#targets.length;
    if (n === this.#batchSize || this.#pos + signedData.length > this.#data.length) {
      this.#flush();
      if (signedData.length > this.#data.length) this.#data = new Uint8Array(signedData.length);
    }
    const i = this.#targets.length;
    if (i === 0) this.#first = index;
    this.#offsets[i] = this.#pos;
    this.#data.set(signedData, this.#pos);
    this.#pos += signedData.length;
    this.#keys[i] = this.#keyIndex.get(key) ?? 0;
    this.#targets.push(rrsig);
  };

  #flush(): void {
    const n = this.#targets.length;
    if (n === 0) return;
    this.#offsets[n] = this.#pos;
    const batch: SignBatch = {
      data: this.#data.subarray(0, this.#pos),
      offsets: this.#offsets.subarray(0, n + 1),
      keyIndex: this.#keys.subarray(0, n),
    };
    const w = this.#next++ % this.#workers.length;
    const sent: Batch = { targets: this.#targets, first: this.#first, done: false };
    this.#batches.push(sent);
    (this.#waiting[w] as Batch[]).push(sent);
    this.#outstanding++;
    (this.#workers[w] as Worker).postMessage(batch, [
      this.#data.buffer as ArrayBuffer,
      this.#offsets.buffer as ArrayBuffer,
      this.#keys.buffer as ArrayBuffer,
    ]);
    this.#data = new Uint8Array(BATCH_BYTES);
    this.#pos = 0;
    this.#offsets = new Uint32Array(this.#batchSize + 1);
    this.#keys = new Uint8Array(this.#batchSize);
    this.#targets = [];
  }

  #fail(err: Error): void {
    this.#failure ??= new DnssecError('bad-zone', `a signing worker failed: ${err.message}`);
    this.#settle?.reject(this.#failure);
  }

  #progress(): void {
    while (this.#frontier < this.#batches.length && this.#batches[this.#frontier]?.done)
      this.#frontier++;
    const output = this.#output;
    if (output && !this.#failure) {
      const end =
        this.#frontier < this.#batches.length
          ? (this.#batches[this.#frontier] as Batch).first
          : output.records.length;
      if (end > this.#reported || end === output.records.length) {
        this.#reported = end;
        try {
          output.onReady(output.records, end);
        } catch (err) {
          this.#failure = err as Error;
          this.#settle?.reject(this.#failure);
          return;
        }
      }
    }
    if (this.#outstanding === 0) this.#settle?.resolve();
  }

  /** Sends the last batch and waits for every signature, reporting finished output as it goes. */
  finish(
    records: readonly ResourceRecord[],
    onReady: ParallelZoneSignOptions['onReady'],
  ): Promise<void> {
    this.#flush();
    return new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
      if (onReady) this.#output = { records, onReady };
      if (this.#failure) reject(this.#failure);
      else this.#progress();
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

/**
 * Same output as `signZoneNsec3`, with the signatures made on `threads` worker threads while the
 * calling thread builds the rest of the zone.
 *
 * @example
 * const signed = await signZoneNsec3Parallel(records, [ksk, zsk], { origin, inception, expiration });
 */
export async function signZoneNsec3Parallel(
  records: readonly ResourceRecord[],
  keys: readonly SigningKey[],
  options: ParallelZoneSignOptions,
): Promise<ResourceRecord[]> {
  const threads = options.threads ?? availableParallelism();
  const batchSize = options.batchSize ?? 512;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64)
    throw new DnssecError('bad-option', 'threads must be 1..64');
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new DnssecError('bad-option', 'batchSize must be a positive integer');
  if (keys.length === 0) throw new DnssecError('bad-option', 'no signing keys');
  if (keys.length > 255) throw new DnssecError('bad-option', 'too many keys');
  const pool = new SigningPool(keys, threads, batchSize);
  try {
    const signed = buildSignedZone(records, keys, options, pool.sink);
    await pool.finish(signed, options.onReady);
    return signed;
  } finally {
    await pool.close();
  }
}
