import { createHash, verify } from 'node:crypto';
import { PublicKey } from '@signalapp/libsignal-client';
import type { ProviderKeyResolver } from './providers.js';
import { PROVIDER_ID } from '../zone/records.js';

/** A move proof as sent in `PublishRequest.move` (openapi/directory.yaml). */
export type MoveProof =
  | {
      readonly kind: 'release';
      readonly from: string;
      readonly expiresAt: number;
      readonly signature: string;
    }
  | { readonly kind: 'identity-key'; readonly verifiedAt: number; readonly signature: string };

/** Why a move proof was refused (problem codes). */
export class MoveProofError extends Error {
  override readonly name = 'MoveProofError';
  constructor(
    readonly code: 'move-proof-invalid' | 'move-proof-expired' | 'invalid-body',
    message: string,
  ) {
    super(message);
  }
}

const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;
export const MAX_RELEASE_SECONDS = 7 * 86_400;
export const MAX_VERIFICATION_AGE = 600;

/** The bytes a release is signed over (openapi/directory.yaml, ReleaseProof). */
export function releaseMessage(
  number: string,
  from: string,
  to: string,
  expiresAt: number,
): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(
    `switchboard-release-v1\n${number}\n${from}\n${to}\n${expiresAt}`,
  );
}

/** The bytes an identity-key move proof is signed over (IdentityKeyProof). */
export function identityMoveMessage(
  number: string,
  to: string,
  newIdentityKey: string,
  verifiedAt: number,
): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(
    `switchboard-move-v1\n${number}\n${to}\n${newIdentityKey}\n${verifiedAt}`,
  );
}

/** Checks the shape of `move` from a request body. */
export function parseMoveProof(value: unknown): MoveProof {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MoveProofError('invalid-body', 'move must be an object');
  }
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v).sort().join(',');
  if (v['kind'] === 'release') {
    if (
      keys !== 'expiresAt,from,kind,signature' ||
      typeof v['from'] !== 'string' ||
      !PROVIDER_ID.test(v['from']) ||
      !Number.isSafeInteger(v['expiresAt']) ||
      typeof v['signature'] !== 'string' ||
      !SIGNATURE.test(v['signature'])
    ) {
      throw new MoveProofError(
        'invalid-body',
        'a release needs exactly kind, from (provider id), expiresAt (seconds) and signature (base64, 64 bytes)',
      );
    }
    return {
      kind: 'release',
      from: v['from'],
      expiresAt: v['expiresAt'] as number,
      signature: v['signature'],
    };
  }
  if (v['kind'] === 'identity-key') {
    if (
      keys !== 'kind,signature,verifiedAt' ||
      !Number.isSafeInteger(v['verifiedAt']) ||
      typeof v['signature'] !== 'string' ||
      !SIGNATURE.test(v['signature'])
    ) {
      throw new MoveProofError(
        'invalid-body',
        'an identity-key proof needs exactly kind, verifiedAt (seconds) and signature (base64, 64 bytes)',
      );
    }
    return {
      kind: 'identity-key',
      verifiedAt: v['verifiedAt'] as number,
      signature: v['signature'],
    };
  }
  throw new MoveProofError('invalid-body', 'move.kind must be release or identity-key');
}

/** What the proof is checked against. */
export interface MoveContext {
  readonly number: string;
  /** Provider currently holding the number. */
  readonly holder: string;
  /** Identity key currently published. */
  readonly currentIdentityKey: string;
  /** The requesting provider. */
  readonly to: string;
  /** Identity key of the new entry. */
  readonly newIdentityKey: string;
  /** Seconds since the epoch. */
  readonly now: number;
}

/**
 * Verifies a move proof (openapi/directory.yaml, MoveProof). Returns the proof's hash, which
 * the store records so a proof is accepted only once.
 */
export async function verifyMoveProof(
  proof: MoveProof,
  ctx: MoveContext,
  providers: ProviderKeyResolver,
): Promise<string> {
  const signature = Buffer.from(proof.signature, 'base64');
  if (proof.kind === 'release') {
    if (proof.from !== ctx.holder) {
      throw new MoveProofError(
        'move-proof-invalid',
        'the release must come from the provider holding the number',
      );
    }
    if (proof.expiresAt <= ctx.now) {
      throw new MoveProofError(
        'move-proof-expired',
        'the release has expired; ask the old provider for a new one',
      );
    }
    if (proof.expiresAt > ctx.now + MAX_RELEASE_SECONDS) {
      throw new MoveProofError('move-proof-invalid', 'a release may be valid for at most 7 days');
    }
    const holder = await providers.resolve(proof.from, new Date(ctx.now * 1000));
    const ok =
      holder.status !== 'unknown' &&
      verify(
        null,
        releaseMessage(ctx.number, proof.from, ctx.to, proof.expiresAt),
        holder.key,
        signature,
      );
    if (!ok) {
      throw new MoveProofError(
        'move-proof-invalid',
        'the release signature does not verify with the old provider key',
      );
    }
  } else {
    if (proof.verifiedAt > ctx.now + 60 || proof.verifiedAt < ctx.now - MAX_VERIFICATION_AGE) {
      throw new MoveProofError(
        'move-proof-expired',
        'the number must have been verified in the last 10 minutes',
      );
    }
    let ok = false;
    try {
      const key = PublicKey.deserialize(Buffer.from(ctx.currentIdentityKey, 'base64'));
      ok = key.verify(
        new Uint8Array(
          identityMoveMessage(ctx.number, ctx.to, ctx.newIdentityKey, proof.verifiedAt),
        ),
        new Uint8Array(signature),
      );
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new MoveProofError(
        'move-proof-invalid',
        'the move must be signed by the identity key currently published for the number',
      );
    }
  }
  return createHash('sha256').update(signature).digest('hex');
}
