/**
 * Ed25519 operations the SDK needs for provider requests (RFC 9421 device and mailbox
 * signatures). Injected so the core runs anywhere; `NodeEd25519` in `./node` implements it.
 */
export interface Ed25519KeyPairBytes {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** 32-byte private seed. Secret. */
  readonly seed: Uint8Array;
}

export interface HttpRequestToSign {
  readonly method: string;
  /** Origin-form or absolute URL; path and query are signed. */
  readonly url: string;
  readonly body: Uint8Array;
}

export interface Ed25519 {
  generate(): Ed25519KeyPairBytes;
  /** Raw public key of a seed. */
  publicKeyOf(seed: Uint8Array): Uint8Array;
  /** Headers (`content-digest`, `signature-input`, `signature`) signing `request` with `seed`. */
  signRequest(
    seed: Uint8Array,
    keyId: string,
    request: HttpRequestToSign,
    nowSeconds: number,
  ): Readonly<Record<string, string>>;
}
