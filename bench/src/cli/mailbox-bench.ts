// Mailbox benchmark (issue 3, priority 3): deliveries/s into key-addressed mailboxes and
// send-to-push latency with 1, 100 and 1000 WebSocket subscribers, on SQLite and PostgreSQL.
// See bench/README.md.
//   npm run bench:mailbox -w bench -- [--seconds 10] [--connections 10] [--subscribers 1,100,1000]
//     [--probes 200] [--dialects sqlite,postgres] [--rounds 1] [--keep] [--no-save]
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WebSocket } from 'ws';
import type { DialectName } from '@switchboard/db';
import { signRequest } from '@switchboard/http-signature';
import { startHttpChild } from '../load/http-child.js';
import type { HttpLoadResult } from '../load/http-load.js';
import { runHttpLoad } from '../load/http-load.js';
import type { RunningPeer } from '../load/process.js';
import { canPin, freePort, sleep } from '../load/process.js';
import { parseBenchOptions } from '../cli-options.js';
import { cell, loadText, markdownTable, saveBenchRun, table } from '../report/report.js';
import type { LatencySummary } from '../load/stats.js';
import { summarise } from '../load/stats.js';

type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: readonly string[]) {
  const args = parseBenchOptions(argv, {
    seconds: { kind: 'number', default: 10, min: 0.1 },
    connections: { kind: 'integer', default: 10, min: 1 },
    subscribers: { kind: 'number-list', min: 1 },
    probes: { kind: 'integer', default: 200, min: 1 },
    dialects: { kind: 'list' },
  });
  for (const d of args.dialects ?? []) {
    if (d !== 'sqlite' && d !== 'postgres') throw new Error('--dialects: sqlite and/or postgres');
  }
  return {
    ...args,
    subscribers: args.subscribers ?? [1, 100, 1000],
    dialects: (args.dialects ?? ['sqlite', 'postgres']) as DialectName[],
  };
}

/** One mailbox owner with a push socket. */
interface Subscriber {
  readonly mailbox: string;
  readonly socket: WebSocket;
  received: number;
}

function mailboxKey(): { mailbox: string; keyId: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    mailbox: createHash('sha256').update(raw).digest('base64url'),
    keyId: Buffer.from(raw).toString('base64url'),
    privateKey,
  };
}

/** Opens a signed push socket per mailbox; `onMessage` sees each frame's ciphertext. */
async function subscribe(
  base: string,
  count: number,
  onMessage: (ciphertext: string, at: number) => void,
): Promise<Subscriber[]> {
  const subs: Subscriber[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, async () => {
      const key = mailboxKey();
      const path = `/v1/mailboxes/${key.mailbox}/socket`;
      const headers = signRequest({
        method: 'GET',
        url: path,
        body: '',
        keyId: key.keyId,
        privateKey: key.privateKey,
        now: Date.now() / 1000,
      });
      const socket = new WebSocket(`${base.replace('http', 'ws')}${path}`, { headers });
      const sub: Subscriber = { mailbox: key.mailbox, socket, received: 0 };
      socket.on('message', (data) => {
        const at = performance.now();
        sub.received++;
        onMessage((JSON.parse(String(data)) as { ciphertext: string }).ciphertext, at);
      });
      await new Promise<void>((ok, fail) => {
        socket.once('open', () => ok());
        socket.once('error', fail);
        socket.once('unexpected-response', (_req, res) =>
          fail(new Error(`socket upgrade refused: ${res.statusCode}`)),
        );
      });
      return sub;
    });
    subs.push(...(await Promise.all(batch)));
  }
  return subs;
}

interface Row {
  dialect: DialectName;
  /** 1..--rounds: each measurement is repeated, rows side by side. */
  round: number;
  subscribers: number;
  deliveries?: HttpLoadResult;
  pushesPerSecond?: number;
  pushLatency?: LatencySummary;
  error?: string;
}

async function measure(base: string, n: number, args: Args, row: Row): Promise<void> {
  const waiting = new Map<string, (at: number) => void>();
  const subs = await subscribe(base, n, (ciphertext, at) => waiting.get(ciphertext)?.(at));
  try {
    const body = JSON.stringify({ ciphertext: randomBytes(256).toString('base64') });
    const pushedBefore = subs.reduce((s, x) => s + x.received, 0);
    row.deliveries = await runHttpLoad({
      url: base,
      connections: args.connections,
      seconds: args.seconds,
      method: 'POST',
      request: (i) => ({
        path: `/v1/mailboxes/${subs[i % subs.length]?.mailbox ?? ''}/messages`,
        body,
      }),
    });
    await sleep(500);
    const pushed = subs.reduce((s, x) => s + x.received, 0) - pushedBefore;
    row.pushesPerSecond = Math.round(pushed / row.deliveries.seconds);
    // Send-to-push: one message at a time, from just before the POST to the frame's arrival.
    const latencies: number[] = [];
    for (let i = 0; i < args.probes; i++) {
      const sub = subs[Math.floor(Math.random() * subs.length)] as Subscriber;
      const ciphertext = randomBytes(48).toString('base64');
      const arrived = new Promise<number>((ok) => waiting.set(ciphertext, ok));
      const t0 = performance.now();
      const res = await fetch(`${base}/v1/mailboxes/${sub.mailbox}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ciphertext }),
      });
      await res.arrayBuffer();
      if (res.status < 200 || res.status >= 300) throw new Error(`delivery answered ${res.status}`);
      const t1 = await Promise.race([arrived, sleep(5000).then(() => Number.NaN)]);
      waiting.delete(ciphertext);
      if (Number.isFinite(t1)) latencies.push((t1 - t0) / 1000);
    }
    row.pushLatency = summarise(latencies);
  } finally {
    for (const s of subs) s.socket.terminate();
  }
}

/** Every subscriber count (x --rounds) on one dialect's provider, started for the purpose. */
async function runDialect(
  dialect: DialectName,
  args: Args,
  work: string,
  pin: boolean,
): Promise<Row[]> {
  const rows: Row[] = [];
  let provider: { peer: RunningPeer } | undefined;
  try {
    const port = await freePort();
    const dir = join(work, `provider-${dialect}`);
    provider = await startHttpChild(
      `provider-${dialect}`,
      dir,
      ['provider', dialect, String(port), dir, '0', '0'],
      port,
      pin ? 0 : undefined,
    );
    for (let round = 1; round <= args.rounds; round++) {
      for (const n of args.subscribers) {
        const row: Row = { dialect, round, subscribers: n };
        rows.push(row);
        try {
          await measure(`http://127.0.0.1:${port}`, n, args, row);
          console.log(
            `[${dialect}] ${n} subscribers: ${row.deliveries?.rps}/s delivered, ${row.pushesPerSecond}/s pushed, push p50/p99 ${row.pushLatency?.p50Ms}/${row.pushLatency?.p99Ms} ms`,
          );
        } catch (err) {
          row.error = (err as Error).message;
          console.log(`[${dialect}] ${n} subscribers FAILED: ${row.error}`);
        }
      }
    }
  } catch (err) {
    rows.push({ dialect, round: 0, subscribers: 0, error: (err as Error).message });
    console.log(`[${dialect}] FAILED: ${(err as Error).message}`);
  } finally {
    await provider?.peer.stop();
  }
  return rows;
}

function mailboxTable(rows: readonly Row[], rounds: number): string[][] {
  const header = [
    'dialect',
    ...(rounds > 1 ? ['round'] : []),
    'subscribers',
    'deliveries/s',
    'POST p50 ms',
    'POST p99 ms',
    'non-2xx',
    'pushes/s',
    'send-to-push p50 ms',
    'p99 ms',
    'probes',
  ];
  const body = rows.map((r) => [
    r.dialect,
    ...(rounds > 1 ? [String(r.round)] : []),
    ...(r.error !== undefined || !r.deliveries
      ? [String(r.subscribers), 'error', '', '', '', '', '', '', (r.error ?? '').slice(0, 60)]
      : [
          cell(r.subscribers),
          cell(r.deliveries.rps),
          cell(r.deliveries.p50Ms, 1),
          cell(r.deliveries.p99Ms, 1),
          cell(r.deliveries.non2xx + r.deliveries.errors),
          cell(r.pushesPerSecond),
          cell(r.pushLatency?.p50Ms, 2),
          cell(r.pushLatency?.p99Ms, 2),
          cell(r.pushLatency?.count),
        ]),
  ]);
  return [header, ...body];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pin = canPin();
  if (pin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)]);
  const work = mkdtempSync(join(tmpdir(), 'sb-bench-mailbox-'));
  const started = new Date();
  const load0 = loadavg();
  console.log(
    `mailbox benchmark: ${args.seconds}s delivery runs, subscribers ${args.subscribers.join('/')}; work dir ${work}`,
  );
  const rows: Row[] = [];
  for (const dialect of args.dialects) rows.push(...(await runDialect(dialect, args, work, pin)));
  const tableRows = mailboxTable(rows, args.rounds);
  const load1 = loadavg();
  console.log(
    '\nMailboxes on loopback: autocannon deliveries round-robin over the subscribed mailboxes; then sequential probes for send-to-push latency',
  );
  console.log(table(tableRows));
  const file = saveBenchRun(
    resolve(import.meta.dirname, '../../../results'),
    {
      name: 'mailbox',
      started,
      options: args,
      environment: {
        node: process.version,
        pinned: pin,
        loadavgAtStart: load0,
        loadavgAtEnd: load1,
      },
      data: { rows },
      markdown: (json) =>
        [
          `## mailboxes: ${started.toISOString()}`,
          '',
          `${args.seconds}s of 256-byte deliveries over ${args.connections} connections, round-robin over the subscribed mailboxes (one push socket each), then ${args.probes} sequential send-to-push probes${args.rounds > 1 ? `, ${args.rounds} rounds` : ''}. ${pin ? 'Server on CPU 0, clients on CPU 1' : 'Not pinned'}; load average ${loadText(load0)} at start, ${loadText(load1)} at end. No peer: absolute figures on a shared machine, compare rows of the same run only.`,
          '',
          markdownTable(tableRows),
          '',
          `Full data: \`${json}\`.`,
        ].join('\n'),
    },
    args.noSave,
  );
  if (file) console.log(`\nresults: ${file}`);
  if (args.keep) console.log(`work dir kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(`mailbox benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
