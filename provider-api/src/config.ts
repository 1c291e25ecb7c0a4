import type { RateLimit } from '@switchboard/service-kit';

/** Limits and lifetimes of verification sessions. */
export interface VerificationConfig {
  readonly sessionTtlSeconds: number;
  readonly codeTtlSeconds: number;
  /** Code submissions per session. */
  readonly maxAttempts: number;
  /** Codes sent per session. */
  readonly maxSends: number;
  /** Minimum time between two codes of one session. */
  readonly resendIntervalSeconds: number;
  /** Sends and attempts per phone number, across sessions. */
  readonly perNumber: RateLimit;
  /** Sessions, sends and attempts per client address. */
  readonly perClientAddress: RateLimit;
}

/** Everything the provider API can be tuned with; see {@link defaultProviderConfig}. */
export interface ProviderConfig {
  /** This provider's id in the trust list (signs releases, publishes as). */
  readonly providerId: string;
  /** The ledger's currency (ISO 4217). */
  readonly currency: string;
  readonly verification: VerificationConfig;
  readonly prekeys: {
    /** Most one-time prekeys of each kind kept per account. */
    readonly maxStoredPerKind: number;
    readonly fetchPerClientAddress: RateLimit;
    readonly fetchPerTarget: RateLimit;
  };
  readonly mailboxes: {
    readonly maxMessageBytes: number;
    readonly maxMessagesPerMailbox: number;
    readonly ttlSeconds: number;
    readonly deliverPerClientAddress: RateLimit;
    /** Bytes stored in one mailbox (409 `mailbox.full` beyond). */
    readonly maxBytesPerMailbox: number;
    /** Bytes delivered per sender prefix (token bucket, cost = bytes). */
    readonly deliverBytesPerSenderPrefix: RateLimit;
    /** Bytes delivered into one mailbox (token bucket, cost = bytes). */
    readonly deliverBytesPerMailbox: RateLimit;
    /** Bytes stored in all mailboxes together (429 `rate.limited` beyond). */
    readonly maxStoredBytes: number;
    /** Lifetime of messages in a mailbox its owner has never fetched from. */
    readonly unfetchedTtlSeconds: number;
    /** Open push sockets per mailbox. */
    readonly maxSocketsPerMailbox: number;
    /** Open push sockets per client prefix (IPv4 /32, IPv6 /64). */
    readonly maxSocketsPerClientPrefix: number;
    /** WebSocket upgrade attempts per client prefix. */
    readonly socketUpgradesPerClientPrefix: RateLimit;
  };
  readonly registrationLock: {
    /** A lock lapses when its account made no authenticated request for this long (Signal: 7 days). */
    readonly inactivitySeconds: number;
    /** Wrong PINs allowed per number in `pinAttempts.perSeconds` (then 429). */
    readonly pinAttempts: RateLimit;
  };
  /** How long a port-out release stays valid (the directory accepts at most 7 days). */
  readonly portOutTtlSeconds: number;
  /** Accepted clock difference of signed requests. */
  readonly signatureMaxSkewSeconds: number;
  /** Largest request body. */
  readonly bodyLimitBytes: number;
}

/** Defaults for a small provider; every value can be overridden per field. */
export function defaultProviderConfig(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    providerId: 'dev-provider',
    currency: 'EUR',
    verification: {
      sessionTtlSeconds: 30 * 60,
      codeTtlSeconds: 5 * 60,
      maxAttempts: 5,
      maxSends: 3,
      resendIntervalSeconds: 30,
      perNumber: { capacity: 10, perSeconds: 3600 },
      perClientAddress: { capacity: 60, perSeconds: 3600 },
    },
    prekeys: {
      maxStoredPerKind: 1000,
      fetchPerClientAddress: { capacity: 120, perSeconds: 60 },
      fetchPerTarget: { capacity: 60, perSeconds: 60 },
    },
    mailboxes: {
      maxMessageBytes: 64 * 1024,
      maxMessagesPerMailbox: 1000,
      ttlSeconds: 7 * 24 * 3600,
      deliverPerClientAddress: { capacity: 600, perSeconds: 60 },
      maxBytesPerMailbox: 16 * 1024 * 1024,
      deliverBytesPerSenderPrefix: { capacity: 64 * 1024 * 1024, perSeconds: 3600 },
      deliverBytesPerMailbox: { capacity: 16 * 1024 * 1024, perSeconds: 3600 },
      maxStoredBytes: 2 * 1024 * 1024 * 1024,
      unfetchedTtlSeconds: 24 * 3600,
      maxSocketsPerMailbox: 4,
      maxSocketsPerClientPrefix: 64,
      socketUpgradesPerClientPrefix: { capacity: 60, perSeconds: 60 },
    },
    registrationLock: {
      inactivitySeconds: 7 * 24 * 3600,
      pinAttempts: { capacity: 5, perSeconds: 24 * 3600 },
    },
    portOutTtlSeconds: 24 * 3600,
    signatureMaxSkewSeconds: 300,
    bodyLimitBytes: 1024 * 1024,
    ...overrides,
  };
}

/**
 * Parses `PROVIDER_TRUST_PROXY` into express's `trust proxy` value: `true`/`false` are booleans,
 * digits a hop count, anything else a comma-separated list of addresses, subnets or the names
 * express knows (`loopback`, `linklocal`, `uniquelocal`).
 */
export function parseTrustProxy(value: string): boolean | number | string[] {
  const v = value.trim();
  if (/^true$/i.test(v)) return true;
  if (/^false$/i.test(v) || v === '') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
