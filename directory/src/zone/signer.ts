import type { ResourceRecord } from '@switchboard/dns-wire';
import type { RrsigRecord, SigningKey } from '@switchboard/dnssec';
import { signBytes, signRrset } from '@switchboard/dnssec';

/** Signature validity policy (seconds). */
export interface SignaturePolicy {
  /** How long a fresh signature is valid. Default 7 days. */
  readonly validity: number;
  /** Inception is backdated by this much for clock skew (RFC 6781 4.4.2). Default 1 hour. */
  readonly backdate: number;
  /** A cached signature is replaced once less than this is left. Default 3 days. */
  readonly refreshBefore: number;
}

export const DEFAULT_SIGNATURE_POLICY: SignaturePolicy = {
  validity: 7 * 86_400,
  backdate: 3600,
  refreshBefore: 3 * 86_400,
};

interface Cached {
  readonly rrsig: RrsigRecord;
  /** Seconds since the epoch. */
  readonly expires: number;
}

/**
 * Online signer with two caches: RRsets held by the zone snapshot are cached by identity (a
 * WeakMap, so replaced RRsets are forgotten with their snapshot), and synthesised denial
 * records by a string key in a bounded LRU (an attacker asking random names must not grow it).
 * Hot names are therefore signed once per validity period, not per query.
 */
export class OnlineSigner {
  readonly #key: SigningKey;
  readonly #apex: string;
  readonly #policy: SignaturePolicy;
  readonly #byRrset = new WeakMap<readonly ResourceRecord[], Cached>();
  readonly #byKey = new Map<string, Cached>();
  readonly #maxKeyed: number;
  #signatures = 0;
  #gate: (() => void) | undefined;

  constructor(
    key: SigningKey,
    apex: string,
    policy: SignaturePolicy = DEFAULT_SIGNATURE_POLICY,
    maxKeyed = 50_000,
  ) {
    this.#key = key;
    this.#apex = apex;
    this.#policy = policy;
    this.#maxKeyed = maxKeyed;
  }

  get key(): SigningKey {
    return this.#key;
  }

  /** The signer name (the apex), lowercase and absolute. */
  get apex(): string {
    return this.#apex;
  }

  /** The validity policy (for a signer of the same key on another thread, dns/warm-worker.ts). */
  get policy(): SignaturePolicy {
    return this.#policy;
  }

  /** Counts `n` signatures made with this signer's key on another thread (dns/warm-pool.ts). */
  addSignatures(n: number): void {
    this.#signatures += n;
  }

  /** How long (seconds) a fresh signature is valid from its inception. */
  get validity(): number {
    return this.#policy.validity;
  }

  /**
   * Called before every fresh signature over a synthesised record ({@link signKeyed} misses and
   * {@link signData}), never for RRsets the zone holds: it throws to stop the signature being
   * made. The DNS server sets it around each query (dns/admission.ts) and clears it after.
   */
  set gate(gate: (() => void) | undefined) {
    this.#gate = gate;
  }

  /** Number of signatures computed so far (for metrics and cache tests). */
  get signatures(): number {
    return this.#signatures;
  }

  /** The RRSIG over an RRset held by a snapshot; `now` in seconds. */
  signHeld(rrset: readonly ResourceRecord[], now: number): RrsigRecord {
    const hit = this.#byRrset.get(rrset);
    if (hit && hit.expires - now > this.#policy.refreshBefore) return hit.rrsig;
    const fresh = this.#sign(rrset, now);
    this.#byRrset.set(rrset, fresh);
    return fresh.rrsig;
  }

  /** When (seconds) {@link signHeld} replaces `rrsig`, one it returned, with a fresh one. */
  renewalTime(rrsig: RrsigRecord): number {
    return rrsig.data.expiration - this.#policy.refreshBefore;
  }

  /** The renewal time of a signature made at `now` (seconds) or later, at the earliest. */
  earliestRenewal(now: number): number {
    return this.inception(now) + this.#policy.validity - this.#policy.refreshBefore;
  }

  /** The RRSIG over a synthesised RRset identified by `cacheKey`; `now` in seconds. */
  signKeyed(cacheKey: string, rrset: readonly ResourceRecord[], now: number): RrsigRecord {
    const hit = this.#byKey.get(cacheKey);
    if (hit && hit.expires - now > this.#policy.refreshBefore) {
      this.#byKey.delete(cacheKey);
      this.#byKey.set(cacheKey, hit);
      return hit.rrsig;
    }
    this.#gate?.();
    const fresh = this.#sign(rrset, now);
    if (this.#byKey.size >= this.#maxKeyed) {
      const oldest = this.#byKey.keys().next().value;
      if (oldest !== undefined) this.#byKey.delete(oldest);
    }
    this.#byKey.set(cacheKey, fresh);
    return fresh.rrsig;
  }

  /**
   * A signature with the zone key over data the caller assembled itself (the RRSIG signed-data
   * form of RFC 4034 3.1.8.1), uncached: for synthesised denials that are different every time.
   */
  signData(data: Uint8Array): Uint8Array {
    this.#gate?.();
    this.#signatures += 1;
    return signBytes(this.#key, data);
  }

  /**
   * A signature over the signed data of an RRset the zone holds, assembled by the caller
   * (dns/fast-path.ts): counted, never gated (as {@link signHeld}), and not cached: the caller
   * keeps the answer it goes into.
   */
  signHeldData(data: Uint8Array): Uint8Array {
    this.#signatures += 1;
    return signBytes(this.#key, data);
  }

  /**
   * For the zone signed for transfer: signatures of the previous signing expiring after this
   * time (seconds; `now` + the renewal margin + a day) are kept, so they are not renewed the
   * moment they are kept, and IXFRs carry only what changed.
   */
  keepSignaturesUntil(now: number): number {
    return now + this.#policy.refreshBefore + 86_400;
  }

  /** The inception (seconds) a signature made at `now` (seconds) carries. */
  inception(now: number): number {
    // Rounded to the hour so signatures made close together carry the same window.
    return Math.floor(now / 3600) * 3600 - this.#policy.backdate;
  }

  /** The inception/expiration a signature made at `now` (seconds) carries; also used for export. */
  validityWindow(now: number): { inception: Date; expiration: Date } {
    const inception = this.inception(now);
    return {
      inception: new Date(inception * 1000),
      expiration: new Date((inception + this.#policy.validity) * 1000),
    };
  }

  #sign(rrset: readonly ResourceRecord[], now: number): Cached {
    const { inception, expiration } = this.validityWindow(now);
    const rrsig = signRrset(rrset, this.#key, { signer: this.#apex, inception, expiration });
    this.#signatures += 1;
    return { rrsig, expires: expiration.getTime() / 1000 };
  }
}
