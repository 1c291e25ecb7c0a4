// Trust-list verification written as computations that ask for crypto (crypto.ts): verify.ts
// runs them on node:crypto, verify-async.ts on WebCrypto or any injected crypto. No Node
// built-ins.
import { fromBase64Strict } from '../trust-list/bytes.js';
import type { CryptoOp } from './crypto.js';
import { verifyEd25519Op } from './crypto.js';
import { CharterError } from '../trust-list/errors.js';
import { canonicalBytes } from '../trust-list/jcs.js';
import type { TrustListInput } from './load-core.js';
import {
  boardFingerprintOp,
  checkBoardOp,
  loadTrustListOp,
  trustListDigestOp,
} from './load-core.js';
import type {
  Board,
  SignedTrustList,
  TrustListBody,
  VerifiedTrustList,
} from '../trust-list/types.js';

/**
 * How to verify a list. Give exactly one root of trust: `previous` (the last list you verified),
 * `boardKeys` (a board pinned in configuration) or `boardFingerprint` (its pinned fingerprint).
 */
export interface VerifyOptions {
  /** The instant to judge expiry at (injected: the library never reads the clock). */
  readonly now: Date;
  /** The last verified list. Its board must sign the new list too (rotation), and the new
   *  version must not be lower (or equal with different content). */
  readonly previous?: VerifiedTrustList;
  /** A pinned board: a threshold of it must sign the list (and of the list's own board too). */
  readonly boardKeys?: Board;
  /** A pinned {@link boardFingerprint}: the list's board must have exactly this fingerprint. */
  readonly boardFingerprint?: string;
  /** The highest version this verifier has ever accepted (persist it): lower ones are refused. */
  readonly lastSeenVersion?: number;
  /** Size limit for byte/string input. */
  readonly maxBytes?: number;
}

interface Authority {
  readonly board: Board;
  readonly label: string;
}

/** See `verifyTrustList` (verify.ts) for what is checked, in order. */
export function* verifyTrustListOp(
  input: TrustListInput,
  options: VerifyOptions,
): CryptoOp<VerifiedTrustList> {
  const envelope = yield* loadTrustListOp(input, options.maxBytes);
  const body = envelope.signed;
  const digest = yield* trustListDigestOp(body);

  checkRollback(body, options);
  const authorities = yield* rootsOfTrust(body, options);
  const signedBy = yield* checkSignatures(envelope, authorities);
  // After the signatures: a tampered copy of the current version is reported as tampered.
  checkVersionConflict(body, digest, options);
  checkExpiry(body, options.now);

  const verified = {
    envelope,
    body,
    version: body.version,
    expires: new Date(body.expires),
    digest,
    signedBy,
  };
  return verified as unknown as VerifiedTrustList;
}

/** See `verifyTrustListChain` (verify.ts). */
export function* verifyTrustListChainOp(
  inputs: readonly TrustListInput[],
  options: VerifyOptions,
): CryptoOp<VerifiedTrustList> {
  let current: VerifiedTrustList | undefined;
  for (const input of inputs) {
    current =
      current === undefined
        ? yield* verifyTrustListOp(input, options)
        : yield* verifyTrustListOp(input, {
            now: options.now,
            previous: current,
            ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
          });
  }
  if (current === undefined) {
    throw new CharterError('no-root-of-trust', 'an empty chain of trust lists verifies nothing');
  }
  return current;
}

function checkRollback(body: TrustListBody, options: VerifyOptions): void {
  const seen = Math.max(options.lastSeenVersion ?? 0, options.previous?.version ?? 0);
  if (body.version < seen) {
    throw new CharterError(
      'rollback',
      `trust list version ${body.version} is older than version ${seen} already seen; refusing a rollback`,
      '/signed/version',
    );
  }
}

function checkVersionConflict(body: TrustListBody, digest: string, options: VerifyOptions): void {
  if (
    options.previous !== undefined &&
    body.version === options.previous.version &&
    digest !== options.previous.digest
  ) {
    throw new CharterError(
      'version-conflict',
      `trust list version ${body.version} differs from the version ${body.version} already seen; a new list needs a new version`,
      '/signed/version',
    );
  }
}

function* rootsOfTrust(body: TrustListBody, options: VerifyOptions): CryptoOp<Authority[]> {
  const roots = [options.previous, options.boardKeys, options.boardFingerprint].filter(
    (r) => r !== undefined,
  ).length;
  if (roots !== 1) {
    throw new CharterError(
      'no-root-of-trust',
      roots === 0
        ? 'no root of trust given: pass the previous list, the pinned board keys or the pinned board fingerprint'
        : 'give exactly one root of trust (previous list, board keys or board fingerprint)',
    );
  }
  const own: Authority = { board: body.board, label: 'the list’s own board' };
  if (options.previous !== undefined) {
    return [
      {
        board: options.previous.body.board,
        label: `the board of version ${options.previous.version}`,
      },
      own,
    ];
  }
  if (options.boardKeys !== undefined) {
    yield* checkBoardOp(options.boardKeys, 'the pinned board');
    return [{ board: options.boardKeys, label: 'the pinned board' }, own];
  }
  const fingerprint = yield* boardFingerprintOp(body.board);
  if (fingerprint !== options.boardFingerprint) {
    throw new CharterError(
      'board-mismatch',
      'the list’s board is not the pinned board (fingerprint differs); a rotated board must be reached through the chain of lists',
      '/signed/board',
    );
  }
  return [own];
}

function* checkSignatures(
  envelope: SignedTrustList,
  authorities: readonly Authority[],
): CryptoOp<string[]> {
  const known = new Map<string, string>(); // keyid -> base64 public key
  for (const a of authorities) for (const k of a.board.keys) known.set(k.keyid, k.publicKey);

  const message = canonicalBytes(envelope.signed);
  const valid = new Set<string>();
  for (const [i, s] of envelope.signatures.entries()) {
    const where = `/signatures/${i}`;
    if (valid.has(s.keyid)) {
      throw new CharterError(
        'duplicate-signature',
        `signature ${i} repeats a signature by a key that already signed; each key counts once`,
        where,
      );
    }
    const publicKey = known.get(s.keyid);
    if (publicKey === undefined) {
      throw new CharterError(
        'unknown-signing-key',
        `signature ${i} is by a key that is not on the board (keyid ${s.keyid.slice(0, 16)}…)`,
        where,
      );
    }
    if (!(yield* verifySignature(publicKey, message, s.sig))) {
      throw new CharterError(
        'invalid-signature',
        `signature ${i} does not verify: the list was changed after signing, or it was made over another list`,
        where,
      );
    }
    valid.add(s.keyid);
  }

  const [trusted, own] = authorities;
  const rotated =
    own !== undefined &&
    trusted !== undefined &&
    (yield* boardFingerprintOp(trusted.board)) !== (yield* boardFingerprintOp(own.board));
  for (const a of authorities) {
    // keyids were checked to be SHA-256 of distinct public keys, so distinct keyids = distinct keys.
    const count = a.board.keys.filter((k) => valid.has(k.keyid)).length;
    if (count < a.board.threshold) {
      const rotationByOldBoard = rotated && a === trusted;
      throw new CharterError(
        rotationByOldBoard ? 'rotation-not-authorised' : 'threshold-not-met',
        rotationByOldBoard
          ? `the board changed, but only ${count} of ${a.label}’s keys signed (threshold ${a.board.threshold}); a rotation must be signed by a threshold of the old keys as well as the new`
          : `only ${count} valid signature(s) from ${a.label}; its threshold is ${a.board.threshold}`,
        '/signatures',
      );
    }
  }
  return [...valid];
}

/** A base64 Ed25519 signature by a base64 raw public key (both checked in form first). */
function* verifySignature(publicKey: string, message: Uint8Array, sig: string): CryptoOp<boolean> {
  const key = fromBase64Strict(publicKey);
  const raw = fromBase64Strict(sig);
  if (key === undefined || key.length !== 32 || raw === undefined || raw.length !== 64)
    return false;
  return yield* verifyEd25519Op(key, message, raw);
}

function checkExpiry(body: TrustListBody, now: Date): void {
  const expires = Date.parse(body.expires);
  if (now.getTime() >= expires) {
    const days = Math.floor((now.getTime() - expires) / 86_400_000);
    throw new CharterError(
      'expired',
      `trust list version ${body.version} expired at ${body.expires}` +
        (days > 0 ? ` (${days} day(s) ago)` : '') +
        '; fetch a current list from the board — an expired list must not be used',
      '/signed/expires',
    );
  }
}
