// The directory's decision on a publish request's signer, with the keys as node:crypto objects.
import type { KeyObject } from 'node:crypto';
import { publicKeyFromBase64 } from '../trust-list/keys.js';
import type { TrustDecision } from './trust.js';
import { listExpired, providerDecision } from './trust.js';
import type { ProviderEntry, VerifiedTrustList } from '../trust-list/types.js';

/** A provider trusted now, with the publishing key(s) a request may be signed with. */
export interface TrustedPublisher {
  readonly provider: ProviderEntry;
  /** The key named by the request's keyid; when it named the provider, its first key. */
  readonly publicKey: KeyObject;
  /** Every key the request may verify under: one when looked up by keyid, all of the
   *  provider's publishing keys (more than one only during a rollover) when by provider id. */
  readonly publicKeys: readonly { readonly keyid: string; readonly publicKey: KeyObject }[];
}

/**
 * For the directory: may the signer of a publish request publish now? `keyid` is the RFC 9421
 * `keyid` parameter: either the provider id (as `openapi/directory.yaml` specifies) or the
 * keyid of one of its publishing keys. The answer carries the key(s) to verify the request with.
 *
 * @example
 * const d = mayTrustPublisher(list, params.keyid, new Date());
 * if (!d.trusted) return problem(403, d.message);
 * const ok = d.entry.publicKeys.some((k) => verifyWith(k.publicKey));
 */
export function mayTrustPublisher(
  list: VerifiedTrustList,
  keyid: string,
  now: Date,
): TrustDecision<TrustedPublisher> {
  const expired = listExpired<TrustedPublisher>(list, now);
  if (expired !== undefined) return expired;
  const decode = (k: {
    readonly keyid: string;
    readonly publicKey: string;
  }): {
    keyid: string;
    publicKey: KeyObject;
  } => ({ keyid: k.keyid, publicKey: publicKeyFromBase64(k.publicKey) });
  let provider = list.body.providers.find((p) => p.id === keyid);
  let keys = provider?.publishingKeys.map(decode);
  if (provider === undefined) {
    provider = list.body.providers.find((p) => p.publishingKeys.some((k) => k.keyid === keyid));
    const key = provider?.publishingKeys.find((k) => k.keyid === keyid);
    keys = key === undefined ? undefined : [decode(key)];
  }
  const first = keys?.[0];
  if (provider === undefined || keys === undefined || first === undefined) {
    return {
      trusted: false,
      reason: 'not-listed',
      message: 'the request is signed by no provider in the trust list',
    };
  }
  const entry: TrustedPublisher = { provider, publicKey: first.publicKey, publicKeys: keys };
  const decision = providerDecision(provider, now);
  return decision.trusted ? { trusted: true, entry } : { ...decision, entry };
}
