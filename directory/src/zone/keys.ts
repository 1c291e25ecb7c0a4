import { mkdir, readFile, rename, writeFile, chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SigningAlgorithm, SigningKey } from '@switchboard/dnssec';
import {
  DigestType,
  dsFromDnskey,
  exportPrivateKeyPem,
  generateSigningKey,
  importPrivateKeyPem,
} from '@switchboard/dnssec';
import type { DsData } from '@switchboard/dns-wire';

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
