import { mayTrustPublisher } from '@switchboard/charter';
import type { TrustListSource } from '@switchboard/charter/node';
import type { ProviderKeyResolver, ProviderStatus } from './providers.js';

/**
 * Provider keys and standing from the signed charter trust list: a publish request's `keyid`
 * (provider id, or the keyid of one of its publishing keys) must name a provider that is active
 * and accredited now. Listed but suspended, revoked or outside its accreditation: `inactive`
 * (403 provider-not-active). No usable list: nobody is known (fail closed).
 */
export class TrustListProviderKeys implements ProviderKeyResolver {
  readonly #source: TrustListSource;

  constructor(source: TrustListSource) {
    this.#source = source;
  }

  async resolve(keyId: string, now: Date): Promise<ProviderStatus> {
    let list;
    try {
      list = await this.#source.load(now);
    } catch {
      return { status: 'unknown' };
    }
    const decision = mayTrustPublisher(list, keyId, now);
    if (decision.trusted) {
      return {
        status: 'active',
        key: decision.entry.publicKey,
        providerId: decision.entry.provider.id,
      };
    }
    if (decision.entry) {
      return {
        status: 'inactive',
        key: decision.entry.publicKey,
        providerId: decision.entry.provider.id,
      };
    }
    return { status: 'unknown' };
  }
}
