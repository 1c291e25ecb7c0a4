// SDK lookup benchmark (issue 3, priority 3): client-sdk `lookup()` (DNS + its own DNSSEC
// validation up to the trust list's anchor) against `delv` (BIND's validating lookup tool,
// trust anchor from the directory's trust-anchor.conf) on the same names, from our directory.
// See bench/README.md.
//   npm run bench:lookup -w bench -- [--count 1000] [--lookups 200] [--rounds 1] [--keep] [--no-save]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  createDevelopmentTrustList,
  generateEd25519KeyPair,
  publicKeyRecord,
} from '@switchboard/charter';
import type { DirectoryEntry, ProviderEntry } from '@switchboard/charter';
import { LookupError, lookup } from '@switchboard/client-sdk';
import { NodeDnsTransport } from '@switchboard/client-sdk/node';
import { directoryPeer } from '../peers/directory.js';
import { waitForZone } from '../load/probe.js';
import type { RunningPeer } from '../load/process.js';
import { canPin, freePort, pinned, sleep } from '../load/process.js';
import { parseBenchOptions } from '../cli-options.js';
import { cell, loadText, markdownTable, saveBenchRun, table } from '../report/report.js';
import type { LatencySummary } from '../load/stats.js';
import { ratio, summarise } from '../load/stats.js';
import {
  benchSpace,
  enumName,
  generateBenchZone,
  importLines,
  writeLines,
} from '../fixtures/zone-data.js';

type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: readonly string[]) {
  return parseBenchOptions(argv, {
    count: { kind: 'integer', default: 1000, min: 10, max: 10_000_000 },
    lookups: { kind: 'integer', default: 200, min: 1 },
  });
}

function hex(text: string): string {
  return text.replace(/\s+/g, '').toUpperCase();
}

/** `<apex> <ttl> IN DS <tag> <alg> <digestType> <hex>` from the directory's ds.txt. */
function parseDs(line: string): {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: string;
} {
  const m = /\sDS\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-Fa-f\s]+)$/.exec(line.trim());
  if (!m) throw new Error('ds.txt has no DS record');
  return {
    keyTag: Number(m[1]),
    algorithm: Number(m[2]),
    digestType: Number(m[3]),
    digest: hex(m[4] ?? ''),
  };
}

interface Side {
  existing: LatencySummary;
  missing: LatencySummary;
  failures: number;
}

type BenchZone = ReturnType<typeof generateBenchZone>;

/** Our directory serving the bench zone (imported through its bulk import), on CPU 0. */
async function startServer(
  args: Args,
  work: string,
  pin: boolean,
  zone: BenchZone,
): Promise<{ server: RunningPeer; port: number; dir: string }> {
  const port = await freePort();
  const dir = join(work, 'switchboard');
  mkdirSync(dir);
  const importFile = join(work, 'entries.jsonl');
  writeLines(importFile, importLines(benchSpace({ count: args.count })));
  const server = await directoryPeer(importFile, args.count).start({
    workDir: dir,
    apex: zone.apex,
    zoneFile: '',
    port,
    ...(pin ? { cpu: 0 } : {}),
  });
  return { server, port, dir };
}

/** A development trust list naming our directory (its DS from ds.txt) and the zone's providers. */
async function benchTrustList(zone: BenchZone, dir: string, port: number) {
  const dsFile = join(dir, 'directory', 'ds.txt');
  for (let i = 0; i < 50 && !existsSync(dsFile); i++) await sleep(100);
  const ds = parseDs(readFileSync(dsFile, 'utf8').split('\n')[0] ?? '');
  const now = new Date();
  const day = 86_400_000;
  const stamp = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const directory: DirectoryEntry = {
    id: 'bench-directory',
    operator: 'bench',
    apex: zone.apex,
    trustAnchors: [{ type: 'DS', ...ds }],
    nameservers: [`127.0.0.1:${port}`],
    publishEndpoint: 'http://127.0.0.1:1/',
    status: 'active',
  } as DirectoryEntry;
  const providers: ProviderEntry[] = [...new Set(zone.entries.map((e) => e.provider))].map(
    (id) =>
      ({
        id,
        name: id,
        apiBaseUrl: `https://${id}.invalid/`,
        publishingKeys: [publicKeyRecord(generateEd25519KeyPair())],
        networks: ['sip', 'xmpp', 'matrix', 'mailbox'],
        accreditation: {
          notBefore: stamp(now.getTime() - day),
          notAfter: stamp(now.getTime() + 365 * day),
        },
        status: 'active',
      }) as ProviderEntry,
  );
  return createDevelopmentTrustList({ now, directories: [directory], providers }).verified;
}

interface Timings {
  s: number[];
  failures: number;
}

/** SDK: one lookup() per number, in process, nothing cached between lookups by the SDK. */
async function sdkLookups(
  numbers: readonly string[],
  expectFound: boolean,
  options: Parameters<typeof lookup>[1],
): Promise<Timings> {
  const s: number[] = [];
  let failures = 0;
  for (const n of numbers) {
    const t0 = performance.now();
    try {
      await lookup(n, options);
      if (!expectFound) failures++;
    } catch (err) {
      if (!(err instanceof LookupError) || expectFound) failures++;
    }
    s.push((performance.now() - t0) / 1000);
  }
  return { s, failures };
}

/** delv: one process per name, validating from the directory's trust anchor. */
function delvLookups(
  numbers: readonly string[],
  expectFound: boolean,
  target: { port: number; anchor: string; apex: string; pin: boolean },
): Timings {
  const s: number[] = [];
  let failures = 0;
  for (const n of numbers) {
    const [cmd, argv] = pinned(target.pin ? 1 : undefined, 'delv', [
      '@127.0.0.1',
      '-p',
      String(target.port),
      '-a',
      target.anchor,
      `+root=${target.apex}`,
      enumName(n, target.apex),
      'NAPTR',
    ]);
    const t0 = performance.now();
    const r = spawnSync(cmd, argv, { encoding: 'utf8' });
    s.push((performance.now() - t0) / 1000);
    const out = `${r.stdout}${r.stderr}`;
    const validated = out.includes('fully validated');
    const answered = /\bNAPTR\b.*E2U/.test(out);
    const ok =
      validated && (expectFound ? answered : out.includes('negative response') && !answered);
    if (!ok) failures++;
  }
  return { s, failures };
}

/** Both clients on the same names, `--rounds` times taking turns; samples of all rounds pooled. */
async function measureSides(
  args: Args,
  zone: BenchZone,
  dir: string,
  port: number,
  pin: boolean,
): Promise<Record<'sdk' | 'delv', Side>> {
  const trustList = await benchTrustList(zone, dir, port);
  const dns = new NodeDnsTransport({ timeoutMs: 3000 });
  const existing = zone.entries.slice(0, args.lookups).map((e) => e.number);
  const missing = zone.missing.slice(0, args.lookups);
  const target = {
    port,
    anchor: join(dir, 'directory', 'trust-anchor.conf'),
    apex: zone.apex,
    pin,
  };
  const pool = { sdk: [[], [], 0], delv: [[], [], 0] } as Record<
    'sdk' | 'delv',
    [number[], number[], number]
  >;
  const add = (k: 'sdk' | 'delv', e: Timings, m: Timings): void => {
    pool[k][0].push(...e.s);
    pool[k][1].push(...m.s);
    pool[k][2] += e.failures + m.failures;
  };
  await sdkLookups(existing.slice(0, 10), true, { trustList, dns }); // warm-up (JIT)
  for (let round = 1; round <= args.rounds; round++) {
    console.log(
      `SDK lookups: ${existing.length} published + ${missing.length} unpublished numbers...`,
    );
    add(
      'sdk',
      await sdkLookups(existing, true, { trustList, dns }),
      await sdkLookups(missing, false, { trustList, dns }),
    );
    console.log('delv lookups on the same names...');
    add('delv', delvLookups(existing, true, target), delvLookups(missing, false, target));
  }
  const side = ([e, m, failures]: [number[], number[], number]): Side => ({
    existing: summarise(e),
    missing: summarise(m),
    failures,
  });
  return { sdk: side(pool.sdk), delv: side(pool.delv) };
}

function lookupTable(sides: Record<'sdk' | 'delv', Side>): string[][] {
  const header = [
    'client',
    'published p50 ms',
    'p99 ms',
    'unpublished p50 ms',
    'p99 ms',
    'failures',
    'p50 x delv (published)',
  ];
  const rows = (['sdk', 'delv'] as const).map((k) => [
    k === 'sdk' ? 'client-sdk lookup()' : 'delv (process per name)',
    cell(sides[k].existing.p50Ms, 2),
    cell(sides[k].existing.p99Ms, 2),
    cell(sides[k].missing.p50Ms, 2),
    cell(sides[k].missing.p99Ms, 2),
    cell(sides[k].failures),
    cell(ratio(sides[k].existing.p50Ms, sides.delv.existing.p50Ms), 2),
  ]);
  return [header, ...rows];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pin = canPin();
  if (pin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)]);
  const work = mkdtempSync(join(tmpdir(), 'sb-bench-lookup-'));
  const started = new Date();
  const load0 = loadavg();
  const zone = generateBenchZone({ count: args.count });
  let server: RunningPeer | undefined;
  try {
    const running = await startServer(args, work, pin, zone);
    server = running.server;
    await waitForZone(running.port, zone.apex, 300_000);
    const sides = await measureSides(args, zone, running.dir, running.port, pin);
    const rows = lookupTable(sides);
    const load1 = loadavg();
    console.log('\nLookup + DNSSEC validation from our directory, sequential, one name at a time');
    console.log(table(rows));
    const delvVersion = spawnSync('delv', ['-v'], { encoding: 'utf8' });
    const file = saveBenchRun(
      resolve(import.meta.dirname, '../../../results'),
      {
        name: 'lookup',
        started,
        options: args,
        environment: {
          node: process.version,
          pinned: pin,
          loadavgAtStart: load0,
          loadavgAtEnd: load1,
          delv: delvVersion.stdout.trim() || delvVersion.stderr.trim(),
        },
        data: { sides },
        markdown: (json) =>
          [
            `## SDK lookup vs delv: ${started.toISOString()}`,
            '',
            `${args.lookups} published and ${args.lookups} unpublished numbers from our directory (${args.count} numbers, server on CPU 0), looked up one at a time${args.rounds > 1 ? ` (${args.rounds} rounds, pooled)` : ''}: client-sdk \`lookup()\` in process (NAPTR + TXT + DNSKEY, its own validation to the trust list's DS) vs \`delv\` (one process per name, so its start-up is included). Load average ${loadText(load0)} at start, ${loadText(load1)} at end.`,
            '',
            markdownTable(rows),
            '',
            `Full data: \`${json}\`.`,
          ].join('\n'),
      },
      args.noSave,
    );
    if (file) console.log(`\nresults: ${file}`);
  } finally {
    await server?.stop();
    if (args.keep) console.log(`work dir kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`lookup benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
