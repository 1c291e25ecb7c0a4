// Worker thread for signZoneNsec3Parallel: receives the private keys once, then signs batches of
// signed-data buffers packed into one transferred ArrayBuffer, writes the signatures (64 octets
// each) into the batch's own signature buffer, and sends the whole batch back, transferred: the
// caller uses its buffers again for a later batch (no new memory per batch).
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
  /** Where signature i goes: octets 64 i .. 64 i + 64 (room for at least every buffer). */
  readonly signatures: Uint8Array;
}

/** The ArrayBuffers of a batch, to transfer it without copying. */
export function batchTransfer(batch: SignBatch): ArrayBuffer[] {
  return [batch.data, batch.offsets, batch.keyIndex, batch.signatures].map(
    (a) => a.buffer as ArrayBuffer,
  );
}

/** `workerData` the parallel signer starts its workers with. */
export const SIGN_WORKER_ROLE = 'switchboard-dnssec-sign';

/** P-256 r||s (RFC 6605) and Ed25519 (RFC 8080) signatures are both 64 octets. */
export const SIGNATURE_LENGTH = 64;

/** A signer over fixed keys (one options object per key, made once): fills `batch.signatures`. */
export function batchSigner(init: SignerKeys): (batch: SignBatch) => void {
  const inputs: SignKeyObjectInput[] = init.keys.map((key) => ({
    key,
    dsaEncoding: 'ieee-p1363',
  }));
  const digests = init.algorithms.map((a) => (a === 13 ? 'sha256' : null));
  return (batch) => {
    const n = batch.keyIndex.length;
    const out = batch.signatures;
    if (out.length < n * SIGNATURE_LENGTH) throw new Error('no room for the signatures');
    for (let i = 0; i < n; i++) {
      const k = batch.keyIndex[i] as number;
      const data = batch.data.subarray(batch.offsets[i], batch.offsets[i + 1]);
      const sig = sign(digests[k] ?? null, data, inputs[k] as SignKeyObjectInput);
      if (sig.length !== SIGNATURE_LENGTH) throw new Error('unexpected signature length');
      out.set(sig, i * SIGNATURE_LENGTH);
    }
  };
}

// Only in a worker started as a signer: this module is also imported (for its types and
// constants) by code that may itself run in some other worker thread.
if (workerData === SIGN_WORKER_ROLE) {
  let signBatch: ((batch: SignBatch) => void) | undefined;
  parentPort?.on('message', (message: SignerKeys | SignBatch) => {
    if ('keys' in message) {
      signBatch = batchSigner(message);
      return;
    }
    if (!signBatch) throw new Error('batch before keys');
    signBatch(message);
    parentPort?.postMessage(message, batchTransfer(message));
  });
}
