import type { ResourceRecord } from '@switchboard/dns-wire';
import type { RrsigRecord, SigningKey } from '@switchboard/dnssec';
import { signBytes, signRrset } from '@switchboard/dnssec';
import { wireName } from './name-index.js';

/** Signature validity policy (seconds). */
export interface SignaturePolicy {
  /** How long a fresh signature is valid. Default 7 days. */
  readonly validity: number;
  /** Inception is backdated by this much for clock skew (RFC 6781 4.4.2). Default 1 hour. */
  readonly backdate: number;
  /** A cached signature is replaced once less than this is left. Default 3 days. */
  readonly refreshBefore: number;
  /**
   * A number's answer (fast-path.ts `numberAnswer`) expires up to this much before `validity`
   * after its inception, by a deterministic hash of its owner name ({@link jitterOf}), so the
   * answers of one pass come due over this span rather than in one hour (BIND's
   * signatures-jitter). Default 1 day; 0: none. Must leave a fresh signature not yet due.
   */
  readonly jitter?: number;
}

export const DEFAULT_SIGNATURE_POLICY: SignaturePolicy = {
  validity: 7 * 86_400,
  backdate: 3600,
  refreshBefore: 3 * 86_400,
  jitter: 86_400,
};

/**
 * The jitter (seconds, in [0, `span`)) of the owner name `wire` (lowercase, wire form): FNV-1a
 * of its octets, mixed (murmur3's finaliser) so that consecutive numbers spread evenly.
 */
export function jitterOf(wire: Uint8Array, length: number, span: number): number {
  if (span <= 0) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ (wire[i] as number), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % Math.floor(span);
}

/** Refuses a policy whose fresh signatures would already be due (or expired) when made. */
function checkPolicy(policy: SignaturePolicy): void {
  const jitter = policy.jitter ?? 0;
  // A signature made at `now` carries an inception up to an hour + backdate before `now`.
  const left = policy.validity - jitter - policy.backdate - 3600;
  if (!(jitter >= 0) || !(left > policy.refreshBefore)) {
    throw new Error(
      'signature policy: validity - jitter - backdate - 1 h must exceed the renewal margin',
    );
  }
}

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
    checkPolicy(policy);
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
    const fresh = this.#sign(rrset, now, true);
    this.#byRrset.set(rrset, fresh);
    return fresh.rrsig;
  }

  /** When (seconds) {@link signHeld} replaces `rrsig`, one it returned, with a fresh one. */
  renewalTime(rrsig: RrsigRecord): number {
    return rrsig.data.expiration - this.#policy.refreshBefore;
  }

  /** The renewal time of a signature made at `now` (seconds) or later, at the earliest. */
  earliestRenewal(now: number): number {
    return (
      this.inception(now) +
      this.#policy.validity -
      (this.#policy.jitter ?? 0) -
      this.#policy.refreshBefore
    );
  }

  /**
   * The expiration (seconds) of a number's answer at the owner `wire[0, length)` signed at
   * `now`: its inception + validity - the name's jitter ({@link jitterOf}).
   */
  numberExpiration(now: number, wire: Uint8Array, length: number): number {
    const { validity, jitter } = this.#policy;
    return this.inception(now) + validity - jitterOf(wire, length, jitter ?? 0);
  }

  /** When a number's answer with the RRSIG expiration `expiration` (seconds) is renewed. */
  renewalOf(expiration: number): number {
    return expiration - this.#policy.refreshBefore;
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

  /** `jittered`: an RRset the zone holds, expiring as {@link numberExpiration} by its owner. */
  #sign(rrset: readonly ResourceRecord[], now: number, jittered = false): Cached {
    const window = this.validityWindow(now);
    const { inception } = window;
    let { expiration } = window;
    const owner = rrset[0]?.name;
    if (jittered && owner !== undefined) {
      const wire = wireName(owner.toLowerCase());
      expiration = new Date(this.numberExpiration(now, wire, wire.length) * 1000);
    }
    const rrsig = signRrset(rrset, this.#key, { signer: this.#apex, inception, expiration });
    this.#signatures += 1;
    return { rrsig, expires: expiration.getTime() / 1000 };
  }
}
