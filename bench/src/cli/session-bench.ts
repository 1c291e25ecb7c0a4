// Session setup and encrypt/decrypt through the client SDK (SignalSessions over its key-value
// stores) against the same libsignal calls over minimal Map-backed stores, in one run, printed
// as ratios. Both sides do identical cryptography, and both read the peer's bundle from bytes as
// it comes off the network; the ratio is the SDK's own overhead. A third side is raw libsignal
// whose session store also serialises each record it is given (what any app that keeps its
// sessions across restarts must do at least): the SDK against it is the SDK's cost beyond that.
//   npm run bench:session -w bench -- [--sessions 400] [--messages 1000] [--rounds 8] [--no-save]
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type {
  Direction,
  KyberPreKeyRecord,
  PreKeyRecord,
  SessionRecord,
  SignedPreKeyRecord,
} from '@signalapp/libsignal-client';
import {
  CiphertextMessageType,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KEMKeyPair,
  KEMPublicKey,
  KyberPreKeyStore,
  KyberPreKeyRecord as KyberRecord,
  PreKeyBundle,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  SessionStore,
  SignalMessage,
  SignedPreKeyRecord as SignedRecord,
  SignedPreKeyStore,
  processPreKeyBundle,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from '@signalapp/libsignal-client';
import type { PreKeyBundleInput, RegistrationUpload } from '@switchboard/client-sdk';
import {
  SignalSessions,
  createMemoryProtocolStores,
  fromBase64,
  generateRegistrationKeys,
} from '@switchboard/client-sdk';
import { parseBenchOptions } from '../cli-options.js';
import { cell, loadText, markdownTable, saveBenchRun, table } from '../report/report.js';

// ---- raw libsignal: the thinnest stores that work ----

class RawIdentity extends IdentityKeyStore {
  readonly known = new Map<string, PublicKey>();
  /** Serialised forms of what was saved, when the party serialises (`persist`). */
  readonly saved = new Map<string, Uint8Array>();
  constructor(
    readonly pair: IdentityKeyPair,
    readonly registrationId: number,
    readonly persist: boolean,
  ) {
    super();
  }
  override getIdentityKey(): Promise<PrivateKey> {
    return Promise.resolve(this.pair.privateKey);
  }
  override getLocalRegistrationId(): Promise<number> {
    return Promise.resolve(this.registrationId);
  }
  override saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const id = name.toString();
    const old = this.known.get(id);
    this.known.set(id, key);
    if (this.persist && !old) this.saved.set(id, key.serialize());
    return Promise.resolve(
      old && !old.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged,
    );
  }
  override isTrustedIdentity(
    name: ProtocolAddress,
    key: PublicKey,
    _d: Direction,
  ): Promise<boolean> {
    const old = this.known.get(name.toString());
    return Promise.resolve(!old || old.equals(key));
  }
  override getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    return Promise.resolve(this.known.get(name.toString()) ?? null);
  }
}
class RawSessions extends SessionStore {
  readonly map = new Map<string, SessionRecord>();
  /** Serialised forms of what was saved, when the party serialises (`persist`). */
  readonly saved = new Map<string, Uint8Array>();
  constructor(readonly persist: boolean) {
    super();
  }
  override saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    const id = name.toString();
    this.map.set(id, record);
    if (this.persist) this.saved.set(id, record.serialize());
    return Promise.resolve();
  }
  override getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    return Promise.resolve(this.map.get(name.toString()) ?? null);
  }
  override getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return Promise.resolve(addresses.flatMap((a) => this.map.get(a.toString()) ?? []));
  }
}
class RawPreKeys extends PreKeyStore {
  readonly map = new Map<number, PreKeyRecord>();
  override savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.map.set(id, record);
    return Promise.resolve();
  }
  override getPreKey(id: number): Promise<PreKeyRecord> {
    const r = this.map.get(id);
    return r ? Promise.resolve(r) : Promise.reject(new Error('no prekey'));
  }
  override removePreKey(id: number): Promise<void> {
    this.map.delete(id);
    return Promise.resolve();
  }
}
class RawSigned extends SignedPreKeyStore {
  readonly map = new Map<number, SignedPreKeyRecord>();
  override saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.map.set(id, record);
    return Promise.resolve();
  }
  override getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const r = this.map.get(id);
    return r ? Promise.resolve(r) : Promise.reject(new Error('no signed prekey'));
  }
}
class RawKyber extends KyberPreKeyStore {
  readonly map = new Map<number, KyberPreKeyRecord>();
  override saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    this.map.set(id, record);
    return Promise.resolve();
  }
  override getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const r = this.map.get(id);
    return r ? Promise.resolve(r) : Promise.reject(new Error('no kyber prekey'));
  }
  override markKyberPreKeyUsed(): Promise<void> {
    return Promise.resolve();
  }
}

interface RawParty {
  readonly address: ProtocolAddress;
  readonly identity: RawIdentity;
  readonly sessions: RawSessions;
  readonly preKeys: RawPreKeys;
  readonly signed: RawSigned;
  readonly kyber: RawKyber;
  /** The party's bundle as bytes, as a provider hands it out (the SDK side gets the same). */
  readonly bundle: PreKeyBundleInput;
}

/** `persist`: the stores also serialise each session record and new identity key they are given. */
function rawParty(name: string, persist: boolean): RawParty {
  const pair = IdentityKeyPair.generate();
  const signedKey = PrivateKey.generate();
  const signedSig = pair.privateKey.sign(signedKey.getPublicKey().serialize());
  const kem = KEMKeyPair.generate();
  const kemSig = pair.privateKey.sign(kem.getPublicKey().serialize());
  const registrationId = 1 + (name.length % 16000);
  const party: RawParty = {
    address: ProtocolAddress.new(name, 1),
    identity: new RawIdentity(pair, registrationId, persist),
    sessions: new RawSessions(persist),
    preKeys: new RawPreKeys(),
    signed: new RawSigned(),
    kyber: new RawKyber(),
    bundle: {
      registrationId,
      deviceId: 1,
      identityKey: pair.publicKey.serialize(),
      signedPreKey: {
        keyId: 1,
        publicKey: signedKey.getPublicKey().serialize(),
        signature: signedSig,
      },
      kyberPreKey: { keyId: 1, publicKey: kem.getPublicKey().serialize(), signature: kemSig },
    },
  };
  void party.signed.saveSignedPreKey(
    1,
    SignedRecord.new(1, Date.now(), signedKey.getPublicKey(), signedKey, signedSig),
  );
  void party.kyber.saveKyberPreKey(1, KyberRecord.new(1, Date.now(), kem, kemSig));
  return party;
}

/** The bundle read from its bytes, as any app must after fetching it. */
function rawBundle(b: PreKeyBundleInput): PreKeyBundle {
  return PreKeyBundle.new(
    b.registrationId,
    b.deviceId,
    null,
    null,
    b.signedPreKey.keyId,
    PublicKey.deserialize(b.signedPreKey.publicKey as Uint8Array<ArrayBuffer>),
    b.signedPreKey.signature as Uint8Array<ArrayBuffer>,
    PublicKey.deserialize(b.identityKey as Uint8Array<ArrayBuffer>),
    b.kyberPreKey.keyId,
    KEMPublicKey.deserialize(b.kyberPreKey.publicKey as Uint8Array<ArrayBuffer>),
    b.kyberPreKey.signature as Uint8Array<ArrayBuffer>,
  );
}

async function rawSetup(a: RawParty, b: RawParty): Promise<void> {
  await processPreKeyBundle(rawBundle(b.bundle), b.address, a.address, a.sessions, a.identity);
  const first = await signalEncrypt(
    new Uint8Array(32),
    b.address,
    a.address,
    a.sessions,
    a.identity,
  );
  if (first.type() !== CiphertextMessageType.PreKey) throw new Error('expected a prekey message');
  await signalDecryptPreKey(
    PreKeySignalMessage.deserialize(first.serialize()),
    a.address,
    b.address,
    b.sessions,
    b.identity,
    b.preKeys,
    b.signed,
    b.kyber,
  );
}

async function rawRoundTrip(
  a: RawParty,
  b: RawParty,
  body: Uint8Array<ArrayBuffer>,
): Promise<void> {
  const ct = await signalEncrypt(body, b.address, a.address, a.sessions, a.identity);
  if (ct.type() === CiphertextMessageType.PreKey) {
    await signalDecryptPreKey(
      PreKeySignalMessage.deserialize(ct.serialize()),
      a.address,
      b.address,
      b.sessions,
      b.identity,
      b.preKeys,
      b.signed,
      b.kyber,
    );
  } else {
    await signalDecrypt(
      SignalMessage.deserialize(ct.serialize()),
      a.address,
      b.address,
      b.sessions,
      b.identity,
    );
  }
}

// ---- the SDK ----

function bundleFrom(upload: RegistrationUpload): PreKeyBundleInput {
  return {
    registrationId: upload.registrationId,
    deviceId: upload.deviceId,
    identityKey: fromBase64(upload.identityKey)!,
    signedPreKey: {
      keyId: upload.signedPreKey.keyId,
      publicKey: fromBase64(upload.signedPreKey.publicKey)!,
      signature: fromBase64(upload.signedPreKey.signature)!,
    },
    kyberPreKey: {
      keyId: upload.kyberLastResortPreKey.keyId,
      publicKey: fromBase64(upload.kyberLastResortPreKey.publicKey)!,
      signature: fromBase64(upload.kyberLastResortPreKey.signature)!,
    },
  };
}

interface SdkParty {
  readonly peer: { name: string; deviceId: number };
  readonly sessions: SignalSessions;
  readonly bundle: PreKeyBundleInput;
}

async function sdkParty(name: string): Promise<SdkParty> {
  const stores = createMemoryProtocolStores();
  const upload = await generateRegistrationKeys(stores, { oneTimePreKeyCount: 0 });
  const peer = { name, deviceId: 1 };
  return { peer, sessions: new SignalSessions(stores, peer), bundle: bundleFrom(upload) };
}

async function sdkSetup(a: SdkParty, b: SdkParty): Promise<void> {
  await a.sessions.establish(b.peer, b.bundle, b.bundle.identityKey);
  const first = await a.sessions.encrypt(b.peer, new Uint8Array(32));
  await b.sessions.decrypt(a.peer, first);
}

async function sdkRoundTrip(a: SdkParty, b: SdkParty, body: Uint8Array): Promise<void> {
  await b.sessions.decrypt(a.peer, await a.sessions.encrypt(b.peer, body));
}

// ---- measurement ----

/** Operations per second of wall time and per second of this process's CPU time (user +
 *  system): on a loaded machine the wall rate also measures the wait for a core, the CPU rate
 *  much less so. */
interface Rates {
  readonly wall: number;
  readonly cpu: number;
}

/** A full garbage collection: the side timed next does not pay for the garbage of the last. */
const collectGarbage = ((): (() => void) => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * A pause after the collection: V8 sweeps the freed memory on helper threads after `gc()`
 * returns, and that CPU time would land in the next side's turn (after the warm-up, the garbage
 * of all three sides' warm-ups in the first side's).
 */
function settle(): Promise<void> {
  return new Promise((done) => setTimeout(done, SETTLE_MS));
}

const SETTLE_MS = 100;

async function timed(n: number, fn: (i: number) => Promise<void>): Promise<Rates> {
  collectGarbage();
  await settle();
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const cpu = process.cpuUsage(cpu0);
  return {
    wall: n / ((performance.now() - start) / 1000),
    cpu: n / ((cpu.user + cpu.system) / 1e6),
  };
}

type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: readonly string[]) {
  // --rounds: slices of the setups and rounds of messages, the sides taking turns; --keep has
  // nothing to keep here (no temp dir).
  return parseBenchOptions(
    argv,
    {
      sessions: { kind: 'integer', default: 400, min: 1 },
      messages: { kind: 'integer', default: 1000, min: 1 },
    },
    // Many short turns: on a shared machine the load drifts within seconds.
    8,
  );
}

type RawPair = readonly [RawParty, RawParty];
type SdkPair = readonly [SdkParty, SdkParty];

/** The sides, in the order they take turns and are printed. */
const SIDES = ['sdk', 'raw', 'rawSerialised'] as const;
type Side = (typeof SIDES)[number];

const SIDE_NAMES: Record<Side, string> = {
  sdk: 'client-sdk SignalSessions',
  raw: 'raw libsignal calls',
  rawSerialised: 'raw libsignal, records serialised on save',
};

/** Rates of each side, one per round. */
type SessionResults = Record<Side, { setup: Rates[]; messages: Rates[] }>;

/** One side's two operations, over its own parties. */
interface SideOps {
  /** Sets up session `n` (0 .. sessions + WARM_UP.setups - 1). */
  setup(n: number): Promise<void>;
  roundTrip(i: number, body: Uint8Array<ArrayBuffer>): Promise<void>;
}

/**
 * Untimed operations of each side before the first timed turn, so no side's timing includes
 * the compiler's first work on its code (the SDK has more code for it to compile than raw).
 */
const WARM_UP = { setups: 50, messages: 500 } as const;

/** Keys are made before timing (registration is measured by the provider benchmark). */
async function makeSides(setups: number): Promise<Record<Side, SideOps>> {
  const sessions = setups + WARM_UP.setups;
  const raw = (persist: boolean): SideOps => {
    const pairs: RawPair[] = Array.from(
      { length: sessions },
      (_, i) => [rawParty(`+1555000${i}a`, persist), rawParty(`+1555000${i}b`, persist)] as const,
    );
    const [a, b] = pairs[0]!;
    return {
      setup: (n) => rawSetup(...pairs[n]!),
      roundTrip: (i, body) => (i % 2 === 0 ? rawRoundTrip(a, b, body) : rawRoundTrip(b, a, body)),
    };
  };
  const pairs: SdkPair[] = await Promise.all(
    Array.from(
      { length: sessions },
      async (_, i) => [await sdkParty(`+1555000${i}a`), await sdkParty(`+1555000${i}b`)] as const,
    ),
  );
  const [a, b] = pairs[0]!;
  const sdk: SideOps = {
    setup: (n) => sdkSetup(...pairs[n]!),
    roundTrip: (i, body) => (i % 2 === 0 ? sdkRoundTrip(a, b, body) : sdkRoundTrip(b, a, body)),
  };
  return { sdk, raw: raw(false), rawSerialised: raw(true) };
}

/** Takes the sides in turns, in rounds, so drift in machine load hits all alike. */
async function measure(args: Args, sides: Record<Side, SideOps>): Promise<SessionResults> {
  const body = new Uint8Array(256);
  const results = Object.fromEntries(
    SIDES.map((k) => [k, { setup: [], messages: [] }]),
  ) as unknown as SessionResults;
  for (const k of SIDES) {
    for (let i = 0; i < WARM_UP.setups; i++) await sides[k].setup(args.sessions + i);
  }
  const slice = Math.ceil(args.sessions / args.rounds);
  for (let from = 0; from < args.sessions; from += slice) {
    const n = Math.min(slice, args.sessions - from);
    for (const k of SIDES) results[k].setup.push(await timed(n, (i) => sides[k].setup(from + i)));
  }
  // Session 0 is set up now; its round trips warm the message path.
  for (const k of SIDES) {
    for (let i = 0; i < WARM_UP.messages; i++) await sides[k].roundTrip(i, body);
  }
  for (let round = 0; round < args.rounds; round++) {
    for (const k of SIDES) {
      results[k].messages.push(await timed(args.messages, (i) => sides[k].roundTrip(i, body)));
    }
  }
  return results;
}

interface SideSummary {
  readonly setupsPerSecond: number;
  readonly messagesPerSecond: number;
  readonly setupsPerCpuSecond: number;
  readonly messagesPerCpuSecond: number;
}

function summarise(results: SessionResults): Record<Side, SideSummary> {
  const mean = (xs: readonly Rates[], k: keyof Rates): number =>
    xs.reduce((a, b) => a + b[k], 0) / xs.length;
  const side = (r: { setup: Rates[]; messages: Rates[] }): SideSummary => ({
    setupsPerSecond: mean(r.setup, 'wall'),
    messagesPerSecond: mean(r.messages, 'wall'),
    setupsPerCpuSecond: mean(r.setup, 'cpu'),
    messagesPerCpuSecond: mean(r.messages, 'cpu'),
  });
  return Object.fromEntries(SIDES.map((k) => [k, side(results[k])])) as Record<Side, SideSummary>;
}

function sessionTable(summary: Record<Side, SideSummary>): string[][] {
  const header = [
    'side',
    'session setups/s',
    'x raw',
    'per CPU s',
    'x raw',
    'encrypt+decrypt/s (256 B, both ways)',
    'x raw',
    'per CPU s',
    'x raw',
  ];
  const raw = summary.raw;
  const rows = SIDES.map((k) => [
    SIDE_NAMES[k],
    cell(summary[k].setupsPerSecond),
    cell(summary[k].setupsPerSecond / raw.setupsPerSecond, 2),
    cell(summary[k].setupsPerCpuSecond),
    cell(summary[k].setupsPerCpuSecond / raw.setupsPerCpuSecond, 2),
    cell(summary[k].messagesPerSecond),
    cell(summary[k].messagesPerSecond / raw.messagesPerSecond, 2),
    cell(summary[k].messagesPerCpuSecond),
    cell(summary[k].messagesPerCpuSecond / raw.messagesPerCpuSecond, 2),
  ]);
  return [header, ...rows];
}

/** The goal (>= 0.9x raw libsignal, same run) and the SDK against the serialising side. */
function goalLines(summary: Record<Side, SideSummary>): string[] {
  const { sdk, raw, rawSerialised: ser } = summary;
  const verdict = (x: number): string => `${x.toFixed(2)}x (${x >= 0.9 ? 'met' : 'NOT met'})`;
  const goal = (what: string, wall: number, cpu: number): string =>
    `goal: ${what} >= 0.9x raw libsignal: ${verdict(wall)} by wall time, ${verdict(cpu)} by CPU time`;
  return [
    goal(
      'session setup',
      sdk.setupsPerSecond / raw.setupsPerSecond,
      sdk.setupsPerCpuSecond / raw.setupsPerCpuSecond,
    ),
    goal(
      'encrypt+decrypt',
      sdk.messagesPerSecond / raw.messagesPerSecond,
      sdk.messagesPerCpuSecond / raw.messagesPerCpuSecond,
    ),
    `against raw libsignal that serialises each record it saves (the least an app keeping its sessions must do), by CPU time: session setup ${(sdk.setupsPerCpuSecond / ser.setupsPerCpuSecond).toFixed(2)}x, encrypt+decrypt ${(sdk.messagesPerCpuSecond / ser.messagesPerCpuSecond).toFixed(2)}x`,
  ];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const load0 = loadavg();
  const results = await measure(args, await makeSides(args.sessions));
  const summary = summarise(results);
  const rows = sessionTable(summary);
  const goals = goalLines(summary);
  const load1 = loadavg();
  console.log(
    '\nSession setup (bundle -> first message decrypted) and message round trips, one thread',
  );
  console.log(table(rows));
  console.log(`\n${goals.join('\n')}`);
  const file = saveBenchRun(
    resolve(import.meta.dirname, '../../../results'),
    {
      name: 'session',
      started,
      options: args,
      environment: { node: process.version, loadavgAtStart: load0, loadavgAtEnd: load1 },
      data: { results, summary, goals },
      markdown: (json) =>
        [
          `## sessions: SDK vs raw libsignal: ${started.toISOString()}`,
          '',
          `${args.sessions} session setups (read the peer's bundle from its bytes, process it, encrypt the first message, decrypt it) and ${args.messages} x ${args.rounds} message round trips on one session, the three sides taking turns in ${args.rounds} rounds after an untimed warm-up of each (${WARM_UP.setups} setups, ${WARM_UP.messages} round trips), a full garbage collection and a ${SETTLE_MS} ms pause before each turn (so no side pays for the sweep of another's garbage); all sides do the same libsignal cryptography, so the ratio is the SDK's own cost (it writes each changed record to its storage, serialised, before it returns). Raw libsignal keeps records as objects in Maps and writes nothing; the third side serialises each session record and new identity key it is given, the least any app that keeps sessions across restarts must do. Rates per second of wall time and per second of the process's CPU time (user + system; less sensitive to other load on the machine). Load average ${loadText(load0)} at start, ${loadText(load1)} at end.`,
          '',
          markdownTable(rows),
          '',
          ...goals.map((g) => `- ${g}`),
          '',
          `Full data: \`${json}\`.`,
        ].join('\n'),
    },
    args.noSave,
  );
  if (file) console.log(`\nresults: ${file}`);
}

main().catch((err: unknown) => {
  console.error(`session-bench: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
