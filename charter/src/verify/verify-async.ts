// Trust-list verification on injected asynchronous crypto (WebCrypto in browsers); the same
// checks as verify.ts (verify-core.ts). No Node built-ins.
import type { CharterCrypto } from './crypto.js';
import { runAsync } from './crypto.js';
import type { TrustListInput } from './load-core.js';
import { boardFingerprintOp, loadTrustListOp } from './load-core.js';
import type { Board, SignedTrustList, VerifiedTrustList } from '../trust-list/types.js';
import type { VerifyOptions } from './verify-core.js';
import { verifyTrustListChainOp, verifyTrustListOp } from './verify-core.js';

/**
 * `verifyTrustList` with `crypto` answering SHA-256 and Ed25519: the same checks, the same
 * `CharterError`s.
 *
 * @example
 * const list = await verifyTrustListWith(webCryptoCharter(), bytes, { boardFingerprint: pinned, now: new Date() });
 */
export function verifyTrustListWith(
  crypto: CharterCrypto,
  input: TrustListInput,
  options: VerifyOptions,
): Promise<VerifiedTrustList> {
  return runAsync(verifyTrustListOp(input, options), crypto);
}

/** `verifyTrustListChain` with `crypto` answering SHA-256 and Ed25519. */
export function verifyTrustListChainWith(
  crypto: CharterCrypto,
  inputs: readonly TrustListInput[],
  options: VerifyOptions,
): Promise<VerifiedTrustList> {
  return runAsync(verifyTrustListChainOp(inputs, options), crypto);
}

/** `loadTrustList` (form only, no signatures) with `crypto` answering SHA-256. */
export function loadTrustListWith(
  crypto: CharterCrypto,
  input: TrustListInput,
  maxBytes?: number,
): Promise<SignedTrustList> {
  return runAsync(loadTrustListOp(input, maxBytes), crypto);
}

/** `boardFingerprint` with `crypto` answering SHA-256. */
export function boardFingerprintWith(crypto: CharterCrypto, board: Board): Promise<string> {
  return runAsync(boardFingerprintOp(board), crypto);
}
