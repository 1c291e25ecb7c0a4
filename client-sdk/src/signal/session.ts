import {
  CiphertextMessageType,
  ErrorCode,
  KEMPublicKey,
  LibSignalErrorBase,
  PreKeyBundle,
  PreKeySignalMessage,
  ProtocolAddress,
  PublicKey,
  SignalMessage,
  processPreKeyBundle,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from '@signalapp/libsignal-client';
import { arrayBufferBytes, bytesEqual, copyBytes } from '../bytes.js';
import { IdentityKeyChangedError, SwitchboardError } from '../errors.js';
import type { ProtocolStores } from './stores.js';

/** A libsignal address: a stable name (E.164 or contact id) and a device id 1..127. */
export interface PeerAddress {
  readonly name: string;
  readonly deviceId: number;
}

export interface SignedKeyBytes {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

/** A prekey bundle as fetched from a provider, decoded to bytes. */
export interface PreKeyBundleInput {
  readonly registrationId: number;
  readonly deviceId: number;
  readonly identityKey: Uint8Array;
  readonly signedPreKey: SignedKeyBytes;
  readonly kyberPreKey: SignedKeyBytes;
  readonly preKey?: { readonly keyId: number; readonly publicKey: Uint8Array } | undefined;
}

/** Which libsignal message a ciphertext is. */
export type SignalCiphertextKind = 'prekey' | 'whisper';

export interface SignalCiphertext {
  readonly kind: SignalCiphertextKind;
  readonly body: Uint8Array<ArrayBuffer>;
}

/** Peers' addresses a {@link SignalSessions} keeps made (all forgotten when it has more). */
const ADDRESSES_KEPT = 1024;

function toAddress(peer: PeerAddress): ProtocolAddress {
  if (!Number.isInteger(peer.deviceId) || peer.deviceId < 1 || peer.deviceId > 127) {
    throw new SwitchboardError('invalid-input', 'device id must be an integer from 1 to 127');
  }
  if (peer.name.length === 0 || peer.name.length > 255) {
    throw new SwitchboardError('invalid-input', 'address name must be 1 to 255 characters');
  }
  return ProtocolAddress.new(peer.name, peer.deviceId);
}

/**
 * The libsignal error code of `err`, if it is a libsignal error. Checked structurally, not
 * with `instanceof`: the native addon keeps the error class of the first module instance that
 * loaded it, so in hosts with several module registries (jest workers, bundlers) `instanceof
 * LibSignalErrorBase` is false for genuine libsignal errors.
 */
function libsignalCode(err: unknown): ErrorCode | undefined {
  if (err instanceof LibSignalErrorBase) return err.code;
  const e = err as { code?: unknown; operation?: unknown } | null;
  if (
    typeof e === 'object' &&
    e !== null &&
    typeof e.code === 'number' &&
    typeof e.operation === 'string'
  ) {
    return e.code as ErrorCode;
  }
  return undefined;
}

function mapError(err: unknown, peer: PeerAddress, newKey?: Uint8Array): never {
  if (err instanceof SwitchboardError) throw err;
  const code = libsignalCode(err);
  if (code !== undefined) {
    if (code === ErrorCode.UntrustedIdentity) {
      throw new IdentityKeyChangedError(`${peer.name}.${peer.deviceId}`, newKey, { cause: err });
    }
    if (code === ErrorCode.DuplicatedMessage) {
      throw new SwitchboardError('replayed-message', 'this message was already received', {
        cause: err,
      });
    }
    if (code === ErrorCode.InvalidSession) {
      throw new SwitchboardError('no-session', 'no usable session with this contact', {
        cause: err,
      });
    }
  }
  throw new SwitchboardError('decrypt-failed', 'the message could not be decrypted or verified', {
    cause: err,
  });
}

async function hasSession(
  stores: ProtocolStores,
  address: ProtocolAddress,
  now: Date,
): Promise<boolean> {
  const record = await stores.session.getSession(address);
  return record?.hasCurrentState(now) ?? false;
}

/**
 * Pairwise libsignal sessions for one local device.
 *
 * @example
 * const sessions = new SignalSessions(stores, { name: '+15550100', deviceId: 1 });
 * await sessions.establish({ name: '+15550111', deviceId: 1 }, bundle, directoryKey);
 * const ct = await sessions.encrypt({ name: '+15550111', deviceId: 1 }, utf8('hi'));
 */
export class SignalSessions {
  readonly #stores: ProtocolStores;
  readonly #local: ProtocolAddress;
  readonly #now: () => Date;
  /** Peers' libsignal addresses, made (and checked) once: each is a native object. */
  readonly #addresses = new Map<string, ProtocolAddress>();

  constructor(stores: ProtocolStores, local: PeerAddress, now: () => Date = () => new Date()) {
    this.#stores = stores;
    this.#local = toAddress(local);
    this.#now = now;
  }

  #address(peer: PeerAddress): ProtocolAddress {
    const key = `${peer.deviceId}:${peer.name}`;
    let address = this.#addresses.get(key);
    if (address === undefined) {
      address = toAddress(peer);
      if (this.#addresses.size >= ADDRESSES_KEPT) this.#addresses.clear();
      this.#addresses.set(key, address);
    }
    return address;
  }

  /**
   * Starts a session from a provider's bundle. When `expectedIdentityKey` is given (the key the
   * directory or a card vouched for) a bundle carrying any other identity key is refused with
   * `provider-key-mismatch` before libsignal sees it.
   */
  async establish(
    peer: PeerAddress,
    bundle: PreKeyBundleInput,
    expectedIdentityKey?: Uint8Array,
  ): Promise<void> {
    if (expectedIdentityKey && !bytesEqual(expectedIdentityKey, bundle.identityKey)) {
      throw new SwitchboardError(
        'provider-key-mismatch',
        "the provider's prekey bundle carries a different identity key than the one published for this contact; do not trust this provider for this contact",
      );
    }
    const address = this.#address(peer);
    await this.#unit((stores) => this.#process(stores, peer, address, bundle));
  }

  async #process(
    stores: ProtocolStores,
    peer: PeerAddress,
    address: ProtocolAddress,
    bundle: PreKeyBundleInput,
  ): Promise<void> {
    let libBundle: PreKeyBundle;
    try {
      libBundle = PreKeyBundle.new(
        bundle.registrationId,
        bundle.deviceId,
        bundle.preKey?.keyId ?? null,
        bundle.preKey ? PublicKey.deserialize(arrayBufferBytes(bundle.preKey.publicKey)) : null,
        bundle.signedPreKey.keyId,
        PublicKey.deserialize(arrayBufferBytes(bundle.signedPreKey.publicKey)),
        arrayBufferBytes(bundle.signedPreKey.signature),
        PublicKey.deserialize(arrayBufferBytes(bundle.identityKey)),
        bundle.kyberPreKey.keyId,
        KEMPublicKey.deserialize(arrayBufferBytes(bundle.kyberPreKey.publicKey)),
        arrayBufferBytes(bundle.kyberPreKey.signature),
      );
    } catch (cause) {
      throw new SwitchboardError('invalid-input', 'the prekey bundle is malformed', { cause });
    }
    try {
      await processPreKeyBundle(
        libBundle,
        address,
        this.#local,
        stores.session,
        stores.identity,
        this.#now(),
      );
    } catch (err) {
      if (libsignalCode(err) === ErrorCode.UntrustedIdentity) {
        mapError(err, peer, bundle.identityKey);
      }
      if (err instanceof SwitchboardError) throw err;
      throw new SwitchboardError(
        'invalid-input',
        'the prekey bundle was refused (bad signature on a prekey or unusable key)',
        { cause: err },
      );
    }
  }

  /** Runs `work` as one unit of store writes when the stores offer it (see ProtocolStores.unit). */
  #unit<T>(work: (stores: ProtocolStores) => Promise<T>): Promise<T> {
    return this.#stores.unit ? this.#stores.unit(work) : work(this.#stores);
  }

  /** `peer`'s address, or the error a bad one is (handed back as a rejection, as from an async
   *  function, without an async frame of its own around the unit's promise). */
  #addressOrError(peer: PeerAddress): ProtocolAddress | Error {
    try {
      return this.#address(peer);
    } catch (err) {
      return err as Error;
    }
  }

  async hasSession(peer: PeerAddress): Promise<boolean> {
    return hasSession(this.#stores, this.#address(peer), this.#now());
  }

  /**
   * Encrypts `plaintext` for `peer`. The session's new state is in storage before the
   * ciphertext is returned.
   */
  encrypt(peer: PeerAddress, plaintext: Uint8Array): Promise<SignalCiphertext> {
    // One closure per message: the unit hands it the stores.
    const address = this.#addressOrError(peer);
    if (address instanceof Error) return Promise.reject(address);
    return this.#unit((stores) => this.#encrypt(stores, peer, address, plaintext));
  }

  async #encrypt(
    stores: ProtocolStores,
    peer: PeerAddress,
    address: ProtocolAddress,
    plaintext: Uint8Array,
  ): Promise<SignalCiphertext> {
    // No separate "is there a session" read first: libsignal refuses exactly when there is no
    // usable current state (hasCurrentState), and only then is it asked which failure it was.
    try {
      const msg = await signalEncrypt(
        // A copy: the caller may reuse its buffer while libsignal works asynchronously.
        copyBytes(plaintext),
        address,
        this.#local,
        stores.session,
        stores.identity,
        this.#now(),
      );
      const kind: SignalCiphertextKind =
        msg.type() === (CiphertextMessageType.PreKey as number) ? 'prekey' : 'whisper';
      return { kind, body: msg.serialize() };
    } catch (err) {
      if (!(err instanceof SwitchboardError) && !(await hasSession(stores, address, this.#now()))) {
        throw new SwitchboardError(
          'no-session',
          'no session with this contact; fetch their bundle first',
          { cause: err },
        );
      }
      return mapError(err, peer);
    }
  }

  /**
   * Decrypts a message from `peer`. The session's new state (and a used one-time prekey's
   * removal) is in storage before the plaintext is returned; if that write fails, or the
   * process dies first, storage still holds the state from before, so the same ciphertext
   * decrypts again later: a message is neither lost nor decrypted twice.
   */
  decrypt(peer: PeerAddress, ciphertext: SignalCiphertext): Promise<Uint8Array<ArrayBuffer>> {
    const address = this.#addressOrError(peer);
    if (address instanceof Error) return Promise.reject(address);
    return this.#unit((stores) => this.#decrypt(stores, peer, address, ciphertext));
  }

  async #decrypt(
    stores: ProtocolStores,
    peer: PeerAddress,
    address: ProtocolAddress,
    ciphertext: SignalCiphertext,
  ): Promise<Uint8Array<ArrayBuffer>> {
    try {
      if (ciphertext.kind === 'prekey') {
        const msg = PreKeySignalMessage.deserialize(arrayBufferBytes(ciphertext.body));
        return await signalDecryptPreKey(
          msg,
          address,
          this.#local,
          stores.session,
          stores.identity,
          stores.preKey,
          stores.signedPreKey,
          stores.kyberPreKey,
        );
      }
      const msg = SignalMessage.deserialize(arrayBufferBytes(ciphertext.body));
      return await signalDecrypt(msg, address, this.#local, stores.session, stores.identity);
    } catch (err) {
      return mapError(err, peer);
    }
  }
}
