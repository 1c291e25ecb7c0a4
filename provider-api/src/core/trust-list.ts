import type { KeyObject } from 'node:crypto';
import type { ProviderEntry, VerifiedTrustList } from '@switchboard/charter';
import { CharterError, mayTrustProvider, publicKeyFromBase64 } from '@switchboard/charter';
import { TrustListSource, ensureDevelopmentTrustList } from '@switchboard/charter/node';
import type { Logger } from '@switchboard/service-kit';
import { fail } from './errors.js';

/** Where the trust list comes from and what pins it (`startService`'s environment). */
export interface TrustListSettings {
  /** `SWITCHBOARD_TRUST_LIST`: a list file; absent: the development list under `devDir`. */
  readonly path?: string | undefined;
  /** `SWITCHBOARD_BOARD_FINGERPRINT`: the pinned board; required with `path`. */
  readonly boardFingerprint?: string | undefined;
  /** `<data>/charter`, where the embedded stack keeps its development board and list. */
  readonly devDir: string;
  /** Remembers the highest list version accepted (rollback protection across restarts). */
  readonly stateFile: string;
}

/**
 * The trust list source a provider verifies against, exactly as the directory does: a configured
 * list must come with the pinned board fingerprint (start-up fails without one); the embedded
 * stack pins its development board. Every read is verified (threshold of the pinned board,
 * rollback, expiry) by `TrustListSource`.
 */
export async function openTrustListSource(
  settings: TrustListSettings,
  now: Date,
): Promise<TrustListSource> {
  if (settings.path !== undefined) {
    if (!settings.boardFingerprint) {
      throw new Error(
        'SWITCHBOARD_TRUST_LIST needs SWITCHBOARD_BOARD_FINGERPRINT (the pinned board fingerprint)',
      );
    }
    return new TrustListSource({
      path: settings.path,
      boardFingerprint: settings.boardFingerprint,
      stateFile: settings.stateFile,
    });
  }
  const dev = await ensureDevelopmentTrustList({ dir: settings.devDir, now });
  return new TrustListSource({ path: dev.listPath, boardKeys: dev.devBoard.board });
}

/**
 * Other providers as the verified trust list describes them. Fails closed: while no list
 * verifies (missing, tampered, signed by another board, expired) every lookup throws 503
 * `service.unavailable`, so number moves are refused; the reason is logged once per change.
 */
export class TrustedProviders {
  readonly #source: TrustListSource;
  readonly #logger: Logger;
  #lastProblem = '';

  constructor(source: TrustListSource, logger: Logger) {
    this.#source = source;
    this.#logger = logger;
  }

  /** The provider `id` if it is active and accredited now, else undefined. */
  async find(id: string, now: Date): Promise<ProviderEntry | undefined> {
    const list = await this.list(now);
    const decision = mayTrustProvider(list, id, now);
    return decision.trusted ? decision.entry : undefined;
  }

  /** The verified list (503 `service.unavailable` while none verifies). */
  async list(now: Date): Promise<VerifiedTrustList> {
    let list;
    try {
      list = await this.#source.load(now);
    } catch (err) {
      const reason = CharterError.is(err)
        ? err.code
        : ((err as NodeJS.ErrnoException).code ?? 'error');
      if (reason !== this.#lastProblem) {
        this.#lastProblem = reason;
        this.#logger.error(
          { reason },
          'no verified trust list: number moves are refused until a list signed by the pinned board is in place',
        );
      }
      throw fail(
        'service.unavailable',
        'this provider has no verified trust list; number moves are refused for now',
      );
    }
    if (this.#lastProblem !== '') {
      this.#lastProblem = '';
      this.#logger.info({ version: list.version }, 'verified trust list in use again');
    }
    return list;
  }

  /** The publishing keys of provider `id` (none when it is not trusted now). */
  async publishingKeys(id: string, now: Date): Promise<KeyObject[]> {
    const entry = await this.find(id, now);
    return (entry?.publishingKeys ?? []).map((k) => publicKeyFromBase64(k.publicKey));
  }
}
