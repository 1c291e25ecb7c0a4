import type { Request } from 'express';
import { RRType, isRecordType } from '@switchboard/dns-wire';
import type { DirectoryEntry, VerifiedTrustList } from '@switchboard/charter';
import { mayTrustDirectory } from '@switchboard/charter';
import { nodeDnssecCrypto } from '@switchboard/dnssec';
import { DnsQueryError, apexOf, queryDns, readZoneKeys } from '@switchboard/enum-lookup';
import type { ProviderSchema } from '@switchboard/openapi';
import type { ProviderDeps } from '../core/deps.js';
import { isoTime } from '../core/encoding.js';
import { keyFingerprint } from '../accounts/handover.js';
import { tcpDns } from '../core/publication-check.js';

type Overview = ProviderSchema<'OperatorOverview'>;
type RecentError = Overview['recentErrors'][number];

/** Where the overview reads what the provider's own database does not hold. */
export interface OperatorSources {
  /** The directory's publish API (`/healthz`, `/v1/zone`). */
  readonly directoryUrl?: string | undefined;
  /** The bridge's `/health` (`PROVIDER_BRIDGE_HEALTH_URL`). */
  readonly bridgeHealthUrl?: string | undefined;
  /** The verified trust list (the directory's nameservers and anchor). */
  readonly loadList?: ((now: Date) => Promise<VerifiedTrustList>) | undefined;
  /** Per outside request (directory, nameserver, bridge); default 3000 ms. */
  readonly timeoutMs?: number;
}

/**
 * The last `capacity` 5xx answers of this process: operation, status and error code only
 * (never request data, so no number or key reaches the operator page through it).
 */
export class RecentErrors {
  readonly #items: RecentError[] = [];
  readonly #capacity: number;
  readonly #now: () => number;

  constructor(now: () => number, capacity = 50) {
    this.#now = now;
    this.#capacity = capacity;
  }

  record(operation: string, status: number, code: string): void {
    this.#items.push({ at: isoTime(this.#now()), operation, status, code });
    if (this.#items.length > this.#capacity) this.#items.shift();
  }

  /** Newest first. */
  list(): RecentError[] {
    return [...this.#items].reverse();
  }

  /** The API router's `onProblem`: records every 5xx problem it answers. */
  readonly problem = (req: Request, status: number, code: string): void => {
    if (status < 500) return;
    const route = (req.route as { path?: string } | undefined)?.path ?? 'other';
    this.record(`${req.method} ${route}`, status, code);
  };
}

/** The digits of a search ("+44 20" -> "4420"); SQL LIKE wildcards cannot get through. */
function searchDigits(q: string | undefined): string {
  return (q ?? '').replace(/\D/g, '');
}

async function accountsSection(
  deps: ProviderDeps,
  query: { q?: string | undefined; page: number; pageSize: number },
): Promise<Overview['accounts']> {
  const digits = searchDigits(query.q);
  const count = async (published: boolean, search: boolean): Promise<number> => {
    let sel = deps.db.selectFrom('accounts').select((eb) => eb.fn.countAll<string>().as('n'));
    if (published) sel = sel.where('discoverable', '=', 1);
    if (search && digits) sel = sel.where('number', 'like', `%${digits}%`);
    return Number((await sel.executeTakeFirstOrThrow()).n);
  };
  let rows = deps.db
    .selectFrom('accounts')
    .select(['number', 'discoverable', 'contacts', 'identity_key', 'created_at'])
    .orderBy('created_at', 'desc')
    .orderBy('number')
    .limit(query.pageSize)
    .offset((query.page - 1) * query.pageSize);
  if (digits) rows = rows.where('number', 'like', `%${digits}%`);
  const items = (await rows.execute()).map((r) => ({
    number: r.number,
    published: r.discoverable === 1,
    contacts: (JSON.parse(r.contacts) as { uri: string }[]).map((c) => c.uri),
    identityKeyFingerprint: keyFingerprint(r.identity_key),
    createdAt: isoTime(r.created_at),
  }));
  return {
    total: await count(false, false),
    published: await count(true, false),
    matching: await count(false, true),
    page: query.page,
    pageSize: query.pageSize,
    items,
  };
}

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json()) as unknown;
  if (!res.ok && res.status !== 503) throw new Error(`answered ${res.status}`);
  return body;
}

/** The directory this provider publishes to, as the trust list describes it. */
function listedDirectory(
  list: VerifiedTrustList | undefined,
  directoryUrl: string | undefined,
  now: Date,
): DirectoryEntry | undefined {
  const trusted = (list?.body.directories ?? []).filter(
    (d) => mayTrustDirectory(list!, d.id, now).trusted,
  );
  const origin = (u: string): string => new URL(u).origin;
  return (
    trusted.find((d) => directoryUrl && origin(d.publishEndpoint) === origin(directoryUrl)) ??
    trusted[0]
  );
}

async function zoneSection(
  sources: OperatorSources,
  dir: DirectoryEntry | undefined,
  now: Date,
): Promise<Overview['zone']> {
  const timeout = sources.timeoutMs ?? 3000;
  let zone: Overview['zone'] = { status: 'not-configured' };
  if (sources.directoryUrl) {
    try {
      const info = (await getJson(new URL('/v1/zone', sources.directoryUrl).href, timeout)) as {
        apex: string;
        serial: number;
        algorithm: number;
      };
      const health = (await getJson(new URL('/healthz', sources.directoryUrl).href, timeout)) as {
        warm?: boolean;
      };
      zone = { status: 'ok', apex: info.apex, serial: info.serial, algorithm: info.algorithm };
      if (typeof health.warm === 'boolean') zone = { ...zone, warm: health.warm };
    } catch (err) {
      zone = { status: 'unreachable', detail: (err as Error).message };
    }
  }
  if (!dir) return { ...zone, signing: 'unavailable', signingDetail: 'no verified trust list' };
  for (const server of dir.nameservers) {
    try {
      const keys = await readZoneKeys(dir, {
        dns: tcpDns,
        crypto: nodeDnssecCrypto,
        now,
        nameservers: [server],
        timeoutMs: timeout,
      });
      if (keys.status === 'bogus') {
        return { ...zone, signing: 'bogus', signingDetail: `DNSKEY: ${keys.reason}` };
      }
      const rrset = keys.dnskeyRrset;
      const expirations = rrset.flatMap((rr) =>
        isRecordType(rr, RRType.RRSIG) ? [rr.data.expiration] : [],
      );
      const keyTag = rrset.flatMap((rr) =>
        isRecordType(rr, RRType.RRSIG) ? [rr.data.keyTag] : [],
      );
      return {
        ...zone,
        signing: 'secure',
        ...(keyTag[0] === undefined ? {} : { keyTag: keyTag[0] }),
        ...(expirations.length
          ? { signaturesExpireAt: isoTime(Math.min(...expirations) * 1000) }
          : {}),
      };
    } catch {
      // try the next nameserver
    }
  }
  return { ...zone, signing: 'unavailable', signingDetail: 'no nameserver answered' };
}

async function nameserversSection(
  dir: DirectoryEntry | undefined,
  primarySerial: number | undefined,
  timeoutMs: number,
): Promise<Overview['nameservers']> {
  if (!dir) return [];
  const apex = apexOf(dir);
  return Promise.all(
    dir.nameservers.map(async (address): Promise<Overview['nameservers'][number]> => {
      try {
        const answer = await queryDns([address], apex, RRType.SOA, { dns: tcpDns, timeoutMs });
        const soa = answer.answers.find((rr) => isRecordType(rr, RRType.SOA));
        if (!soa || !isRecordType(soa, RRType.SOA)) {
          return { address, status: 'unreachable', detail: 'no SOA in the answer' };
        }
        const signed = answer.answers.some((rr) => isRecordType(rr, RRType.RRSIG));
        const serial = soa.data.serial;
        const behind = primarySerial !== undefined && serial < primarySerial;
        return { address, status: behind ? 'behind' : 'in-step', serial, signed };
      } catch (err) {
        // The transport's own reason (refused, no answer) tells the operator more.
        const why = err instanceof DnsQueryError && err.cause instanceof Error ? err.cause : err;
        return { address, status: 'unreachable', detail: (why as Error).message };
      }
    }),
  );
}

interface BridgeHealth {
  ok?: boolean;
  pending?: number;
  queues?: Record<
    string,
    { connected?: boolean; pending?: number; oldestPendingMs?: number; stuck?: boolean }
  >;
}

async function bridgeSection(sources: OperatorSources): Promise<Overview['bridge']> {
  if (!sources.bridgeHealthUrl) return { status: 'not-configured', networks: [] };
  try {
    const h = (await getJson(sources.bridgeHealthUrl, sources.timeoutMs ?? 3000)) as BridgeHealth;
    const networks = Object.entries(h.queues ?? {}).map(([network, q]) => ({
      network,
      connected: q.connected === true,
      queueDepth: q.pending ?? 0,
      oldestPendingSeconds: Math.round((q.oldestPendingMs ?? 0) / 100) / 10,
      stuck: q.stuck === true,
    }));
    return {
      status: h.ok === true ? 'ok' : 'degraded',
      ...(typeof h.pending === 'number' ? { pending: h.pending } : {}),
      networks,
    };
  } catch {
    return { status: 'unreachable', networks: [] };
  }
}

/**
 * Everything the operator page shows, gathered at once: the outside checks (directory, its
 * nameservers, the bridge) run side by side, each bounded by its timeout.
 */
export async function operatorOverview(
  deps: ProviderDeps,
  sources: OperatorSources,
  recent: RecentErrors,
  query: { q?: string | undefined; page: number; pageSize: number },
): Promise<Overview> {
  const now = new Date(deps.now());
  const list = await sources.loadList?.(now).catch(() => undefined);
  const dir = listedDirectory(list, sources.directoryUrl, now);
  const [accounts, zone, bridge] = await Promise.all([
    accountsSection(deps, query),
    zoneSection(sources, dir, now),
    bridgeSection(sources),
  ]);
  const nameservers = await nameserversSection(dir, zone.serial, sources.timeoutMs ?? 3000);
  return {
    generatedAt: now.toISOString(),
    accounts,
    zone,
    nameservers,
    bridge,
    recentErrors: recent.list(),
  };
}
