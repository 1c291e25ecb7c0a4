import { join } from 'node:path';
import type { SigningAlgorithm } from '@switchboard/dnssec';
import { DEFAULT_ENUM_APEX, normaliseApex } from '@switchboard/e164';
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

/** Everything the directory service needs, parsed once from the environment. */
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
  /** JSON file of provider keys used until the charter trust list is wired in. */
  readonly providersFile: string;
  readonly logLevel: string;
}

/** A configuration value that cannot be used; the message names the variable. */
export class DirectoryConfigError extends Error {
  override readonly name = 'DirectoryConfigError';
}

function port(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new DirectoryConfigError(`${name} must be a port number 0-65535`);
  }
  return n;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function nonNegative(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new DirectoryConfigError(`${name} must be a whole number >= 0`);
  return n;
}

function positive(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
): number {
  const n = nonNegative(env, name, fallback);
  if (n === 0) throw new DirectoryConfigError(`${name} must be a whole number >= 1`);
  return n;
}

function transferForm(raw: string | undefined): TransferForm {
  if (raw === undefined || raw === '') return 'unsigned';
  const form = TRANSFER_FORMS.find((f) => f === raw);
  if (!form) {
    throw new DirectoryConfigError(
      `DIRECTORY_TRANSFER must be one of ${TRANSFER_FORMS.join(', ')} (presigned-nsec3 is walkable)`,
    );
  }
  return form;
}

/**
 * Reads `DIRECTORY_*` variables (and `DATABASE_URL`): see directory/README.md for the list.
 * Defaults: DNS 127.0.0.1:5300, publish API 127.0.0.1:8053, apex e164.switchboard.test.,
 * algorithm 13, SQLite under `<dataDir>/directory/`.
 */
export function directoryConfigFromEnv(
  dataDir: string,
  env: Readonly<Record<string, string | undefined>>,
): DirectoryConfig {
  const dir = join(dataDir, 'directory');
  const algText = env['DIRECTORY_DNSSEC_ALGORITHM'] ?? '13';
  if (algText !== '13' && algText !== '15') {
    throw new DirectoryConfigError(
      'DIRECTORY_DNSSEC_ALGORITHM must be 13 (ECDSA P-256) or 15 (Ed25519)',
    );
  }
  let apex: string;
  try {
    apex = normaliseApex(env['DIRECTORY_APEX'] ?? DEFAULT_ENUM_APEX);
  } catch {
    throw new DirectoryConfigError(
      'DIRECTORY_APEX must be a domain name such as e164.switchboard.test.',
    );
  }
  let secondaries: NotifyTarget[];
  let tsigKey: TsigKey | undefined;
  try {
    secondaries = list(env['DIRECTORY_SECONDARIES']).map(parseNotifyTarget);
    tsigKey = env['DIRECTORY_TSIG_KEY'] ? parseTsigKey(env['DIRECTORY_TSIG_KEY']) : undefined;
  } catch (err) {
    throw new DirectoryConfigError(
      `DIRECTORY_SECONDARIES / DIRECTORY_TSIG_KEY: ${(err as Error).message}`,
    );
  }
  const apiPort = port(env, 'DIRECTORY_API_PORT', 8053);
  const signingBudget = signingBudgetFromEnv(env);
  let cookieSecrets: Uint8Array[] | undefined;
  const cookieText = env['DIRECTORY_COOKIE_SECRET'];
  if (cookieText !== undefined && cookieText !== '') {
    try {
      cookieSecrets = parseCookieSecrets(cookieText);
    } catch (err) {
      throw new DirectoryConfigError(`DIRECTORY_COOKIE_SECRET: ${(err as Error).message}`);
    }
  }
  const nameServers = list(env['DIRECTORY_NAMESERVERS']).map((n) =>
    (n.endsWith('.') ? n : `${n}.`).toLowerCase(),
  );
  return {
    dataDir: dir,
    apex,
    algorithm: algText === '15' ? 15 : 13,
    databaseUrl:
      env['DIRECTORY_DATABASE_URL'] ?? env['DATABASE_URL'] ?? `sqlite:${join(dir, 'directory.db')}`,
    dnsHost: env['DIRECTORY_DNS_HOST'] ?? '127.0.0.1',
    dnsPort: port(env, 'DIRECTORY_DNS_PORT', 5300),
    apiHost: env['DIRECTORY_API_HOST'] ?? '127.0.0.1',
    apiPort,
    metricsHost: env['DIRECTORY_METRICS_HOST'] ?? '127.0.0.1',
    // A directory on a free API port (tests) takes a free metrics port too.
    metricsPort: port(env, 'DIRECTORY_METRICS_PORT', apiPort === 0 ? 0 : 9053),
    dohHost: env['DIRECTORY_DOH_HOST'] ?? '127.0.0.1',
    dohPort: port(env, 'DIRECTORY_DOH_PORT', apiPort === 0 ? 0 : 8054),
    nameServers: nameServers.length > 0 ? nameServers : ['ns1.switchboard.test.'],
    secondaries,
    ...(tsigKey ? { tsigKey } : {}),
    transferAllowFrom: list(env['DIRECTORY_XFR_ALLOW']),
    transferForm: transferForm(env['DIRECTORY_TRANSFER']),
    operatorKeyFiles: list(env['DIRECTORY_OPERATOR_KEYS']),
    rrl: {
      ...DEFAULT_RRL,
      responsesPerSecond: nonNegative(env, 'DIRECTORY_RRL_RATE', DEFAULT_RRL.responsesPerSecond),
      slip: nonNegative(env, 'DIRECTORY_RRL_SLIP', DEFAULT_RRL.slip),
    },
    signingBudget,
    ...(cookieSecrets ? { cookieSecrets } : {}),
    tcp: {
      idleMs: positive(env, 'DIRECTORY_TCP_IDLE_MS', 10_000),
      messageDeadlineMs: positive(env, 'DIRECTORY_TCP_MESSAGE_DEADLINE_MS', 10_000),
      maxConnections: positive(env, 'DIRECTORY_TCP_MAX_CONNECTIONS', 200),
      maxConnectionsPerClient: positive(env, 'DIRECTORY_TCP_MAX_PER_CLIENT', 16),
    },
    providersFile: env['DIRECTORY_PROVIDERS_FILE'] ?? join(dir, 'providers.json'),
    logLevel: env['DIRECTORY_LOG_LEVEL'] ?? env['LOG_LEVEL'] ?? 'info',
  };
}

function signingBudgetFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): SigningBudgetConfig {
  const d = DEFAULT_SIGNING_BUDGET;
  const signaturesPerSecond = nonNegative(env, 'DIRECTORY_RRL_SIGN_RATE', d.signaturesPerSecond);
  // The default reserve is a quarter of the budget, whatever budget is set.
  const reserveDefault = Math.floor(signaturesPerSecond / 4);
  const reserve = nonNegative(env, 'DIRECTORY_RRL_SIGN_RESERVE', reserveDefault);
  if (signaturesPerSecond > 0 && reserve >= signaturesPerSecond) {
    throw new DirectoryConfigError(
      'DIRECTORY_RRL_SIGN_RESERVE must be below DIRECTORY_RRL_SIGN_RATE',
    );
  }
  return {
    signaturesPerSecond,
    reserve,
    perClientPerSecond: nonNegative(env, 'DIRECTORY_RRL_SIGN_PER_CLIENT', d.perClientPerSecond),
  };
}
