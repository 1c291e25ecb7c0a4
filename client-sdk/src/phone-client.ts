import { ProtocolAddress, PublicKey } from '@signalapp/libsignal-client';
import type { VerifiedTrustList } from '@switchboard/charter/verify';
import { mayTrustProvider } from '@switchboard/charter/verify';
import type { DnssecCrypto } from '@switchboard/dnssec/validate';
import { bytesEqual, copyBytes, fromBase64, toBase64 } from './bytes.js';
import type { Ed25519 } from './crypto.js';
import { MessageType, decodeEnvelope, encodeEnvelope } from './envelope.js';
import { SwitchboardError } from './errors.js';
import type { LookupResult } from './lookup/lookup.js';
import { lookup } from './lookup/lookup.js';
import type { DnsTransport } from './lookup/transport.js';
import type { Account, BundleAsker, Contact, DeviceCredentials } from './provider/client.js';
import { ProviderClient } from './provider/client.js';
import type { HttpClient } from './provider/http.js';
import { createOneTimePreKeys, generateRegistrationKeys } from './signal/keys.js';
import type { SafetyNumber } from './signal/fingerprint.js';
import { safetyNumber } from './signal/fingerprint.js';
import { SignalSessions } from './signal/session.js';
import { copyStored } from './signal/store-cache.js';
import { createProtocolStores } from './signal/stores.js';
import type { IdentityEvent } from './signal/stores.js';
import type { KeyValueStorage } from './storage.js';
import { MemoryStorage } from './storage.js';

/** Storage prefixes of this device's own key material (replaced on registration). */
const LOCAL_KEY_PREFIXES = [
  'identity/local',
  'prekey/',
  'signed-prekey/',
  'kyber-prekey/',
  'kyber-used/',
];

export interface PhoneClientOptions {
  readonly storage: KeyValueStorage;
  readonly trustList: VerifiedTrustList;
  readonly dns: DnsTransport;
  readonly http: HttpClient;
  readonly ed25519: Ed25519;
  /** Directory to use; default every active one in the trust list. */
  readonly directoryId?: string;
  /** Override the directory's nameservers (`host:port`). */
  readonly nameservers?: ReadonlyArray<string>;
  /** DNSSEC signature and digest checks; default WebCrypto (see `LookupConfig.dnssecCrypto`). */
  readonly dnssecCrypto?: DnssecCrypto;
  readonly now?: () => Date;
  readonly onIdentityEvent?: (event: IdentityEvent) => void;
}

interface StoredAccount {
  readonly number: string;
  readonly providerId: string;
  readonly providerUrl: string;
  readonly accountId: string;
  readonly deviceId: number;
  readonly deviceSeed: string;
}

export interface RegisterOptions {
  /** The number to verify here; omitted when `sessionId` names a session verified elsewhere. */
  readonly number?: string;
  /** Provider id as listed (and active) in the trust list, or its API URL (see `providerId()`). */
  readonly providerId: string;
  /** Called after the code was sent; returns the code the user received. */
  readonly getCode?: () => Promise<string>;
  /**
   * A verification session already verified elsewhere (the provider's web page): this device
   * then only makes and registers the keys. The session is single-use at the provider.
   */
  readonly sessionId?: string;
  /** The single-use token of the page's registration link, exchanged for its session. */
  readonly handoverToken?: string;
  readonly transport?: 'sms' | 'voice';
  /** Publish in the directory with these contact methods (omit to stay undiscoverable). */
  readonly publishContacts?: ReadonlyArray<Contact>;
  readonly oneTimePreKeys?: number;
  /** The PIN of the registration lock the number's previous account set, if any. */
  readonly registrationLockPin?: string;
}

/** A decrypted incoming message. */
export interface ReceivedMessage {
  /** E.164 of the sender. */
  readonly from: string;
  readonly deviceId: number;
  readonly plaintext: Uint8Array;
}

/**
 * Phone-number mode in one object: register at a provider, look contacts up in the directory,
 * open sessions checked against the directory's key, and seal/open envelopes.
 *
 * @example
 * const me = new PhoneClient({ storage, trustList, dns, http: fetchHttpClient(), ed25519 });
 * await me.register({ number: '+15550100', providerId: 'acme', getCode: ask });
 * const envelope = await me.encrypt('+15550111', utf8('hello'));
 */
export class PhoneClient {
  readonly #o: PhoneClientOptions;
  readonly #stores;
  readonly #now: () => Date;
  #certificate:
    | { readonly accountId: string; readonly certificate: string; readonly expiresAt: number }
    | undefined;
  /** The account once read or registered: a message needs it, and only this client writes it. */
  #account: StoredAccount | undefined;
  #sessionsOf: { readonly account: StoredAccount; readonly sessions: SignalSessions } | undefined;
  /** Device ids of peers as stored (`peer-device/<number>`), so a message reads and writes none. */
  readonly #peerDevices = new Map<string, number>();

  constructor(options: PhoneClientOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
    this.#stores = createProtocolStores(
      options.storage,
      options.onIdentityEvent ? { onIdentityEvent: options.onIdentityEvent } : {},
    );
  }

  get stores(): ReturnType<typeof createProtocolStores> {
    return this.#stores;
  }

  /**
   * The trust list id of a provider named by id or by its API URL (as its web page shows it):
   * a URL must equal a listed provider's `apiBaseUrl` (trailing slash ignored), so a link can
   * never point registration at a provider the trust list does not name.
   */
  providerId(idOrUrl: string): string {
    const providers = this.#o.trustList.body.providers;
    if (providers.some((p) => p.id === idOrUrl)) return idOrUrl;
    const bare = (u: string): string => u.replace(/\/+$/, '').toLowerCase();
    if (/^https?:\/\//i.test(idOrUrl)) {
      const match = providers.find((p) => bare(p.apiBaseUrl) === bare(idOrUrl));
      if (match) return match.id;
      throw new SwitchboardError(
        'unlisted-provider',
        'no provider in the trust list has this API URL',
      );
    }
    return idOrUrl; // an unknown id: #provider() reports it as not listed
  }

  #provider(providerId: string): ProviderClient {
    const p = mayTrustProvider(this.#o.trustList, providerId, this.#now());
    if (!p.trusted) {
      throw new SwitchboardError(
        p.reason === 'list-expired' ? 'trust-list-expired' : 'unlisted-provider',
        p.message,
      );
    }
    return this.#client(p.entry.apiBaseUrl);
  }

  #client(baseUrl: string): ProviderClient {
    return new ProviderClient({
      baseUrl,
      http: this.#o.http,
      ed25519: this.#o.ed25519,
      nowSeconds: () => Math.floor(this.#now().getTime() / 1000),
    });
  }

  async account(): Promise<StoredAccount | undefined> {
    if (this.#account) return this.#account;
    const text = await this.#o.storage.get('account');
    if (text !== undefined) this.#account = JSON.parse(text) as StoredAccount;
    return this.#account;
  }

  async #requireAccount(): Promise<StoredAccount> {
    const a = await this.account();
    if (!a) throw new SwitchboardError('no-session', 'not registered yet; run register first');
    return a;
  }

  async #creds(): Promise<{
    account: StoredAccount;
    creds: DeviceCredentials;
    client: ProviderClient;
  }> {
    const account = await this.#requireAccount();
    return {
      account,
      creds: { accountId: account.accountId, deviceSeed: fromBase64(account.deviceSeed)! },
      client: this.#client(account.providerUrl),
    };
  }

  /** Verifies the number, generates and registers keys, and optionally publishes. */
  async register(options: RegisterOptions): Promise<Account> {
    if (await this.account()) {
      throw new SwitchboardError('invalid-input', 'this data directory is already registered');
    }
    const providerId = this.providerId(options.providerId);
    const client = this.#provider(providerId);
    const session = {
      sessionId:
        options.sessionId ??
        (options.handoverToken === undefined
          ? await this.#verify(client, options)
          : (await client.redeemRegistrationHandover(options.handoverToken)).sessionId),
    };
    // Keys are made in a staging store and copied over only once the provider accepted them,
    // so a refused or interrupted registration leaves no half-made identity behind.
    const staging = new MemoryStorage();
    const upload = await generateRegistrationKeys(createProtocolStores(staging), {
      oneTimePreKeyCount: options.oneTimePreKeys ?? 100,
      now: this.#now().getTime(),
    });
    const device = this.#o.ed25519.generate();
    const account = await client.registerAccount(
      session.sessionId,
      upload,
      device.publicKey,
      options.registrationLockPin,
    );
    for (const prefix of LOCAL_KEY_PREFIXES) {
      for (const key of await this.#o.storage.list(prefix)) await this.#o.storage.delete(key);
    }
    for (const key of await staging.list('')) await copyStored(staging, this.#o.storage, key);
    this.#stores.forget(); // the keys were written past the stores' kept records
    const stored: StoredAccount = {
      number: account.number,
      providerId,
      providerUrl: mayTrustProvider(this.#o.trustList, providerId, this.#now()).entry!.apiBaseUrl,
      accountId: account.accountId,
      deviceId: account.deviceId,
      deviceSeed: toBase64(device.seed),
    };
    await this.#o.storage.set('account', JSON.stringify(stored), { secret: true });
    this.#account = stored;
    if (options.publishContacts && options.publishContacts.length > 0) {
      return this.setDiscoverable(true, options.publishContacts);
    }
    return account;
  }

  async #verify(client: ProviderClient, options: RegisterOptions): Promise<string> {
    if (options.number === undefined || options.getCode === undefined) {
      throw new SwitchboardError('invalid-input', 'give a number and a way to ask for the code');
    }
    const session = await client.createVerificationSession(options.number);
    await client.requestCode(session.sessionId, options.transport ?? 'sms');
    const code = (await options.getCode()).trim();
    await client.submitCode(session.sessionId, code);
    return session.sessionId;
  }

  async setDiscoverable(
    discoverable: boolean,
    contacts: ReadonlyArray<Contact> = [],
  ): Promise<Account> {
    const { creds, client } = await this.#creds();
    return client.setDiscoverability(creds, discoverable, contacts);
  }

  /**
   * Sets (`pin`) or removes (undefined) the registration lock: while this account stays active,
   * registering the number again with an SMS code alone is refused (provider 423).
   */
  async setRegistrationLock(pin: string | undefined): Promise<void> {
    const { creds, client } = await this.#creds();
    if (pin === undefined) await client.removeRegistrationLock(creds);
    else await client.setRegistrationLock(creds, pin);
  }

  /** Uploads a fresh batch of one-time prekeys when the provider holds fewer than `minimum`. */
  async topUpPrekeys(
    options: { readonly minimum?: number; readonly batch?: number } = {},
  ): Promise<number> {
    const { creds, client } = await this.#creds();
    const count = await client.countPrekeys(creds);
    if (count.oneTimePreKeys >= (options.minimum ?? 20)) return 0;
    const keys = await createOneTimePreKeys(this.#stores, options.batch ?? 100);
    await client.uploadPrekeys(creds, { oneTimePreKeys: keys });
    return keys.length;
  }

  lookup(number: string): Promise<LookupResult> {
    return lookup(number, {
      trustList: this.#o.trustList,
      dns: this.#o.dns,
      now: this.#now,
      ...(this.#o.directoryId === undefined ? {} : { directoryId: this.#o.directoryId }),
      ...(this.#o.nameservers === undefined ? {} : { nameservers: this.#o.nameservers }),
      ...(this.#o.dnssecCrypto === undefined ? {} : { dnssecCrypto: this.#o.dnssecCrypto }),
    });
  }

  async #sessions(): Promise<SignalSessions> {
    const account = await this.#requireAccount();
    if (this.#sessionsOf?.account !== account) {
      const local = { name: account.number, deviceId: account.deviceId };
      this.#sessionsOf = { account, sessions: new SignalSessions(this.#stores, local, this.#now) };
    }
    return this.#sessionsOf.sessions;
  }

  /**
   * Looks `number` up, fetches a bundle from the provider the directory names (URL from the
   * trust list), refuses it unless its identity key equals the directory's, and starts a session.
   */
  async startSession(number: string): Promise<LookupResult & { readonly deviceId: number }> {
    const found = await this.lookup(number);
    const asker = await this.#asker(found.provider.id);
    const bundle = await this.#client(found.provider.apiBaseUrl).getPrekeyBundle(
      found.number,
      asker,
    );
    if (!bytesEqual(bundle.identityKey, found.identityKey)) {
      throw new SwitchboardError(
        'provider-key-mismatch',
        "the provider's prekey bundle carries a different identity key than the directory publishes for this number; no session was started",
      );
    }
    const sessions = await this.#sessions();
    await sessions.establish(
      { name: found.number, deviceId: bundle.deviceId },
      bundle,
      found.identityKey,
    );
    await this.#setPeerDevice(found.number, bundle.deviceId);
    return { ...found, deviceId: bundle.deviceId };
  }

  /**
   * This device as a bundle asker at `providerId`: its own provider knows its key; any other
   * needs a sender certificate from its own provider (kept until an hour before it expires).
   */
  async #asker(providerId: string): Promise<BundleAsker> {
    const { account, creds, client } = await this.#creds();
    if (providerId === account.providerId) return { creds };
    const now = this.#now().getTime();
    const cached = this.#certificate;
    if (cached && cached.accountId === account.accountId && cached.expiresAt - 3600_000 > now) {
      return { creds, certificate: cached.certificate };
    }
    const issued = await client.getSenderCertificate(creds);
    this.#certificate = {
      accountId: account.accountId,
      certificate: issued.certificate,
      expiresAt: Date.parse(issued.expiresAt),
    };
    return { creds, certificate: issued.certificate };
  }

  async #peerDevice(number: string): Promise<number | undefined> {
    const known = this.#peerDevices.get(number);
    if (known !== undefined) return known;
    const d = await this.#o.storage.get(`peer-device/${number}`);
    if (d === undefined) return undefined;
    this.#peerDevices.set(number, Number(d));
    return Number(d);
  }

  /** Records `number`'s device id; written only when it changed. */
  async #setPeerDevice(number: string, deviceId: number): Promise<void> {
    if ((await this.#peerDevice(number)) === deviceId) return;
    await this.#o.storage.set(`peer-device/${number}`, String(deviceId));
    this.#peerDevices.set(number, deviceId);
  }

  /** Encrypts for `number` (starting a session first if needed) and returns an envelope. */
  async encrypt(number: string, plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const me = await this.#requireAccount();
    const sessions = await this.#sessions();
    let deviceId = await this.#peerDevice(number);
    if (deviceId === undefined || !(await sessions.hasSession({ name: number, deviceId }))) {
      deviceId = (await this.startSession(number)).deviceId;
    }
    const ct = await sessions.encrypt({ name: number, deviceId }, plaintext);
    return encodeEnvelope({
      type: ct.kind === 'prekey' ? MessageType.SignalPreKey : MessageType.SignalMessage,
      sender: `tel:${me.number}`,
      senderDevice: me.deviceId,
      ciphertext: ct.body,
    });
  }

  /**
   * Opens an envelope from a directory user. For a session-start message from someone we have
   * no key for yet, the sender's key is checked against the directory first.
   */
  async decrypt(envelopeBytes: Uint8Array): Promise<ReceivedMessage> {
    const env = decodeEnvelope(envelopeBytes);
    if (
      (env.type !== MessageType.SignalPreKey && env.type !== MessageType.SignalMessage) ||
      !env.sender.startsWith('tel:+')
    ) {
      throw new SwitchboardError('message-rejected', 'not a phone-number session message');
    }
    const from = env.sender.slice(4);
    const peer = { name: from, deviceId: env.senderDevice };
    const sessions = await this.#sessions();
    const known = await this.#stores.identity.getIdentity(
      ProtocolAddress.new(from, env.senderDevice),
    );
    if (env.type === MessageType.SignalPreKey && !known) {
      // First contact: pin the directory's key for the sender so the PreKey message's identity
      // key must match it (isTrustedIdentity then compares against this one).
      const found = await this.lookup(from);
      await this.#stores.identity.saveIdentity(
        ProtocolAddress.new(from, env.senderDevice),
        PublicKey.deserialize(copyBytes(found.identityKey)),
      );
    }
    const plaintext = await sessions.decrypt(peer, {
      kind: env.type === MessageType.SignalPreKey ? 'prekey' : 'whisper',
      body: env.ciphertext,
    });
    await this.#setPeerDevice(from, env.senderDevice);
    return { from, deviceId: env.senderDevice, plaintext };
  }

  /**
   * The user has verified the contact's new key (safety number compared out of band): accept
   * the key the directory now publishes for `number`, drop the old session and start anew.
   */
  async approveNewIdentity(number: string): Promise<LookupResult & { readonly deviceId: number }> {
    const found = await this.lookup(number);
    const deviceId = (await this.#peerDevice(found.number)) ?? 1;
    await this.#stores.identity.approveIdentity(
      ProtocolAddress.new(found.number, deviceId),
      PublicKey.deserialize(copyBytes(found.identityKey)),
    );
    return this.startSession(found.number);
  }

  /** Safety number with `number`, from our identity key and the one stored for them. */
  async safetyNumber(number: string): Promise<SafetyNumber> {
    const me = await this.#requireAccount();
    const deviceId = (await this.#peerDevice(number)) ?? 1;
    const theirs = await this.#stores.identity.getIdentity(ProtocolAddress.new(number, deviceId));
    if (!theirs) throw new SwitchboardError('no-session', 'no key known for this contact yet');
    const mine = (await this.#stores.identity.getIdentityKeyPair()).publicKey;
    return safetyNumber(me.number, mine.serialize(), number, theirs.serialize());
  }
}
