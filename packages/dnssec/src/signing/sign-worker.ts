// Worker thread for signZoneNsec3Parallel: receives the private keys once, then signs batches of
// signed-data buffers packed into one transferred ArrayBuffer, and answers with the signatures
// packed the same way (64 octets each), also transferred.
import { sign } from 'node:crypto';
import type { KeyObject, SignKeyObjectInput } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

/** First message: the keys batches refer to by index. */
export interface SignerKeys {
  readonly keys: readonly KeyObject[];
  readonly algorithms: readonly number[];
}

export interface SignBatch {
  /** All signed-data buffers back to back. */
  readonly data: Uint8Array;
  /** offsets[i]..offsets[i+1] is buffer i. */
  readonly offsets: Uint32Array;
  /** Index into the keys for buffer i. */
  readonly keyIndex: Uint8Array;
}

/** `workerData` the parallel signer starts its workers with. */
export const SIGN_WORKER_ROLE = 'switchboard-dnssec-sign';

/** P-256 r||s (RFC 6605) and Ed25519 (RFC 8080) signatures are both 64 octets. */
export const SIGNATURE_LENGTH = 64;

/** A signer over fixed keys: one options object per key, made once. */
export function batchSigner(init: SignerKeys): (batch: SignBatch) => Uint8Array {
  const inputs: SignKeyObjectInput[] = init.keys.map((key) => ({
    key,
    dsaEncoding: 'ieee-p1363',
  }));
  const digests = init.algorithms.map((a) => (a === 13 ? 'sha256' : null));
  return (batch) => {
    const n = batch.keyIndex.length;
    const out = new Uint8Array(n * SIGNATURE_LENGTH);
    for (let i = 0; i < n; i++) {
      const k = batch.keyIndex[i] as number;
      const data = batch.data.subarray(batch.offsets[i], batch.offsets[i + 1]);
      const sig = sign(digests[k] ?? null, data, inputs[k] as SignKeyObjectInput);
      if (sig.length !== SIGNATURE_LENGTH) throw new Error('unexpected signature length');
      out.set(sig, i * SIGNATURE_LENGTH);
    }
    return out;
  };
}

// Only in a worker started as a signer: this module is also imported (for its types and
// constants) by code that may itself run in some other worker thread.
if (workerData === SIGN_WORKER_ROLE) {
  let signBatch: ((batch: SignBatch) => Uint8Array) | undefined;
  parentPort?.on('message', (message: SignerKeys | SignBatch) => {
    if ('keys' in message) {
      signBatch = batchSigner(message);
      return;
    }
    if (!signBatch) throw new Error('batch before keys');
    const out = signBatch(message);
    parentPort?.postMessage(out, [out.buffer as ArrayBuffer]);
  });
}
