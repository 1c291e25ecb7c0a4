import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Kysely } from 'kysely';
import type { Database } from '@switchboard/db';
import { openDatabase, parseDatabaseUrl } from '@switchboard/db';
import { formatRecord, RRClass, RRType } from '@switchboard/dns-wire';
import type { SigningAlgorithm } from '@switchboard/dnssec';
import type { ReplayCache } from '@switchboard/http-signature';
import type { Logger, RunningHttpServer } from '@switchboard/service-kit';
import { expressServer, listenHttp, listenMetrics } from '@switchboard/service-kit';
import type { DnskeyData } from '@switchboard/dns-wire';
import type { ZoneKeyMaterial } from './zone/keys.js';
import { dsSet, loadOrCreateZoneKey, secureEntryPoints } from './zone/keys.js';
import type { NotifyTarget } from './transfer/notify.js';
import { sendNotify } from './transfer/notify.js';
import type { ProviderKeyResolver } from './publish/providers.js';
import { createPublishApi, trustAnchorClause } from './publish/publish-api.js';
import type { RrlConfig } from './dns/rrl.js';
import { DEFAULT_RRL, ResponseRateLimiter } from './dns/rrl.js';
import type { LimitAction, LimitReason, SigningBudgetConfig } from './dns/admission.js';
import { DEFAULT_SIGNING_BUDGET, QueryGate, SigningBudget } from './dns/admission.js';
import type { CookieStatus } from './dns/cookies.js';
import { DnsCookies, parseCookieSecrets } from './dns/cookies.js';
import type { QueryCount, RunningDnsServer, TcpLimits } from './dns/server.js';
import { startDnsServer } from './dns/server.js';
import { DOH_PATH, startDohServer } from './dns/doh.js';
import type { SignaturePolicy } from './zone/signer.js';
import { DEFAULT_SIGNATURE_POLICY, OnlineSigner } from './zone/signer.js';
import { DatabaseReplayCache } from './publish/replay-cache.js';
import type { DirectoryTables } from './state/store.js';
import { DirectoryStore } from './state/store.js';
import type { TsigKey } from './transfer/tsig.js';
import { parseTsigKey } from './transfer/tsig.js';
import type { TransferForm } from './transfer/transfer.js';
import { zoneFileText } from './transfer/transfer.js';
import type { UnservableEntry, ZoneSettings } from './zone/zone.js';
import { defaultZoneSettings } from './zone/zone.js';
import { ZoneState } from './state/zone-state.js';
import { ZoneWarmer } from './dns/warmer.js';

/** Options for {@link startDirectory}. */
export interface DirectoryOptions {
  /** Holds the zone key (0600) and, if none is given, the TSIG key. */
  readonly dataDir: string;
  readonly apex: string;
  readonly algorithm: SigningAlgorithm;
  readonly databaseUrl: string;
  readonly dnsHost: string;
  readonly dnsPort: number;
  readonly apiHost: string;
  readonly apiPort: number;
  /** Where `GET /metrics` listens, apart from the publish API (default 127.0.0.1, any port). */
  readonly metricsHost?: string;
  readonly metricsPort?: number;
  /**
   * DNS over HTTPS (RFC 8484, `GET`/`POST /dns-query`) on a listener of its own (default
   * 127.0.0.1, any port); plain HTTP, for a TLS proxy in front.
   */
  readonly dohHost?: string;
  readonly dohPort?: number;
  readonly providers: ProviderKeyResolver;
  readonly logger: Logger;
  readonly nameServers?: readonly string[];
  readonly secondaries?: readonly NotifyTarget[];
  readonly tsigKey?: TsigKey;
  readonly transferAllowFrom?: readonly string[];
  /**
   * What AXFR/IXFR serve: `unsigned` (default) for secondaries that sign online, or
   * `presigned-nsec3` (walkable: NSEC3 hashes of phone numbers can be brute-forced).
   */
  readonly transferForm?: TransferForm;
  /**
   * Secondary operators' public keys, published in the DNSKEY RRset (RFC 8901 multi-signer);
   * those with the SEP flag (257) also go into `ds.txt` and `trust-anchor.conf`.
   */
  readonly operatorKeys?: readonly DnskeyData[];
  readonly rrl?: RrlConfig;
  /** Signatures made for queries: global budget, reserve for verified clients, per client. */
  readonly signingBudget?: SigningBudgetConfig;
  /**
   * DNS cookie secrets (16 octets each, RFC 9018), the first making cookies; default the
   * file `<dataDir>/cookie.secret`, created (0600) on first start.
   */
  readonly cookieSecrets?: readonly Uint8Array[];
  /** DNS-over-TCP limits (per-client connections, idle time, message deadline). */
  readonly dnsTcp?: TcpLimits;
  /** The most octets of encoded answers kept in memory (default 1 GiB; answer-cache.ts). */
  readonly answerCacheBytes?: number;
  readonly signaturePolicy?: SignaturePolicy;
  /** Nonces of accepted signed requests; default the shared database table. */
  readonly replayCache?: ReplayCache;
  /** Milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
  /** How often other replicas' changes are polled for (ms). Default 500. */
  readonly pollMs?: number;
  /**
   * Publish API limits per minute (defaults: 1200 per client prefix, 600 per provider, 120
   * unauthenticated requests per client prefix).
   */
  readonly apiLimits?: {
    readonly perAddressPerMinute?: number;
    readonly perProviderPerMinute?: number;
    readonly publicPerClientPerMinute?: number;
  };
  /** PostgreSQL schema, for tests sharing one database. */
  readonly databaseSchema?: string;
}

/** A running directory (DNS + publish API). */
export interface RunningDirectory {
  readonly dns: RunningDnsServer;
  readonly apiUrl: string;
  /** `http://host:port/metrics` of the metrics listener. */
  readonly metricsUrl: string;
  /** `http://host:port/dns-query` of the DNS-over-HTTPS listener. */
  readonly dohUrl: string;
  readonly keys: ZoneKeyMaterial;
  readonly tsigKey: TsigKey;
  readonly zone: ZoneState;
  readonly store: DirectoryStore;
  /** DS record (SHA-256) of the zone key in presentation format. */
  readonly dsRecord: string;
  /** DNSKEY record of the zone key in presentation format. */
  readonly dnskeyRecord: string;
  /** BIND/delv trust anchor clause: the zone key and operators' keys with the SEP flag. */
  readonly trustAnchor: string;
  /**
   * The zone as zone-file text (formatted on the export worker thread; the same version AXFR
   * serves for the current serial in that form): the configured transfer form unless `form`
   * is given. `presigned-nsec3` is walkable.
   */
  exportZone(form?: TransferForm): Promise<string>;
  /**
   * Renews the transferred/exported signatures when they expire within the refresh margin, by
   * bumping the serial (runs hourly on its own); true if it did.
   */
  renewExportSignatures(): Promise<boolean>;
  /** Resolves once every configured secondary acknowledged NOTIFY for the current serial. */
  notifyNow(): Promise<boolean[]>;
  stop(): Promise<void>;
}

/** Loads the TSIG key from `<dataDir>/tsig.key`, creating a random one (0600) on first start. */
async function loadOrCreateTsigKey(dataDir: string, apex: string): Promise<TsigKey> {
  const path = join(dataDir, 'tsig.key');
  try {
    return parseTsigKey((await readFile(path, 'utf8')).trim());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const text = `transfer.${apex}:${randomBytes(32).toString('base64')}`;
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${text}\n`, { mode: 0o600, flag: 'wx' });
  await rename(temp, path);
  return parseTsigKey(text);
}

/**
 * `ds.txt` (the DS of every secure entry point, then the DNSKEY RRset) and the delv/BIND trust
 * anchor clause, for the zone key and the operators' keys.
 */
export function publicKeyMaterial(
  apex: string,
  dnskeys: readonly DnskeyData[],
  dnskeyTtl: number,
): { dsText: string; trustAnchor: string } {
  const unique = [...new Map(dnskeys.map((k) => [formatDnskey(apex, k, dnskeyTtl), k])).entries()];
  const ds = dsSet(
    apex,
    unique.map(([, k]) => k),
  ).map((data) =>
    formatRecord({ name: apex, type: RRType.DS, class: RRClass.IN, ttl: 3600, data }),
  );
  const lines = [...ds, ...unique.map(([text]) => text)];
  return {
    dsText: `${lines.join('\n')}\n`,
    trustAnchor: trustAnchorClause(apex, secureEntryPoints(unique.map(([, k]) => k))),
  };
}

function formatDnskey(apex: string, data: DnskeyData, ttl: number): string {
  return formatRecord({ name: apex, type: RRType.DNSKEY, class: RRClass.IN, ttl, data });
}

/**
 * Loads the DNS cookie secrets from `<dataDir>/cookie.secret` (32 hex digits a line, the first
 * current), creating a random one (0600) on first start. Replicas must share the file.
 */
async function loadOrCreateCookieSecrets(dataDir: string): Promise<Uint8Array[]> {
  const path = join(dataDir, 'cookie.secret');
  try {
    return parseCookieSecrets(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`${path}: ${(err as Error).message}`);
    }
  }
  const secret = randomBytes(16);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  await rename(temp, path);
  return [Uint8Array.from(secret)];
}

/** Counts of limited queries and cookie statuses, handed to prom-client when scraped. */
function abuseMetrics(metrics: Registry): {
  onLimited: (transport: 'udp' | 'tcp', reason: LimitReason, action: LimitAction) => void;
  onCookie: (status: CookieStatus) => void;
} {
  const limited = new Map<string, number>();
  const cookies = new Map<CookieStatus, number>();
  new Counter({
    name: 'directory_dns_limited_total',
    help: 'Queries not given the signature they needed, by transport, reason (rrl, client, budget) and what was sent instead (drop, tc, badcookie, refused)',
    labelNames: ['transport', 'reason', 'action'],
    registers: [metrics],
    collect() {
      this.reset();
      for (const [key, n] of limited) {
        const [transport = '', reason = '', action = ''] = key.split('|');
        this.inc({ transport, reason, action }, n);
      }
    },
  });
  new Counter({
    name: 'directory_dns_cookies_total',
    help: 'Queries with a DNS COOKIE option, by status (client, valid, invalid, malformed)',
    labelNames: ['status'],
    registers: [metrics],
    collect() {
      this.reset();
      for (const [status, n] of cookies) this.inc({ status }, n);
    },
  });
  return {
    onLimited: (transport, reason, action) => {
      const key = `${transport}|${reason}|${action}`;
      limited.set(key, (limited.get(key) ?? 0) + 1);
    },
    onCookie: (status) => cookies.set(status, (cookies.get(status) ?? 0) + 1),
  };
}

/** What every start-up stage shares: the options, the clock, the log and the clean-ups so far. */
interface Wiring {
  readonly options: DirectoryOptions;
  readonly now: () => number;
  readonly log: Logger;
  /** Run in reverse order on stop (or when a later stage fails). */
  readonly cleanups: Array<() => Promise<void> | void>;
}

/** The zone and what keeps it current and signed. */
interface ZoneParts {
  readonly store: DirectoryStore;
  readonly settings: ZoneSettings;
  readonly policy: SignaturePolicy;
  readonly signer: OnlineSigner;
  readonly zone: ZoneState;
  readonly warmer: ZoneWarmer;
  /** Queries the DNS listeners received: the warmer gives way while it moves. */
  readonly queries: QueryCount;
}

/** Counts DNS responses by transport, rcode and kind (see {@link directoryMetrics}). */
type CountResponse = (transport: 'udp' | 'tcp' | 'doh', rcode: number, kind: string) => void;

/**
 * Starts the directory: opens and migrates the database, loads or creates the zone key,
 * serves DNS (UDP+TCP) and the publish API, NOTIFYs secondaries on every change, and renews
 * exported signatures before they expire.
 */
export async function startDirectory(options: DirectoryOptions): Promise<RunningDirectory> {
  const now = options.now ?? Date.now;
  const log = options.logger;
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const keys = await loadOrCreateZoneKey(
    join(options.dataDir, 'keys'),
    options.apex,
    options.algorithm,
  );
  const tsigKey = options.tsigKey ?? (await loadOrCreateTsigKey(options.dataDir, options.apex));
  const database: Database<unknown> = await openDatabase({
    url: options.databaseUrl,
    ...(options.databaseSchema ? { schema: options.databaseSchema } : {}),
  });
  const w: Wiring = { options, now, log, cleanups: [() => database.close()] };
  const stopAll = async (): Promise<void> => {
    for (const c of w.cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        log.error({ err }, 'directory shutdown step failed');
      }
    }
  };
  try {
    const parts = await loadZone(w, database, keys);
    const { metrics, count } = directoryMetrics(parts);
    const notifyAll = notifySecondaries(w, parts.zone, tsigKey);
    const { dns, doh } = await startDnsListeners(w, parts, tsigKey, metrics, count);
    parts.warmer.start();
    const { http, metricsHttp } = await startHttpListeners(w, parts, keys, database, metrics);
    const renewExport = startMaintenance(w, parts);
    const published = await writePublicKeyMaterial(options, keys, parts.settings);
    const { zone, store } = parts;
    let stopping: Promise<void> | undefined;
    return {
      dns,
      apiUrl: http.url,
      metricsUrl: `${metricsHttp.url}/metrics`,
      dohUrl: `${doh.url}${DOH_PATH}`,
      keys,
      tsigKey,
      zone,
      store,
      ...published,
      exportZone: async (form?: TransferForm) =>
        zoneFileText(await zone.transferZone(now() / 1000, form), options.apex, zone.exportSigner),
      notifyNow: notifyAll,
      renewExportSignatures: renewExport,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The store, the zone loaded from it, its online signer and the warmer that signs ahead. */
async function loadZone(
  w: Wiring,
  database: Database<unknown>,
  keys: ZoneKeyMaterial,
): Promise<ZoneParts> {
  const { options, log, now } = w;
  const store = await DirectoryStore.open(database);
  const settings: ZoneSettings = {
    ...defaultZoneSettings(options.apex),
    ...(options.nameServers ? { nameServers: options.nameServers } : {}),
  };
  const policy = options.signaturePolicy ?? DEFAULT_SIGNATURE_POLICY;
  const signer = new OnlineSigner(keys.key, options.apex, policy);
  const zone = await ZoneState.load(store, settings, keys.key, signer, {
    transferForm: options.transferForm ?? 'unsigned',
    operatorKeys: options.operatorKeys ?? [],
    imagePath: join(options.dataDir, 'zone-image.db'),
    ...(options.answerCacheBytes ? { answerCacheBytes: options.answerCacheBytes } : {}),
    ...sqliteFile(options.databaseUrl),
  });
  logUnservable(zone.snapshot.unservable, log);
  zone.onChange(() => logUnservable(zone.snapshot.unservable, log));
  // Entries not checked when loaded (a first start reads none of them): found on use.
  zone.onUnservable((bad) => logUnservable([bad], log));
  // Runs after the DNS listener has closed (cleanups run in reverse): ends the export worker.
  w.cleanups.push(() => zone.close());
  // Started once DNS is served (startDirectory): its slices would delay the first answer.
  const queries: QueryCount = { count: 0 };
  // Whole passes signed on worker threads, one per core this process may run on.
  const warmer = new ZoneWarmer(zone, now, log, {
    queries: () => queries.count,
    threads: availableParallelism(),
  });
  zone.onChange(() => warmer.start());
  w.cleanups.push(() => warmer.stop());
  return { store, settings, policy, signer, zone, warmer, queries };
}

/** The Prometheus registry of the directory and the per-response counter the listeners call. */
function directoryMetrics(parts: ZoneParts): { metrics: Registry; count: CountResponse } {
  const { zone, warmer, signer } = parts;
  const metrics = new Registry();
  // Counted in plain arrays (this runs for every DNS response; prom-client hashes a label
  // object per inc()) and handed to prom-client when scraped.
  const counted = new Map<string, { udp: number[]; tcp: number[]; doh: number[] }>();
  new Counter({
    name: 'directory_dns_responses_total',
    help: 'DNS responses by transport, rcode and kind',
    labelNames: ['transport', 'rcode', 'kind'],
    registers: [metrics],
    collect() {
      this.reset();
      for (const [kind, byTransport] of counted) {
        for (const transport of ['udp', 'tcp', 'doh'] as const) {
          byTransport[transport].forEach((n, rcode) => {
            if (n > 0) this.inc({ transport, rcode: String(rcode), kind }, n);
          });
        }
      }
    },
  });
  const gauge = (name: string, help: string, value: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [metrics],
      collect() {
        this.set(value());
      },
    });
  };
  gauge('directory_zone_serial', 'Current SOA serial', () => zone.snapshot.serial);
  gauge(
    'directory_zone_warm',
    '1 once every RRset of the served zone is signed ahead of queries',
    () => (warmer.warm ? 1 : 0),
  );
  gauge(
    'directory_signatures_total',
    'Signatures computed (cache misses)',
    () => signer.signatures,
  );
  const count: CountResponse = (transport, rcode, kind) => {
    let byTransport = counted.get(kind);
    if (!byTransport) counted.set(kind, (byTransport = { udp: [], tcp: [], doh: [] }));
    const counts = byTransport[transport];
    counts[rcode] = (counts[rcode] ?? 0) + 1;
  };
  return { metrics, count };
}

/** NOTIFYs every secondary on each zone change; returns the on-demand NOTIFY of all. */
function notifySecondaries(w: Wiring, zone: ZoneState, tsigKey: TsigKey): () => Promise<boolean[]> {
  const { options, log, now } = w;
  const secondaries = options.secondaries ?? [];
  const notifyAll = (): Promise<boolean[]> =>
    Promise.all(
      secondaries.map((t) =>
        sendNotify(t, options.apex, { tsig: tsigKey, now }).catch(() => false),
      ),
    );
  zone.onChange((serial) => {
    log.info({ serial }, 'zone changed');
    if (secondaries.length > 0) {
      void notifyAll().then((acks) => {
        const missing = acks.filter((a) => !a).length;
        if (missing > 0) log.warn({ serial, missing }, 'secondaries did not acknowledge NOTIFY');
      });
    }
  });
  return notifyAll;
}

/** DNS over UDP+TCP and over HTTPS, behind RRL, cookies and the signing budget. */
async function startDnsListeners(
  w: Wiring,
  { zone, queries }: Pick<ZoneParts, 'zone' | 'queries'>,
  tsigKey: TsigKey,
  metrics: Registry,
  count: CountResponse,
): Promise<{ dns: RunningDnsServer; doh: Awaited<ReturnType<typeof startDohServer>> }> {
  const { options, log, now } = w;
  const rrlConfig = options.rrl ?? DEFAULT_RRL;
  const rrl = new ResponseRateLimiter(rrlConfig, now);
  const cookies = new DnsCookies(
    options.cookieSecrets ?? (await loadOrCreateCookieSecrets(options.dataDir)),
  );
  const budget = new SigningBudget(options.signingBudget ?? DEFAULT_SIGNING_BUDGET, now);
  const gate = new QueryGate(budget, rrl, rrlConfig, cookies, options.apex);
  const dns = await startDnsServer({
    host: options.dnsHost,
    port: options.dnsPort,
    zone,
    rrl,
    gate,
    ...abuseMetrics(metrics),
    ...(options.dnsTcp ? { tcp: options.dnsTcp } : {}),
    transfer: { tsigKeys: [tsigKey], allowFrom: options.transferAllowFrom ?? [] },
    logger: log,
    now,
    onResponse: count,
    queries,
  });
  w.cleanups.push(() => dns.close());
  const doh = await startDohServer({
    host: options.dohHost ?? '127.0.0.1',
    port: options.dohPort ?? 0,
    zone,
    // Its own buckets, with the UDP settings: per client prefix and answer identity.
    rrl: new ResponseRateLimiter(options.rrl, now),
    gate,
    logger: log,
    now,
    onResponse: (rcode, kind) => count('doh', rcode, kind),
  });
  w.cleanups.push(() => doh.close());
  return { dns, doh };
}

/** The publish API and the metrics listener. */
async function startHttpListeners(
  w: Wiring,
  parts: ZoneParts,
  keys: ZoneKeyMaterial,
  database: Database<unknown>,
  metrics: Registry,
): Promise<{ http: RunningHttpServer; metricsHttp: RunningHttpServer }> {
  const { options, log, now } = w;
  const app = createPublishApi({
    store: parts.store,
    zone: parts.zone,
    keys,
    providers: options.providers,
    // In the database, not in memory: replicas and restarts must refuse a replayed request too.
    replayCache:
      options.replayCache ??
      new DatabaseReplayCache(database.db as Kysely<DirectoryTables>, { now }),
    logger: log,
    now,
    warm: () => parts.warmer.warm,
    ...options.apiLimits,
  });
  const http = await listenHttp(expressServer(app), options.apiHost, options.apiPort);
  w.cleanups.push(() => http.close());
  const metricsHttp = await listenMetrics(
    metrics,
    options.metricsHost ?? '127.0.0.1',
    options.metricsPort ?? 0,
    (err) => log.error({ err }, 'metrics could not be collected'),
  );
  w.cleanups.push(() => metricsHttp.close());
  return { http, metricsHttp };
}

/**
 * Polls for other replicas' writes (PostgreSQL) and renews export signatures hourly; returns the
 * on-demand renewal.
 */
function startMaintenance(w: Wiring, parts: ZoneParts): () => Promise<boolean> {
  const { options, log, now } = w;
  const { zone, store, policy } = parts;
  const poll = setInterval(() => {
    zone.refresh().catch((err: unknown) => log.warn({ err }, 'zone reload failed'));
  }, options.pollMs ?? 500);
  poll.unref();
  const renewExport = async (): Promise<boolean> => {
    if (!zone.exportNeedsResigning(now() / 1000, policy.refreshBefore)) return false;
    // A new serial makes secondaries transfer the freshly signed zone (after NOTIFY).
    await store.bump();
    await zone.refresh();
    return true;
  };
  const resign = setInterval(() => {
    renewExport().catch((err: unknown) => log.warn({ err }, 'export re-signing failed'));
  }, 3_600_000);
  resign.unref();
  w.cleanups.push(() => {
    clearInterval(poll);
    clearInterval(resign);
  });
  return renewExport;
}

/** The DS and DNSKEY records, and `ds.txt` / `trust-anchor.conf` written next to the key. */
async function writePublicKeyMaterial(
  options: DirectoryOptions,
  keys: ZoneKeyMaterial,
  settings: ZoneSettings,
): Promise<{ dsRecord: string; dnskeyRecord: string; trustAnchor: string }> {
  const apex = options.apex;
  const dsRecord = formatRecord({
    name: apex,
    type: RRType.DS,
    class: RRClass.IN,
    ttl: 3600,
    data: keys.ds,
  });
  const dnskeyRecord = formatRecord({
    name: apex,
    type: RRType.DNSKEY,
    class: RRClass.IN,
    ttl: settings.dnskeyTtl,
    data: keys.key.dnskey,
  });
  const { dsText, trustAnchor } = publicKeyMaterial(
    apex,
    [keys.key.dnskey, ...(options.operatorKeys ?? [])],
    settings.dnskeyTtl,
  );
  // Public trust anchor material next to the key, for operators and the trust list.
  await writeFile(join(options.dataDir, 'ds.txt'), dsText, { mode: 0o644 });
  await writeFile(join(options.dataDir, 'trust-anchor.conf'), `${trustAnchor}\n`, {
    mode: 0o644,
  });
  return { dsRecord, dnskeyRecord, trustAnchor };
}

/** `{ storeFile }` when the database is an SQLite file (the zone image reads the numbers from it). */
function sqliteFile(url: string): { storeFile?: string } {
  const { dialect, target } = parseDatabaseUrl(url);
  return dialect === 'sqlite' && target !== ':memory:' ? { storeFile: target } : {};
}

/**
 * Logs the stored entries a new snapshot left out because their records cannot be encoded
 * (their names answer SERVFAIL): the serial and provider find the row; no number, no contact.
 */
function logUnservable(unservable: readonly UnservableEntry[], log: Logger): void {
  for (const bad of unservable) {
    log.error(
      { entrySerial: bad.serial, provider: bad.provider, field: bad.field, reason: bad.reason },
      'stored entry cannot be served (SERVFAIL); republish or withdraw it',
    );
  }
}
