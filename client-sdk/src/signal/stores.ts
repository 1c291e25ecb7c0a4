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
import { fromBase64, toBase64, toBase64Url } from '../bytes.js';
import { SwitchboardError } from '../errors.js';
import type { KeyValueStorage } from '../storage.js';
import { MemoryStorage } from '../storage.js';
import { NOT_KEPT, parseJson, StoreCache } from './store-cache.js';

/** Where this device's own identity is kept. */
const LOCAL = 'identity/local';

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
 * `name.device` of a libsignal address. libsignal wraps its native address in a new object for
 * every store call, so there is nothing to memoise it on.
 */
function addressKey(address: ProtocolAddress): string {
  return `${address.name()}.${address.deviceId()}`;
}

/** `session/name.device`, made in one step (libsignal asks for a session several times a message). */
function sessionKey(address: ProtocolAddress): string {
  return `session/${address.name()}.${address.deviceId()}`;
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

/** Bytes of `firstSeen` at the end of a remote identity stored as bytes. */
const FIRST_SEEN_BYTES = 8;

/** A remote identity as bytes (where the storage takes them): the key, then `firstSeen` (float64). */
function remoteBytes(remote: RemoteIdentity): Uint8Array {
  const key = remote.key.serialize();
  const out = new Uint8Array(key.length + FIRST_SEEN_BYTES);
  out.set(key);
  new DataView(out.buffer).setFloat64(key.length, remote.firstSeen);
  return out;
}

function remoteFromBytes(bytes: Uint8Array<ArrayBuffer>): RemoteIdentity {
  const keyLength = bytes.length - FIRST_SEEN_BYTES;
  let key: PublicKey;
  try {
    key = PublicKey.deserialize(bytes.subarray(0, keyLength));
  } catch (cause) {
    throw new SwitchboardError('storage-failed', 'stored identity key is corrupt', { cause });
  }
  const firstSeen = new DataView(bytes.buffer, bytes.byteOffset).getFloat64(keyLength);
  return { key, firstSeen };
}

function remoteKey(id: string): string {
  return `identity/remote/${id}`;
}

function pairOf(local: LocalIdentity): IdentityKeyPair {
  return local.pair;
}

function privateKeyOf(local: LocalIdentity): PrivateKey {
  return local.pair.privateKey;
}

function registrationIdOf(local: LocalIdentity): number {
  return local.registrationId;
}

function keyOf(remote: RemoteIdentity | null): PublicKey | null {
  return remote?.key ?? null;
}

function newOrUnchanged(): IdentityChange {
  return IdentityChange.NewOrUnchanged;
}

/**
 * libsignal identity store with the semantics the design asks for: the first key seen for an
 * address is recorded (trust on first use, after the caller has checked it against the
 * directory or a rendez-vous card); a *different* key later is reported untrusted, so libsignal
 * throws and the SDK surfaces an {@link IdentityKeyChangedError}. Only {@link approveIdentity}
 * replaces a stored key.
 */
export class SwitchboardIdentityStore extends IdentityKeyStore {
  readonly #cache: StoreCache;
  readonly #inUnit: boolean;
  readonly #onEvent: ((event: IdentityEvent) => void) | undefined;

  /** `inUnit`: writes go to the running unit's batch (see {@link StoreCache.unit}). */
  constructor(cache: StoreCache, inUnit: boolean, onEvent?: (event: IdentityEvent) => void) {
    super();
    this.#cache = cache;
    this.#inUnit = inUnit;
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
    await this.#cache.write(LOCAL, { pair: keyPair, registrationId }, serializeLocal, this.#inUnit);
  }

  async hasLocalIdentity(): Promise<boolean> {
    return (await this.#cache.read(LOCAL, parseLocal, undefined)) !== undefined;
  }

  async #readLocal(): Promise<LocalIdentity> {
    const local = await this.#cache.read(LOCAL, parseLocal, undefined);
    if (!local) {
      throw new SwitchboardError('no-session', 'no local identity yet; generate keys first');
    }
    return local;
  }

  /**
   * `pick` of the local identity. libsignal asks the stores several times per message, each
   * call awaited across its native bridge: a kept record answers with one settled promise, no
   * async frame and no closure (fewer objects per message, less garbage to collect).
   */
  #withLocal<T>(pick: (local: LocalIdentity) => T): Promise<T> {
    const kept = this.#cache.peek<LocalIdentity>(LOCAL);
    if (kept === NOT_KEPT || kept === undefined) return this.#readLocal().then(pick);
    return Promise.resolve(pick(kept));
  }

  override getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return this.#withLocal(pairOf);
  }

  getIdentityKey(): Promise<PrivateKey> {
    return this.#withLocal(privateKeyOf);
  }

  getLocalRegistrationId(): Promise<number> {
    return this.#withLocal(registrationIdOf);
  }

  /** The kept key of `id` (null: none), or {@link NOT_KEPT} when storage must be read. */
  #keptRemote(id: string): PublicKey | null | typeof NOT_KEPT {
    const kept = this.#cache.peek<RemoteIdentity>(remoteKey(id));
    return kept === NOT_KEPT ? kept : (kept?.key ?? null);
  }

  saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const id = addressKey(name);
    const kept = this.#keptRemote(id);
    if (kept === NOT_KEPT) {
      return this.getIdentityByKey(id).then((existing) => this.#save(id, key, existing));
    }
    try {
      return Promise.resolve(this.#save(id, key, kept));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  #save(
    id: string,
    key: PublicKey,
    existing: PublicKey | null,
  ): IdentityChange | Promise<IdentityChange> {
    if (existing?.equals(key)) return IdentityChange.NewOrUnchanged;
    if (existing) {
      // libsignal only calls saveIdentity after isTrustedIdentity said yes, which for a changed
      // key happens only after approveIdentity; refuse anything else.
      this.#onEvent?.({ address: id, kind: 'changed-rejected' });
      return IdentityChange.NewOrUnchanged;
    }
    const written = this.#put(id, key, this.#inUnit);
    const onEvent = this.#onEvent;
    if (!onEvent) return written.then(newOrUnchanged);
    return written.then(() => {
      onEvent({ address: id, kind: 'new' });
      return IdentityChange.NewOrUnchanged;
    });
  }

  isTrustedIdentity(name: ProtocolAddress, key: PublicKey, _d: Direction): Promise<boolean> {
    const id = addressKey(name);
    const kept = this.#keptRemote(id);
    if (kept === NOT_KEPT) {
      return this.getIdentityByKey(id).then((existing) => this.#trusted(id, key, existing));
    }
    try {
      return Promise.resolve(this.#trusted(id, key, kept));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  #trusted(id: string, key: PublicKey, existing: PublicKey | null): boolean {
    if (!existing || existing.equals(key)) return true;
    this.#onEvent?.({ address: id, kind: 'changed-rejected' });
    return false;
  }

  getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    return this.getIdentityByKey(addressKey(name));
  }

  /** Stored remote key for `name.device`, if any. */
  getIdentityByKey(id: string): Promise<PublicKey | null> {
    return this.#cache.readEither(remoteKey(id), remoteFromBytes, parseRemote, null).then(keyOf);
  }

  /**
   * The user has compared safety numbers and accepts `key` for `address`: replace the stored
   * key and archive the old session so the next message starts a fresh one.
   */
  async approveIdentity(address: ProtocolAddress, key: PublicKey): Promise<void> {
    const id = addressKey(address);
    await this.#cache.unit(async () => {
      await this.#put(id, key, true);
      await this.#cache.remove(`session/${id}`, true);
    });
    this.#onEvent?.({ address: id, kind: 'approved-change' });
  }

  #put(id: string, key: PublicKey, inUnit: boolean): Promise<void> {
    const remote: RemoteIdentity = { key, firstSeen: Date.now() };
    return this.#cache.writeEither(remoteKey(id), remote, remoteBytes, serializeRemote, inUnit);
  }
}

function deserializeSession(bytes: Uint8Array<ArrayBuffer>): SessionRecord {
  return SessionRecord.deserialize(bytes);
}

class KvSessionStore extends SessionStore {
  readonly #cache: StoreCache;
  readonly #inUnit: boolean;
  /** `inUnit`: writes go to the running unit's batch (see {@link StoreCache.unit}). */
  constructor(cache: StoreCache, inUnit: boolean) {
    super();
    this.#cache = cache;
    this.#inUnit = inUnit;
  }
  saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    return this.#cache.writeRecord(sessionKey(name), record, this.#inUnit);
  }
  getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    return this.#cache.readRecord(sessionKey(name), deserializeSession, 'session', null);
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

function replayed(): SwitchboardError {
  return new SwitchboardError('replayed-message', 'this session-start message was already used');
}

function missingPreKey(): SwitchboardError {
  return missing('one-time prekey');
}

function missingSignedPreKey(): SwitchboardError {
  return missing('signed prekey');
}

function deserializePreKey(bytes: Uint8Array<ArrayBuffer>): PreKeyRecord {
  return PreKeyRecord.deserialize(bytes);
}

function deserializeSignedPreKey(bytes: Uint8Array<ArrayBuffer>): SignedPreKeyRecord {
  return SignedPreKeyRecord.deserialize(bytes);
}

class KvPreKeyStore extends PreKeyStore {
  readonly #cache: StoreCache;
  readonly #inUnit: boolean;
  /** `inUnit`: writes go to the running unit's batch (see {@link StoreCache.unit}). */
  constructor(cache: StoreCache, inUnit: boolean) {
    super();
    this.#cache = cache;
    this.#inUnit = inUnit;
  }
  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    await this.#cache.writeRecord(`prekey/${id}`, record, this.#inUnit);
  }
  getPreKey(id: number): Promise<PreKeyRecord> {
    return this.#cache.readRequired(`prekey/${id}`, deserializePreKey, 'prekey', missingPreKey);
  }
  async removePreKey(id: number): Promise<void> {
    await this.#cache.remove(`prekey/${id}`, this.#inUnit);
  }
}

class KvSignedPreKeyStore extends SignedPreKeyStore {
  readonly #cache: StoreCache;
  readonly #inUnit: boolean;
  /** `inUnit`: writes go to the running unit's batch (see {@link StoreCache.unit}). */
  constructor(cache: StoreCache, inUnit: boolean) {
    super();
    this.#cache = cache;
    this.#inUnit = inUnit;
  }
  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    await this.#cache.writeRecord(`signed-prekey/${id}`, record, this.#inUnit);
  }
  getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    return this.#cache.readRequired(
      `signed-prekey/${id}`,
      deserializeSignedPreKey,
      'signed prekey',
      missingSignedPreKey,
    );
  }
}

interface StoredKyber {
  readonly record: string;
  readonly lastResort: boolean;
  /**
   * Replay guard of earlier versions: `signedPreKeyId:base64(baseKey)` pairs already seen with
   * this last-resort key. Still honoured; new pairs are kept under {@link usedKey} instead, so a
   * session start writes a few bytes rather than the whole key and every pair before it.
   */
  readonly used?: readonly string[];
}

/** Where a (signed prekey, base key) pair seen with last-resort Kyber key `id` is recorded. */
function usedKey(id: number, signedPreKeyId: number, baseKey: Uint8Array): string {
  return `kyber-used/${id}/${signedPreKeyId}:${toBase64Url(baseKey)}`;
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
  readonly #inUnit: boolean;
  /** `inUnit`: writes go to the running unit's batch (see {@link StoreCache.unit}). */
  constructor(cache: StoreCache, inUnit: boolean) {
    super();
    this.#cache = cache;
    this.#inUnit = inUnit;
  }
  /** libsignal's API has no last-resort flag; use {@link saveKyber} to set it. */
  async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    await this.saveKyber(id, record, false);
  }
  async saveKyber(id: number, record: KyberPreKeyRecord, lastResort: boolean): Promise<void> {
    const entry = new KyberEntry({ record: toBase64(record.serialize()), lastResort }, record);
    await this.#cache.write(`kyber-prekey/${id}`, entry, KyberEntry.serialize, this.#inUnit);
  }
  getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    // The last-resort key serves every new incoming session: kept, it answers without a frame.
    const kept = this.#cache.peek<KyberEntry>(`kyber-prekey/${id}`);
    if (kept === NOT_KEPT || kept === undefined) return this.#loadKyber(id);
    try {
      return Promise.resolve(kept.record());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
  async #loadKyber(id: number): Promise<KyberPreKeyRecord> {
    const entry = await this.#cache.read(`kyber-prekey/${id}`, KyberEntry.parse, undefined);
    if (entry === undefined) throw missing('Kyber prekey');
    return entry.record();
  }
  /**
   * No async frame: a kept entry (the last-resort key serves every new incoming session) goes
   * straight to {@link #markUsed}, whose one storage read is that of the replay guard.
   */
  markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void> {
    const key = `kyber-prekey/${id}`;
    const kept = this.#cache.peek<KyberEntry>(key);
    if (kept !== NOT_KEPT) return this.#markUsed(key, kept, id, signedPreKeyId, baseKey);
    return this.#cache
      .read(key, KyberEntry.parse, undefined)
      .then((entry) => this.#markUsed(key, entry, id, signedPreKeyId, baseKey));
  }

  #markUsed(
    key: string,
    entry: KyberEntry | undefined,
    id: number,
    signedPreKeyId: number,
    baseKey: PublicKey,
  ): Promise<void> {
    try {
      if (entry === undefined) throw missing('Kyber prekey');
      if (!entry.stored.lastResort) return this.#cache.remove(key, this.#inUnit);
      // A last-resort key stays, but the same (signed prekey, base key) pair must not be
      // accepted twice: that would be a replayed session start.
      const base = baseKey.serialize();
      if (entry.stored.used?.includes(`${signedPreKeyId}:${toBase64(base)}`)) throw replayed();
      const used = usedKey(id, signedPreKeyId, base);
      return this.#cache
        .read(used, parseJson, undefined)
        .then((seen) => this.#recordUse(used, seen));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  #recordUse(used: string, seen: unknown): Promise<void> {
    if (seen !== undefined) throw replayed();
    return this.#cache.write(used, true, JSON.stringify, this.#inUnit);
  }

  async countUnused(): Promise<number> {
    let n = 0;
    for (const k of await this.#cache.list('kyber-prekey/')) {
      const entry = await this.#cache.read(k, KyberEntry.parse, undefined);
      if (entry && !entry.stored.lastResort) n++;
    }
    return n;
  }
}

export type KyberStore = KvKyberPreKeyStore;

type Stores = ProtocolStores & { readonly kyberPreKey: KvKyberPreKeyStore };

/** Builds the libsignal stores over one storage backend. */
export function createProtocolStores(
  storage: KeyValueStorage,
  options: { readonly onIdentityEvent?: (event: IdentityEvent) => void } = {},
): Stores & { forget(): void } {
  const cache = new StoreCache(storage);
  const countPreKeys = async (): Promise<number> => (await cache.list('prekey/')).length;
  // One set of stores writes through, one into the running unit's batch (units run one at a
  // time), so a message makes no store objects of its own.
  const stores = (inUnit: boolean): Omit<Stores, 'unit'> => ({
    identity: new SwitchboardIdentityStore(cache, inUnit, options.onIdentityEvent),
    session: new KvSessionStore(cache, inUnit),
    preKey: new KvPreKeyStore(cache, inUnit),
    signedPreKey: new KvSignedPreKeyStore(cache, inUnit),
    kyberPreKey: new KvKyberPreKeyStore(cache, inUnit),
    countPreKeys,
  });
  const inUnit: Stores = { ...stores(true), unit: (work) => cache.unitWith(work, inUnit) };
  return {
    ...stores(false),
    unit: inUnit.unit,
    /** Forgets kept records after the storage was written other than through these stores. */
    forget: () => cache.forget(),
  };
}

/** In-memory stores (tests, throwaway identities). */
export function createMemoryProtocolStores(
  options: { readonly onIdentityEvent?: (event: IdentityEvent) => void } = {},
): Stores {
  return createProtocolStores(new MemoryStorage(), options);
}
