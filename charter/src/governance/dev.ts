import { createHash } from 'node:crypto';
import type { Ed25519KeyPair } from '../trust-list/keys.js';
import { boardKeyRecord, generateEd25519KeyPair } from '../trust-list/keys.js';
import { combineSignatures, signTrustList } from './sign.js';
import type { TrustListEdit } from './edit.js';
import { createTrustList, draftNextVersion } from './edit.js';
import type { Board, DirectoryEntry, ProviderEntry, SignedTrustList } from '../trust-list/types.js';
import { verifyTrustList } from '../verify/verify.js';
import type { VerifiedTrustList } from '../trust-list/types.js';

/** A board member's key pair with the name it is listed under. */
export interface BoardMemberKey extends Ed25519KeyPair {
  readonly name: string;
}

/** A development board: its members' private keys and the public board they form. */
export interface DevelopmentBoard {
  readonly members: readonly BoardMemberKey[];
  readonly board: Board;
}

/** Options for {@link createDevelopmentBoard}. */
export interface DevelopmentBoardOptions {
  /** Number of members (default 3). */
  readonly size?: number;
  /** Signatures required (default 2). */
  readonly threshold?: number;
  /** Derive keys deterministically from this label (tests, golden files); random otherwise. */
  readonly seedLabel?: string;
}

/**
 * A board for tests and the embedded development stack: NOT for production, whose members
 * generate their keys on their own machines with `switchboard-charter keygen`.
 */
export function createDevelopmentBoard(options: DevelopmentBoardOptions = {}): DevelopmentBoard {
  const size = options.size ?? 3;
  const members = Array.from({ length: size }, (_, i): BoardMemberKey => {
    const seed =
      options.seedLabel === undefined
        ? undefined
        : createHash('sha256').update(`${options.seedLabel}/board/${i}`).digest();
    return { ...generateEd25519KeyPair(seed), name: `dev-board-${i + 1}` };
  });
  return {
    members,
    board: {
      threshold: options.threshold ?? Math.min(2, size),
      keys: members.map((m) => boardKeyRecord(m, m.name)),
    },
  };
}

/** Options for {@link createDevelopmentTrustList}. */
export interface DevelopmentTrustListOptions extends DevelopmentBoardOptions {
  readonly now: Date;
  /** Validity in days (default 90). */
  readonly validDays?: number;
  readonly directories?: readonly DirectoryEntry[];
  readonly providers?: readonly ProviderEntry[];
  /** Use this board instead of making one. */
  readonly devBoard?: DevelopmentBoard;
}

/** A signed development list with the board that signed it. */
export interface DevelopmentTrustList {
  readonly devBoard: DevelopmentBoard;
  readonly envelope: SignedTrustList;
  readonly verified: VerifiedTrustList;
}

/**
 * A development board and a version 1 trust list signed by all of its members, verified.
 *
 * @example
 * const { envelope, devBoard } = createDevelopmentTrustList({ now: new Date(), providers: [acme] });
 */
export function createDevelopmentTrustList(
  options: DevelopmentTrustListOptions,
): DevelopmentTrustList {
  const devBoard = options.devBoard ?? createDevelopmentBoard(options);
  const draft = createTrustList({
    board: devBoard.board,
    now: options.now,
    expires: new Date(options.now.getTime() + (options.validDays ?? 90) * 86_400_000),
    directories: options.directories ?? [],
    providers: options.providers ?? [],
  });
  const envelope = signWithAll(draft, devBoard.members);
  return {
    devBoard,
    envelope,
    verified: verifyTrustList(envelope, { boardKeys: devBoard.board, now: options.now }),
  };
}

/**
 * The next version of a development list, edited and signed by every development member
 * (for example when the embedded directory or provider adds itself on first run).
 */
export function reissueDevelopmentTrustList(
  current: SignedTrustList,
  devBoard: DevelopmentBoard,
  now: Date,
  ...edits: readonly TrustListEdit[]
): SignedTrustList {
  return signWithAll(draftNextVersion(current, now, ...edits), devBoard.members);
}

/** Signs a draft with each of `members` and combines the signatures. */
export function signWithAll(
  draft: SignedTrustList,
  members: readonly Ed25519KeyPair[],
): SignedTrustList {
  return combineSignatures(
    draft,
    members.map((m) => ({
      signed: draft.signed,
      signatures: [signTrustList(draft.signed, m.privateKey)],
    })),
  );
}
