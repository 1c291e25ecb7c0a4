import type { EnvVariable, PrefixLengths, RateLimit } from '@switchboard/service-kit';
import {
  EnvConfigError,
  LOG_LEVELS,
  envKinds,
  optionalField,
  readEnvSchema,
} from '@switchboard/service-kit';

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
  /** Sessions opened per client prefix. */
  readonly perClientAddress: RateLimit;
  /**
   * Codes sent to one number, across sessions and clients. The only budget that is the number's
   * alone (texts to it must be capped); the per-(number, client prefix) budget below keeps one
   * client from spending all of it.
   */
  readonly sendsPerNumber: RateLimit;
  /** Codes sent to one number at the request of one client prefix. */
  readonly sendsPerNumberAndClient: RateLimit;
  /** Codes sent at the request of one client prefix (any number). */
  readonly sendsPerClientAddress: RateLimit;
  /**
   * Codes sent to one destination range: numbers sharing their first
   * {@link destinationRangeDigits} digits (SMS pumping goes through premium ranges).
   */
  readonly sendsPerDestinationRange: RateLimit;
  /** Digits of the E.164 number (country code included, `+` not counted) that name a range. */
  readonly destinationRangeDigits: number;
  /** Codes sent by this provider in all (key `all`): a ceiling on what pumping can cost. */
  readonly sendsGlobal: RateLimit;
  /**
   * Code submissions for one number from one client prefix. Attempts are never budgeted per
   * number alone, so a stranger's wrong guesses cannot lock the owner out; guesses on a number
   * are bounded anyway by `maxAttempts` x the codes `sendsPerNumber` lets out.
   */
  readonly attemptsPerNumberAndClient: RateLimit;
  /** Code submissions from one client prefix (any number). */
  readonly attemptsPerClientAddress: RateLimit;
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
    /** Fetches by one asker (an account here or a certified account elsewhere), any target. */
    readonly fetchPerAsker: RateLimit;
    /** Fetches by one asker of one target. */
    readonly fetchPerAskerAndTarget: RateLimit;
    /**
     * One asker gets one-time prekeys of one target at most once in this many seconds; other
     * fetches carry the last-resort prekey only.
     */
    readonly oneTimeKeysPerPairSeconds: number;
    /**
     * When a target holds this many one-time prekeys of a kind or fewer, only askers that never
     * had any of its one-time prekeys get one (the rest get the last-resort prekey).
     */
    readonly reservedOneTimeKeys: number;
    /**
     * One-time prekeys of one target handed to all the askers one other provider certified
     * (beyond it they get the last-resort prekey).
     */
    readonly oneTimeKeysPerIssuerAndTarget: RateLimit;
    /** Lifetime of the sender certificates this provider issues. */
    readonly senderCertificateTtlSeconds: number;
  };
  readonly mailboxes: {
    readonly maxMessageBytes: number;
    readonly maxMessagesPerMailbox: number;
    /**
     * What one sender is, for every per-sender budget of deliveries: its network prefix (default
     * IPv4 /32, IPv6 /48, the block one site is normally given).
     */
    readonly senderPrefix: PrefixLengths;
    /** Messages one sender may have waiting in one mailbox (409 `mailbox.sender-limit`). */
    readonly maxMessagesPerSenderPerMailbox: number;
    /** Bytes one sender may have waiting in one mailbox (409 `mailbox.sender-limit`). */
    readonly maxBytesPerSenderPerMailbox: number;
    /** Bytes one sender may have waiting in all mailboxes (409 `mailbox.sender-limit`). */
    readonly maxStoredBytesPerSenderPrefix: number;
    /**
     * Caps of a mailbox not yet claimed (for this sender): its owner never fetched, or fetched
     * only from the sender's own network.
     */
    readonly maxMessagesPerUnclaimedMailbox: number;
    readonly maxBytesPerUnclaimedMailbox: number;
    readonly ttlSeconds: number;
    readonly deliverPerClientAddress: RateLimit;
    /** Bytes stored in one mailbox (409 `mailbox.full` beyond). */
    readonly maxBytesPerMailbox: number;
    /** Bytes delivered per sender (token bucket, cost = bytes). */
    readonly deliverBytesPerSenderPrefix: RateLimit;
    /** Bytes delivered into one mailbox (token bucket, cost = bytes). */
    readonly deliverBytesPerMailbox: RateLimit;
    /** Bytes stored in all mailboxes together (429 `rate.limited` beyond). */
    readonly maxStoredBytes: number;
    /** Lifetime of messages in a mailbox not yet claimed (for their sender). */
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

/**
 * SQLite page cache of the provider's connection, KiB (`@switchboard/db` gives 64 MiB). What a
 * fetch reads again is small (accounts, contacts, cursors, the key index, the nonces' last
 * pages); each take reads a one-time Kyber key (1.6 KB) that is never read again, so a large
 * cache fills with them, and SQLite walks every cached page at each commit whose B-tree split
 * renumbered pages (a new contact row splitting a page does): 8 MiB costs fewer CPU per fetch
 * (docs/decisions.md, 2026-12-03).
 */
export const PROVIDER_SQLITE_CACHE_KIB = 8 * 1024;

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
      perClientAddress: { capacity: 60, perSeconds: 3600 },
      sendsPerNumber: { capacity: 10, perSeconds: 3600 },
      sendsPerNumberAndClient: { capacity: 5, perSeconds: 3600 },
      sendsPerClientAddress: { capacity: 30, perSeconds: 3600 },
      sendsPerDestinationRange: { capacity: 200, perSeconds: 3600 },
      destinationRangeDigits: 6,
      sendsGlobal: { capacity: 5000, perSeconds: 3600 },
      attemptsPerNumberAndClient: { capacity: 15, perSeconds: 3600 },
      attemptsPerClientAddress: { capacity: 60, perSeconds: 3600 },
    },
    prekeys: {
      maxStoredPerKind: 1000,
      fetchPerClientAddress: { capacity: 120, perSeconds: 60 },
      fetchPerTarget: { capacity: 60, perSeconds: 60 },
      fetchPerAsker: { capacity: 300, perSeconds: 3600 },
      fetchPerAskerAndTarget: { capacity: 10, perSeconds: 3600 },
      oneTimeKeysPerPairSeconds: 24 * 3600,
      reservedOneTimeKeys: 10,
      oneTimeKeysPerIssuerAndTarget: { capacity: 50, perSeconds: 24 * 3600 },
      senderCertificateTtlSeconds: 24 * 3600,
    },
    mailboxes: {
      maxMessageBytes: 64 * 1024,
      maxMessagesPerMailbox: 1000,
      senderPrefix: { ipv4Prefix: 32, ipv6Prefix: 48 },
      maxMessagesPerSenderPerMailbox: 100,
      maxBytesPerSenderPerMailbox: 4 * 1024 * 1024,
      maxStoredBytesPerSenderPrefix: 128 * 1024 * 1024,
      maxMessagesPerUnclaimedMailbox: 100,
      maxBytesPerUnclaimedMailbox: 1024 * 1024,
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

/** A configuration value the provider refuses at start-up; the message names the key, never the value. */
export class ProviderConfigError extends EnvConfigError {
  constructor(key: string, reason: string) {
    super(key, reason, 'provider');
    this.name = 'ProviderConfigError';
  }
}

/** What the provider API reads from its environment, validated by {@link PROVIDER_ENV_SCHEMA}. */
export interface ProviderEnvConfig {
  /** `PROVIDER_API_HOST`, default 127.0.0.1. */
  readonly host: string;
  /** `PROVIDER_API_PORT`, default 8080 (0: any free port). */
  readonly port: number;
  /** `PROVIDER_METRICS_HOST`/`_PORT`: default 127.0.0.1:9080, port 0 when `port` is 0. */
  readonly metrics: { readonly host: string; readonly port: number };
  /** `PROVIDER_STATE_DIR`; unset: `<data>/provider-api`. */
  readonly stateDir?: string;
  /** `PROVIDER_DATABASE_URL`; unset: `sqlite:<stateDir>/provider.db`. */
  readonly databaseUrl?: string;
  /** `PROVIDER_ID`, default `dev-provider`. */
  readonly providerId: string;
  /** `PROVIDER_CURRENCY` (ISO 4217), default EUR. */
  readonly currency: string;
  /** `PROVIDER_CODE_WEBHOOK_URL` (+ `PROVIDER_CODE_WEBHOOK_TOKEN`); unset: codes on the console. */
  readonly codeWebhook?: { readonly url: string; readonly bearerToken?: string };
  /** `SWITCHBOARD_DIRECTORY_URL`; unset: the embedded directory's publish API, when it runs. */
  readonly directoryUrl?: string;
  /** `PROVIDER_PUBLIC_URL`; unset: the address the API listens on. */
  readonly publicUrl?: string;
  /** `PROVIDER_BRIDGE_HEALTH_URL`: the bridge's `/health`, shown on the operator page. */
  readonly bridgeHealthUrl?: string;
  /** `PROVIDER_TRUST_PROXY` (see {@link parseTrustProxy}); unset: express's default. */
  readonly trustProxy?: boolean | number | string[];
  /** `PROVIDER_VALIDATE_RESPONSES` (`1`/`true`), default false. */
  readonly validateResponses: boolean;
  /** `SWITCHBOARD_TRUST_LIST` and `SWITCHBOARD_BOARD_FINGERPRINT`; unset: the development list. */
  readonly trustListPath?: string;
  readonly boardFingerprint?: string;
  /** `LOG_LEVEL`, default info. */
  readonly logLevel: (typeof LOG_LEVELS)[number];
}

const { text, port, httpUrl, databaseUrl, boolean, enumOf, pattern } = envKinds;

/** The one schema of the provider's environment (service-kit's `readEnvSchema` reads it); README lists the same variables. */
export const PROVIDER_ENV_SCHEMA = {
  PROVIDER_API_HOST: { kind: text, default: '127.0.0.1' },
  PROVIDER_API_PORT: { kind: port, default: '8080' },
  PROVIDER_METRICS_HOST: { kind: text, default: '127.0.0.1' },
  PROVIDER_METRICS_PORT: { kind: port },
  PROVIDER_STATE_DIR: { kind: text },
  PROVIDER_DATABASE_URL: { kind: databaseUrl },
  PROVIDER_ID: {
    kind: pattern(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'a provider id (a-z, 0-9, . and -)'),
    default: 'dev-provider',
  },
  PROVIDER_CURRENCY: {
    kind: pattern(/^[A-Z]{3}$/, 'an ISO 4217 currency code (e.g. EUR)'),
    default: 'EUR',
  },
  PROVIDER_CODE_WEBHOOK_URL: { kind: httpUrl },
  PROVIDER_CODE_WEBHOOK_TOKEN: { kind: text },
  SWITCHBOARD_DIRECTORY_URL: { kind: httpUrl },
  PROVIDER_PUBLIC_URL: { kind: httpUrl },
  PROVIDER_BRIDGE_HEALTH_URL: { kind: httpUrl },
  PROVIDER_TRUST_PROXY: { kind: (v: string) => parseTrustProxy(v) },
  PROVIDER_VALIDATE_RESPONSES: { kind: boolean, default: 'false' },
  SWITCHBOARD_TRUST_LIST: { kind: text },
  SWITCHBOARD_BOARD_FINGERPRINT: { kind: text },
  LOG_LEVEL: { kind: enumOf(LOG_LEVELS), default: 'info' },
} as const satisfies Record<string, EnvVariable>;

/**
 * Parses the provider's environment once, at start-up, into a typed config with defaults filled
 * in; `PROVIDER_CONFIG_FILE` (when set) names a JSON object of the same variables, which the
 * environment overrides. Throws {@link ProviderConfigError} naming the first wrong variable and
 * why; values (some are secrets) never appear in the message.
 */
export function parseProviderEnv(
  env: Readonly<Record<string, string | undefined>>,
): ProviderEnvConfig {
  const v = readEnvSchema(PROVIDER_ENV_SCHEMA, env, {
    service: 'provider',
    configFileVariable: 'PROVIDER_CONFIG_FILE',
    error: (key, reason) => new ProviderConfigError(key, reason),
  });
  const apiPort = v.PROVIDER_API_PORT;
  const webhook = v.PROVIDER_CODE_WEBHOOK_URL;
  const token = v.PROVIDER_CODE_WEBHOOK_TOKEN;
  return {
    host: v.PROVIDER_API_HOST,
    port: apiPort,
    metrics: {
      host: v.PROVIDER_METRICS_HOST,
      port: v.PROVIDER_METRICS_PORT ?? (apiPort === 0 ? 0 : 9080),
    },
    providerId: v.PROVIDER_ID,
    currency: v.PROVIDER_CURRENCY,
    validateResponses: v.PROVIDER_VALIDATE_RESPONSES,
    logLevel: v.LOG_LEVEL,
    ...optionalField('stateDir', v.PROVIDER_STATE_DIR),
    ...optionalField('databaseUrl', v.PROVIDER_DATABASE_URL),
    ...optionalField(
      'codeWebhook',
      webhook === undefined ? undefined : { url: webhook, ...optionalField('bearerToken', token) },
    ),
    ...optionalField('directoryUrl', v.SWITCHBOARD_DIRECTORY_URL),
    ...optionalField('publicUrl', v.PROVIDER_PUBLIC_URL),
    ...optionalField('bridgeHealthUrl', v.PROVIDER_BRIDGE_HEALTH_URL),
    ...optionalField('trustProxy', v.PROVIDER_TRUST_PROXY),
    ...optionalField('trustListPath', v.SWITCHBOARD_TRUST_LIST),
    ...optionalField('boardFingerprint', v.SWITCHBOARD_BOARD_FINGERPRINT),
  };
}
