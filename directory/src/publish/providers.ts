import type { KeyObject } from 'node:crypto';

/**
 * What the directory knows about a request's keyid at a given time. `providerId` names the
 * provider the key belongs to when the keyid is a key id rather than the provider id; absent
 * means the keyid is the provider id.
 */
export type ProviderStatus =
  | { readonly status: 'active'; readonly key: KeyObject; readonly providerId?: string }
  /** Listed, but suspended or revoked: its signatures are checked, its writes refused. */
  | { readonly status: 'inactive'; readonly key: KeyObject; readonly providerId?: string }
  | { readonly status: 'unknown' };

/**
 * Where the publish API learns providers' accredited Ed25519 keys and whether they may publish
 * now. The service wires it to the charter trust list; tests use {@link StaticProviderKeys}.
 */
export interface ProviderKeyResolver {
  resolve(providerId: string, now: Date): ProviderStatus | Promise<ProviderStatus>;
}

/** A fixed provider table (tests, development). */
export class StaticProviderKeys implements ProviderKeyResolver {
  readonly #providers: ReadonlyMap<string, { key: KeyObject; active: boolean }>;

  constructor(providers: Iterable<readonly [string, { key: KeyObject; active: boolean }]>) {
    this.#providers = new Map(providers);
  }

  resolve(providerId: string): ProviderStatus {
    const p = this.#providers.get(providerId);
    if (!p) return { status: 'unknown' };
    return p.active ? { status: 'active', key: p.key } : { status: 'inactive', key: p.key };
  }
}
