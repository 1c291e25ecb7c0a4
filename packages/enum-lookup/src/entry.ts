import { RRType, fromBase64, fromHex } from '@switchboard/dns-wire';
import type { DnskeyData, DsData, ResourceRecord } from '@switchboard/dns-wire';
import type { BogusReason, DnssecCrypto, TrustAnchor } from '@switchboard/dnssec/validate';
import { validateDnskeyRrsetWith, validateResponseWith } from '@switchboard/dnssec/validate';
import type { DirectoryEntry } from '@switchboard/charter/verify';
import { enumNameFor } from '@switchboard/e164';
import { queryDns } from './query.js';
import type { QueryOptions } from './query.js';

/** How {@link readEntry} and {@link readZoneKeys} ask and validate. */
export interface EntryOptions extends QueryOptions {
  /** Signature and digest checks (`webCryptoDnssec()`, `nodeDnssecCrypto`). */
  readonly crypto: DnssecCrypto;
  readonly now: Date;
  /** Nameservers to ask (`host:port`); default the directory's, in list order. */
  readonly nameservers?: ReadonlyArray<string>;
}

/** The apex DNSKEY RRset validated from the anchor, or why not. */
export type ZoneKeys =
  | {
      readonly status: 'secure';
      readonly apex: string;
      readonly anchor: TrustAnchor;
      /** The DNSKEY records with their RRSIGs, as served. */
      readonly dnskeyRrset: readonly ResourceRecord[];
    }
  | { readonly status: 'bogus'; readonly reason: BogusReason };

/**
 * A number's entry: every asked RRset validated, in the order asked; else the first type the
 * zone proves absent, or the first part (`'zone keys'` or a type) that failed validation.
 */
export type EntryAnswer =
  | {
      readonly status: 'secure';
      readonly apex: string;
      readonly name: string;
      readonly rrsets: readonly (readonly ResourceRecord[])[];
    }
  | {
      readonly status: 'denied';
      readonly apex: string;
      readonly name: string;
      readonly qtype: number;
    }
  | {
      readonly status: 'bogus';
      readonly part: 'zone keys' | number;
      readonly reason: BogusReason;
    };

/** The trust anchor the list gives for a directory: its DS records, else its DNSKEYs. */
export function trustAnchorOf(dir: DirectoryEntry): TrustAnchor {
  const ds: DsData[] = [];
  const dnskeys: DnskeyData[] = [];
  for (const a of dir.trustAnchors) {
    // The list is schema-checked; an anchor that still does not decode is left out.
    try {
      if (a.type === 'DS') {
        const { keyTag, algorithm, digestType } = a;
        ds.push({ keyTag, algorithm, digestType, digest: fromHex(a.digest) });
      } else {
        const { flags, protocol, algorithm } = a;
        dnskeys.push({ flags, protocol, algorithm, publicKey: fromBase64(a.publicKey) });
      }
    } catch {
      continue;
    }
  }
  return ds.length > 0 ? { zone: dir.apex, ds } : { zone: dir.apex, dnskeys };
}

/** The directory's apex, absolute. */
export function apexOf(dir: DirectoryEntry): string {
  return dir.apex.endsWith('.') ? dir.apex : `${dir.apex}.`;
}

/**
 * Asks the directory for its apex DNSKEY RRset and validates it up to the trust list's anchor
 * (never a resolver's AD bit). DNS failures throw `DnsQueryError`.
 */
export async function readZoneKeys(dir: DirectoryEntry, options: EntryOptions): Promise<ZoneKeys> {
  const apex = apexOf(dir);
  const anchor = trustAnchorOf(dir);
  const servers = options.nameservers ?? dir.nameservers;
  const dnskeyRrset = (await queryDns(servers, apex, RRType.DNSKEY, options)).answers;
  const keys = await validateDnskeyRrsetWith(options.crypto, anchor, dnskeyRrset, options.now);
  if (keys.status === 'bogus') return keys;
  return { status: 'secure', apex, anchor, dnskeyRrset };
}

/**
 * Reads `number`'s ENUM entry (RFC 6116) in the directory: the zone keys, then each of `qtypes`
 * at the number's name, each answer validated from the trust list's anchor. Stops at the first
 * RRset that is proved absent or is bogus. DNS failures throw `DnsQueryError`.
 *
 * @example
 * const r = await readEntry(dir, '+442079460958', [RRType.TXT], { dns, crypto, now });
 * if (r.status === 'secure') r.rrsets[0]; // the validated TXT RRset
 */
export async function readEntry(
  dir: DirectoryEntry,
  number: string,
  qtypes: readonly number[],
  options: EntryOptions,
): Promise<EntryAnswer> {
  const keys = await readZoneKeys(dir, options);
  if (keys.status === 'bogus') return { status: 'bogus', part: 'zone keys', reason: keys.reason };
  const { apex, anchor, dnskeyRrset } = keys;
  const name = enumNameFor(number, apex);
  const servers = options.nameservers ?? dir.nameservers;
  const rrsets: (readonly ResourceRecord[])[] = [];
  for (const qtype of qtypes) {
    const response = await queryDns(servers, name, qtype, options);
    const result = await validateResponseWith(options.crypto, {
      trustAnchor: anchor,
      dnskeyRrset,
      response,
      qname: name,
      qtype,
      now: options.now,
    });
    if (result.status === 'bogus') return { status: 'bogus', part: qtype, reason: result.reason };
    if (result.status === 'secure-denial') return { status: 'denied', apex, name, qtype };
    rrsets.push(result.rrset);
  }
  return { status: 'secure', apex, name, rrsets };
}
