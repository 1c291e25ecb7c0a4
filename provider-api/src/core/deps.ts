import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DialectName } from '@switchboard/db';
import type { Logger } from '@switchboard/service-kit';
import { RateLimiter } from '@switchboard/service-kit';
import type { ReplayCache } from '@switchboard/http-signature';
import type { ProviderConfig } from './config.js';
import type { CodeSender } from './code-sender.js';
import type { DirectoryPublisher } from './directory-client.js';
import type { PublicationChecker } from './publication-check.js';
import type { ProviderTables } from '../store/schema.js';

/** Everything the provider API's operations use; I/O and the clock are injected. */
export interface ProviderDeps {
  readonly db: Kysely<ProviderTables>;
  readonly dialect: DialectName;
  readonly config: ProviderConfig;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  readonly codeSender: CodeSender;
  /** Absent when no directory is configured (publishing answers 503). */
  readonly directory: DirectoryPublisher | undefined;
  /** This provider's accredited Ed25519 key; signs port-out releases. */
  readonly providerKey: KeyObject | undefined;
  /**
   * Publishing keys of another provider from the verified trust list (none when it is not trusted
   * now), to check releases presented at port-in. Absent or answering undefined: there is no
   * verified list, and releases are refused (503 `service.unavailable`); it may also throw that.
   */
  readonly providerKeys?: (
    providerId: string,
  ) => readonly KeyObject[] | undefined | Promise<readonly KeyObject[] | undefined>;
  /**
   * Tells the losing provider a move finished (its `completePortOut`); absent: the user's client
   * or an operator does it.
   */
  readonly completePortOutAt?: (
    providerId: string,
    portOutId: string,
    signature: string,
  ) => Promise<void>;
  readonly replayCache: ReplayCache;
  /**
   * Key of the HMAC under which verification codes are stored (`startService` keeps it in
   * `<state>/verification-secret`, 0600; replicas must share it). Absent: a random key per
   * process, so codes only verify in the process that sent them.
   */
  readonly verificationSecret?: Buffer;
  readonly logger: Logger;
  readonly limits: Limits;
  /** Checks published entries as a client would (DNSSEC from the trust list); absent: not shown. */
  readonly publication?: PublicationChecker;
}

/** The in-memory rate limiters of one process. */
export interface Limits {
  /** Verification sessions per client prefix. */
  readonly verificationPerAddress: RateLimiter;
  readonly verificationSends: VerificationSendLimits;
  readonly verificationAttempts: {
    readonly perNumberAndClient: RateLimiter;
    readonly perClient: RateLimiter;
  };
  readonly bundlePerAddress: RateLimiter;
  readonly bundlePerTarget: RateLimiter;
  readonly bundlePerAsker: RateLimiter;
  readonly bundlePerAskerAndTarget: RateLimiter;
  readonly oneTimeKeysPerIssuerAndTarget: RateLimiter;
  readonly mailboxPerAddress: RateLimiter;
  readonly socketUpgradesPerPrefix: RateLimiter;
  readonly mailboxBytesPerSender: RateLimiter;
  readonly mailboxBytesPerMailbox: RateLimiter;
}

/** Budgets of verification codes sent (SMS/voice cost money and can be pumped). */
export interface VerificationSendLimits {
  readonly perClient: RateLimiter;
  readonly perNumberAndClient: RateLimiter;
  readonly perNumber: RateLimiter;
  readonly perDestinationRange: RateLimiter;
  readonly global: RateLimiter;
}

/** Limiters for a config, on the given clock. */
export function createLimits(config: ProviderConfig, now: () => number): Limits {
  const v = config.verification;
  return {
    verificationPerAddress: new RateLimiter(v.perClientAddress, { now }),
    verificationSends: {
      perClient: new RateLimiter(v.sendsPerClientAddress, { now }),
      perNumberAndClient: new RateLimiter(v.sendsPerNumberAndClient, { now }),
      perNumber: new RateLimiter(v.sendsPerNumber, { now }),
      perDestinationRange: new RateLimiter(v.sendsPerDestinationRange, { now }),
      global: new RateLimiter(v.sendsGlobal, { now }),
    },
    verificationAttempts: {
      perNumberAndClient: new RateLimiter(v.attemptsPerNumberAndClient, { now }),
      perClient: new RateLimiter(v.attemptsPerClientAddress, { now }),
    },
    bundlePerAddress: new RateLimiter(config.prekeys.fetchPerClientAddress, { now }),
    bundlePerTarget: new RateLimiter(config.prekeys.fetchPerTarget, { now }),
    bundlePerAsker: new RateLimiter(config.prekeys.fetchPerAsker, { now }),
    bundlePerAskerAndTarget: new RateLimiter(config.prekeys.fetchPerAskerAndTarget, { now }),
    oneTimeKeysPerIssuerAndTarget: new RateLimiter(config.prekeys.oneTimeKeysPerIssuerAndTarget, {
      now,
    }),
    mailboxPerAddress: new RateLimiter(config.mailboxes.deliverPerClientAddress, { now }),
    mailboxBytesPerSender: new RateLimiter(config.mailboxes.deliverBytesPerSenderPrefix, { now }),
    mailboxBytesPerMailbox: new RateLimiter(config.mailboxes.deliverBytesPerMailbox, { now }),
    socketUpgradesPerPrefix: new RateLimiter(config.mailboxes.socketUpgradesPerClientPrefix, {
      now,
    }),
  };
}
