// Synchronous trust-list verification on node:crypto; the checks are verify-core.ts.
import { runSync } from './crypto.js';
import type { TrustListInput } from './load-core.js';
import { nodeSyncCharterCrypto } from './node-crypto.js';
import type { VerifiedTrustList } from '../trust-list/types.js';
import type { VerifyOptions } from './verify-core.js';
import { verifyTrustListChainOp, verifyTrustListOp } from './verify-core.js';

export type { VerifyOptions } from './verify-core.js';

/**
 * Verifies a trust list and returns it as a {@link VerifiedTrustList}, or throws a
 * {@link CharterError} saying exactly what is wrong.
 *
 * What it checks, in order (after {@link loadTrustList}'s form checks):
 * 1. rollback: the version is not lower than `lastSeenVersion` or `previous` (TUF "rollback");
 * 2. every signature names a known key, appears once, and verifies over the RFC 8785 bytes of
 *    `signed` (a key counts once, however often it signs: TUF's duplicate-key threshold bug);
 * 3. a threshold of the trusted board (previous / pinned) AND a threshold of the list's own
 *    board signed it, so a rotation needs both the old and the new keys;
 * 4. the same version as `previous` is the same body (else `version-conflict`);
 * 5. the list has not expired at `now` (TUF "freeze").
 *
 * @example
 * const list = verifyTrustList(bytes, { boardFingerprint: pinned, now: new Date(), lastSeenVersion: 7 });
 * if (mayTrustProvider(list, 'acme', new Date()).trusted) ...
 */
export function verifyTrustList(input: TrustListInput, options: VerifyOptions): VerifiedTrustList {
  return runSync(verifyTrustListOp(input, options), nodeSyncCharterCrypto);
}

/**
 * Verifies a sequence of lists, each against the one before (how a client that was offline
 * across several board rotations catches up). The first is checked with `options`.
 */
export function verifyTrustListChain(
  inputs: readonly TrustListInput[],
  options: VerifyOptions,
): VerifiedTrustList {
  return runSync(verifyTrustListChainOp(inputs, options), nodeSyncCharterCrypto);
}
