// Synchronous loading on node:crypto; the checks are load-core.ts.
import { runSync } from './crypto.js';
import type { TrustListInput } from './load-core.js';
import {
  MAX_TRUST_LIST_BYTES,
  boardFingerprintOp,
  checkBoardOp,
  checkBodyOp,
  loadTrustListOp,
  trustListDigestOp,
} from './load-core.js';
import { nodeSyncCharterCrypto } from './node-crypto.js';
import type { Board, SignedTrustList, TrustListBody } from '../trust-list/types.js';

export type { TrustListInput } from './load-core.js';
export { MAX_TRUST_LIST_BYTES, serializeTrustList } from './load-core.js';

/**
 * Parses and checks the form of a trust list, WITHOUT checking its signatures: strict JSON (no
 * duplicate names, integers only), the JSON Schema (unknown fields refused), then the rules a
 * schema cannot say (keyids are SHA-256 of their keys, ids are unique, thresholds reachable,
 * https outside loopback, dates in order). Use {@link verifyTrustList} before trusting anything.
 *
 * @example const envelope = loadTrustList(await readFile('trust-list.json'));
 */
export function loadTrustList(
  input: TrustListInput,
  maxBytes = MAX_TRUST_LIST_BYTES,
): SignedTrustList {
  return runSync(loadTrustListOp(input, maxBytes), nodeSyncCharterCrypto);
}

/** Lower-case hex SHA-256 of the canonical body: the identity of one list version. */
export function trustListDigest(body: TrustListBody): string {
  return runSync(trustListDigestOp(body), nodeSyncCharterCrypto);
}

/**
 * A short stable name for a board: SHA-256 over its threshold and sorted keyids (names and order
 * do not matter). Clients may pin it in configuration as their root of trust.
 */
export function boardFingerprint(board: Board): string {
  return runSync(boardFingerprintOp(board), nodeSyncCharterCrypto);
}

/** Checks a board on its own (also used for a board pinned in configuration). */
export function checkBoard(board: Board, where: string): void {
  runSync(checkBoardOp(board, where), nodeSyncCharterCrypto);
}

/** The rules the schema cannot express. Exported for the edit functions. */
export function checkBody(body: TrustListBody): void {
  runSync(checkBodyOp(body), nodeSyncCharterCrypto);
}
