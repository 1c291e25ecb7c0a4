import { mkdir, readFile, rename, writeFile, chmod, stat } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import type { SigningAlgorithm, SigningKey } from '@switchboard/dnssec';
import {
  DigestType,
  DnskeyFlag,
  dnskeyFromPublicKey,
  dsFromDnskey,
  exportPrivateKeyPem,
  generateSigningKey,
  importPrivateKeyPem,
} from '@switchboard/dnssec';
import type { DnskeyData, DsData, ResourceRecord } from '@switchboard/dns-wire';
import { parseZone, RRType } from '@switchboard/dns-wire';

/** The zone signing key plus the trust anchor material derived from it. */
export interface ZoneKeyMaterial {
  readonly key: SigningKey;
  readonly ds: DsData;
  /** Whether this start created the key. */
  readonly created: boolean;
  readonly path: string;
}

/**
 * Loads the zone's combined signing key (flags 257, signs every RRset) from
 * `<keyDir>/zone-alg<N>.pem`, creating it on first use. The file is written 0600 to a temporary
 * name and renamed, so a crash never leaves a half-written key; an existing file readable by
 * others is tightened to 0600.
 */
export async function loadOrCreateZoneKey(
  keyDir: string,
  apex: string,
  algorithm: SigningAlgorithm,
): Promise<ZoneKeyMaterial> {
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  const path = join(keyDir, `zone-alg${algorithm}.pem`);
  let created = false;
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
    if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const fresh = generateSigningKey(algorithm, { flags: 257 });
    pem = exportPrivateKeyPem(fresh);
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, pem, { mode: 0o600, flag: 'wx' });
    await rename(temp, path);
    created = true;
  }
  const key = importPrivateKeyPem(pem, { flags: 257 });
  if (key.algorithm !== algorithm) {
    throw new Error(`zone key file ${path} holds an algorithm ${key.algorithm} key`);
  }
  return { key, ds: dsFromDnskey(apex, key.dnskey, DigestType.SHA256), created, path };
}

/**
 * Reads one secondary operator's public key file: a PEM public key (`-----BEGIN PUBLIC
 * KEY-----`, published with flags 257: Knot's mod-onlinesign signs the DNSKEY RRset with it,
 * so it belongs in the DS set) or DNSKEY records for the apex in presentation format (flags as
 * given: 256 for a ZSK only). Every key must use the zone's algorithm (RFC 6840 5.11: a
 * validator expects signatures of every algorithm the DNSKEY RRset lists). Private keys are
 * refused: an operator keeps its own.
 */
export function parseOperatorKeys(
  text: string,
  source: string,
  apex: string,
  algorithm: SigningAlgorithm,
): DnskeyData[] {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new Error(`operator key ${source} holds a private key; give its public key only`);
  }
  let keys: DnskeyData[];
  if (text.includes('-----BEGIN PUBLIC KEY-----')) {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(text);
    } catch {
      throw new Error(`operator key ${source} is not a readable PEM public key`);
    }
    keys = [dnskeyFromPublicKey(publicKey, { flags: DnskeyFlag.KSK })];
  } else {
    let records: ResourceRecord[];
    try {
      records = parseZone(text, { origin: apex });
    } catch (err) {
      throw new Error(`operator key ${source}: ${(err as Error).message}`);
    }
    keys = records.map((rr) => {
      if (rr.type !== RRType.DNSKEY || rr.name !== apex || !('flags' in rr.data)) {
        throw new Error(`operator key ${source} may hold only DNSKEY records for ${apex}`);
      }
      return rr.data;
    });
  }
  if (keys.length === 0) throw new Error(`operator key ${source} holds no key`);
  for (const k of keys) {
    if (k.algorithm !== algorithm) {
      throw new Error(
        `operator key ${source} uses algorithm ${k.algorithm}; the zone signs with ${algorithm}`,
      );
    }
    if ((k.flags & DnskeyFlag.ZONE) === 0 || (k.flags & DnskeyFlag.REVOKE) !== 0) {
      throw new Error(`operator key ${source} is not a zone key (flags ${k.flags})`);
    }
  }
  return keys;
}

/** Reads every operator key file in `paths` (see {@link parseOperatorKeys}). */
export async function loadOperatorKeys(
  paths: readonly string[],
  apex: string,
  algorithm: SigningAlgorithm,
): Promise<DnskeyData[]> {
  const out: DnskeyData[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new Error(
        `operator key ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    out.push(...parseOperatorKeys(text, path, apex, algorithm));
  }
  return out;
}

/** The keys validators may start from (SEP flag set): the zone key and operators' KSK/CSKs. */
export function secureEntryPoints(dnskeys: readonly DnskeyData[]): DnskeyData[] {
  return dnskeys.filter((k) => (k.flags & DnskeyFlag.SEP) !== 0);
}

/** The DS (SHA-256) of every secure entry point, for the parent zone. */
export function dsSet(apex: string, dnskeys: readonly DnskeyData[]): DsData[] {
  return secureEntryPoints(dnskeys).map((k) => dsFromDnskey(apex, k, DigestType.SHA256));
}
