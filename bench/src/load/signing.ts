// Export signing: the same unsigned zone, the same two keys (made by dnssec-keygen), NSEC3
// without salt and with 0 extra iterations (RFC 9276), signed by dnssec-signzone and by our
// @switchboard/dnssec `signZoneNsec3` (run as its own Node process, end to end: read, parse,
// sign, format, write); the one-core variants are pinned to the same core. dnssec-signzone's
// defaults verify every signature it made before writing; -P skips that, as our signer always
// does (the bench checks our output with dnssec-verify afterwards, untimed). Both sign the same
// RRsets, except that dnssec-signzone also signs the DNSKEY RRset with the ZSK (one more).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runTimed } from './process.js';

const ourSigner = resolve(import.meta.dirname, '../children/sign-export.js');

export interface ZoneKeys {
  /** The key repository (`dnssec-signzone -S -K <dir>` picks both keys from it). */
  readonly dir: string;
  /** Key file base paths (`<dir>/K<apex>+013+<tag>`), ZSK then KSK. */
  readonly zsk: string;
  readonly ksk: string;
}

/** Creates a ZSK and a KSK (ECDSA P-256) with dnssec-keygen in `dir`. */
export function generateKeys(dir: string, apex: string): ZoneKeys {
  const make = (ksk: boolean): string => {
    const args = [
      '-q',
      '-K',
      dir,
      '-a',
      'ECDSAP256SHA256',
      '-n',
      'ZONE',
      ...(ksk ? ['-f', 'KSK'] : []),
      apex,
    ];
    const r = spawnSync('dnssec-keygen', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`dnssec-keygen failed: ${r.stderr}`);
    return join(dir, r.stdout.trim());
  };
  return { dir, zsk: make(false), ksk: make(true) };
}

/** `YYYYMMDDHHMMSS` in UTC, the form dnssec-signzone -s/-e take. */
export function signzoneTime(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export interface SigningRun {
  readonly id: string;
  readonly command: string;
  readonly seconds: number;
  /** User + system CPU seconds of the signer (every thread), when GNU time is installed. */
  readonly cpuSeconds?: number;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface SignWindow {
  readonly inception: Date;
  readonly expiration: Date;
}

/** dnssec-signzone -3 - -H 0 with smart signing from the key dir (plus `extra`), timed end to end. */
export async function signWithDnssecSignzone(
  id: string,
  zoneFile: string,
  out: string,
  apex: string,
  keys: ZoneKeys,
  window: SignWindow,
  extra: readonly string[],
  options: { cpu?: number; logFile: string },
): Promise<SigningRun> {
  const args = [
    '-3',
    '-',
    '-H',
    '0',
    '-S',
    '-K',
    keys.dir,
    '-d',
    keys.dir,
    ...extra,
    '-o',
    apex,
    '-f',
    out,
    '-s',
    signzoneTime(window.inception),
    '-e',
    signzoneTime(window.expiration),
    zoneFile,
  ];
  const r = await runTimed('dnssec-signzone', args, options);
  return {
    id,
    command: `dnssec-signzone ${args.join(' ')}`,
    seconds: r.seconds,
    ...(r.cpuSeconds !== undefined ? { cpuSeconds: r.cpuSeconds } : {}),
    ok: r.code === 0,
    ...(r.code === 0 ? {} : { detail: `exit ${r.code}, see ${options.logFile}` }),
  };
}

/** Phase times our signer process reports (milliseconds). */
export interface OurSignerPhases {
  readonly readParseMs: number;
  readonly signMs: number;
  /**
   * Formatting and writing on the main thread, including what ran while workers signed (with
   * threads, formatting is part of building the zone: only the writes).
   */
  readonly formatWriteMs: number;
  /** The part of formatWriteMs that overlapped signing (threads > 0). */
  readonly formatWhileSigningMs?: number;
  readonly records: number;
  readonly rrsigs: number;
}

/**
 * Our signer in a fresh Node process, timed end to end (process start included): `threads` 0 =
 * `signZoneNsec3` on the main thread, N = `signZoneNsec3Parallel` on N worker threads.
 */
export async function signWithOurs(
  id: string,
  threads: number,
  zoneFile: string,
  out: string,
  apex: string,
  keys: ZoneKeys,
  window: SignWindow,
  options: { cpu?: number; logFile: string },
): Promise<SigningRun & { phases?: OurSignerPhases }> {
  const phasesFile = `${out}.timings.json`;
  const args = [
    ourSigner,
    zoneFile,
    out,
    apex,
    window.inception.toISOString(),
    window.expiration.toISOString(),
    phasesFile,
    String(threads),
    keys.zsk,
    keys.ksk,
  ];
  const r = await runTimed(process.execPath, args, options);
  if (r.code !== 0) {
    return {
      id,
      command: `node ${args.join(' ')}`,
      seconds: r.seconds,
      ...(r.cpuSeconds !== undefined ? { cpuSeconds: r.cpuSeconds } : {}),
      ok: false,
      detail: `exit ${r.code}, see ${options.logFile}`,
    };
  }
  const phases = JSON.parse(readFileSync(phasesFile, 'utf8')) as OurSignerPhases;
  return {
    id,
    command:
      threads > 0
        ? `node sign-export.js (parse, build and format on the main thread; signZoneNsec3ParallelText: signatures on ${threads} worker threads, text written as it is made; no verification of its own output)`
        : 'node sign-export.js (signZoneNsec3, one thread; no verification of its own output)',
    seconds: r.seconds,
    ...(r.cpuSeconds !== undefined ? { cpuSeconds: r.cpuSeconds } : {}),
    ok: true,
    phases,
  };
}

/** dnssec-verify on a signed zone (not timed): whether BIND accepts it. */
export function verifyWithBind(signedFile: string, apex: string): { ok: boolean; detail: string } {
  const r = spawnSync('dnssec-verify', ['-o', apex, signedFile], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  const text = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-3).join(' | ');
  return { ok: r.status === 0, detail: text };
}
