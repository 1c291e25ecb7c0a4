import { readFileSync } from 'node:fs';
import { verifyTrustList } from '@switchboard/charter';
import { LookupError, lookup } from '@switchboard/client-sdk';
import type { LookupResult } from '@switchboard/client-sdk';
import { NodeDnsTransport } from '@switchboard/client-sdk/node';
import { BridgeError } from '../model/errors.js';
import type { ResolvedNumber, Resolver } from './routing.js';

/** A lookup as the client SDK does it: number in, DNSSEC-validated entry out. */
export type LookupFn = (e164: string) => Promise<Pick<LookupResult, 'contacts' | 'provider'>>;

/**
 * The production {@link Resolver}: the client SDK's `lookup` (DNSSEC validated by the SDK up to
 * the trust list's anchor). A number the directory does not list, or lists as undiscoverable,
 * answers `not-found`, which becomes null (the sender hears "not in the directory"); every
 * other SDK failure (bogus signatures, DNS down) is a lookup failure.
 */
export class DirectoryResolver implements Resolver {
  readonly #lookup: LookupFn;

  constructor(lookupFn: LookupFn) {
    this.#lookup = lookupFn;
  }

  async lookup(e164: string): Promise<ResolvedNumber | null> {
    try {
      const result = await this.#lookup(e164);
      return {
        contacts: result.contacts.map((c) => ({ uri: c.uri })),
        providerId: result.provider.id,
      };
    } catch (err) {
      if (err instanceof LookupError && err.code === 'not-found') return null;
      throw err;
    }
  }
}

/** Where the bridge finds the directory (config `directory`). */
export interface DirectoryConfig {
  /** The signed trust list file (charter). */
  readonly trustListPath: string;
  /** Fingerprint of the governing board's key that must have signed it. */
  readonly boardFingerprint: string;
  /** Override the directory's nameservers (`host:port`), e.g. a local secondary. */
  readonly nameservers?: string[] | null;
}

/** Builds the SDK-backed resolver from config: verifies the trust list once at start. */
export function directoryResolver(
  config: DirectoryConfig,
  now: () => Date = () => new Date(),
): Resolver {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(config.trustListPath);
  } catch (err) {
    throw new BridgeError('invalid-config', 'cannot read the trust list file', { cause: err });
  }
  const trustList = verifyTrustList(bytes, {
    boardFingerprint: config.boardFingerprint,
    now: now(),
  });
  const dns = new NodeDnsTransport();
  const nameservers = config.nameservers ?? undefined;
  return new DirectoryResolver((e164) =>
    lookup(e164, { trustList, dns, now, ...(nameservers ? { nameservers } : {}) }),
  );
}
