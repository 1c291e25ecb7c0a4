/**
 * Every failure the SDK reports is a {@link SwitchboardError} with a stable string `code`.
 * Messages say what went wrong and what to do; they never contain phone numbers, keys,
 * tokens or message bodies (those travel, when needed, in typed properties).
 */
export type SwitchboardErrorCode =
  | 'invalid-input'
  | 'invalid-envelope'
  | 'unsupported-version'
  | 'invalid-card'
  | 'card-signature-invalid'
  | 'card-expired'
  | 'card-not-yet-valid'
  | 'card-already-used'
  | 'card-unknown'
  | 'identity-key-changed'
  | 'no-session'
  | 'decrypt-failed'
  | 'message-rejected'
  | 'replayed-message'
  | 'storage-failed'
  | 'not-found'
  | 'bogus-signature'
  | 'expired'
  | 'directory-record-invalid'
  | 'unlisted-directory'
  | 'unlisted-provider'
  | 'trust-list-expired'
  | 'dns-failed'
  | 'provider-key-mismatch'
  | 'provider-error'
  | 'network-failed';

/** Base class of every error the SDK throws on purpose. */
export class SwitchboardError extends Error {
  readonly code: SwitchboardErrorCode;

  constructor(code: SwitchboardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SwitchboardError';
    this.code = code;
  }

  /** Narrowing guard: `SwitchboardError.is(err, 'card-expired')`. */
  static is<C extends SwitchboardErrorCode>(
    err: unknown,
    code?: C,
  ): err is SwitchboardError & { code: C } {
    return err instanceof SwitchboardError && (code === undefined || err.code === code);
  }
}

/**
 * A remote party's identity key differs from the one stored for it. The app must show this
 * to the user and call `approveIdentity` (after re-verifying the safety number) before any
 * message is sent or accepted again; the SDK never accepts the new key on its own.
 */
export class IdentityKeyChangedError extends SwitchboardError {
  /** Address (`name.device`) whose key changed. */
  readonly address: string;
  /** Serialized public key now presented by the remote party. */
  readonly newIdentityKey: Uint8Array | undefined;

  constructor(
    address: string,
    newIdentityKey: Uint8Array | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      'identity-key-changed',
      'the contact presented a different identity key; verify the safety number and approve the new key before continuing',
      options,
    );
    this.name = 'IdentityKeyChangedError';
    this.address = address;
    this.newIdentityKey = newIdentityKey;
  }
}
