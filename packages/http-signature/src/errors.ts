/** Why a signed request was refused. Stable strings: APIs map them to problem+json codes. */
export type HttpSignatureErrorCode =
  | 'missing'
  | 'malformed'
  | 'unsupported'
  | 'unknown-key'
  | 'bad-signature'
  | 'stale'
  | 'replayed'
  | 'digest-mismatch';

/** A refused signature. The message says what was wrong, never the key or the body. */
export class HttpSignatureError extends Error {
  override readonly name = 'HttpSignatureError';
  constructor(
    readonly code: HttpSignatureErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** Type guard, optionally for one code (libsignal style). */
  static is(err: unknown, code?: HttpSignatureErrorCode): err is HttpSignatureError {
    return err instanceof HttpSignatureError && (code === undefined || err.code === code);
  }
}
