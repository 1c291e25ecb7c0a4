import type { ProviderSchema } from '@switchboard/openapi';
import { fromBase64, fromUtf8, toBase64, toBase64Url, utf8 } from '../bytes.js';
import type { Ed25519 } from '../crypto.js';
import { SwitchboardError } from '../errors.js';
import type { RegistrationUpload } from '../signal/keys.js';
import type { PreKeyBundleInput } from '../signal/session.js';
import type { HttpClient } from './http.js';
import type { MailboxSubscription, PushConnector } from './push.js';

export type VerificationSession = ProviderSchema<'VerificationSession'>;
export type Account = ProviderSchema<'Account'>;
export type Contact = ProviderSchema<'Contact'>;
export type PrekeyCount = ProviderSchema<'PrekeyCount'>;
export type UploadPrekeys = ProviderSchema<'UploadPrekeys'>;
export type MailboxMessage = ProviderSchema<'MailboxMessage'>;
export type MailboxReceipt = ProviderSchema<'MailboxReceipt'>;
export type SenderCertificate = ProviderSchema<'SenderCertificate'>;
type PrekeyBundleJson = ProviderSchema<'PrekeyBundle'>;
type MailboxAcknowledged = ProviderSchema<'MailboxAcknowledged'>;
type RegisterAccountJson = ProviderSchema<'RegisterAccount'>;

/** An error answer from a provider: `problemCode` is the provider API's `ErrorCode`. */
export class ProviderError extends SwitchboardError {
  readonly status: number;
  readonly problemCode: string | undefined;
  constructor(status: number, problemCode: string | undefined, detail: string) {
    super('provider-error', detail);
    this.name = 'ProviderError';
    this.status = status;
    this.problemCode = problemCode;
  }
}

/** The device's credentials at its provider (account id + Ed25519 device key seed). */
export interface DeviceCredentials {
  readonly accountId: string;
  readonly deviceSeed: Uint8Array;
}

/**
 * Who fetches a bundle: the device's credentials at its own provider, and for a fetch at
 * another provider the sender certificate its own provider issued.
 */
export interface BundleAsker {
  readonly creds: DeviceCredentials;
  readonly certificate?: string;
}

/** A mailbox key: requests are signed with it, `keyid` = base64url raw public key. */
export interface MailboxCredentials {
  readonly publicKey: Uint8Array;
  readonly seed: Uint8Array;
}

export interface ProviderClientOptions {
  /** Provider base URL from the trust list (`apiBaseUrl`). */
  readonly baseUrl: string;
  readonly http: HttpClient;
  readonly ed25519: Ed25519;
  /** Seconds since the epoch (request signatures are only valid within five minutes). */
  readonly nowSeconds?: () => number;
}

function b64(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = fromBase64(toBase64(bytes));
  return out!;
}

function decodeKey(text: string, what: string): Uint8Array<ArrayBuffer> {
  const bytes = fromBase64(text);
  if (!bytes) throw new SwitchboardError('provider-error', `the provider sent an invalid ${what}`);
  return bytes;
}

/**
 * Typed client of one provider's HTTP API (openapi/provider.yaml): verification,
 * registration, prekeys, bundles and mailboxes. Device and mailbox requests are signed
 * (RFC 9421) with the injected Ed25519 implementation.
 */
export class ProviderClient {
  readonly #base: string;
  readonly #http: HttpClient;
  readonly #ed: Ed25519;
  readonly #now: () => number;

  constructor(options: ProviderClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#http = options.http;
    this.#ed = options.ed25519;
    this.#now = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  }

  async #call<T>(
    method: string,
    path: string,
    body: unknown,
    signer?: { readonly seed: Uint8Array; readonly keyId: string },
    extraHeaders: Readonly<Record<string, string>> = {},
  ): Promise<T> {
    const bytes = body === undefined ? new Uint8Array() : utf8(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (signer) {
      Object.assign(
        headers,
        this.#ed.signRequest(
          signer.seed,
          signer.keyId,
          { method, url: path, body: bytes },
          this.#now(),
        ),
      );
    }
    let res;
    try {
      res = await this.#http.request({
        method,
        url: this.#base + path,
        headers,
        ...(body === undefined ? {} : { body: bytes }),
      });
    } catch (cause) {
      throw new SwitchboardError(
        'network-failed',
        'could not reach the provider; check the network',
        {
          cause,
        },
      );
    }
    const text = fromUtf8(res.body) ?? '';
    if (res.status >= 400) {
      let code: string | undefined;
      let detail = `the provider refused the request (HTTP ${res.status})`;
      try {
        const problem = JSON.parse(text) as { code?: unknown; detail?: unknown; title?: unknown };
        if (typeof problem.code === 'string') code = problem.code;
        const said = typeof problem.detail === 'string' ? problem.detail : problem.title;
        if (typeof said === 'string') detail = `${detail}: ${said}`;
      } catch {
        // not problem+json; keep the generic message
      }
      throw new ProviderError(res.status, code, detail);
    }
    if (res.status === 204 || text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new SwitchboardError(
        'provider-error',
        'the provider sent a response that is not JSON',
        {
          cause,
        },
      );
    }
  }

  #device(creds: DeviceCredentials): { seed: Uint8Array; keyId: string } {
    return { seed: creds.deviceSeed, keyId: creds.accountId };
  }

  createVerificationSession(number: string): Promise<VerificationSession> {
    return this.#call('POST', '/v1/verification/sessions', { number });
  }

  requestCode(sessionId: string, transport: 'sms' | 'voice' = 'sms'): Promise<VerificationSession> {
    return this.#call('POST', `/v1/verification/sessions/${encodeURIComponent(sessionId)}/code`, {
      transport,
    });
  }

  submitCode(sessionId: string, code: string): Promise<VerificationSession> {
    return this.#call('PUT', `/v1/verification/sessions/${encodeURIComponent(sessionId)}/code`, {
      code,
    });
  }

  /** Exchanges a registration link's single-use token for the verified session it hands over. */
  redeemRegistrationHandover(token: string): Promise<{ sessionId: string; expiresAt: string }> {
    return this.#call('POST', '/v1/registration-handovers/redeem', { token });
  }

  /**
   * Registers the device; `deviceKey` is the raw Ed25519 public key that will sign requests.
   * `registrationLockPin` opens the registration lock the number's previous account set.
   */
  registerAccount(
    sessionId: string,
    upload: RegistrationUpload,
    deviceKey: Uint8Array,
    registrationLockPin?: string,
  ): Promise<Account> {
    const body: RegisterAccountJson = {
      sessionId,
      registrationId: upload.registrationId,
      identityKey: upload.identityKey,
      signedPreKey: upload.signedPreKey,
      kyberLastResortPreKey: upload.kyberLastResortPreKey,
      oneTimePreKeys: [...upload.oneTimePreKeys],
      deviceKey: toBase64(deviceKey),
      ...(registrationLockPin === undefined
        ? {}
        : { registrationLock: { pin: registrationLockPin } }),
    };
    return this.#call('POST', '/v1/accounts', body);
  }

  /** Sets the registration lock PIN (re-registering the number then needs it for 7 days). */
  setRegistrationLock(creds: DeviceCredentials, pin: string): Promise<void> {
    return this.#call('PUT', '/v1/account/registration-lock', { pin }, this.#device(creds));
  }

  removeRegistrationLock(creds: DeviceCredentials): Promise<void> {
    return this.#call('DELETE', '/v1/account/registration-lock', undefined, this.#device(creds));
  }

  getAccount(creds: DeviceCredentials): Promise<Account> {
    return this.#call('GET', '/v1/account', undefined, this.#device(creds));
  }

  setDiscoverability(
    creds: DeviceCredentials,
    discoverable: boolean,
    contacts: ReadonlyArray<Contact> = [],
  ): Promise<Account> {
    return this.#call(
      'PUT',
      '/v1/account/discoverability',
      discoverable ? { discoverable, contacts } : { discoverable },
      this.#device(creds),
    );
  }

  countPrekeys(creds: DeviceCredentials): Promise<PrekeyCount> {
    return this.#call('GET', '/v1/keys/count', undefined, this.#device(creds));
  }

  uploadPrekeys(creds: DeviceCredentials, body: UploadPrekeys): Promise<PrekeyCount> {
    return this.#call('PUT', '/v1/keys', body, this.#device(creds));
  }

  /**
   * A certificate of this device's key from its own provider, valid for a day: the credential
   * for bundle fetches at other providers (see {@link getPrekeyBundle}).
   */
  getSenderCertificate(creds: DeviceCredentials): Promise<SenderCertificate> {
    return this.#call('POST', '/v1/account/sender-certificate', undefined, this.#device(creds));
  }

  /**
   * Fetches a bundle for an account id or a discoverable E.164 number, as `asker`: the request
   * is signed with the asker's device key; at a provider other than the asker's own, pass the
   * sender certificate its own provider issued ({@link getSenderCertificate}). Consumes one
   * one-time prekey of each kind, at most once a day per asker and target.
   */
  async getPrekeyBundle(
    address: string,
    asker: BundleAsker,
  ): Promise<PreKeyBundleInput & { readonly accountId: string }> {
    const j = await this.#call<PrekeyBundleJson>(
      'GET',
      `/v1/keys/bundles/${encodeURIComponent(address)}`,
      undefined,
      this.#device(asker.creds),
      asker.certificate === undefined ? {} : { 'sender-certificate': asker.certificate },
    );
    return {
      accountId: j.accountId,
      registrationId: j.registrationId,
      deviceId: j.deviceId,
      identityKey: decodeKey(j.identityKey, 'identity key'),
      signedPreKey: {
        keyId: j.signedPreKey.keyId,
        publicKey: decodeKey(j.signedPreKey.publicKey, 'signed prekey'),
        signature: decodeKey(j.signedPreKey.signature, 'signature'),
      },
      kyberPreKey: {
        keyId: j.kyberPreKey.keyId,
        publicKey: decodeKey(j.kyberPreKey.publicKey, 'Kyber prekey'),
        signature: decodeKey(j.kyberPreKey.signature, 'signature'),
      },
      preKey: j.preKey
        ? { keyId: j.preKey.keyId, publicKey: decodeKey(j.preKey.publicKey, 'prekey') }
        : undefined,
    };
  }

  /** Anyone holding a mailbox address may deliver to it. */
  deliver(mailboxAddress: Uint8Array, ciphertext: Uint8Array): Promise<MailboxReceipt> {
    return this.#call('POST', `/v1/mailboxes/${toBase64Url(mailboxAddress)}/messages`, {
      ciphertext: toBase64(ciphertext),
    });
  }

  /** Pulls queued messages; signed by the mailbox key, so only its holder can read. */
  async receive(
    mailbox: MailboxCredentials,
    mailboxAddress: Uint8Array,
    limit = 100,
  ): Promise<Array<{ readonly messageId: string; readonly ciphertext: Uint8Array }>> {
    const res = await this.#call<{ messages: MailboxMessage[] }>(
      'GET',
      `/v1/mailboxes/${toBase64Url(mailboxAddress)}/messages?limit=${limit}`,
      undefined,
      { seed: mailbox.seed, keyId: toBase64Url(mailbox.publicKey) },
    );
    return res.messages.map((m) => ({
      messageId: m.messageId,
      ciphertext: b64(decodeKey(m.ciphertext, 'message')),
    }));
  }

  /** Acknowledges (deletes) one message. */
  async acknowledge(
    mailbox: MailboxCredentials,
    mailboxAddress: Uint8Array,
    messageId: string,
  ): Promise<void> {
    await this.#call(
      'DELETE',
      `/v1/mailboxes/${toBase64Url(mailboxAddress)}/messages/${encodeURIComponent(messageId)}`,
      undefined,
      { seed: mailbox.seed, keyId: toBase64Url(mailbox.publicKey) },
    );
  }

  /**
   * Acknowledges (deletes) up to 100 messages in one request; ids no longer queued are skipped.
   * Returns how many were deleted.
   */
  async acknowledgeMany(
    mailbox: MailboxCredentials,
    mailboxAddress: Uint8Array,
    messageIds: readonly string[],
  ): Promise<number> {
    const res = await this.#call<MailboxAcknowledged>(
      'POST',
      `/v1/mailboxes/${toBase64Url(mailboxAddress)}/acknowledgements`,
      { messageIds: [...messageIds] },
      { seed: mailbox.seed, keyId: toBase64Url(mailbox.publicKey) },
    );
    return res.deleted;
  }

  /**
   * Push delivery: every message delivered to the mailbox from now on is passed to `onMessage`
   * as it arrives (the upgrade is signed by the mailbox key like a pull). Messages stay queued
   * until acknowledged, so handle them, then call {@link acknowledge}; a pull after subscribing
   * picks up whatever arrived before. A frame that is not a mailbox message ends the
   * subscription with a `provider-error`.
   */
  async subscribe(
    connector: PushConnector,
    mailbox: MailboxCredentials,
    mailboxAddress: Uint8Array,
    onMessage: (message: { readonly messageId: string; readonly ciphertext: Uint8Array }) => void,
  ): Promise<MailboxSubscription> {
    const path = `/v1/mailboxes/${toBase64Url(mailboxAddress)}/socket`;
    const headers: Record<string, string> = {
      ...this.#ed.signRequest(
        mailbox.seed,
        toBase64Url(mailbox.publicKey),
        { method: 'GET', url: path, body: new Uint8Array() },
        this.#now(),
      ),
    };
    const url = this.#base.replace(/^http(s?):/i, 'ws$1:') + path;
    if (!/^wss?:/i.test(url)) {
      throw new SwitchboardError('invalid-input', 'the provider URL must be http: or https:');
    }
    const socket = await connector(url, headers);
    let settle: (reason: Error | undefined) => void = () => undefined;
    const closed = new Promise<Error | undefined>((resolve) => (settle = resolve));
    let ending: Error | undefined;
    socket.onClose((error) => settle(ending ?? error));
    socket.onText((text) => {
      if (ending) return;
      let message: MailboxMessage;
      let ciphertext: Uint8Array;
      try {
        message = JSON.parse(text) as MailboxMessage;
        if (typeof message.messageId !== 'string' || typeof message.ciphertext !== 'string') {
          throw new Error('not a mailbox message');
        }
        ciphertext = b64(decodeKey(message.ciphertext, 'message'));
      } catch (cause) {
        ending = new SwitchboardError(
          'provider-error',
          'the provider pushed something that is not a mailbox message',
          { cause },
        );
        socket.close();
        return;
      }
      onMessage({ messageId: message.messageId, ciphertext });
    });
    return { close: () => socket.close(), closed };
  }
}
