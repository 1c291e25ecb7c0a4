// signZoneNsec3 with the signatures spread over worker threads (the hashing, chain building and
// encoding stay on the calling thread; signing is what dominates).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ResourceRecord } from '@switchboard/dns-wire';
import type { SigningKey, ZoneSignOptions } from './constants.js';
import { DnssecError } from './errors.js';
import { SIGNATURE_LENGTH } from './sign-worker.js';
import type { SignBatch } from './sign-worker.js';
import { buildSignedZone } from './zone-sign.js';

export interface ParallelZoneSignOptions extends ZoneSignOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  readonly threads?: number;
  /** Signatures per message to a worker; default 2048. */
  readonly batchSize?: number;
}

interface Job {
  readonly keyIndex: number;
  readonly data: Uint8Array;
  readonly target: Uint8Array;
}

function packBatch(jobs: readonly Job[], keys: readonly SigningKey[]): SignBatch {
  let total = 0;
  for (const j of jobs) total += j.data.length;
  const data = new Uint8Array(total);
  const offsets = new Uint32Array(jobs.length + 1);
  const keyIndex = new Uint8Array(jobs.length);
  let o = 0;
  jobs.forEach((j, i) => {
    offsets[i] = o;
    data.set(j.data, o);
    o += j.data.length;
    keyIndex[i] = j.keyIndex;
  });
  offsets[jobs.length] = o;
  return {
    keys: keys.map((k) => k.privateKey),
    algorithms: keys.map((k) => k.algorithm),
    data,
    offsets,
    keyIndex,
  };
}

/**
 * Same output as `signZoneNsec3`, with the signatures made on `threads` worker threads.
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
  const batchSize = options.batchSize ?? 2048;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64)
    throw new DnssecError('bad-option', 'threads must be 1..64');
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new DnssecError('bad-option', 'batchSize must be a positive integer');
  if (keys.length > 255) throw new DnssecError('bad-option', 'too many keys');
  const jobs: Job[] = [];
  const signed = buildSignedZone(records, keys, options, (key, data) => {
    // The buffer is reused for the next key of the same RRset, so keep a copy.
    const target = new Uint8Array(SIGNATURE_LENGTH);
    jobs.push({ keyIndex: keys.indexOf(key), data: data.slice(), target });
    return target;
  });
  const batches: Job[][] = [];
  for (let i = 0; i < jobs.length; i += batchSize) batches.push(jobs.slice(i, i + batchSize));
  const workers = Array.from(
    { length: Math.min(threads, Math.max(1, batches.length)) },
    () => new Worker(new URL('./sign-worker.js', import.meta.url)),
  );
  try {
    let next = 0;
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            let current: Job[] | undefined;
            const feed = (): void => {
              current = batches[next++];
              if (!current) {
                resolve();
                return;
              }
              worker.postMessage(packBatch(current, keys));
            };
            worker.on('message', (sigs: Uint8Array) => {
              current?.forEach((job, i) =>
                job.target.set(sigs.subarray(i * SIGNATURE_LENGTH, (i + 1) * SIGNATURE_LENGTH)),
              );
              feed();
            });
            worker.once('error', () =>
              reject(new DnssecError('bad-zone', 'a signing worker failed')),
            );
            feed();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return signed;
}
