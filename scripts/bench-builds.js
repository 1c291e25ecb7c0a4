#!/usr/bin/env node
// Two builds of the bottom packages (dns-wire, dnssec, charter) side by side in one run: the same
// library workloads on a base build (e.g. main before a change) and on this checkout's build,
// alternating base/head and head/base round by round, so the machine's load falls on both alike.
// Each sample runs a workload for a fixed amount of this process's CPU time and counts operations,
// so a loaded machine slows the run but not the figures. Reports operations per CPU second per
// build (median of the rounds) and head/base (median of the per-round ratios, with their range);
// `--json` adds every round's figures.
// For changes that must not cost speed: file moves, refactors.
//
//   node scripts/bench-builds.js --prepare-base <git-ref> <dir>   # build <ref>'s packages in <dir>
//   node scripts/bench-builds.js --base <dir> [--head <dir>] [--rounds 9] [--ms 400] [--json]
//
// `--head` defaults to this checkout (run `npx tsc -b` first). A base directory holds
// packages/dns-wire, packages/dnssec and charter with their dist/, and node_modules/@switchboard
// links to them, which is what --prepare-base makes (git archive of <ref>, compiled with this
// checkout's TypeScript; the other node_modules entries are links to this checkout's).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
const PACKAGES = ['packages/dns-wire', 'packages/dnssec', 'charter'];

function option(args, name, fallback) {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}

function prepareBase(ref, dir) {
  const target = resolve(dir);
  if (existsSync(target)) throw new Error(`${target} exists; give a new directory`);
  mkdirSync(join(target, 'node_modules', '@switchboard'), { recursive: true });
  const tar = execFileSync('git', ['archive', ref, 'tsconfig.base.json', ...PACKAGES], {
    cwd: root,
    maxBuffer: 1 << 28,
  });
  execFileSync('tar', ['-x', '-C', target], { input: tar });
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry === '@switchboard' || entry.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', entry), join(target, 'node_modules', entry));
  }
  for (const p of PACKAGES) {
    const own = join(root, p, 'node_modules'); // a dependency version other parts do not share
    if (existsSync(own)) symlinkSync(own, join(target, p, 'node_modules'));
    const name = p.split('/').pop();
    symlinkSync(join(target, p), join(target, 'node_modules', '@switchboard', name));
  }
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-b', join(target, 'charter'), join(target, PACKAGES[1])], {
    stdio: 'inherit',
  });
  const commit = execFileSync('git', ['rev-parse', ref], { cwd: root }).toString().trim();
  console.log(`base ${ref} (${commit}) built in ${target}`);
}

async function load(dir) {
  const at = (p) => pathToFileURL(join(resolve(dir), p)).href;
  return {
    wire: await import(at('packages/dns-wire/dist/src/index.js')),
    dnssec: await import(at('packages/dnssec/dist/src/index.js')),
    charter: await import(at('charter/dist/src/index.js')),
  };
}

/** A signed NAPTR answer and a development trust list, made once with the head build. */
function fixture({ wire, dnssec, charter }) {
  const { RRType, RRClass, Rcode, Opcode, encodeMessage } = wire;
  const apex = 'e164.switchboard.test.';
  const qname = `7.6.5.4.3.2.1.5.5.5.1.${apex}`;
  const now = new Date('2026-11-22T00:00:00Z');
  const times = {
    signer: apex,
    inception: new Date(now.getTime() - 3600_000),
    expiration: new Date(now.getTime() + 86400_000),
  };
  const ksk = dnssec.generateSigningKey(dnssec.DnssecAlgorithm.ED25519);
  const zsk = dnssec.generateSigningKey(dnssec.DnssecAlgorithm.ED25519, { flags: 256 });
  const rr = (name, type, data) => ({ name, type, class: RRClass.IN, ttl: 300, data });
  const dnskeys = [ksk, zsk].map((k) => rr(apex, RRType.DNSKEY, k.dnskey));
  const dnskeyRrset = [...dnskeys, dnssec.signRrset(dnskeys, ksk, times)];
  const naptrs = ['E2U+sip', 'E2U+xmpp', 'E2U+matrix'].map((services, i) =>
    rr(qname, RRType.NAPTR, {
      order: 100,
      preference: 10 + i,
      flags: 'u',
      services,
      regexp: `!^.*$!${services.slice(4)}:+15551234567@provider${i}.example!`,
      replacement: '.',
    }),
  );
  const answers = [...naptrs, dnssec.signRrset(naptrs, zsk, times)];
  const header = { id: 1, qr: true, opcode: Opcode.QUERY, aa: true, tc: false, rd: false };
  const response = {
    ...header,
    ...{ ra: false, z: false, ad: false, cd: false, rcode: Rcode.NOERROR },
    questions: [{ name: qname, type: RRType.NAPTR, class: RRClass.IN }],
    answers,
    authorities: [],
    additionals: [],
    edns: { udpPayloadSize: 1232, version: 0, dnssecOk: true, options: [] },
  };
  const anchor = { zone: apex, ds: [dnssec.dsFromDnskey(apex, ksk.dnskey)] };
  const list = charter.createDevelopmentTrustList({ now, seedLabel: 'bench-builds' });
  return {
    now,
    qname,
    bytes: encodeMessage(response),
    anchor,
    dnskeyRrset,
    naptrs,
    zsk,
    times,
    listText: charter.serializeTrustList(list.envelope),
    fingerprint: charter.boardFingerprint(list.devBoard.board),
  };
}

/** The workloads, bound to one build. Each returns something so nothing is optimised away. */
function workloads({ wire, dnssec, charter }, f) {
  const qtype = wire.RRType.NAPTR;
  return {
    'dns-wire decode+encode': () => wire.encodeMessage(wire.decodeMessage(f.bytes)).length,
    'dnssec validate (Ed25519)': () => {
      const response = wire.decodeMessage(f.bytes);
      const input = { trustAnchor: f.anchor, dnskeyRrset: f.dnskeyRrset, response, now: f.now };
      const result = dnssec.validateResponse({ ...input, qname: f.qname, qtype });
      if (result.status !== 'secure') throw new Error(`validate: ${result.status}`);
      return 1;
    },
    'dnssec sign (Ed25519)': () => dnssec.signRrset(f.naptrs, f.zsk, f.times).ttl,
    'charter verify trust list': () =>
      charter.verifyTrustList(f.listText, { boardFingerprint: f.fingerprint, now: f.now }).version,
  };
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Runs `work` for `ms` of this process's CPU time (not wall time: the machine may be loaded). */
function opsPerCpuSecond(work, ms) {
  let n = 0;
  let sink = 0;
  const start = cpuMs();
  let elapsed = 0;
  do {
    for (let i = 0; i < 16; i++) sink += work();
    n += 16;
    elapsed = cpuMs() - start;
  } while (elapsed < ms);
  if (Number.isNaN(sink)) throw new Error('unreachable');
  return (n * 1000) / elapsed;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function compare(baseDir, headDir, rounds, ms) {
  const builds = { base: await load(baseDir), head: await load(headDir) };
  const f = fixture(builds.head);
  const work = { base: workloads(builds.base, f), head: workloads(builds.head, f) };
  const names = Object.keys(work.head);
  const samples = Object.fromEntries(names.map((n) => [n, { base: [], head: [] }]));
  for (const side of ['base', 'head']) for (const n of names) opsPerCpuSecond(work[side][n], ms); // warm-up
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
    for (const n of names)
      for (const side of order) samples[n][side].push(opsPerCpuSecond(work[side][n], ms));
  }
  return names.map((n) => {
    const ratios = samples[n].head.map((h, i) => h / samples[n].base[i]);
    return {
      workload: n,
      baseOpsPerCpuSec: Math.round(median(samples[n].base)),
      headOpsPerCpuSec: Math.round(median(samples[n].head)),
      ratio: Number(median(ratios).toFixed(3)),
      ratioMin: Number(Math.min(...ratios).toFixed(3)),
      ratioMax: Number(Math.max(...ratios).toFixed(3)),
      // Every round's figures, in round order (base and head of one round side by side).
      baseRounds: samples[n].base.map(Math.round),
      headRounds: samples[n].head.map(Math.round),
    };
  });
}

const args = process.argv.slice(2);
if (args[0] === '--prepare-base') {
  if (args.length !== 3) throw new Error('usage: --prepare-base <git-ref> <dir>');
  prepareBase(args[1], args[2]);
} else {
  const base = option(args, '--base');
  if (base === undefined) throw new Error('--base <dir> is required (see --prepare-base)');
  const head = option(args, '--head', root);
  const rounds = Number(option(args, '--rounds', '9'));
  const ms = Number(option(args, '--ms', '400'));
  if (!(rounds >= 1 && ms >= 10)) throw new Error('--rounds >= 1 and --ms >= 10');
  const load1 = (await import('node:os')).loadavg()[0];
  const results = await compare(base, head, rounds, ms);
  const run = { base: resolve(base), head: resolve(head), rounds, ms, load1: load1.toFixed(2) };
  if (args.includes('--json')) console.log(JSON.stringify({ ...run, results }, null, 2));
  else {
    console.log(
      `${rounds} rounds x ${ms} ms of CPU per workload and build; ops per CPU second; load ${run.load1}`,
    );
    for (const r of results)
      console.log(
        `${r.workload.padEnd(28)} base ${String(r.baseOpsPerCpuSec).padStart(8)}/s  head ` +
          `${String(r.headOpsPerCpuSec).padStart(8)}/s  head/base ${r.ratio} (${r.ratioMin}-${r.ratioMax})`,
      );
  }
}
