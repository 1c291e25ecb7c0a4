import { RRType, isRecordType } from '@switchboard/dns-wire';
import type { BogusReason, DnssecCrypto } from '@switchboard/dnssec/validate';
import { webCryptoDnssec } from '@switchboard/dnssec/validate';
import { E164Error, parseE164 } from '@switchboard/e164';
import type { DirectoryEntry, ProviderEntry, VerifiedTrustList } from '@switchboard/charter/verify';
import { mayTrustDirectory, mayTrustProvider } from '@switchboard/charter/verify';
import { DnsQueryError, readEntry } from '@switchboard/enum-lookup';
import type { EntryAnswer } from '@switchboard/enum-lookup';
import { SwitchboardError } from '../errors.js';
import type { SwitchboardErrorCode } from '../errors.js';
import type { ContactMethod } from './records.js';
import { contactMethodsFromNaptr, identityFromTxt } from './records.js';
import type { DnsTransport } from './transport.js';

export interface LookupConfig {
  /** A trust list already verified with `verifyTrustList` (charter). */
  readonly trustList: VerifiedTrustList;
  readonly dns: DnsTransport;
  /** Signature and digest checks for DNSSEC; default WebCrypto (`globalThis.crypto.subtle`,
   *  browsers and Node 20+). Node callers may pass `nodeDnssecCrypto` (`./node`). */
  readonly dnssecCrypto?: DnssecCrypto;
  readonly now?: () => Date;
  /** Which directory to ask; default: every active directory in the list, in list order. */
  readonly directoryId?: string;
  /** Override the directory's nameservers (`host:port`), e.g. a local secondary. */
  readonly nameservers?: ReadonlyArray<string>;
  readonly timeoutMs?: number;
  /** Random 16-bit query ids; injectable for tests. */
  readonly randomId?: () => number;
}

/** How the answer was validated: always by this SDK, never by a resolver's AD bit. */
export interface DnssecStatus {
  readonly status: 'secure';
  readonly directoryId: string;
  readonly apex: string;
  /** Trust list version whose anchor the chain ended at. */
  readonly trustListVersion: number;
}

export interface LookupResult {
  readonly number: string;
  readonly enumName: string;
  /** In NAPTR order (order, then preference). */
  readonly contacts: ReadonlyArray<ContactMethod>;
  readonly identityKey: Uint8Array;
  readonly provider: ProviderEntry;
  readonly dnssec: DnssecStatus;
}

/** A lookup failure: `code` is one of the lookup codes, `reason` the validator's detail. */
export class LookupError extends SwitchboardError {
  /** For bogus answers: the validator's reason (e.g. `signature-invalid`, `ds-mismatch`). */
  readonly reason: string | undefined;
  constructor(
    code: SwitchboardErrorCode,
    message: string,
    reason?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'LookupError';
    this.reason = reason;
  }
}

function bogus(reason: BogusReason | string, what: string): LookupError {
  if (reason === 'signature-expired' || reason === 'signature-not-yet-valid') {
    return new LookupError(
      'expired',
      `the directory's signatures on the ${what} are outside their validity period; the directory may be stale or this device's clock wrong`,
      reason,
    );
  }
  return new LookupError(
    'bogus-signature',
    `the directory's answer for the ${what} failed DNSSEC validation (${reason}); it may have been tampered with`,
    reason,
  );
}

/**
 * Finds a phone number in the directory: E.164 -> ENUM name -> DNS (UDP, TCP when truncated)
 * -> DNSSEC chain validated here up to the trust list's anchor -> contact methods, identity key
 * and an accredited provider.
 *
 * @example
 * const r = await lookup('+15550100', { trustList, dns: new NodeDnsTransport() });
 * r.contacts[0].uri; r.identityKey; r.provider.apiBaseUrl;
 */
export async function lookup(number: string, config: LookupConfig): Promise<LookupResult> {
  let e164: string;
  try {
    e164 = parseE164(number);
  } catch (err) {
    if (err instanceof E164Error) {
      throw new LookupError(
        'invalid-input',
        `not an E.164 number (${err.code}); write it as +<country><number>`,
        undefined,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  const now = (config.now ?? (() => new Date()))();
  const list = config.trustList;
  if (now.getTime() >= list.expires.getTime()) {
    throw new LookupError(
      'trust-list-expired',
      'the trust list has expired; fetch a current one before looking numbers up',
    );
  }
  const directories: DirectoryEntry[] = [];
  if (config.directoryId !== undefined) {
    const d = mayTrustDirectory(list, config.directoryId, now);
    if (!d.trusted) {
      if (d.reason === 'list-expired') throw new LookupError('trust-list-expired', d.message);
      throw new LookupError(
        'unlisted-directory',
        `${d.message}; it cannot be used for lookups`,
        d.reason,
      );
    }
    directories.push(d.entry);
  } else {
    for (const entry of list.body.directories) {
      if (mayTrustDirectory(list, entry.id, now).trusted) directories.push(entry);
    }
    if (directories.length === 0) {
      throw new LookupError('unlisted-directory', 'the trust list names no active directory');
    }
  }

  let notFound: LookupError | undefined;
  for (const dir of directories) {
    try {
      return await lookupIn(dir, e164, now, config);
    } catch (err) {
      // Only "not in this directory" moves on to the next one; a bogus answer is an attack or
      // an outage and is reported as such.
      if (err instanceof LookupError && err.code === 'not-found') {
        notFound = err;
        continue;
      }
      throw err;
    }
  }
  throw notFound ?? new LookupError('not-found', 'the number is not in the directory');
}

async function lookupIn(
  dir: DirectoryEntry,
  e164: string,
  now: Date,
  config: LookupConfig,
): Promise<LookupResult> {
  const entry = validatedEntry(
    await readEntry(dir, e164, [RRType.NAPTR, RRType.TXT], {
      dns: config.dns,
      crypto: dnssecCryptoOf(config),
      now,
      nameservers: config.nameservers,
      timeoutMs: config.timeoutMs,
      randomId: config.randomId,
    }).catch((err: unknown) => {
      if (err instanceof DnsQueryError) {
        throw new LookupError('dns-failed', err.message, undefined, { cause: err });
      }
      throw err;
    }),
  );
  const [naptr = [], txt = []] = entry.rrsets;
  const contacts = contactMethodsFromNaptr(
    naptr.flatMap((rr) => (isRecordType(rr, RRType.NAPTR) ? [rr.data] : [])),
  );
  if (contacts.length === 0) {
    throw new LookupError(
      'not-found',
      'the directory entry has no contact method this app understands',
    );
  }
  const identity = identityFromTxt(
    txt.flatMap((rr) => (isRecordType(rr, RRType.TXT) ? [rr.data] : [])),
  );
  return {
    number: e164,
    enumName: entry.name,
    contacts,
    identityKey: identity.identityKey,
    provider: trustedProvider(config, identity.providerId, now),
    dnssec: {
      status: 'secure',
      directoryId: dir.id,
      apex: entry.apex,
      trustListVersion: config.trustList.version,
    },
  };
}

/** The secure answer; `not-found` where the directory proves a part absent, else `bogus`. */
function validatedEntry(answer: EntryAnswer): Extract<EntryAnswer, { status: 'secure' }> {
  if (answer.status === 'secure') return answer;
  if (answer.status === 'bogus') {
    const what =
      answer.part === 'zone keys'
        ? 'zone keys'
        : answer.part === RRType.NAPTR
          ? 'contact addresses'
          : 'identity key';
    throw bogus(answer.reason, what);
  }
  throw new LookupError(
    'not-found',
    answer.qtype === RRType.NAPTR
      ? 'the number is not in the directory (the directory proved it)'
      : 'the directory entry has no identity key record',
  );
}

/** The trust list's entry for the provider; an error if it is unlisted or the list expired. */
function trustedProvider(
  config: LookupConfig,
  providerId: string,
  now: Date,
): LookupResult['provider'] {
  const provider = mayTrustProvider(config.trustList, providerId, now);
  if (!provider.trusted) {
    if (provider.reason === 'list-expired')
      throw new LookupError('trust-list-expired', provider.message);
    throw new LookupError(
      'unlisted-provider',
      `${provider.message}; do not start a session through it`,
      provider.reason,
    );
  }
  return provider.entry;
}

/** The configured DNSSEC crypto, else WebCrypto; a clear error where neither exists. */
function dnssecCryptoOf(config: LookupConfig): DnssecCrypto {
  if (config.dnssecCrypto) return config.dnssecCrypto;
  try {
    return webCryptoDnssec();
  } catch (cause) {
    throw new LookupError(
      'invalid-input',
      'this runtime has no WebCrypto (browsers offer crypto.subtle only to https pages and localhost); serve the page over https or pass dnssecCrypto',
      undefined,
      { cause },
    );
  }
}
