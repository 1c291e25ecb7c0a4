// Parsing helpers for command-line values. Every failure is a UsageError (exit code 2).
import type { Network, TrustAnchor } from '../trust-list/types.js';
import { NETWORKS } from '../trust-list/types.js';

/** A bad command line: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `90d`, `12h`, `30m` or `45s` as milliseconds. */
export function parseDuration(text: string, option: string): number {
  const m = /^([1-9][0-9]{0,5})([dhms])$/.exec(text);
  if (m === null)
    throw new UsageError(`${option}: expected a duration like 90d, 12h or 30m, got "${text}"`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[m[2] as 'd' | 'h' | 'm' | 's'];
  return Number(m[1]) * unit;
}

/** An RFC 3339 instant (`2026-11-22T00:00:00Z`, or a date alone meaning midnight UTC). */
export function parseInstant(text: string, option: string): Date {
  const full = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const ms = Date.parse(full);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(full) || Number.isNaN(ms)) {
    throw new UsageError(`${option}: expected a UTC time like 2026-11-22T00:00:00Z, got "${text}"`);
  }
  return new Date(ms);
}

export function parsePositiveInt(text: string, option: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${option}: expected a positive integer, got "${text}"`);
  }
  return Number(text);
}

export function parseNetworks(values: readonly string[]): Network[] {
  const out = values.flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase());
  for (const n of out) {
    if (!(NETWORKS as readonly string[]).includes(n)) {
      throw new UsageError(`--network: "${n}" is not one of ${NETWORKS.join(', ')}`);
    }
  }
  if (out.length === 0) throw new UsageError('--network is required (sip, xmpp, matrix, mailbox)');
  return out as Network[];
}

/**
 * A trust anchor as `DS <keytag> <alg> <digesttype> <hex>` or
 * `DNSKEY <flags> <protocol> <alg> <base64>`; a whole zone-file line works too
 * (`apex. 3600 IN DS 12345 13 2 ABCD...`, as dnssec-dsfromkey prints it).
 */
export function parseAnchor(text: string): TrustAnchor {
  const tokens = text.trim().split(/\s+/);
  const at = tokens.findIndex((t) => t === 'DS' || t === 'DNSKEY');
  const rest = at < 0 ? [] : tokens.slice(at + 1);
  const int = (s: string | undefined, max: number, what: string): number => {
    const n = Number(s);
    if (s === undefined || !/^\d+$/.test(s) || n > max) {
      throw new UsageError(`--anchor: ${what} must be an integer 0..${max}`);
    }
    return n;
  };
  if (tokens[at] === 'DS' && rest.length >= 4) {
    return {
      type: 'DS',
      keyTag: int(rest[0], 65535, 'key tag'),
      algorithm: int(rest[1], 255, 'algorithm'),
      digestType: int(rest[2], 255, 'digest type'),
      digest: rest.slice(3).join('').toLowerCase(),
    };
  }
  if (tokens[at] === 'DNSKEY' && rest.length >= 4) {
    if (rest[1] !== '3') throw new UsageError('--anchor: DNSKEY protocol must be 3');
    return {
      type: 'DNSKEY',
      flags: int(rest[0], 65535, 'flags'),
      protocol: 3,
      algorithm: int(rest[2], 255, 'algorithm'),
      publicKey: rest.slice(3).join(''),
    };
  }
  throw new UsageError(
    '--anchor: expected "DS <keytag> <alg> <digesttype> <hex>" or "DNSKEY <flags> 3 <alg> <base64>"',
  );
}
