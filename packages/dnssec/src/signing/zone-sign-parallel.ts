// signZoneNsec3 with the signatures made on worker threads. The workers start first and get the
// keys once; the zone is then built on the calling thread, and each full batch of signed data
// goes to a worker as soon as it is packed (one transferred ArrayBuffer, no object graph), so
// the workers sign while the rest of the zone is still being built.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ResourceRecord } from '@switchboard/dns-wire';
import type { SigningKey, ZoneSignOptions } from '../core/constants.js';
import { DnssecError } from '../core/errors.js';
import { batchTransfer, SIGN_WORKER_ROLE, SIGNATURE_LENGTH } from './sign-worker.js';
import type { SignBatch, SignerKeys } from './sign-worker.js';
import { buildSignedZoneSteps, recordArrayOutput } from './zone-sign.js';
import type { PendingRrsig } from './zone-sign.js';
import { ZoneTextWriter } from './zone-text.js';

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
  /** Where each signature goes: the sink's `index` (a record, or a text placeholder). */
  targets: number[];
  /** Output index of the batch's first RRSIG. */
  readonly first: number;
  done: boolean;
}

const BATCH_BYTES = 1 << 18;

/** A batch's buffers at full size (a `SignBatch` holds views of them). */
type BatchBuffers = { -readonly [K in keyof SignBatch]: SignBatch[K] };

/** Puts signature `sigs[at..at+64)` where the sink's `index` said. */
type Deliver = (target: number, sigs: Uint8Array, at: number) => void;

/** Worker threads fed round-robin with packed batches; results come back in order per worker. */
class SigningPool {
  readonly #workers: Worker[];
  /** Per worker: the batches sent and not yet answered, oldest first. */
  readonly #waiting: Batch[][];
  /** Batches sent, in output order (all signed ones dropped now and then); those before `#frontier` are signed. */
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
  /**
   * Batch buffers back from the workers, to pack again: every batch in flight holds its own
   * (transferred), and none is allocated once there are enough to go round.
   */
  readonly #spare: BatchBuffers[] = [];
  // The batch being packed.
  #data: Uint8Array;
  #pos = 0;
  #offsets: Uint32Array;
  #keys: Uint8Array;
  #signatures: Uint8Array;
  #targets: number[] = [];
  #first = 0;
  #deliver: Deliver = () => undefined;
  /** Called after each answered batch. */
  onProgress: () => void = () => undefined;

  constructor(keys: readonly SigningKey[], threads: number, batchSize: number) {
    this.#batchSize = batchSize;
    ({
      data: this.#data,
      offsets: this.#offsets,
      keyIndex: this.#keys,
      signatures: this.#signatures,
    } = this.#buffers());
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
      worker.on('message', (answer: SignBatch) => this.#answered(queue, answer));
      worker.once('error', (err) => this.#fail(err));
      worker.once('exit', (code) => {
        if (queue.length > 0) this.#fail(new Error(`signing worker exited (${code})`));
      });
      worker.postMessage(init);
      this.#workers.push(worker);
      this.#waiting.push(queue);
    }
  }

  /** Delivers a worker's signatures, keeps the batch's buffers, and reports progress. */
  #answered(queue: Batch[], answer: SignBatch): void {
    const batch = queue.shift();
    if (!batch) return;
    const { targets } = batch;
    const sigs = answer.signatures;
    for (let i = 0; i < targets.length; i++)
      this.#deliver(targets[i] as number, sigs, i * SIGNATURE_LENGTH);
    batch.targets = [];
    this.#spare.push({
      data: new Uint8Array(answer.data.buffer),
      offsets: new Uint32Array(answer.offsets.buffer),
      keyIndex: new Uint8Array(answer.keyIndex.buffer),
      signatures: new Uint8Array(sigs.buffer),
    });
    batch.done = true;
    this.#outstanding--;
    try {
      this.onProgress();
    } catch (err) {
      this.#failure ??= err as Error;
      this.#settle?.reject(this.#failure);
      return;
    }
    this.#progress();
  }

  /** Buffers for the next batch: spare ones, or new. */
  #buffers(): BatchBuffers {
    return (
      this.#spare.pop() ?? {
        data: new Uint8Array(BATCH_BYTES),
        offsets: new Uint32Array(this.#batchSize + 1),
        keyIndex: new Uint8Array(this.#batchSize),
        signatures: new Uint8Array(this.#batchSize * SIGNATURE_LENGTH),
      }
    );
  }

  /** Batches sent and not yet answered. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Sets where answered signatures go. */
  deliverTo(deliver: Deliver): void {
    this.#deliver = deliver;
  }

  /** The SignatureSink: packs one signed-data buffer into the current batch. */
  readonly sink = (
    key: SigningKey,
    signedData: Uint8Array,
    _rrsig: PendingRrsig,
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
    this.#targets.push(index);
  };

  #flush(): void {
    const n = this.#targets.length;
    if (n === 0) return;
    this.#offsets[n] = this.#pos;
    const batch: SignBatch = {
      data: this.#data.subarray(0, this.#pos),
      offsets: this.#offsets.subarray(0, n + 1),
      keyIndex: this.#keys.subarray(0, n),
      signatures: this.#signatures,
    };
    const w = this.#next++ % this.#workers.length;
    const sent: Batch = { targets: this.#targets, first: this.#first, done: false };
    this.#batches.push(sent);
    (this.#waiting[w] as Batch[]).push(sent);
    this.#outstanding++;
    (this.#workers[w] as Worker).postMessage(batch, batchTransfer(batch));
    ({
      data: this.#data,
      offsets: this.#offsets,
      keyIndex: this.#keys,
      signatures: this.#signatures,
    } = this.#buffers());
    this.#pos = 0;
    this.#targets = [];
  }

  #fail(err: Error): void {
    this.#failure ??= new DnssecError('bad-zone', `a signing worker failed: ${err.message}`);
    this.#settle?.reject(this.#failure);
  }

  #progress(): void {
    while (this.#frontier < this.#batches.length && this.#batches[this.#frontier]?.done)
      this.#frontier++;
    // The answered batches before the frontier are no longer needed.
    if (this.#frontier >= 1024) {
      this.#batches.splice(0, this.#frontier);
      this.#frontier = 0;
    }
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
    if (this.#below && this.#outstanding <= this.#below.limit) {
      const { resolve } = this.#below;
      this.#below = undefined;
      resolve();
    }
  }

  #below: { limit: number; resolve: () => void } | undefined;

  /** Sends the batch being packed, then waits until at most `limit` batches are unanswered. */
  async drain(limit: number): Promise<void> {
    this.#flush();
    if (this.#failure) throw this.#failure;
    if (this.#outstanding <= limit) return;
    await new Promise<void>((resolve, reject) => {
      this.#below = { limit, resolve };
      this.#settle = {
        resolve: () => undefined,
        reject: (err) => {
          this.#below = undefined;
          reject(err);
        },
      };
    });
    this.#settle = undefined;
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

function checkParallelOptions(
  keys: readonly SigningKey[],
  options: { readonly threads?: number; readonly batchSize?: number },
): { threads: number; batchSize: number } {
  const threads = options.threads ?? availableParallelism();
  const batchSize = options.batchSize ?? 512;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64)
    throw new DnssecError('bad-option', 'threads must be 1..64');
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new DnssecError('bad-option', 'batchSize must be a positive integer');
  if (keys.length === 0) throw new DnssecError('bad-option', 'no signing keys');
  if (keys.length > 255) throw new DnssecError('bad-option', 'too many keys');
  return { threads, batchSize };
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
  const { threads, batchSize } = checkParallelOptions(keys, options);
  const pool = new SigningPool(keys, threads, batchSize);
  try {
    const output = recordArrayOutput();
    const signed = output.records;
    pool.deliverTo((index, sigs, at) => {
      const rrsig = (signed[index] as ResourceRecord).data as PendingRrsig;
      rrsig.signature = sigs.subarray(at, at + SIGNATURE_LENGTH);
    });
    for (const _ of buildSignedZoneSteps(records, keys, options, pool.sink, output));
    await pool.finish(signed, options.onReady);
    return signed;
  } finally {
    await pool.close();
  }
}

export interface ParallelZoneTextOptions extends Omit<ParallelZoneSignOptions, 'onReady'> {
  /**
   * Receives the zone-file text in order, chunk by chunk (valid only during the call): the
   * lines `formatRecord` gives for each record `signZoneNsec3` returns, each ended by `\n`.
   */
  readonly write: (chunk: Uint8Array) => void;
  /** Records (not RRSIGs) to leave out of the text, as an SOA the caller wrote first. */
  readonly omit?: (rr: ResourceRecord) => boolean;
}

/**
 * Batches a text signing lets go unanswered before it waits (bounds the text held back), about
 * two seconds of signing: enough for the workers to go on while this thread hashes the NSEC3
 * owners between the names and the chain.
 */
const TEXT_BATCHES_AHEAD = 256;

/**
 * `signZoneNsec3Parallel` written straight out as zone-file text: the calling thread builds
 * the zone and formats each record into byte chunks as it goes (the signatures' places left
 * blank until the workers' answers fill them), so no signed record is kept, and finished text
 * is handed to `write` while the rest is signed. Keys must make 64-octet signatures (ECDSA
 * P-256, Ed25519). Returns how many records (lines) and RRSIGs it wrote.
 *
 * @example
 * await signZoneNsec3ParallelText(records, [ksk, zsk], { origin, inception, expiration,
 *   write: (chunk) => writeSync(fd, chunk) });
 */
export async function signZoneNsec3ParallelText(
  records: readonly ResourceRecord[],
  keys: readonly SigningKey[],
  options: ParallelZoneTextOptions,
): Promise<{ records: number; signatures: number }> {
  const { threads, batchSize } = checkParallelOptions(keys, options);
  for (const k of keys)
    if (k.algorithm !== 13 && k.algorithm !== 15)
      throw new DnssecError('unsupported-algorithm', 'zone text needs ECDSA P-256 or Ed25519 keys');
  const pool = new SigningPool(keys, threads, batchSize);
  try {
    const text = new ZoneTextWriter(options.write, options.omit);
    pool.deliverTo((position, sigs, at) => text.fill(position, sigs, at));
    pool.onProgress = () => text.flush();
    for (const _ of buildSignedZoneSteps(records, keys, options, pool.sink, text)) {
      if (pool.outstanding >= TEXT_BATCHES_AHEAD) await pool.drain(TEXT_BATCHES_AHEAD / 2);
    }
    await pool.finish([], undefined);
    text.end();
    return { records: text.records, signatures: text.signatures };
  } finally {
    await pool.close();
  }
}
