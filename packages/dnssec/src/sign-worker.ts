// Worker thread for signZoneNsec3Parallel: signs batches of prepared signed-data buffers.
import { sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

export interface SignBatch {
  readonly keys: readonly KeyObject[];
  readonly algorithms: readonly number[];
  /** All signed-data buffers back to back. */
  readonly data: Uint8Array;
  /** offsets[i]..offsets[i+1] is buffer i. */
  readonly offsets: Uint32Array;
  /** Index into keys for buffer i. */
  readonly keyIndex: Uint8Array;
}

export const SIGNATURE_LENGTH = 64;

/** Signs a batch: 64 octets per buffer (P-256 r||s and Ed25519 are both 64). */
export function signBatch(batch: SignBatch): Uint8Array {
  const n = batch.keyIndex.length;
  const out = new Uint8Array(n * SIGNATURE_LENGTH);
  for (let i = 0; i < n; i++) {
    const k = batch.keyIndex[i] as number;
    const key = batch.keys[k] as KeyObject;
    const data = batch.data.subarray(batch.offsets[i], batch.offsets[i + 1]);
    const sig =
      batch.algorithms[k] === 13
        ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
        : sign(null, data, key);
    out.set(sig, i * SIGNATURE_LENGTH);
  }
  return out;
}

parentPort?.on('message', (batch: SignBatch) => {
  const out = signBatch(batch);
  parentPort?.postMessage(out, [out.buffer as ArrayBuffer]);
});
