// The bridge against direct delivery, side by side in one run (issue 13):
//   direct XMPP->XMPP through Prosody, direct SIP->SIP through Kamailio, and XMPP->SIP,
//   SIP->XMPP and Matrix(homeserver double)->XMPP through the bridge.
// Per path: the most it carries (a window of messages in flight) and p50/p99 latency at a
// fixed paced rate; each bridged path as a ratio to the slower direct path it crosses.
//   npm run bench:bridge -w bench -- [--seconds 5] [--rate 200] [--rounds 2]
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SipBenchUser, XmppBenchClient } from '../load/bridge-clients.js';
import { Receipts, cpuSeconds, runMax, runPaced } from '../load/bridge-load.js';
import type { MaxResult, MessagePath, PacedResult } from '../load/bridge-load.js';
import {
  bridgeReportRows,
  BRIDGE_REPORT_HEADER,
  goalLines,
  latencyOfRounds,
  senderLateLines,
} from '../report/bridge-report.js';
import type { PathSummary } from '../report/bridge-report.js';
import { canPin, freePort, logTail, pinned, startDaemon } from '../load/process.js';
import type { RunningPeer } from '../load/process.js';
import { loadText, markdownTable, saveBenchRun, table } from '../report/report.js';
import { parseBenchOptions } from '../cli-options.js';
import { summarise } from '../load/stats.js';
import type { CommonOptions, OptionValues } from '../cli-options.js';

const OPTIONS = {
  seconds: { kind: 'number', default: 5, min: 0.1 },
  warmup: { kind: 'number', default: 1 },
  window: { kind: 'integer', default: 200, min: 1 },
  rate: { kind: 'number', default: 200, min: 1 },
  pacedSeconds: { kind: 'number', default: 5, min: 0.1 },
  size: { kind: 'integer', default: 300, min: 40 },
  paths: { kind: 'list' },
  noPin: { kind: 'flag' },
} as const;

const ALL_PATHS = ['xmpp-xmpp', 'sip-sip', 'xmpp-sip', 'sip-xmpp', 'matrix-xmpp'];

type Args = Omit<OptionValues<typeof OPTIONS>, 'paths'> & CommonOptions & { paths: string[] };

/** The shared bench options (`--rounds` 2 here, `--keep`, `--no-save`) plus this bench's. */
function parseArgs(argv: readonly string[]): Args {
  const parsed = parseBenchOptions(argv, OPTIONS, 2);
  const paths = parsed.paths ?? ALL_PATHS;
  if (paths.length === 0) throw new Error('--paths needs at least one path');
  for (const p of paths)
    if (!(p in PATH_INFO)) throw new Error(`unknown path ${p} (known: ${ALL_PATHS.join(',')})`);
  return { ...parsed, paths };
}

/** Every path, and the direct paths a bridged one is compared with (the slower counts). */
const PATH_INFO: Record<string, { label: string; via: string; baselines: string[] }> = {
  'xmpp-xmpp': { label: 'XMPP -> XMPP', via: 'Prosody (direct)', baselines: [] },
  'sip-sip': { label: 'SIP -> SIP', via: 'Kamailio (direct)', baselines: [] },
  'xmpp-sip': {
    label: 'XMPP -> SIP',
    via: 'Prosody, bridge, Kamailio',
    baselines: ['xmpp-xmpp', 'sip-sip'],
  },
  'sip-xmpp': {
    label: 'SIP -> XMPP',
    via: 'Kamailio, bridge, Prosody',
    baselines: ['xmpp-xmpp', 'sip-sip'],
  },
  'matrix-xmpp': {
    label: 'Matrix -> XMPP',
    via: 'homeserver double, bridge, Prosody',
    baselines: ['xmpp-xmpp'],
  },
};

const root = resolve(import.meta.dirname, '../../../..');
const support = async <T>(file: string): Promise<T> =>
  (await import(pathToFileURL(resolve(root, 'bridge/dist/test/support', file)).href)) as T;

interface ProsodyLike {
  readonly dir: string;
  readonly configPath: string;
  readonly domain: string;
  readonly componentDomain: string;
  readonly componentSecret: string;
  readonly c2sPort: number;
  readonly componentPort: number;
  init(): Promise<void>;
  register(user: string, password: string): void;
}
interface KamailioLike {
  readonly dir: string;
  readonly configPath: string;
  readonly domain: string;
  readonly bridgeUser: string;
  readonly udpPort: number;
  readonly wsPort: number;
  readonly wsUrl: string;
  init(): Promise<void>;
}
interface HomeserverLike {
  readonly url: string;
  readonly rooms: Map<string, { members: Map<string, string> }>;
  start(): Promise<void>;
  stop(): Promise<void>;
  setAppServiceUrl(url: string): void;
  addLocalUser(localpart: string): string;
  createRoomAs(user: string, invite: readonly string[]): string;
  sendAs(user: string, roomId: string, type: string, content: Record<string, unknown>): string;
}

const AS_TOKEN = 'as-token-for-the-bridge-bench-0123';
const HS_TOKEN = 'hs-token-for-the-bridge-bench-0123';

/**
 * CPUs: the XMPP and SIP servers on 0, the bridge and the clients (this process) on 1, so a
 * direct path has its server's core to itself and a bridged path the same servers' core plus
 * the bridge's. (The clients use a few percent of a core: see the table's last column.)
 */
const SERVER_CPU = 0;
/** Kamailio's shared memory (MB). */
const KAMAILIO_SHM_MB = 1024;
const BRIDGE_CPU = 1;
const CLIENT_CPU = 1;

async function waitUntil(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Peers {
  prosody: RunningPeer;
  kamailio: RunningPeer;
  bridge: ChildProcess;
  bridgeUrl: string;
  hs: HomeserverLike;
}

async function startPeers(
  dir: string,
  args: Args,
  prosody: ProsodyLike,
  kamailio: KamailioLike,
): Promise<Peers> {
  const cpu = !args.noPin ? SERVER_CPU : undefined;
  const processes = await support<{ waitForPort(port: number, ms?: number): Promise<void> }>(
    'processes.js',
  );
  const prosodyPeer = startDaemon({
    name: 'prosody',
    command: 'prosody',
    args: ['--config', prosody.configPath, '-F'],
    port: prosody.c2sPort,
    logFile: join(dir, 'prosody.out'),
    ...(cpu === undefined ? {} : { cpu }),
  });
  const kamailioPeer = startDaemon({
    name: 'kamailio',
    command: 'kamailio',
    args: [
      '-f',
      kamailio.configPath,
      '-DD',
      '-E',
      '-Y',
      kamailio.dir,
      '-P',
      join(kamailio.dir, 'kamailio.pid'),
      // Shared memory for transactions: a finished one is kept for tm's wait timer (5 s),
      // and the tests' 64 MB ran out near 1,000 msgs/s (500 "out of mem" answers).
      '-m',
      String(KAMAILIO_SHM_MB),
      '-M',
      '16',
    ],
    port: kamailio.wsPort,
    logFile: join(dir, 'kamailio.out'),
    ...(cpu === undefined ? {} : { cpu }),
  });
  await processes.waitForPort(prosody.c2sPort, 20_000).catch((err: unknown) => {
    throw new Error(`prosody did not start: ${logTail(prosodyPeer.logFile)}`, { cause: err });
  });
  await processes.waitForPort(prosody.componentPort, 20_000);
  await processes.waitForPort(kamailio.wsPort, 20_000).catch((err: unknown) => {
    throw new Error(`kamailio did not start: ${logTail(kamailioPeer.logFile)}`, { cause: err });
  });
  const { bridge, bridgeUrl, hs } = await startBridge(dir, args, prosody, kamailio);
  return { prosody: prosodyPeer, kamailio: kamailioPeer, bridge, bridgeUrl, hs };
}

/** The homeserver double in this process and the bridge in its own, pinned, process. */
async function startBridge(
  dir: string,
  args: Args,
  prosody: ProsodyLike,
  kamailio: KamailioLike,
): Promise<{ bridge: ChildProcess; bridgeUrl: string; hs: HomeserverLike }> {
  const { HomeserverDouble } = await support<{
    HomeserverDouble: new (o: unknown) => HomeserverLike;
  }>('homeserver-double.js');
  const hs = new HomeserverDouble({
    domain: 'hs.test',
    asToken: AS_TOKEN,
    hsToken: HS_TOKEN,
    userNamespace: /^@_switchboard_.*:hs\.test$/,
    senderLocalpart: 'switchboardbot',
  });
  await hs.start();
  const httpPort = await freePort();
  const config = {
    plaintextRelay: true,
    rateLimit: { capacity: 10_000_000, perSeconds: 1 },
    retryIntervalMs: 1000,
    http: { host: '127.0.0.1', port: httpPort },
    metrics: { host: '127.0.0.1', port: await freePort() },
    xmpp: {
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: prosody.componentDomain,
      secret: prosody.componentSecret,
      reconnectDelayMs: 500,
    },
    sip: {
      server: kamailio.wsUrl,
      domain: kamailio.domain,
      user: kamailio.bridgeUser,
      registerExpires: 3600,
      reconnectDelayMs: 500,
    },
    matrix: {
      homeserverUrl: hs.url,
      domain: 'hs.test',
      asToken: AS_TOKEN,
      hsToken: HS_TOKEN,
      senderLocalpart: 'switchboardbot',
      ghostPrefix: '_switchboard_',
    },
  };
  const bridgeCpu = !args.noPin ? BRIDGE_CPU : undefined;
  const nodeArgs = (process.env['SB_BENCH_BRIDGE_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const [cmd, cmdArgs] = pinned(bridgeCpu, process.execPath, [
    ...nodeArgs,
    resolve(import.meta.dirname, '../children/bridge-server.js'),
    JSON.stringify(config),
    join(dir, 'bridge.db'),
  ]);
  const bridge = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  bridge.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  bridge.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  await waitUntil(() => /^ready$/m.test(out) || bridge.exitCode !== null, 'the bridge').catch(
    (err: unknown) => {
      throw new Error(`bridge did not come up: ${out}`, { cause: err });
    },
  );
  if (bridge.exitCode !== null) throw new Error(`bridge exited: ${out}`);
  const bridgeUrl = `http://127.0.0.1:${httpPort}`;
  hs.setAppServiceUrl(bridgeUrl);
  return { bridge, bridgeUrl, hs };
}

interface PathRun {
  readonly max: MaxResult[];
  readonly paced: PacedResult[];
  /** CPU seconds per message of the bridge process during the max runs (bridged paths). */
  readonly bridgeCpuUsPerMsg: number[];
  readonly prosodyCpuUsPerMsg: number[];
  readonly kamailioCpuUsPerMsg: number[];
  readonly clientCpuShare: number[];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!args.noPin && !canPin()) args.noPin = true;
  const started = new Date();
  const load0 = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-bridge-'));
  const { ProsodyServer } = await support<{ ProsodyServer: new () => ProsodyLike }>('prosody.js');
  const { KamailioServer } = await support<{ KamailioServer: new () => KamailioLike }>(
    'kamailio.js',
  );
  const prosody = new ProsodyServer();
  const kamailio = new KamailioServer();
  await Promise.all([prosody.init(), kamailio.init()]);
  prosody.register('alice', 'alice-pw');
  prosody.register('bob', 'bob-pw');
  let peers: Peers | undefined;
  const clients: Array<{ close(): void }> = [];
  try {
    peers = await startPeers(dir, args, prosody, kamailio);
    if (!args.noPin) {
      // This process (the clients) gets the other core.
      spawn('taskset', ['-p', '-c', String(CLIENT_CPU), String(process.pid)], { stdio: 'ignore' });
    }
    const receipts = new Receipts();
    const { sends, carol } = await connectClients(peers, prosody, kamailio, receipts, clients);
    const runs = await runRounds(args, peers, receipts, sends, carol);
    const load1 = loadavg();
    const summaries: PathSummary[] = args.paths.map((key) => summarisePath(key, runs.get(key)!));
    const rows = bridgeReportRows(summaries);
    const goals = [...goalLines(summaries), ...senderLateLines(summaries)];
    console.log(`\nBridge vs direct delivery (${started.toISOString()})`);
    console.log(table([BRIDGE_REPORT_HEADER, ...rows]));
    for (const g of goals) console.log(g);
    console.log(
      `load average ${load0.map((l) => l.toFixed(2)).join(' ')} at start, ${load1.map((l) => l.toFixed(2)).join(' ')} at end`,
    );
    save(args, started, load0, load1, runs, summaries, rows, goals);
  } finally {
    for (const c of clients) c.close();
    if (peers) {
      peers.bridge.kill('SIGTERM');
      await new Promise((r) =>
        peers!.bridge.exitCode !== null ? r(undefined) : peers!.bridge.once('exit', r),
      );
      await peers.hs.stop();
      await Promise.all([peers.prosody.stop(), peers.kamailio.stop()]);
    }
    if (args.keep) console.log(`kept ${dir}, ${prosody.dir}, ${kamailio.dir}`);
    else
      for (const d of [dir, prosody.dir, kamailio.dir]) rmSync(d, { recursive: true, force: true });
  }
}

/** Connects the XMPP and SIP users, sets up the Matrix portal; how each path sends. */
async function connectClients(
  peers: Peers,
  prosody: ProsodyLike,
  kamailio: KamailioLike,
  receipts: Receipts,
  clients: Array<{ close(): void }>,
): Promise<{ sends: Record<string, (seq: number, text: string) => void>; carol: SipBenchUser }> {
  const alice = new XmppBenchClient('alice', prosody.domain, 'alice-pw', receipts.onMark);
  const bob = new XmppBenchClient('bob', prosody.domain, 'bob-pw', receipts.onMark);
  const carol = new SipBenchUser('carol', kamailio.domain, kamailio.udpPort, receipts.onMark);
  const sipBob = new SipBenchUser('bob', kamailio.domain, kamailio.udpPort, receipts.onMark);
  carol.onRefused = receipts.onRefused;
  clients.push(alice, bob, carol, sipBob);
  await Promise.all([alice.connect(prosody.c2sPort), bob.connect(prosody.c2sPort)]);
  await Promise.all([carol.open(), sipBob.open()]);
  await sipBob.register();
  // The Matrix portal: dave invites the ghost of bob@xmpp; the bridge joins it.
  const { hs } = peers;
  const dave = hs.addLocalUser('dave');
  const ghost = `@_switchboard_xmpp_bob=40${prosody.domain}:hs.test`;
  const room = hs.createRoomAs(dave, [ghost]);
  await waitUntil(() => hs.rooms.get(room)?.members.get(ghost) === 'join', 'the ghost joining');
  const bridgeJid = (key: string): string => `${key}@${prosody.componentDomain}`;
  const sends: Record<string, (seq: number, text: string) => void> = {
    // To bob's bare JID, as the bridge addresses its deliveries (the server picks the resource).
    'xmpp-xmpp': (_seq, text) => alice.send(`bob@${prosody.domain}`, text),
    'sip-sip': (_seq, text) => carol.send('bob', text),
    'xmpp-sip': (_seq, text) => alice.send(bridgeJid(`sip_bob=40${kamailio.domain}`), text),
    'sip-xmpp': (_seq, text) => carol.send(`xmpp_bob=40${prosody.domain}`, text),
    // dave posts in the portal; the double pushes it like Synapse (batched transactions).
    'matrix-xmpp': (_seq, text) => {
      hs.sendAs(dave, room, 'm.room.message', { msgtype: 'm.text', body: text });
    },
  };
  return { sends, carol };
}

/** Every path, round after round (alternating order): saturation, then the paced run. */
async function runRounds(
  args: Args,
  peers: Peers,
  receipts: Receipts,
  sends: Record<string, (seq: number, text: string) => void>,
  carol: SipBenchUser,
): Promise<Map<string, PathRun>> {
  const runs = new Map<string, PathRun>();
  let tag = 10;
  const bridgePid = peers.bridge.pid!;
  const prosodyPid = peers.prosody.pid;
  const kamailioPid = peers.kamailio.pid;
  for (let round = 0; round < args.rounds; round++) {
    const order = round % 2 === 0 ? args.paths : [...args.paths].reverse();
    for (const key of order) {
      const path: MessagePath = { name: key, tag: ++tag, send: sends[key]! };
      const cpu0 = [cpuSeconds([bridgePid]), cpuSeconds([prosodyPid]), cpuSeconds([kamailioPid])];
      const self0 = process.cpuUsage();
      const t0 = performance.now();
      const max = await runMax(path, receipts, {
        seconds: args.seconds,
        warmupSeconds: args.warmup,
        window: args.window,
        size: args.size,
        lossAfterMs: 5000,
      });
      const wall = (performance.now() - t0) / 1000;
      const self = process.cpuUsage(self0);
      const cpu = [
        cpuSeconds([bridgePid]) - cpu0[0]!,
        cpuSeconds([prosodyPid]) - cpu0[1]!,
        cpuSeconds([kamailioPid]) - cpu0[2]!,
      ];
      const perMsg = (seconds: number): number =>
        max.received > 0 ? Math.round((seconds / max.received) * 1e6) : 0;
      // The paced run has its own tag, so late arrivals of the max run are not counted.
      const pacedPath: MessagePath = { name: key, tag: ++tag, send: sends[key]! };
      carol.answerMs.length = 0; // answer times of the paced run only
      const paced = await runPaced(pacedPath, receipts, {
        rate: args.rate,
        seconds: args.pacedSeconds,
        size: args.size,
        lossAfterMs: 5000,
      });
      const run = runs.get(key) ?? {
        max: [],
        paced: [],
        bridgeCpuUsPerMsg: [],
        prosodyCpuUsPerMsg: [],
        kamailioCpuUsPerMsg: [],
        clientCpuShare: [],
      };
      run.max.push(max);
      run.paced.push(paced);
      run.bridgeCpuUsPerMsg.push(perMsg(cpu[0]!));
      run.prosodyCpuUsPerMsg.push(perMsg(cpu[1]!));
      run.kamailioCpuUsPerMsg.push(perMsg(cpu[2]!));
      run.clientCpuShare.push(Math.round(((self.user + self.system) / 1e6 / wall) * 100) / 100);
      runs.set(key, run);
      const answered = summarise(carol.answerMs.splice(0).map((ms) => ms / 1000));
      console.log(
        `round ${round + 1} ${PATH_INFO[key]!.label}: ${max.msgsPerSecond} msgs/s (lost ${max.lost}), at ${args.rate}/s p50 ${paced.latency.p50Ms} ms p99 ${paced.latency.p99Ms} ms (lost ${paced.lost}, sender late p99 ${paced.senderLateP99Ms} ms); load ${loadavg()[0]!.toFixed(2)}${key.startsWith('sip') ? `; SIP sender: answers ${JSON.stringify(Object.fromEntries(carol.answers))}, ${carol.retransmissions} resent, paced run answered in p50 ${answered.p50Ms} ms p99 ${answered.p99Ms} ms` : ''}`,
      );
    }
  }
  return runs;
}

function summarisePath(key: string, run: PathRun): PathSummary {
  const info = PATH_INFO[key]!;
  const best = Math.max(...run.max.map((m) => m.msgsPerSecond));
  const latency = latencyOfRounds(
    run.paced.map((p) => ({ ...p.latency, senderLateP99Ms: p.senderLateP99Ms })),
  );
  return {
    key,
    label: info.label,
    via: info.via,
    baselines: info.baselines,
    msgsPerSecond: best,
    msgsPerSecondRounds: run.max.map((m) => m.msgsPerSecond),
    lost: run.max.reduce((n, m) => n + m.lost, 0) + run.paced.reduce((n, p) => n + p.lost, 0),
    ...latency,
    bridgeCpuUsPerMsg: info.baselines.length > 0 ? Math.min(...run.bridgeCpuUsPerMsg) : null,
    prosodyCpuUsPerMsg: Math.min(...run.prosodyCpuUsPerMsg),
    kamailioCpuUsPerMsg: Math.min(...run.kamailioCpuUsPerMsg),
    clientCpuShare: Math.max(...run.clientCpuShare),
  };
}

/** `results/bridge-<date>.json` and the README section (nothing with `--no-save`). */
function save(
  args: Args,
  started: Date,
  load0: number[],
  load1: number[],
  runs: Map<string, PathRun>,
  summaries: PathSummary[],
  rows: string[][],
  goals: string[],
): void {
  const pinned = !args.noPin;
  saveBenchRun(
    resolve(import.meta.dirname, '../../../results'),
    {
      name: 'bridge',
      started,
      options: args,
      environment: {
        node: process.version,
        loadavgAtStart: load0,
        loadavgAtEnd: load1,
        pinned,
      },
      data: { runs: Object.fromEntries(runs), summary: summaries, goals },
      markdown: (json) =>
        [
          `## bridge vs direct delivery: ${started.toISOString()}`,
          '',
          `${args.rounds} rounds, paths in alternating order. msgs/s: the best round, ${args.window} messages in flight for ${args.warmup} s + ${args.seconds} s (counted over the ${args.seconds} s); latency from due time to arrival at ${args.rate} msgs/s evenly paced for ${args.pacedSeconds} s (p50: lower median round, p99: worst round, with how late the bench's sender itself was in that round). Bodies of ${args.size} characters, plaintext relay; XMPP messages go to the recipient's bare JID on every path. ${pinned ? 'Prosody and Kamailio pinned to CPU 0, the bridge and the clients to CPU 1.' : 'Nothing pinned.'} \`x direct\`: msgs/s over the slower direct path the bridged path crosses (same run). Load average ${loadText(load0, 2)} at start, ${loadText(load1, 2)} at end: a loaded, shared 2-core machine.`,
          '',
          markdownTable([BRIDGE_REPORT_HEADER, ...rows]),
          '',
          ...goals.map((g) => `- ${g}`),
          '',
          `Full data: \`${json}\`.`,
        ].join('\n'),
    },
    args.noSave,
  );
}

main().catch((err: unknown) => {
  console.error(`bridge-bench: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
