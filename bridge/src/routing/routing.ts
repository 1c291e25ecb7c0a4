import { addressFromUri } from './addressing.js';
import { BridgeError } from '../model/errors.js';
import type { Address, Network, Target } from '../model/model.js';

/** One way to reach a number, as the directory lists it (NAPTR order is list order). */
export interface ResolvedContact {
  /** `sip:...`, `xmpp:...` or `matrix:u/...`. */
  readonly uri: string;
}

/** What the directory says about a number. */
export interface ResolvedNumber {
  /** In NAPTR order (order, then preference). */
  readonly contacts: readonly ResolvedContact[];
  /** Provider id from the directory, for operators' logs. */
  readonly providerId?: string;
}

/**
 * Finds how to reach a phone number. The production resolver is the client SDK's
 * DNSSEC-validating `lookup`; tests inject their own. Return null for a number the directory
 * does not list (or lists as undiscoverable); throw for lookup failures.
 */
export interface Resolver {
  lookup(e164: string): Promise<ResolvedNumber | null>;
}

/** A resolver for deployments without a directory: every number is unknown. */
export const NO_DIRECTORY: Resolver = { lookup: () => Promise.resolve(null) };

/**
 * Decides where a message for `target` may go, in preference order. Direct addresses go to
 * their own network; phone numbers go to each directory contact on a bridged network, in NAPTR
 * order (unusable URIs are skipped, not guessed at). Throws `no-route` when nothing is left.
 */
export async function routeCandidates(
  target: Target,
  bridged: ReadonlySet<Network>,
  resolver: Resolver,
): Promise<Address[]> {
  if (target.kind === 'address') {
    if (!bridged.has(target.address.network)) {
      throw new BridgeError(
        'no-route',
        `the ${target.address.network} network is not bridged here`,
      );
    }
    return [target.address];
  }
  let resolved: ResolvedNumber | null;
  try {
    resolved = await resolver.lookup(target.e164);
  } catch (err) {
    throw new BridgeError('lookup-failed', 'directory lookup failed; try again later', {
      cause: err,
    });
  }
  if (!resolved) {
    throw new BridgeError(
      'number-not-found',
      'the number is not in the directory or not discoverable',
    );
  }
  return candidatesFromContacts(resolved.contacts, bridged);
}

/** Pure part of {@link routeCandidates}: NAPTR-ordered contacts to bridgeable addresses. */
export function candidatesFromContacts(
  contacts: readonly ResolvedContact[],
  bridged: ReadonlySet<Network>,
): Address[] {
  const out: Address[] = [];
  for (const contact of contacts) {
    let address: Address;
    try {
      address = addressFromUri(contact.uri);
    } catch {
      continue;
    }
    if (bridged.has(address.network)) out.push(address);
  }
  if (out.length === 0) {
    throw new BridgeError(
      'no-route',
      "none of the number's contact methods is on a bridged network",
    );
  }
  return out;
}
