import type { KeyObject } from 'node:crypto';
import { CharterError } from '../trust-list/errors.js';
import { canonicalBytes, canonicalize } from '../trust-list/jcs.js';
import { keyIdFor, rawPublicKey, signBytes } from '../trust-list/keys.js';
import { trustListDigest } from '../verify/load.js';
import type { SignedTrustList, TrustListBody, TrustListSignature } from '../trust-list/types.js';

/** A signature shipped on its own (what `switchboard-charter sign` writes): it names the body. */
export interface DetachedSignature extends TrustListSignature {
  readonly type: 'switchboard-trust-list-signature';
  readonly version: number;
  /** {@link trustListDigest} of the body that was signed. */
  readonly digest: string;
}

/**
 * One board member's signature over a list body (Ed25519 over its RFC 8785 bytes). Members sign
 * separately, on their own machines; {@link combineSignatures} gathers the results.
 *
 * @example const sig = signTrustList(draft.signed, myPrivateKey);
 */
export function signTrustList(body: TrustListBody, privateKey: KeyObject): TrustListSignature {
  const keyid = keyIdFor(rawPublicKey(privateKey));
  return { keyid, sig: signBytes(privateKey, canonicalBytes(body)) };
}

/** {@link signTrustList}, packaged with the version and digest of what was signed. */
export function detachedSignature(body: TrustListBody, privateKey: KeyObject): DetachedSignature {
  return {
    type: 'switchboard-trust-list-signature',
    version: body.version,
    digest: trustListDigest(body),
    ...signTrustList(body, privateKey),
  };
}

/**
 * Merges signatures made over the same body: from detached signatures and from copies of the
 * envelope each member signed. Refuses copies whose bodies differ (`body-mismatch`) and two
 * different signatures by one key (`duplicate-signature`); an identical repeat is kept once.
 * It does not verify them: {@link verifyTrustList} does, against the right board.
 */
export function combineSignatures(
  base: SignedTrustList,
  others: ReadonlyArray<SignedTrustList | DetachedSignature>,
): SignedTrustList {
  const body = canonicalize(base.signed);
  const digest = trustListDigest(base.signed);
  const byKey = new Map<string, string>();
  const add = (s: TrustListSignature): void => {
    const existing = byKey.get(s.keyid);
    if (existing !== undefined && existing !== s.sig) {
      throw new CharterError(
        'duplicate-signature',
        `two different signatures by one key (keyid ${s.keyid.slice(0, 16)}…); keep only one`,
      );
    }
    byKey.set(s.keyid, s.sig);
  };
  base.signatures.forEach(add);
  others.forEach((other, i) => {
    if ('signed' in other) {
      if (canonicalize(other.signed) !== body) {
        throw new CharterError(
          'body-mismatch',
          `input ${i + 1} was signed over different list contents (version ${other.signed.version}); all must sign the same draft`,
        );
      }
      other.signatures.forEach(add);
    } else {
      if (other.digest !== digest) {
        throw new CharterError(
          'body-mismatch',
          `signature ${i + 1} was made over different list contents (version ${other.version}); all must sign the same draft`,
        );
      }
      add({ keyid: other.keyid, sig: other.sig });
    }
  });
  return {
    signed: base.signed,
    signatures: [...byKey].map(([keyid, sig]) => ({ keyid, sig })),
  };
}
