// The crypto a validator needs, as requests a driver answers: one copy of the validation logic
// runs synchronously over node:crypto (`validate.ts`) or asynchronously over WebCrypto or any
// injected implementation (`validate-async.ts`). Nothing here imports a Node built-in.

/** Digest names as WebCrypto spells them. */
export type DigestName = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

/** One signature check: `publicKey` is the DNSKEY public key field as on the wire. */
export interface VerifyRequest {
  readonly op: 'verify';
  readonly algorithm: number;
  readonly publicKey: Uint8Array;
  readonly data: Uint8Array;
  readonly signature: Uint8Array;
}

export interface DigestRequest {
  readonly op: 'digest';
  readonly hash: DigestName;
  readonly data: Uint8Array;
}

export type CryptoRequest = VerifyRequest | DigestRequest;

/**
 * Crypto for validation, injected. `verify` answers false (never throws) for a bad signature or
 * a key that is not a valid point; algorithms: 8, 10 (RSA), 13 (P-256), 14 (P-384), 15
 * (Ed25519). `digest`: SHA-1 (NSEC3, DS type 1), SHA-256, SHA-384.
 */
export interface DnssecCrypto {
  verify(
    algorithm: number,
    publicKey: Uint8Array,
    data: Uint8Array,
    signature: Uint8Array,
  ): Promise<boolean>;
  digest(hash: DigestName, data: Uint8Array): Promise<Uint8Array>;
}

/** The synchronous form (node:crypto). */
export interface SyncDnssecCrypto {
  verify(
    algorithm: number,
    publicKey: Uint8Array,
    data: Uint8Array,
    signature: Uint8Array,
  ): boolean;
  digest(hash: DigestName, data: Uint8Array): Uint8Array;
}

/** A computation that asks for crypto by yielding requests and finishes with a `T`. */
export type Op<T> = Generator<CryptoRequest, T, unknown>;

export function* verifyOp(
  algorithm: number,
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): Op<boolean> {
  const ok = yield { op: 'verify', algorithm, publicKey, data, signature };
  return ok === true;
}

export function* digestOp(hash: DigestName, data: Uint8Array): Op<Uint8Array> {
  const d = yield { op: 'digest', hash, data };
  if (!(d instanceof Uint8Array)) throw new TypeError('digest answered something other than bytes');
  return d;
}

/** Runs `op` to the end, answering each request with `crypto` at once. */
export function runSync<T>(op: Op<T>, crypto: SyncDnssecCrypto): T {
  let step = op.next();
  while (!step.done) {
    const r = step.value;
    const answer =
      r.op === 'verify'
        ? crypto.verify(r.algorithm, r.publicKey, r.data, r.signature)
        : crypto.digest(r.hash, r.data);
    step = op.next(answer);
  }
  return step.value;
}

/** Runs `op` to the end, awaiting each answer of `crypto`. */
export async function runAsync<T>(op: Op<T>, crypto: DnssecCrypto): Promise<T> {
  let step = op.next();
  while (!step.done) {
    const r = step.value;
    const answer =
      r.op === 'verify'
        ? await crypto.verify(r.algorithm, r.publicKey, r.data, r.signature)
        : await crypto.digest(r.hash, r.data);
    step = op.next(answer);
  }
  return step.value;
}
