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
import type { Batch } from './store-cache.js';
import { parseJson, StoreCache } from './store-cache.js';

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
  /**
   * Runs `work` (one message, one session set-up) as one unit of store writes: the stores it
   * is given keep their writes until `work` resolves and then commit them together, before
   * the unit resolves, or not at all (see {@link StoreCache}). Units run one at a time; never
   * start one from inside another. Optional for stores written elsewhere.
   */
  readonly unit?: <T>(work: (stores: ProtocolStores) => Promise<T>) => Promise<T>;
}

/**
 * Keys of addresses already seen: libsignal hands the same address object to every store call of
 * an operation, and reading its name and device id crosses into native code each time. A memo of
 * a pure function of an immutable object, so holding it per module changes no behaviour.
 */
const ADDRESS_KEYS = new WeakMap<ProtocolAddress, string>();

function addressKey(address: ProtocolAddress): string {
  let key = ADDRESS_KEYS.get(address);
  if (key === undefined) {
    key = `${address.name()}.${address.deviceId()}`;
    ADDRESS_KEYS.set(address, key);
  }
  return key;
}

function decode(value: string, what: string): Uint8Array<ArrayBuffer> {
  const bytes = fromBase64(value);
  if (!bytes) throw new SwitchboardError('storage-failed', `stored ${what} is corrupt`);
  return bytes;
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

/** Parsed local identity. */
interface LocalIdentity {
  readonly pair: IdentityKeyPair;
  readonly registrationId: number;
}

/** Parsed remote identity (`firstSeen` kept so the stored form round-trips). */
interface RemoteIdentity {
  readonly key: PublicKey;
  readonly firstSeen: number;
}

function parseLocal(text: string): LocalIdentity {
  const stored = parseJson<StoredLocalIdentity>(text);
  const pair = IdentityKeyPair.deserialize(decode(stored.keyPair, 'identity'));
  return { pair, registrationId: stored.registrationId };
}

function serializeLocal(local: LocalIdentity): string {
  const stored: StoredLocalIdentity = {
    keyPair: toBase64(local.pair.serialize()),
    registrationId: local.registrationId,
  };
  return JSON.stringify(stored);
}

function parseRemote(text: string): RemoteIdentity {
  const stored = parseJson<StoredRemoteIdentity>(text);
  return {
    key: PublicKey.deserialize(decode(stored.key, 'identity key')),
    firstSeen: stored.firstSeen,
  };
}

function serializeRemote(remote: RemoteIdentity): string {
  const stored: StoredRemoteIdentity = {
    key: toBase64(remote.key.serialize()),
    firstSeen: remote.firstSeen,
  };
  return JSON.stringify(stored);
}

/** A libsignal record stored as the JSON string of its base64 serialisation. */
function recordCodec<R extends { serialize(): Uint8Array }>(
  what: string,
  deserialize: (bytes: Uint8Array<ArrayBuffer>) => R,
): { parse: (text: string) => R; serialize: (record: R) => string } {
  return {
    parse: (text) => deserialize(decode(parseJson<string>(text), what)),
    // A JSON string of base64 text: the alphabet needs no escaping, so no JSON.stringify scan.
    serialize: (record) => `"${toBase64(record.serialize())}"`,
  };
}

const SESSION = recordCodec('session', (b) => SessionRecord.deserialize(b));
const PREKEY = recordCodec('prekey', (b) => PreKeyRecord.deserialize(b));
const SIGNED_PREKEY = recordCodec('signed prekey', (b) => SignedPreKeyRecord.deserialize(b));

/**
 * libsignal identity store with the semantics the design asks for: the first key seen for an
 * address is recorded (trust on first use, after the caller has checked it against the
 * directory or a rendez-vous card); a *different* key later is reported untrusted, so libsignal
 * throws and the SDK surfaces an {@link IdentityKeyChangedError}. Only {@link approveIdentity}
 * replaces a stored key.
 */
export class SwitchboardIdentityStore extends IdentityKeyStore {
  readonly #cache: StoreCache;
  readonly #batch: Batch | undefined;
  readonly #onEvent: ((event: IdentityEvent) => void) | undefined;

  constructor(
    cache: StoreCache,
    batch: Batch | undefined,
    onEvent?: (event: IdentityEvent) => void,
  ) {
    super();
    this.#cache = cache;
    this.#batch = batch;
    this.#onEvent = onEvent;
  }

  /** Stores this device's identity; refuses to overwrite a different existing one. */
  async initialise(keyPair: IdentityKeyPair, registrationId: number): Promise<void> {
    if (await this.hasLocalIdentity()) {
      throw new SwitchboardError(
        'invalid-input',
        'this store already holds an identity; use a new data directory to create another',
      );
    }
    await this.#cache.write(
      'identity/local',
      { pair: keyPair, registrationId },
      serializeLocal,
      this.#batch,
    );
  }

  async hasLocalIdentity(): Promise<boolean> {
    return (await this.#cache.read('identity/local', parseLocal)) !== undefined;
  }

  async #local(): Promise<LocalIdentity> {
    const local = await this.#cache.read('identity/local', parseLocal);
    if (!local) {
      throw new SwitchboardError('no-session', 'no local identity yet; generate keys first');
    }
    return local;
  }

  override async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return (await this.#local()).pair;
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
    return (await this.#cache.read(`identity/remote/${id}`, parseRemote))?.key ?? null;
  }

  /**
   * The user has compared safety numbers and accepts `key` for `address`: replace the stored
   * key and archive the old session so the next message starts a fresh one.
   */
  async approveIdentity(address: ProtocolAddress, key: PublicKey): Promise<void> {
    await this.#cache.unit(async (batch) => {
      await this.#put(addressKey(address), key, batch);
      await this.#cache.remove(`session/${addressKey(address)}`, batch);
    });
    this.#onEvent?.({ address: addressKey(address), kind: 'approved-change' });
  }

  async #put(id: string, key: PublicKey, batch = this.#batch): Promise<void> {
    const remote: RemoteIdentity = { key, firstSeen: Date.now() };
    await this.#cache.write(`identity/remote/${id}`, remote, serializeRemote, batch);
  }
}

class KvSessionStore extends SessionStore {
  readonly #cache: StoreCache;
  readonly #batch: Batch | undefined;
  constructor(cache: StoreCache, batch: Batch | undefined) {
    super();
    this.#cache = cache;
    this.#batch = batch;
  }
  async saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    await this.#cache.write(`session/${addressKey(name)}`, record, SESSION.serialize, this.#batch);
  }
  async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    return (await this.#cache.read(`session/${addressKey(name)}`, SESSION.parse)) ?? null;
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
  readonly #cache: StoreCache;
  readonly #batch: Batch | undefined;
  constructor(cache: StoreCache, batch: Batch | undefined) {
    super();
    this.#cache = cache;
    this.#batch = batch;
  }
  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    await this.#cache.write(`prekey/${id}`, record, PREKEY.serialize, this.#batch);
  }
  async getPreKey(id: number): Promise<PreKeyRecord> {
    const record = await this.#cache.read(`prekey/${id}`, PREKEY.parse);
    if (record === undefined) throw missing('one-time prekey');
    return record;
  }
  async removePreKey(id: number): Promise<void> {
    await this.#cache.remove(`prekey/${id}`, this.#batch);
  }
}

class KvSignedPreKeyStore extends SignedPreKeyStore {
  readonly #cache: StoreCache;
  readonly #batch: Batch | undefined;
  constructor(cache: StoreCache, batch: Batch | undefined) {
    super();
    this.#cache = cache;
    this.#batch = batch;
  }
  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    await this.#cache.write(`signed-prekey/${id}`, record, SIGNED_PREKEY.serialize, this.#batch);
  }
  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const record = await this.#cache.read(`signed-prekey/${id}`, SIGNED_PREKEY.parse);
    if (record === undefined) throw missing('signed prekey');
    return record;
  }
}

interface StoredKyber {
  readonly record: string;
  readonly lastResort: boolean;
  /** `signedPreKeyId:base64(baseKey)` pairs already seen with a last-resort key (replay guard). */
  readonly used: string[];
}

/** A Kyber prekey as kept in memory: the stored form, and its record deserialised once (the
 *  last-resort key serves every new incoming session). */
class KyberEntry {
  #record: KyberPreKeyRecord | undefined;
  constructor(
    readonly stored: StoredKyber,
    record?: KyberPreKeyRecord,
  ) {
    this.#record = record;
  }
  static parse(text: string): KyberEntry {
    return new KyberEntry(parseJson<StoredKyber>(text));
  }
  static serialize(entry: KyberEntry): string {
    return JSON.stringify(entry.stored);
  }
  record(): KyberPreKeyRecord {
    return (this.#record ??= KyberPreKeyRecord.deserialize(
      decode(this.stored.record, 'Kyber prekey'),
    ));
  }
}

class KvKyberPreKeyStore extends KyberPreKeyStore {
  readonly #cache: StoreCache;
  readonly #batch: Batch | undefined;
  constructor(cache: StoreCache, batch: Batch | undefined) {
    super();
    this.#cache = cache;
    this.#batch = batch;
  }
  /** libsignal's API has no last-resort flag; use {@link saveKyber} to set it. */
  async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    await this.saveKyber(id, record, false);
  }
  async saveKyber(id: number, record: KyberPreKeyRecord, lastResort: boolean): Promise<void> {
    const v: StoredKyber = { record: toBase64(record.serialize()), lastResort, used: [] };
    const entry = new KyberEntry(v, record);
    await this.#cache.write(`kyber-prekey/${id}`, entry, KyberEntry.serialize, this.#batch);
  }
  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const entry = await this.#cache.read(`kyber-prekey/${id}`, KyberEntry.parse);
    if (entry === undefined) throw missing('Kyber prekey');
    return entry.record();
  }
  async markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void> {
    const key = `kyber-prekey/${id}`;
    const entry = await this.#cache.read(key, KyberEntry.parse);
    if (entry === undefined) throw missing('Kyber prekey');
    const v = entry.stored;
    if (!v.lastResort) {
      await this.#cache.remove(key, this.#batch);
      return;
    }
    // A last-resort key stays, but the same (signed prekey, base key) pair must not be
    // accepted twice: that would be a replayed session start.
    const tag = `${signedPreKeyId}:${toBase64(baseKey.serialize())}`;
    if (v.used.includes(tag)) {
      throw new SwitchboardError('replayed-message', 'this session-start message was already used');
    }
    const next: StoredKyber = { ...v, used: [...v.used, tag] };
    await this.#cache.write(
      key,
      new KyberEntry(next, entry.record()),
      KyberEntry.serialize,
      this.#batch,
    );
  }
  async countUnused(): Promise<number> {
    let n = 0;
    for (const k of await this.#cache.list('kyber-prekey/')) {
      const entry = await this.#cache.read(k, KyberEntry.parse);
      if (entry && !entry.stored.lastResort) n++;
    }
    return n;
  }
}

export type KyberStore = KvKyberPreKeyStore;

/** Builds the libsignal stores over one storage backend. */
export function createProtocolStores(
  storage: KeyValueStorage,
  options: { readonly onIdentityEvent?: (event: IdentityEvent) => void } = {},
): ProtocolStores & { readonly kyberPreKey: KvKyberPreKeyStore; forget(): void } {
  const cache = new StoreCache(storage);
  const view = (
    batch: Batch | undefined,
  ): ProtocolStores & { kyberPreKey: KvKyberPreKeyStore } => ({
    identity: new SwitchboardIdentityStore(cache, batch, options.onIdentityEvent),
    session: new KvSessionStore(cache, batch),
    preKey: new KvPreKeyStore(cache, batch),
    signedPreKey: new KvSignedPreKeyStore(cache, batch),
    kyberPreKey: new KvKyberPreKeyStore(cache, batch),
    countPreKeys: async () => (await cache.list('prekey/')).length,
    unit: (work) => cache.unit((unitBatch) => work(view(unitBatch))),
  });
  return {
    ...view(undefined),
    /** Forgets kept records after the storage was written other than through these stores. */
    forget: () => cache.forget(),
  };
}

/** In-memory stores (tests, throwaway identities). */
export function createMemoryProtocolStores(
  options: { readonly onIdentityEvent?: (event: IdentityEvent) => void } = {},
): ProtocolStores & { readonly kyberPreKey: KvKyberPreKeyStore } {
  return createProtocolStores(new MemoryStorage(), options);
}
