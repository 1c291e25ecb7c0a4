import { join } from 'node:path';
import type { SigningAlgorithm } from '@switchboard/dnssec';
import { DEFAULT_ENUM_APEX, normaliseApex } from '@switchboard/e164';
import type { EnvKind, EnvValues, EnvVariable } from '@switchboard/service-kit';
import {
  EnvConfigError,
  LOG_LEVELS,
  envKinds,
  optionalField,
  readEnvSchema,
} from '@switchboard/service-kit';
import type { NotifyTarget } from './transfer/notify.js';
import { parseNotifyTarget } from './transfer/notify.js';
import type { RrlConfig } from './dns/rrl.js';
import type { TcpLimits } from './dns/server.js';
import { DEFAULT_RRL } from './dns/rrl.js';
import type { TransferForm } from './transfer/transfer.js';
import { TRANSFER_FORMS } from './transfer/transfer.js';
import type { SigningBudgetConfig } from './dns/admission.js';
import { DEFAULT_SIGNING_BUDGET } from './dns/admission.js';
import { parseCookieSecrets } from './dns/cookies.js';
import type { TsigKey } from './transfer/tsig.js';
import { parseTsigKey } from './transfer/tsig.js';

/** Where the publish API finds providers' keys. */
export type ProviderKeySource =
  /** `DIRECTORY_PROVIDERS_FILE`: a plain key file (development only). */
  | { readonly kind: 'file'; readonly path: string }
  /** `SWITCHBOARD_TRUST_LIST` pinned by `SWITCHBOARD_BOARD_FINGERPRINT`. */
  | { readonly kind: 'trust-list'; readonly path: string; readonly boardFingerprint: string }
  /** Neither: the development trust list under `<data>/charter/`. */
  | { readonly kind: 'development' };

/** Everything the directory service needs, parsed once from the environment (and config file). */
export interface DirectoryConfig {
  readonly dataDir: string;
  readonly apex: string;
  readonly algorithm: SigningAlgorithm;
  readonly databaseUrl: string;
  readonly dnsHost: string;
  readonly dnsPort: number;
  readonly apiHost: string;
  readonly apiPort: number;
  /** The `/metrics` listener (`DIRECTORY_METRICS_HOST`/`_PORT`, default 127.0.0.1:9053). */
  readonly metricsHost: string;
  readonly metricsPort: number;
  /** DNS over HTTPS (`DIRECTORY_DOH_HOST`/`_PORT`, default 127.0.0.1:8054), plain HTTP. */
  readonly dohHost: string;
  readonly dohPort: number;
  readonly nameServers: readonly string[];
  readonly secondaries: readonly NotifyTarget[];
  /** Explicit TSIG key; when absent one is created under the data directory. */
  readonly tsigKey?: TsigKey;
  readonly transferAllowFrom: readonly string[];
  /** What AXFR/IXFR serve: `unsigned` unless pre-signed NSEC3 (walkable) is opted in to. */
  readonly transferForm: TransferForm;
  /** Files holding secondary operators' public keys (PEM or DNSKEY records). */
  readonly operatorKeyFiles: readonly string[];
  readonly rrl: RrlConfig;
  readonly signingBudget: SigningBudgetConfig;
  /** DNS cookie secrets given in the environment; when absent, `<dataDir>/cookie.secret`. */
  readonly cookieSecrets?: readonly Uint8Array[];
  readonly tcp: TcpLimits;
  /** `DIRECTORY_ANSWER_CACHE_MB`: the most octets of encoded answers kept in memory. */
  readonly answerCacheBytes: number;
  /** Where providers' keys come from. */
  readonly providers: ProviderKeySource;
  /**
   * No `SWITCHBOARD_TRUST_LIST` (embedded stack): the directory registers itself (apex, DS/DNSKEY,
   * addresses) in the development trust list, whatever its provider keys come from.
   */
  readonly developmentTrustList: boolean;
  /** `DIRECTORY_ID`: this directory's id in the development trust list. */
  readonly directoryId: string;
  readonly logLevel: (typeof LOG_LEVELS)[number];
}

/** A configuration value the directory refuses; the message names the variable and the reason. */
export class DirectoryConfigError extends EnvConfigError {
  constructor(key: string, reason: string) {
    super(key, reason, 'directory');
    this.name = 'DirectoryConfigError';
  }
}

/** A kind from a parser of the directory's own (its message is the reason). */
function parsedBy<T>(parse: (text: string) => T): EnvKind<T> {
  return (v) => {
    try {
      return parse(v);
    } catch (err) {
      throw new Error(`is not valid: ${(err as Error).message}`);
    }
  };
}

const { text, port, integer, databaseUrl, enumOf, list } = envKinds;
const count = integer(0);
const atLeastOne = integer(1);
const d = DEFAULT_SIGNING_BUDGET;

/** The one schema of the directory's environment; directory/README.md lists the same variables. */
export const DIRECTORY_ENV_SCHEMA = {
  DIRECTORY_APEX: {
    kind: ((v) => {
      try {
        return normaliseApex(v);
      } catch {
        throw new Error('must be a domain name such as e164.switchboard.test.');
      }
    }) as EnvKind<string>,
    default: DEFAULT_ENUM_APEX,
  },
  DIRECTORY_DNSSEC_ALGORITHM: {
    kind: ((v) => {
      if (v !== '13' && v !== '15') throw new Error('must be 13 (ECDSA P-256) or 15 (Ed25519)');
      return v === '15' ? 15 : 13;
    }) as EnvKind<SigningAlgorithm>,
    default: '13',
  },
  DIRECTORY_DATABASE_URL: { kind: databaseUrl },
  DATABASE_URL: { kind: databaseUrl },
  DIRECTORY_DNS_HOST: { kind: text, default: '127.0.0.1' },
  DIRECTORY_DNS_PORT: { kind: port, default: '5300' },
  DIRECTORY_API_HOST: { kind: text, default: '127.0.0.1' },
  DIRECTORY_API_PORT: { kind: port, default: '8053' },
  DIRECTORY_METRICS_HOST: { kind: text, default: '127.0.0.1' },
  DIRECTORY_METRICS_PORT: { kind: port },
  DIRECTORY_DOH_HOST: { kind: text, default: '127.0.0.1' },
  DIRECTORY_DOH_PORT: { kind: port },
  DIRECTORY_NAMESERVERS: {
    kind: list((n) => (n.endsWith('.') ? n : `${n}.`).toLowerCase()),
    default: 'ns1.switchboard.test.',
  },
  DIRECTORY_SECONDARIES: { kind: parsedBy(list(parseNotifyTarget)) },
  DIRECTORY_TSIG_KEY: { kind: parsedBy(parseTsigKey) },
  DIRECTORY_XFR_ALLOW: { kind: list() },
  DIRECTORY_TRANSFER: {
    kind: enumOf(TRANSFER_FORMS, ' (presigned-nsec3 is walkable)'),
    default: 'unsigned',
  },
  DIRECTORY_OPERATOR_KEYS: { kind: list() },
  DIRECTORY_RRL_RATE: { kind: count, default: String(DEFAULT_RRL.responsesPerSecond) },
  DIRECTORY_RRL_SLIP: { kind: count, default: String(DEFAULT_RRL.slip) },
  DIRECTORY_RRL_SIGN_RATE: { kind: count, default: String(d.signaturesPerSecond) },
  /** Default: a quarter of the rate, whatever rate is set. */
  DIRECTORY_RRL_SIGN_RESERVE: { kind: count },
  DIRECTORY_RRL_SIGN_PER_CLIENT: { kind: count, default: String(d.perClientPerSecond) },
  DIRECTORY_COOKIE_SECRET: { kind: parsedBy(parseCookieSecrets) },
  DIRECTORY_TCP_IDLE_MS: { kind: atLeastOne, default: '10000' },
  DIRECTORY_TCP_MESSAGE_DEADLINE_MS: { kind: atLeastOne, default: '10000' },
  DIRECTORY_TCP_TRANSFER_STALL_MS: { kind: atLeastOne, default: '30000' },
  DIRECTORY_TCP_MAX_CONNECTIONS: { kind: atLeastOne, default: '200' },
  DIRECTORY_TCP_MAX_PER_CLIENT: { kind: atLeastOne, default: '16' },
  /** At most 16383 MiB: the answer cache's references count 8-octet units in 31 bits. */
  DIRECTORY_ANSWER_CACHE_MB: { kind: integer(1, 16383), default: '1024' },
  DIRECTORY_PROVIDERS_FILE: { kind: text },
  SWITCHBOARD_TRUST_LIST: { kind: text },
  SWITCHBOARD_BOARD_FINGERPRINT: { kind: text },
  DIRECTORY_ID: { kind: text, default: 'dev-directory' },
  DIRECTORY_LOG_LEVEL: { kind: enumOf(LOG_LEVELS) },
  LOG_LEVEL: { kind: enumOf(LOG_LEVELS), default: 'info' },
} as const satisfies Record<string, EnvVariable>;

type Values = EnvValues<typeof DIRECTORY_ENV_SCHEMA>;

function signingBudget(v: Values): SigningBudgetConfig {
  const signaturesPerSecond = v.DIRECTORY_RRL_SIGN_RATE;
  const reserve = v.DIRECTORY_RRL_SIGN_RESERVE ?? Math.floor(signaturesPerSecond / 4);
  if (signaturesPerSecond > 0 && reserve >= signaturesPerSecond)
    throw new DirectoryConfigError(
      'DIRECTORY_RRL_SIGN_RESERVE',
      'must be below DIRECTORY_RRL_SIGN_RATE',
    );
  return { signaturesPerSecond, reserve, perClientPerSecond: v.DIRECTORY_RRL_SIGN_PER_CLIENT };
}

function providerKeySource(v: Values): ProviderKeySource {
  if (v.DIRECTORY_PROVIDERS_FILE !== undefined)
    return { kind: 'file', path: v.DIRECTORY_PROVIDERS_FILE };
  if (v.SWITCHBOARD_TRUST_LIST === undefined) return { kind: 'development' };
  if (v.SWITCHBOARD_BOARD_FINGERPRINT === undefined)
    throw new DirectoryConfigError(
      'SWITCHBOARD_TRUST_LIST',
      'needs SWITCHBOARD_BOARD_FINGERPRINT (the pinned board fingerprint)',
    );
  return {
    kind: 'trust-list',
    path: v.SWITCHBOARD_TRUST_LIST,
    boardFingerprint: v.SWITCHBOARD_BOARD_FINGERPRINT,
  };
}

/**
 * Reads the `DIRECTORY_*` variables (and `DATABASE_URL`, `LOG_LEVEL`, `SWITCHBOARD_TRUST_LIST`)
 * by {@link DIRECTORY_ENV_SCHEMA}, over `DIRECTORY_CONFIG_FILE` (a JSON object of the same
 * variables) when set; see directory/README.md. Defaults: DNS 127.0.0.1:5300, publish API
 * 127.0.0.1:8053, apex e164.switchboard.test., algorithm 13, SQLite under `<dataDir>/directory/`.
 * Throws {@link DirectoryConfigError} naming the first wrong variable and why.
 */
export function directoryConfigFromEnv(
  dataDir: string,
  env: Readonly<Record<string, string | undefined>>,
): DirectoryConfig {
  const v = readEnvSchema(DIRECTORY_ENV_SCHEMA, env, {
    service: 'directory',
    configFileVariable: 'DIRECTORY_CONFIG_FILE',
    error: (key, reason) => new DirectoryConfigError(key, reason),
  });
  const dir = join(dataDir, 'directory');
  const apiPort = v.DIRECTORY_API_PORT;
  // A directory on a free API port (tests) takes free metrics and DoH ports too.
  const sidePort = (given: number | undefined, fixed: number): number =>
    given ?? (apiPort === 0 ? 0 : fixed);
  return {
    dataDir: dir,
    apex: v.DIRECTORY_APEX,
    algorithm: v.DIRECTORY_DNSSEC_ALGORITHM,
    databaseUrl:
      v.DIRECTORY_DATABASE_URL ?? v.DATABASE_URL ?? `sqlite:${join(dir, 'directory.db')}`,
    dnsHost: v.DIRECTORY_DNS_HOST,
    dnsPort: v.DIRECTORY_DNS_PORT,
    apiHost: v.DIRECTORY_API_HOST,
    apiPort,
    metricsHost: v.DIRECTORY_METRICS_HOST,
    metricsPort: sidePort(v.DIRECTORY_METRICS_PORT, 9053),
    dohHost: v.DIRECTORY_DOH_HOST,
    dohPort: sidePort(v.DIRECTORY_DOH_PORT, 8054),
    nameServers:
      v.DIRECTORY_NAMESERVERS.length > 0 ? v.DIRECTORY_NAMESERVERS : ['ns1.switchboard.test.'],
    secondaries: v.DIRECTORY_SECONDARIES ?? [],
    ...optionalField('tsigKey', v.DIRECTORY_TSIG_KEY),
    transferAllowFrom: v.DIRECTORY_XFR_ALLOW ?? [],
    transferForm: v.DIRECTORY_TRANSFER,
    operatorKeyFiles: v.DIRECTORY_OPERATOR_KEYS ?? [],
    rrl: { ...DEFAULT_RRL, responsesPerSecond: v.DIRECTORY_RRL_RATE, slip: v.DIRECTORY_RRL_SLIP },
    signingBudget: signingBudget(v),
    ...optionalField('cookieSecrets', v.DIRECTORY_COOKIE_SECRET),
    tcp: {
      idleMs: v.DIRECTORY_TCP_IDLE_MS,
      messageDeadlineMs: v.DIRECTORY_TCP_MESSAGE_DEADLINE_MS,
      transferStallMs: v.DIRECTORY_TCP_TRANSFER_STALL_MS,
      maxConnections: v.DIRECTORY_TCP_MAX_CONNECTIONS,
      maxConnectionsPerClient: v.DIRECTORY_TCP_MAX_PER_CLIENT,
    },
    answerCacheBytes: v.DIRECTORY_ANSWER_CACHE_MB * 2 ** 20,
    providers: providerKeySource(v),
    developmentTrustList: v.SWITCHBOARD_TRUST_LIST === undefined,
    directoryId: v.DIRECTORY_ID,
    logLevel: v.DIRECTORY_LOG_LEVEL ?? v.LOG_LEVEL,
  };
}
