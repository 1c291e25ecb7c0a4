/**
 * Why a trust list (or a charter operation) was refused. Stable strings: the CLI prints them and
 * the other parts map them to their own error codes, so never rename one.
 */
export type CharterErrorCode =
  /** The bytes are not one complete, well-formed JSON document (e.g. a truncated file). */
  | 'malformed-json'
  /** The input is larger than the accepted maximum. */
  | 'too-large'
  /** The document does not match the trust-list JSON Schema (unknown field, wrong type...). */
  | 'schema-violation'
  /** A number that is not a safe integer: this format has integers only (RFC 8785 subset). */
  | 'non-integer-number'
  /** The same board key (same public key) appears twice in a board. */
  | 'duplicate-board-key'
  /** A declared keyid is not SHA-256 of its public key. */
  | 'keyid-mismatch'
  /** A key is not a valid Ed25519 public or private key. */
  | 'invalid-key'
  /** The board threshold is below 1 or above the number of keys. */
  | 'invalid-threshold'
  /** Two entries (directories, providers) share an id, or a provider publishing key is reused. */
  | 'duplicate-entry'
  /** A value the schema allows but the charter does not (plain http to a public host...). */
  | 'policy-violation'
  /** Two signatures carry the same keyid. Each key counts once towards a threshold. */
  | 'duplicate-signature'
  /** A signature names a key that is in no board this list is checked against. */
  | 'unknown-signing-key'
  /** A signature does not verify under the key it names. */
  | 'invalid-signature'
  /** Fewer distinct valid board signatures than the threshold. */
  | 'threshold-not-met'
  /** The board changed, but a threshold of the previous board did not sign the new list. */
  | 'rotation-not-authorised'
  /** The list is older than one already seen (rollback / replay of old metadata). */
  | 'rollback'
  /** Same version as one already seen, but different content. */
  | 'version-conflict'
  /** The list's expiry has passed (freeze attack, or the board stopped publishing). */
  | 'expired'
  /** The board's fingerprint differs from the pinned one. */
  | 'board-mismatch'
  /** A verification was asked for without any root of trust. */
  | 'no-root-of-trust'
  /** A directory or provider is not trusted now (not listed, suspended, revoked, out of window). */
  | 'not-trusted'
  /** An edit that the charter forbids (reinstating a revoked entry, unknown id...). */
  | 'invalid-edit'
  /** Signatures being combined were made over different list contents. */
  | 'body-mismatch';

/**
 * The one error type of `@switchboard/charter`. Messages say what was wrong and what to do; they
 * never carry key material or signatures.
 *
 * @example
 * try { verifyTrustList(bytes, opts) } catch (err) { if (isCharterError(err, 'expired')) ... }
 */
export class CharterError extends Error {
  override readonly name = 'CharterError';
  constructor(
    readonly code: CharterErrorCode,
    message: string,
    /** JSON Pointer (RFC 6901) into the document, or the byte offset, when the fault has a place. */
    readonly where?: string,
  ) {
    super(message);
  }

  /** Type guard, optionally for one code (libsignal style). */
  static is(err: unknown, code?: CharterErrorCode): err is CharterError {
    return err instanceof CharterError && (code === undefined || err.code === code);
  }
}

/** Type guard, optionally for one code: `isCharterError(err, 'rollback')`. */
export function isCharterError(err: unknown, code?: CharterErrorCode): err is CharterError {
  return CharterError.is(err, code);
}
