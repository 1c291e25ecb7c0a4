// Session setup and encrypt/decrypt through the client SDK (SignalSessions over its key-value
// stores) against the same libsignal calls over minimal Map-backed stores, in one run, printed
// as ratios. Both sides do identical cryptography; the ratio is the SDK's own overhead.
//   npm run bench:session -w bench -- [--sessions 200] [--messages 2000] [--rounds 2] [--no-save]
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import type {
  Direction,
  PublicKey,
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
  KyberPreKeyStore,
  KyberPreKeyRecord as KyberRecord,
  PreKeyBundle,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  ProtocolAddress,
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
  constructor(
    readonly pair: IdentityKeyPair,
    readonly registrationId: number,
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
  override saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.map.set(name.toString(), record);
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
  readonly bundle: PreKeyBundle;
}

function rawParty(name: string): RawParty {
  const pair = IdentityKeyPair.generate();
  const signedKey = PrivateKey.generate();
  const signedSig = pair.privateKey.sign(signedKey.getPublicKey().serialize());
  const kem = KEMKeyPair.generate();
  const kemSig = pair.privateKey.sign(kem.getPublicKey().serialize());
  const party: RawParty = {
    address: ProtocolAddress.new(name, 1),
    identity: new RawIdentity(pair, 1 + (name.length % 16000)),
    sessions: new RawSessions(),
    preKeys: new RawPreKeys(),
    signed: new RawSigned(),
    kyber: new RawKyber(),
    bundle: PreKeyBundle.new(
      1 + (name.length % 16000),
      1,
      null,
      null,
      1,
      signedKey.getPublicKey(),
      signedSig,
      pair.publicKey,
      1,
      kem.getPublicKey(),
      kemSig,
    ),
  };
  void party.signed.saveSignedPreKey(
    1,
    SignedRecord.new(1, Date.now(), signedKey.getPublicKey(), signedKey, signedSig),
  );
  void party.kyber.saveKyberPreKey(1, KyberRecord.new(1, Date.now(), kem, kemSig));
  return party;
}

async function rawSetup(a: RawParty, b: RawParty): Promise<void> {
  await processPreKeyBundle(b.bundle, b.address, a.address, a.sessions, a.identity);
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

async function timed(n: number, fn: (i: number) => Promise<void>): Promise<Rates> {
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
      sessions: { kind: 'integer', default: 200, min: 1 },
      messages: { kind: 'integer', default: 2000, min: 1 },
    },
    2,
  );
}

type RawPair = readonly [RawParty, RawParty];
type SdkPair = readonly [SdkParty, SdkParty];

/** Rates of each side, one per round. */
interface SessionResults {
  raw: { setup: Rates[]; messages: Rates[] };
  sdk: { setup: Rates[]; messages: Rates[] };
}

/** Keys are made before timing (registration is measured by the provider benchmark). */
async function makeParties(sessions: number): Promise<{ raw: RawPair[]; sdk: SdkPair[] }> {
  const raw = Array.from(
    { length: sessions },
    (_, i) => [rawParty(`+1555000${i}a`), rawParty(`+1555000${i}b`)] as const,
  );
  const sdk = await Promise.all(
    Array.from(
      { length: sessions },
      async (_, i) => [await sdkParty(`+1555000${i}a`), await sdkParty(`+1555000${i}b`)] as const,
    ),
  );
  return { raw, sdk };
}

/** Alternates the sides in rounds so drift in machine load hits both alike. */
async function measure(
  args: Args,
  parties: { raw: RawPair[]; sdk: SdkPair[] },
): Promise<SessionResults> {
  const body = new Uint8Array(256);
  const results: SessionResults = {
    raw: { setup: [], messages: [] },
    sdk: { setup: [], messages: [] },
  };
  const slice = Math.ceil(args.sessions / args.rounds);
  for (let from = 0; from < args.sessions; from += slice) {
    const n = Math.min(slice, args.sessions - from);
    results.raw.setup.push(await timed(n, (i) => rawSetup(...parties.raw[from + i]!)));
    results.sdk.setup.push(await timed(n, (i) => sdkSetup(...parties.sdk[from + i]!)));
  }
  const [ra, rb] = parties.raw[0]!;
  const [sa, sb] = parties.sdk[0]!;
  for (let round = 0; round < args.rounds; round++) {
    results.raw.messages.push(
      await timed(args.messages, (i) =>
        i % 2 === 0 ? rawRoundTrip(ra, rb, body) : rawRoundTrip(rb, ra, body),
      ),
    );
    results.sdk.messages.push(
      await timed(args.messages, (i) =>
        i % 2 === 0 ? sdkRoundTrip(sa, sb, body) : sdkRoundTrip(sb, sa, body),
      ),
    );
  }
  return results;
}

function summarise(results: SessionResults) {
  const mean = (xs: readonly Rates[], k: keyof Rates): number =>
    xs.reduce((a, b) => a + b[k], 0) / xs.length;
  const side = (r: { setup: Rates[]; messages: Rates[] }) => ({
    setupsPerSecond: mean(r.setup, 'wall'),
    messagesPerSecond: mean(r.messages, 'wall'),
    setupsPerCpuSecond: mean(r.setup, 'cpu'),
    messagesPerCpuSecond: mean(r.messages, 'cpu'),
  });
  return { raw: side(results.raw), sdk: side(results.sdk) };
}

function sessionTable(summary: ReturnType<typeof summarise>): string[][] {
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
  const rows = (['sdk', 'raw'] as const).map((k) => [
    k === 'sdk' ? 'client-sdk SignalSessions' : 'raw libsignal calls',
    cell(summary[k].setupsPerSecond),
    cell(summary[k].setupsPerSecond / summary.raw.setupsPerSecond, 2),
    cell(summary[k].setupsPerCpuSecond),
    cell(summary[k].setupsPerCpuSecond / summary.raw.setupsPerCpuSecond, 2),
    cell(summary[k].messagesPerSecond),
    cell(summary[k].messagesPerSecond / summary.raw.messagesPerSecond, 2),
    cell(summary[k].messagesPerCpuSecond),
    cell(summary[k].messagesPerCpuSecond / summary.raw.messagesPerCpuSecond, 2),
  ]);
  return [header, ...rows];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const load0 = loadavg();
  const results = await measure(args, await makeParties(args.sessions));
  const summary = summarise(results);
  const rows = sessionTable(summary);
  const load1 = loadavg();
  console.log(
    '\nSession setup (bundle -> first message decrypted) and message round trips, one thread',
  );
  console.log(table(rows));
  const file = saveBenchRun(
    resolve(import.meta.dirname, '../../../results'),
    {
      name: 'session',
      started,
      options: args,
      environment: { node: process.version, loadavgAtStart: load0, loadavgAtEnd: load1 },
      data: { results, summary },
      markdown: (json) =>
        [
          `## sessions: SDK vs raw libsignal: ${started.toISOString()}`,
          '',
          `${args.sessions} session setups (process bundle, encrypt the first message, decrypt it) and ${args.messages} x ${args.rounds} message round trips on one session, alternating sides in ${args.rounds} rounds; both sides do the same libsignal cryptography, so the ratio is the SDK's own cost (its stores serialise records, it checks the directory's key). Rates per second of wall time and per second of the process's CPU time (user + system; less sensitive to other load on the machine). Load average ${loadText(load0)} at start, ${loadText(load1)} at end.`,
          '',
          markdownTable(rows),
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
