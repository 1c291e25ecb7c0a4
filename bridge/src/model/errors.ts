/** Every failure the bridge reports, by code. Messages never carry numbers, keys or bodies. */
export type BridgeErrorCode =
  | 'invalid-config'
  | 'invalid-address'
  | 'invalid-envelope'
  | 'envelope-too-large'
  | 'invalid-message'
  | 'unsupported-network'
  | 'number-not-found'
  | 'lookup-failed'
  | 'no-route'
  | 'network-unavailable'
  | 'delivery-rejected'
  | 'plaintext-relay-disabled'
  | 'rate-limited'
  | 'not-configured';

/** The one error class of the bridge: a stable `code` plus a message safe to log and show. */
export class BridgeError extends Error {
  override readonly name = 'BridgeError';
  readonly code: BridgeErrorCode;
  /** For `rate-limited`: when the sender may try again (s). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: BridgeErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /** True when `err` is a {@link BridgeError}, optionally with the given code. */
  static is(err: unknown, code?: BridgeErrorCode): err is BridgeError {
    return err instanceof BridgeError && (code === undefined || err.code === code);
  }
}
