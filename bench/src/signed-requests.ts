// Bundle fetches signed by registered askers (RFC 9421 via @switchboard/http-signature, the
// profile the SDK's ProviderClient.getPrekeyBundle sends): signed before a timed run, so the
// signing cost lands on no server and not on the generator while it measures.
import type { KeyObject } from 'node:crypto';
import { createPrivateKey } from 'node:crypto';
import { signRequest } from '@switchboard/http-signature';

/** A registered account that asks for bundles: its id (the key id) and its device key. */
export interface BenchAsker {
  readonly accountId: string;
  /** The device's Ed25519 private key, PKCS#8 DER, base64. */
  readonly devicePrivateKey: string;
}

/** The path and headers of one signed request. */
export interface SignedRequest {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** The bundle path on every server of the bench (the bare apps serve the same route). */
export const bundlePath = (target: string): string =>
  `/v1/keys/bundles/${encodeURIComponent(target)}`;

/**
 * The asker of request i for target index `t`: never the target itself (when there are two or
 * more), cycling over all the others, so that the pairs vary as they would between users.
 */
export function askerIndex(i: number, t: number, count: number): number {
  if (count < 2) return 0;
  const k = Math.floor(i / count) % (count - 1);
  return (t + 1 + k) % count;
}

/** Signs one GET of `path` as `accountId` (fresh nonce, `created` = now). */
export function signBundleFetch(accountId: string, key: KeyObject, path: string): SignedRequest {
  const headers = signRequest({
    method: 'GET',
    url: path,
    keyId: accountId,
    privateKey: key,
    now: Date.now() / 1000,
  });
  return { path, headers };
}

/**
 * Signed bundle fetches over `targets` (round-robin), each asked by another of the `askers`
 * (target and asker lists are the same accounts here: {@link askerIndex}). `count` are signed
 * up front; beyond them `at(i)` signs on demand and counts it in `signedLate`, so a run that
 * outgrows the pool still sends valid requests and says so.
 */
export class SignedBundleRequests {
  private readonly keys: readonly KeyObject[];
  private readonly pool: SignedRequest[] = [];
  /** Requests signed during a run because the pool ran out. */
  signedLate = 0;

  constructor(
    private readonly askers: readonly BenchAsker[],
    private readonly targets: readonly string[],
    count: number,
  ) {
    if (askers.length === 0 || targets.length === 0) throw new Error('no askers or targets');
    this.keys = askers.map((a) =>
      createPrivateKey({
        key: Buffer.from(a.devicePrivateKey, 'base64'),
        format: 'der',
        type: 'pkcs8',
      }),
    );
    for (let i = 0; i < count; i++) this.pool.push(this.sign(i));
  }

  get size(): number {
    return this.pool.length;
  }

  /** The i-th request: pre-signed, or signed now (counted) once the pool is used up. */
  at(i: number): SignedRequest {
    const pre = this.pool[i];
    if (pre !== undefined) return pre;
    this.signedLate++;
    return this.sign(i);
  }

  private sign(i: number): SignedRequest {
    const t = i % this.targets.length;
    const a = askerIndex(i, t, Math.min(this.askers.length, this.targets.length));
    const asker = this.askers[a] as BenchAsker;
    return signBundleFetch(
      asker.accountId,
      this.keys[a] as KeyObject,
      bundlePath(this.targets[t] as string),
    );
  }
}
