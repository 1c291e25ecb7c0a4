import {
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyRecord,
  PreKeyStore,
  PublicKey,
  SessionRecord,
  SessionStore,
  SignedPreKeyRecord,
  SignedPreKeyStore,
} from '@signalapp/libsignal-client';
import type { ProtocolAddress, Direction, PrivateKey } from '@signalapp/libsignal-client';
import { fromBase64, toBase64 } from '../bytes.js';
import { SwitchboardError } from '../errors.js';
import type { KeyValueStorage } from '../storage.js';
import { MemoryStorage } from '../storage.js';

/** The five libsignal stores a session needs, backed by one {@link KeyValueStorage}. */
export interface ProtocolStores {
  readonly identity: SwitchboardIdentityStore;
  readonly session: SessionStore;
  readonly preKey: PreKeyStore;
  readonly signedPreKey: SignedPreKeyStore;
  readonly kyberPreKey: KyberPreKeyStore & {
    /** Ids of stored Kyber prekeys not yet used (last-resort keys are never removed). */
    countUnused(): Promise<number>;
  };
  /** Number of one-time EC prekeys still on this device (for top-up decisions). */
  countPreKeys(): Promise<number>;
}

function addressKey(address: ProtocolAddress): string {
  return `${address.name()}.${address.deviceId()}`;
}

function decode(value: string, what: string): Uint8Array<ArrayBuffer> {
  const bytes = fromBase64(value);
  if (!bytes) throw new SwitchboardError('storage-failed', `stored ${what} is corrupt`);
  return bytes;
}

async function readJson<T>(storage: KeyValueStorage, key: string): Promise<T | undefined> {
  const text = await storage.get(key);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new SwitchboardError('storage-failed', 'a stored record is not valid JSON', { cause });
  }
}

interface StoredLocalIdentity {
  readonly keyPair: string;
  readonly registrationId: number;
}

interface StoredRemoteIdentity {
  readonly key: string;
  readonly firstSeen: number;
}

/** What happened when an identity key was offered for an address. */
export interface IdentityEvent {
  readonly address: string;
  readonly kind: 'new' | 'changed-rejected' | 'approved-change';
}

/**
 * libsignal identity store with the semantics the design asks for: the first key seen for an
 * address is recorded (trust on first use, after the caller has checked it against the
 * directory or a rendez-vous card); a *different* key later is reported untrusted, so libsignal
 * throws and the SDK surfaces an {@link IdentityKeyChangedError}. Only {@link approveIdentity}
 * replaces a stored key.
 */
export class SwitchboardIdentityStore extends IdentityKeyStore {
  readonly #storage: KeyValueStorage;
  readonly #onEvent: ((event: IdentityEvent) => void) | undefined;

  constructor(storage: KeyValueStorage, onEvent?: (event: IdentityEvent) => void) {
    super();
    this.#storage = storage;
    this.#onEvent = onEvent;
  }

  /** Stores this device's identity; refuses to overwrite a different existing one. */
  async initialise(keyPair: IdentityKeyPair, registrationId: number): Promise<void> {
    const existing = await readJson<StoredLocalIdentity>(this.#storage, 'identity/local');
    if (existing) {
      throw new SwitchboardError(
        'invalid-input',
        'this store already holds an identity; use a new data directory to create another',
      );
    }
    const record: StoredLocalIdentity = { keyPair: toBase64(keyPair.serialize()), registrationId };
    await this.#storage.set('identity/local', JSON.stringify(record), { secret: true });
  }

  async hasLocalIdentity(): Promise<boolean> {
    return (await this.#storage.get('identity/local')) !== undefined;
  }

  async #local(): Promise<StoredLocalIdentity> {
    const local = await readJson<StoredLocalIdentity>(this.#storage, 'identity/local');
    if (!local) {
      throw new SwitchboardError('no-session', 'no local identity yet; generate keys first');
    }
    return local;
  }

  override async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return IdentityKeyPair.deserialize(decode((await this.#local()).keyPair, 'identity'));
  }

  async getIdentityKey(): Promise<PrivateKey> {
    return (await this.getIdentityKeyPair()).privateKey;
  }

  async getLocalRegistrationId(): Promise<number> {
    return (await this.#local()).registrationId;
  }

  async saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const id = addressKey(name);
    const existing = await this.getIdentity(name);
    if (existing?.equals(key)) return IdentityChange.NewOrUnchanged;
    if (existing) {
      // libsignal only calls saveIdentity after isTrustedIdentity said yes, which for a changed
      // key happens only after approveIdentity; refuse anything else.
      this.#onEvent?.({ address: id, kind: 'changed-rejected' });
      return IdentityChange.NewOrUnchanged;
    }
    await this.#put(id, key);
    this.#onEvent?.({ address: id, kind: 'new' });
    return IdentityChange.NewOrUnchanged;
  }

  async isTrustedIdentity(name: ProtocolAddress, key: PublicKey, _d: Direction): Promise<boolean> {
    const existing = await this.getIdentity(name);
    if (!existing || existing.equals(key)) return true;
    this.#onEvent?.({ address: addressKey(name), kind: 'changed-rejected' });
    return false;
  }

  async getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    return this.getIdentityByKey(addressKey(name));
  }

  /** Stored remote key for `name.device`, if any. */
  async getIdentityByKey(id: string): Promise<PublicKey | null> {
    const stored = await readJson<StoredRemoteIdentity>(this.#storage, `identity/remote/${id}`);
    return stored ? PublicKey.deserialize(decode(stored.key, 'identity key')) : null;
  }

  /**
   * The user has compared safety numbers and accepts `key` for `address`: replace the stored
   * key and archive the old session so the next message starts a fresh one.
   */
  async approveIdentity(address: ProtocolAddress, key: PublicKey): Promise<void> {
    await this.#put(addressKey(address), key);
    await this.#storage.delete(`session/${addressKey(address)}`);
    this.#onEvent?.({ address: addressKey(address), kind: 'approved-change' });
  }

  async #put(id: string, key: PublicKey): Promise<void> {
    const record: StoredRemoteIdentity = { key: toBase64(key.serialize()), firstSeen: Date.now() };
    await this.#storage.set(`identity/remote/${id}`, JSON.stringify(record));
  }
}

class KvSessionStore extends SessionStore {
  readonly #storage: KeyValueStorage;
  constructor(storage: KeyValueStorage) {
    super();
    this.#storage = storage;
  }
  async saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    await this.#storage.set(
      `session/${addressKey(name)}`,
      JSON.stringify(toBase64(record.serialize())),
      {
        secret: true,
      },
    );
  }
  async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    const v = await readJson<string>(this.#storage, `session/${addressKey(name)}`);
    return v === undefined ? null : SessionRecord.deserialize(decode(v, 'session'));
  }
  async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const a of addresses) {
      const s = await this.getSession(a);
      if (!s) throw new SwitchboardError('no-session', 'no session with one of the recipients');
      out.push(s);
    }
    return out;
  }
}

function missing(what: string): SwitchboardError {
  return new SwitchboardError(
    'decrypt-failed',
    `the message refers to a ${what} this device does not have (already used or never issued)`,
  );
}

class KvPreKeyStore extends PreKeyStore {
  readonly #storage: KeyValueStorage;
  constructor(storage: KeyValueStorage) {
    super();
    this.#storage = storage;
  }
  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    await this.#storage.set(`prekey/${id}`, JSON.stringify(toBase64(record.serialize())), {
      secret: true,
    });
  }
  async getPreKey(id: number): Promise<PreKeyRecord> {
    const v = await readJson<string>(this.#storage, `prekey/${id}`);
    if (v === undefined) throw missing('one-time prekey');
    return PreKeyRecord.deserialize(decode(v, 'prekey'));
  }
  async removePreKey(id: number): Promise<void> {
    await this.#storage.delete(`prekey/${id}`);
  }
}

class KvSignedPreKeyStore extends SignedPreKeyStore {
  readonly #storage: KeyValueStorage;
  constructor(storage: KeyValueStorage) {
    super();
    this.#storage = storage;
  }
  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    await this.#storage.set(`signed-prekey/${id}`, JSON.stringify(toBase64(record.serialize())), {
      secret: true,
    });
  }
  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const v = await readJson<string>(this.#storage, `signed-prekey/${id}`);
    if (v === undefined) throw missing('signed prekey');
    return SignedPreKeyRecord.deserialize(decode(v, 'signed prekey'));
  }
}

interface StoredKyber {
  readonly record: string;
  readonly lastResort: boolean;
  /** `signedPreKeyId:base64(baseKey)` pairs already seen with a last-resort key (replay guard). */
  readonly used: string[];
}

class KvKyberPreKeyStore extends KyberPreKeyStore {
  readonly #storage: KeyValueStorage;
  constructor(storage: KeyValueStorage) {
    super();
    this.#storage = storage;
  }
  /** libsignal's API has no last-resort flag; use {@link saveKyber} to set it. */
  async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    await this.saveKyber(id, record, false);
  }
  async saveKyber(id: number, record: KyberPreKeyRecord, lastResort: boolean): Promise<void> {
    const v: StoredKyber = { record: toBase64(record.serialize()), lastResort, used: [] };
    await this.#storage.set(`kyber-prekey/${id}`, JSON.stringify(v), { secret: true });
  }
  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const v = await readJson<StoredKyber>(this.#storage, `kyber-prekey/${id}`);
    if (v === undefined) throw missing('Kyber prekey');
    return KyberPreKeyRecord.deserialize(decode(v.record, 'Kyber prekey'));
  }
  async markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void> {
    const key = `kyber-prekey/${id}`;
    const v = await readJson<StoredKyber>(this.#storage, key);
    if (v === undefined) throw missing('Kyber prekey');
    if (!v.lastResort) {
      await this.#storage.delete(key);
      return;
    }
    // A last-resort key stays, but the same (signed prekey, base key) pair must not be
    // accepted twice: that would be a replayed session start.
    const tag = `${signedPreKeyId}:${toBase64(baseKey.serialize())}`;
    if (v.used.includes(tag)) {
      throw new SwitchboardError('replayed-message', 'this session-start message was already used');
    }
    const next: StoredKyber = { ...v, used: [...v.used, tag] };
    await this.#storage.set(key, JSON.stringify(next), { secret: true });
  }
  async countUnused(): Promise<number> {
    let n = 0;
    for (const k of await this.#storage.list('kyber-prekey/')) {
      const v = await readJson<StoredKyber>(this.#storage, k);
      if (v && !v.lastResort) n++;
    }
    return n;
  }
}

export type KyberStore = KvKyberPreKeyStore;

/** Builds the libsignal stores over one storage backend. */
export function createProtocolStores(
  storage: KeyValueStorage,
  options: { readonly onIdentityEvent?: (event: IdentityEvent) => void } = {},
): ProtocolStores & { readonly kyberPreKey: KvKyberPreKeyStore } {
  return {
    identity: new SwitchboardIdentityStore(storage, options.onIdentityEvent),
    session: new KvSessionStore(storage),
    preKey: new KvPreKeyStore(storage),
    signedPreKey: new KvSignedPreKeyStore(storage),
    kyberPreKey: new KvKyberPreKeyStore(storage),
    countPreKeys: async () => (await storage.list('prekey/')).length,
  };
}

/** In-memory stores (tests, throwaway identities). */
export function createMemoryProtocolStores(
  options: { readonly onIdentityEvent?: (event: IdentityEvent) => void } = {},
): ProtocolStores & { readonly kyberPreKey: KvKyberPreKeyStore } {
  return createProtocolStores(new MemoryStorage(), options);
}
