// The crypto a trust-list verification needs, as requests a driver answers: one copy of the
// checks runs synchronously on node:crypto (load.ts, verify.ts) or asynchronously on WebCrypto or
// any injected implementation (verify-async.ts). No Node built-ins.
import { toHex } from '../trust-list/bytes.js';

export interface Sha256Request {
  readonly op: 'sha256';
  readonly data: Uint8Array;
}

export interface Ed25519VerifyRequest {
  readonly op: 'ed25519-verify';
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

export type CharterCryptoRequest = Sha256Request | Ed25519VerifyRequest;

/** Crypto for verifying trust lists, injected: SHA-256 and Ed25519 (RFC 8032, pure) verify. */
export interface CharterCrypto {
  sha256(data: Uint8Array): Promise<Uint8Array>;
  /** False (never a throw) for a bad signature or a key that is not a curve point. */
  verifyEd25519(
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): Promise<boolean>;
}

/** The synchronous form (node:crypto). */
export interface SyncCharterCrypto {
  sha256(data: Uint8Array): Uint8Array;
  verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** A computation that asks for crypto by yielding requests and finishes with a `T`. */
export type CryptoOp<T> = Generator<CharterCryptoRequest, T, unknown>;

/** Lower-case hex SHA-256 of `data`. */
export function* sha256HexOp(data: Uint8Array): CryptoOp<string> {
  const d = yield { op: 'sha256', data };
  if (!(d instanceof Uint8Array)) throw new TypeError('sha256 answered something other than bytes');
  return toHex(d);
}

export function* verifyEd25519Op(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): CryptoOp<boolean> {
  return (yield { op: 'ed25519-verify', publicKey, message, signature }) === true;
}

/** Runs `op` to the end, answering each request with `crypto` at once. */
export function runSync<T>(op: CryptoOp<T>, crypto: SyncCharterCrypto): T {
  let step = op.next();
  while (!step.done) {
    const r = step.value;
    step = op.next(
      r.op === 'sha256'
        ? crypto.sha256(r.data)
        : crypto.verifyEd25519(r.publicKey, r.message, r.signature),
    );
  }
  return step.value;
}

/** Runs `op` to the end, awaiting each answer of `crypto`. */
export async function runAsync<T>(op: CryptoOp<T>, crypto: CharterCrypto): Promise<T> {
  let step = op.next();
  while (!step.done) {
    const r = step.value;
    step = op.next(
      r.op === 'sha256'
        ? await crypto.sha256(r.data)
        : await crypto.verifyEd25519(r.publicKey, r.message, r.signature),
    );
  }
  return step.value;
}

/** The part of WebCrypto's `SubtleCrypto` used here (structural: no DOM types needed). */
export interface SubtleCryptoLike {
  importKey(
    format: 'raw',
    keyData: Uint8Array,
    algorithm: { name: 'Ed25519' },
    extractable: boolean,
    usages: ['verify'],
  ): Promise<unknown>;
  verify(
    algorithm: { name: 'Ed25519' },
    key: unknown,
    signature: Uint8Array,
    data: Uint8Array,
  ): Promise<boolean>;
  digest(algorithm: 'SHA-256', data: Uint8Array): Promise<ArrayBuffer>;
}

/**
 * Trust-list crypto on WebCrypto (`globalThis.crypto.subtle` unless given): browsers, Node 20+.
 *
 * @example
 * const list = await verifyTrustListWith(webCryptoCharter(), bytes, { boardFingerprint, now });
 */
export function webCryptoCharter(subtle?: SubtleCryptoLike): CharterCrypto {
  const s = subtle ?? (globalThis.crypto?.subtle as unknown as SubtleCryptoLike | undefined);
  if (!s) throw new TypeError('WebCrypto (crypto.subtle) is not available in this context');
  return {
    async sha256(data) {
      return new Uint8Array(await s.digest('SHA-256', data));
    },
    async verifyEd25519(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        const key = await s.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
        return await s.verify({ name: 'Ed25519' }, key, signature, message);
      } catch {
        return false;
      }
    },
  };
}
