import { randomUUID } from 'node:crypto';
import type { Logger } from '@switchboard/service-kit';
import { RateLimiter } from '@switchboard/service-kit';
import type { RateLimit } from '@switchboard/service-kit';
import { remoteKeyFor } from '../routing/addressing.js';
import { BridgeError } from '../model/errors.js';
import type { BridgeMetrics } from './metrics.js';
import type { Address, InboundMessage, Network, OutboundMessage, Target } from '../model/model.js';
import { routeCandidates } from '../routing/routing.js';
import type { Resolver } from '../routing/routing.js';
import type { BridgeStore, NoticeReason, OutboxEntry } from '../store/bridge-store.js';
import { parseRemoteKey } from '../routing/addressing.js';

/**
 * Failed attempts (on a connected network) after which a message is given up and its sender
 * told: a message the far side keeps choking on must not be retried forever.
 */
export const MAX_DELIVERY_ATTEMPTS = 20;

/** What the core needs from each bridged network (one class per network implements it). */
export interface NetworkConnector {
  readonly network: Network;
  /** True while connected/registered, so delivery is worth trying. */
  isUp(): boolean;
  /** Optional: false when connected but failing (shown in `/health`); isUp() when absent. */
  healthy?(): boolean;
  /**
   * Delivers one message. Throws `network-unavailable` when it may succeed later (kept queued),
   * `delivery-rejected` when the far side refused it for good. May resolve to the id the
   * destination network gave the message (for read markers coming back).
   */
  deliver(msg: OutboundMessage, sender: Target): Promise<string | void>;
  /** Tells a user on this network, from the ghost of `about`, that something went wrong. */
  notify(to: Address, about: Target, text: string): Promise<void>;
  /** Optional: a message this user sent was delivered (XEP-0184 receipt, Matrix read marker...). */
  delivered?(to: Address, about: Target, nativeId: string, endToBridge: boolean): Promise<void>;
}

/** Settings of the core. */
export interface BridgeCoreOptions {
  readonly store: BridgeStore;
  readonly resolver: Resolver;
  readonly metrics: BridgeMetrics;
  readonly logger: Logger;
  /** Relay plaintext for clients without Switchboard (marked end-to-bridge). Default false. */
  readonly plaintextRelay: boolean;
  /** Per remote user (sender) message rate limit. */
  readonly rateLimit: RateLimit;
  /** Longest one delivery attempt may take before it counts as failed (ms). Default 30 s. */
  readonly deliveryTimeoutMs?: number;
  /** A network whose queue has not moved for this long is reported stuck (ms). Default 60 s. */
  readonly stuckAfterMs?: number;
  readonly now?: () => number;
}

/** The result of accepting a message: the sender's network may now acknowledge it. */
export interface Accepted {
  readonly id: string;
  readonly duplicate: boolean;
}

/** The delivery state of one network's queue, as `/health` reports it. */
export interface QueueHealth {
  /** Messages held in memory for this network (the store may hold more). */
  readonly pending: number;
  /** Age of the oldest of them (ms), 0 when none. */
  readonly oldestPendingMs: number;
  /** True when messages have waited longer than the stuck limit without any delivery. */
  readonly stuck: boolean;
}

/** What the sender of a failed message is told, by reason. */
const NOTICE_TEXT: Readonly<Record<NoticeReason, string>> = {
  refused: 'your message could not be delivered: the recipient refused it',
  'gave-up': 'your message could not be delivered after many attempts',
};
/** Notice attempts (in one process) after which a notice is given up. */
const MAX_NOTICE_ATTEMPTS = 20;
/** Owed notices looked at per pass, and the least time between passes (ms). */
const NOTICE_PAGE = 50;
const NOTICE_PASS_MS = 2000;

/** Messages kept in memory per destination; more wait in the store for their turn. */
const LANE_LIMIT = 256;
/** Rows looked at per pass over the store. */
const SCAN_LIMIT = 5000;
const SCAN_PAGE = 500;
/** Retry backoff: first wait, then doubled per failure up to the cap (ms). */
const BACKOFF_FIRST_MS = 250;
const BACKOFF_CAP_MS = 30_000;

/**
 * Deliveries to one destination that may be in flight at once, per network. XMPP and SIP
 * carry them in order (one component stream; one WebSocket to the proxy, which relays a
 * connection's requests in order), so several are sent before the first is acknowledged.
 * On XMPP one ping acknowledges everything written before it (xmpp-network.ts), so the whole
 * in-memory lane may be in flight: the server always has the next messages to work on while
 * the answer to the last ping travels back, instead of idling until the bridge sends more.
 * Matrix sends go through separate HTTP requests a homeserver may order either way: one.
 */
export const DELIVERY_WINDOW: Readonly<Record<Network, number>> = {
  xmpp: LANE_LIMIT,
  sip: 64,
  matrix: 1,
};

/**
 * The messages for one destination in acceptance order. Up to the destination network's
 * window of them are in flight at once, started in order; each leaves the lane when delivered.
 */
interface Lane {
  readonly key: string;
  readonly entries: OutboxEntry[];
  /** Ids of the entries being delivered now. */
  readonly inFlight: Set<string>;
  /** The store holds messages for this lane that are not in `entries` yet. */
  overflow: boolean;
  /** A read of the lane's next messages from the store is under way. */
  refilling: boolean;
  failures: number;
  retryAt: number;
  timer: NodeJS.Timeout | undefined;
}

type Outcome = 'done' | 'retry' | 'waiting';

/**
 * The network-independent heart of the bridge: checks, routes and durably records each inbound
 * message before the sender's network acknowledges it, then delivers from that record. Every
 * destination has its own queue (a lane), so a slow or failing recipient never holds up
 * others; each attempt is bounded by a timeout, failures are retried with backoff, and after
 * {@link MAX_DELIVERY_ATTEMPTS} the message is dead-lettered and its sender told.
 * Envelopes pass through as opaque bytes.
 */
export class BridgeCore {
  readonly #opts: BridgeCoreOptions;
  readonly #connectors = new Map<Network, NetworkConnector>();
  readonly #limiter: RateLimiter;
  readonly #now: () => number;
  readonly #timeoutMs: number;
  readonly #stuckAfterMs: number;
  readonly #lanes = new Map<string, Lane>();
  readonly #known = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  readonly #lastProgress = new Map<Network, number>();
  #loading: Promise<void> | undefined;
  readonly #noticing = new Set<string>();
  readonly #noticeFailures = new Map<string, number>();
  #noticePass: Promise<void> | undefined;
  #nextNoticePass = 0;
  #lastCreatedAt = 0;
  #loadAgain = false;
  /** A pass over the store completed and saw every pending message (none beyond the scan). */
  #storeInMemory = false;
  /** Messages accepted while a pass over the store ran, placed when it ends. */
  #admitLater: OutboxEntry[] = [];
  #stopped = false;
  /** Fails each attempt in flight (see {@link #bounded}); `stop()` calls them all. */
  readonly #inFlight = new Set<(err: unknown) => void>();

  constructor(options: BridgeCoreOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
    this.#timeoutMs = options.deliveryTimeoutMs ?? 30_000;
    this.#stuckAfterMs = options.stuckAfterMs ?? 60_000;
    this.#limiter = new RateLimiter(options.rateLimit, { now: this.#now });
  }

  /** Adds a network; its messages are routed and delivered from now on. */
  register(connector: NetworkConnector): void {
    this.#connectors.set(connector.network, connector);
  }

  /** Networks this bridge carries. */
  get networks(): ReadonlySet<Network> {
    return new Set(this.#connectors.keys());
  }

  /** Whether plaintext relay is on. */
  get plaintextRelay(): boolean {
    return this.#opts.plaintextRelay;
  }

  /**
   * Checks, routes and records an inbound message. When this resolves the message is durable
   * and the sender's network may acknowledge it; when it throws a {@link BridgeError} the
   * sender's network answers with that error instead.
   */
  async accept(network: Network, msg: InboundMessage): Promise<Accepted> {
    const { metrics } = this.#opts;
    try {
      const sender = `${msg.from.network}:${msg.from.id}`;
      const decision = this.#limiter.take(sender);
      if (!decision.allowed) {
        throw new BridgeError('rate-limited', 'too many messages; retry later', {
          retryAfterSeconds: decision.retryAfterSeconds,
        });
      }
      if (msg.payload.kind === 'plaintext' && !this.#opts.plaintextRelay) {
        throw new BridgeError(
          'plaintext-relay-disabled',
          'this bridge carries only Switchboard end-to-end encrypted messages',
        );
      }
      // Stamped before routing: messages keep the order they arrived in even when a lookup
      // makes an earlier one wait. Strictly increasing within one millisecond too.
      const createdAt = (this.#lastCreatedAt = Math.max(this.#now(), this.#lastCreatedAt + 1));
      const candidates = await routeCandidates(msg.target, this.networks, this.#opts.resolver);
      const id = timeOrderedId(createdAt);
      const entry: OutboxEntry = {
        id,
        sourceNetwork: network,
        sourceNativeId: msg.nativeId === '' ? id : msg.nativeId,
        from: msg.from,
        targetKey: remoteKeyFor(msg.target),
        candidates,
        payload: msg.payload,
        wantsReceipt: msg.wantsReceipt === true,
        createdAt,
        attempts: 0,
      };
      const inserted = await this.#opts.store.enqueue(entry);
      metrics.received(network);
      if (inserted) this.#admit(entry);
      // A retransmission (SIP over UDP resends after 500 ms unanswered) is the same message:
      // it must not spend the sender's budget a second time.
      else this.#limiter.give(sender);
      return { id, duplicate: !inserted };
    } catch (err) {
      const code = BridgeError.is(err) ? err.code : 'internal';
      metrics.failed(network, code);
      throw err;
    }
  }

  /**
   * Loads pending messages from the store into their destination lanes and starts every lane
   * that may run now. Called after each accepted message, periodically and whenever a network
   * comes (back) up; concurrent calls coalesce.
   */
  flush(): void {
    if (this.#stopped) return;
    if (this.#loading) {
      this.#loadAgain = true;
      return;
    }
    this.#loading = this.#load()
      .catch((err: unknown) => this.#opts.logger.error({ err }, 'delivery pass failed'))
      .finally(() => {
        this.#loading = undefined;
        const later = this.#admitLater;
        this.#admitLater = [];
        for (const entry of later) this.#admit(entry);
        if (this.#loadAgain) {
          this.#loadAgain = false;
          this.flush();
        }
      });
  }

  /** Resolves when nothing is being loaded or delivered (lanes waiting to retry are idle). */
  async idle(): Promise<void> {
    while (this.#loading || this.#running.size > 0) {
      await Promise.all([this.#loading, ...this.#running]);
    }
  }

  /**
   * Stops delivering: attempts in flight are abandoned (their messages stay pending in the
   * store for the next start), so this finishes promptly even when a peer hangs.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const fail of [...this.#inFlight]) fail(shuttingDown());
    for (const lane of this.#lanes.values()) if (lane.timer) clearTimeout(lane.timer);
    await this.idle();
  }

  /** Per network: messages waiting, the oldest one's age and whether the queue is stuck. */
  queueHealth(): Partial<Record<Network, QueueHealth>> {
    const now = this.#now();
    const oldest = new Map<Network, { n: number; createdAt: number }>();
    for (const lane of this.#lanes.values()) {
      for (const entry of lane.entries) {
        const network = entry.candidates[0]?.network ?? entry.sourceNetwork;
        const o = oldest.get(network) ?? { n: 0, createdAt: entry.createdAt };
        oldest.set(network, { n: o.n + 1, createdAt: Math.min(o.createdAt, entry.createdAt) });
      }
    }
    const out: Partial<Record<Network, QueueHealth>> = {};
    for (const network of this.#connectors.keys()) {
      const o = oldest.get(network);
      const age = o ? Math.max(0, now - o.createdAt) : 0;
      const sinceProgress = now - (this.#lastProgress.get(network) ?? 0);
      const stuck = age > this.#stuckAfterMs && sinceProgress > this.#stuckAfterMs;
      out[network] = { pending: o?.n ?? 0, oldestPendingMs: age, stuck };
    }
    return out;
  }

  /**
   * A message delivered earlier was bounced by the destination (an XMPP error stanza after
   * the server took it): it is dead-lettered and its sender told.
   */
  async bounced(entry: OutboxEntry): Promise<void> {
    await this.#deadLetter(entry, 'refused');
  }

  /**
   * Puts a just-stored message straight into its lane, without reading the store back, when
   * the lanes are known to hold everything pending before it; otherwise a pass over the store
   * places it in order.
   */
  #admit(entry: OutboxEntry): void {
    if (this.#stopped) return;
    if (this.#loading) {
      // Placed once the pass ends (which may have read it already: it is placed once).
      this.#admitLater.push(entry);
      return;
    }
    if (!this.#storeInMemory) {
      this.flush();
      return;
    }
    const lane = this.#lanes.get(entry.targetKey);
    // A full lane reads its next messages from the store as it empties (#refill).
    if (lane?.overflow) return;
    this.#place(entry);
    const placed = this.#lanes.get(entry.targetKey);
    if (placed) this.#kick(placed);
  }

  /** Reads a full lane's next messages from the store once it has room for them. */
  async #refill(lane: Lane): Promise<void> {
    const last = lane.entries[lane.entries.length - 1];
    if (lane.refilling) return;
    if (!last) {
      this.flush();
      return;
    }
    lane.refilling = true;
    try {
      const room = LANE_LIMIT - lane.entries.length;
      const rows = await this.#opts.store.pendingFor(lane.key, room, last);
      lane.overflow = rows.length >= room;
      for (const entry of rows) this.#place(entry);
    } catch (err) {
      this.#opts.logger.error({ err }, 'reading queued messages failed');
    } finally {
      lane.refilling = false;
    }
    this.#kick(lane);
  }

  /** Reads pending messages (keyset pages, bounded) into lanes, then starts lanes. */
  async #load(): Promise<void> {
    const { store, metrics } = this.#opts;
    // Lanes learn again below whether the store holds more than they do.
    for (const lane of this.#lanes.values()) lane.overflow = false;
    let after: OutboxEntry | undefined;
    let complete = false;
    for (let scanned = 0; scanned < SCAN_LIMIT && !this.#stopped;) {
      const page = await store.pending(SCAN_PAGE, after);
      for (const entry of page) this.#place(entry);
      scanned += page.length;
      if (page.length < SCAN_PAGE) {
        complete = true;
        break;
      }
      after = page[page.length - 1];
    }
    this.#storeInMemory = complete;
    for (const lane of this.#lanes.values()) this.#kick(lane);
    this.#retryNotices();
    metrics.setPending(await store.pendingCount());
  }

  #place(entry: OutboxEntry): void {
    if (this.#known.has(entry.id)) return;
    let lane = this.#lanes.get(entry.targetKey);
    if (!lane) {
      lane = {
        key: entry.targetKey,
        entries: [],
        inFlight: new Set(),
        overflow: false,
        refilling: false,
        failures: 0,
        retryAt: 0,
        timer: undefined,
      };
      this.#lanes.set(entry.targetKey, lane);
    }
    // A full lane takes the rest later, in order, once it has room again.
    if (lane.entries.length >= LANE_LIMIT) {
      lane.overflow = true;
      return;
    }
    // In acceptance order; a message stamped earlier but stored later (its route lookup took
    // longer) goes before the later ones that have not started yet.
    let at = lane.entries.length;
    while (at > 0) {
      const before = lane.entries[at - 1]!;
      if (lane.inFlight.has(before.id) || before.createdAt <= entry.createdAt) break;
      at -= 1;
    }
    lane.entries.splice(at, 0, entry);
    this.#known.add(entry.id);
  }

  /** Starts deliveries in order until the lane's window is full, unless it waits out a backoff. */
  #kick(lane: Lane): void {
    if (this.#stopped || lane.entries.length === 0) return;
    const wait = lane.retryAt - this.#now();
    if (wait > 0) {
      lane.timer ??= setTimeout(() => {
        lane.timer = undefined;
        this.#kick(lane);
      }, wait);
      lane.timer.unref?.();
      return;
    }
    const network = lane.entries[0]!.candidates[0]?.network;
    const window = network ? DELIVERY_WINDOW[network] : 1;
    // Nothing to start (a window as large as the lane is often all in flight): no scan.
    if (lane.inFlight.size >= Math.min(window, lane.entries.length)) return;
    for (const entry of lane.entries) {
      if (lane.inFlight.size >= window) break;
      if (lane.inFlight.has(entry.id)) continue;
      lane.inFlight.add(entry.id);
      const run = this.#attempt(lane, entry);
      this.#running.add(run);
      void run.finally(() => this.#running.delete(run));
    }
  }

  /** One delivery attempt of one lane entry, then what its outcome means for the lane. */
  async #attempt(lane: Lane, entry: OutboxEntry): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.#deliverOne(entry);
    } catch (err) {
      // The store failed: keep the message and try again later.
      this.#opts.logger.error({ err }, 'delivery bookkeeping failed');
      outcome = 'retry';
    }
    lane.inFlight.delete(entry.id);
    if (outcome === 'done') {
      const at = lane.entries.indexOf(entry);
      if (at >= 0) lane.entries.splice(at, 1);
      this.#known.delete(entry.id);
      lane.failures = 0;
    } else if (outcome === 'retry') {
      lane.failures += 1;
      const backoff = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** (lane.failures - 1));
      lane.retryAt = this.#now() + backoff;
    }
    if (lane.entries.length === 0 && lane.inFlight.size === 0) {
      if (this.#lanes.get(lane.key) === lane && !lane.overflow) this.#lanes.delete(lane.key);
    }
    // The lane left messages in the store when it was full: take them once it has room.
    if (lane.overflow && lane.entries.length <= LANE_LIMIT / 2) {
      const refill = this.#refill(lane);
      this.#running.add(refill);
      void refill.finally(() => this.#running.delete(refill));
    }
    // A message with no network up waits for the next pass (a network coming up flushes).
    if (outcome !== 'waiting') this.#kick(lane);
  }

  /** Tries each candidate in order: delivered, worth retrying later, or no network up. */
  async #deliverOne(entry: OutboxEntry): Promise<Outcome> {
    const { store, metrics, logger } = this.#opts;
    if ((entry.attempts ?? 0) >= MAX_DELIVERY_ATTEMPTS) {
      metrics.failed(entry.candidates[0]?.network ?? entry.sourceNetwork, 'gave-up');
      await this.#deadLetter(entry, 'gave-up');
      return 'done';
    }
    let tried = false;
    for (const to of entry.candidates) {
      const connector = this.#connectors.get(to.network);
      if (!connector || !connector.isUp()) continue;
      tried = true;
      const msg: OutboundMessage = { id: entry.id, from: entry.from, to, payload: entry.payload };
      try {
        // Called at once (no store round trip first), so the lane's window goes out in order.
        const nativeId = await this.#bounded(connector.deliver(msg, senderTarget(entry.from)));
        await store.markDelivered(entry.id, to.network, nativeId ?? undefined);
        this.#lastProgress.set(to.network, this.#now());
        metrics.delivered(to.network, Math.max(0, this.#now() - entry.createdAt) / 1000);
        if (entry.wantsReceipt) await this.#receipt(entry);
        return 'done';
      } catch (err) {
        const code = BridgeError.is(err) ? err.code : 'internal';
        metrics.failed(to.network, code);
        if (BridgeError.is(err, 'delivery-rejected')) {
          await this.#deadLetter(entry, 'refused');
          return 'done';
        }
        if (this.#stopped) return 'waiting';
        await store.recordAttempt(entry.id);
        (entry as { attempts?: number }).attempts = (entry.attempts ?? 0) + 1;
        logger.warn({ err, network: to.network }, 'delivery failed; trying next route or later');
      }
    }
    return tried ? 'retry' : 'waiting';
  }

  /**
   * Settles `attempt` within the delivery timeout, or as soon as the bridge stops. One promise
   * and one timer per attempt; no race against a promise that lives as long as the bridge
   * (each `Promise.race` left a reaction on it, kept until shutdown: memory grew per delivery).
   */
  #bounded<T>(attempt: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#inFlight.delete(fail);
      };
      const fail = (err: unknown): void => {
        done();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new BridgeError('network-unavailable', 'delivery attempt timed out')),
        this.#timeoutMs,
      );
      this.#inFlight.add(fail);
      attempt.then((value) => {
        done();
        resolve(value);
      }, fail);
      if (this.#stopped) fail(shuttingDown());
    });
  }

  /** Marks a message failed, its sender still to be told (durably: see {@link #notifySender}). */
  async #deadLetter(entry: OutboxEntry, reason: NoticeReason): Promise<void> {
    await this.#opts.store.markFailed(entry.id, reason);
    await this.#notifySender(entry, reason);
  }

  async #receipt(entry: OutboxEntry): Promise<void> {
    const connector = this.#connectors.get(entry.sourceNetwork);
    if (!connector?.delivered || !connector.isUp()) return;
    try {
      await this.#bounded(
        connector.delivered(
          entry.from,
          parseRemoteKey(entry.targetKey),
          entry.sourceNativeId,
          entry.payload.kind === 'plaintext',
        ),
      );
    } catch (err) {
      this.#opts.logger.warn({ err }, 'could not send delivery receipt');
    }
  }

  /**
   * Tells the sender of a failed message, from the recipient's ghost. The store keeps the
   * message in a `notify:` state until this succeeds, so a notice the sender's network could
   * not take now (down, timed out, the bridge restarted) is sent by a later pass
   * ({@link #retryNotices}); one refused for good, or failing {@link MAX_NOTICE_ATTEMPTS}
   * times in this process, is given up.
   */
  async #notifySender(entry: OutboxEntry, reason: NoticeReason): Promise<void> {
    const connector = this.#connectors.get(entry.sourceNetwork);
    if (!connector || !connector.isUp() || this.#noticing.has(entry.id)) return;
    this.#noticing.add(entry.id);
    const { store, logger } = this.#opts;
    try {
      const about = parseRemoteKey(entry.targetKey);
      await this.#bounded(connector.notify(entry.from, about, NOTICE_TEXT[reason]));
      await store.markNotified(entry.id);
      this.#noticeFailures.delete(entry.id);
    } catch (err) {
      const failures = (this.#noticeFailures.get(entry.id) ?? 0) + 1;
      this.#noticeFailures.set(entry.id, failures);
      const givingUp =
        !BridgeError.is(err, 'network-unavailable') || failures >= MAX_NOTICE_ATTEMPTS;
      logger.warn({ err, givingUp }, 'could not tell the sender about a failed delivery');
      if (givingUp && !this.#stopped) {
        this.#noticeFailures.delete(entry.id);
        await store.markNotified(entry.id);
      }
    } finally {
      this.#noticing.delete(entry.id);
    }
  }

  /** Sends notices still owed (at most one pass at a time, and one per retry interval). */
  #retryNotices(): void {
    if (this.#stopped || this.#noticePass || this.#now() < this.#nextNoticePass) return;
    this.#nextNoticePass = this.#now() + NOTICE_PASS_MS;
    const pass = (async () => {
      for (const { entry, reason } of await this.#opts.store.noticesDue(NOTICE_PAGE)) {
        if (this.#stopped) return;
        await this.#notifySender(entry, reason);
      }
    })()
      .catch((err: unknown) => this.#opts.logger.error({ err }, 'notice pass failed'))
      .finally(() => {
        this.#running.delete(pass);
        this.#noticePass = undefined;
      });
    this.#noticePass = pass;
    this.#running.add(pass);
  }
}

/**
 * A UUIDv7 (RFC 9562 §5.7) for a message stamped at `ms`: the time first, then random bits.
 * Outbox ids are the store's primary key and the delivered index's key: ids that grow with
 * time are appended to those indexes instead of written into random pages (about half the
 * SQLite work per message). Still unique and unguessable (74 random bits).
 */
export function timeOrderedId(ms: number): string {
  const time = Math.floor(ms).toString(16).padStart(12, '0').slice(-12);
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx: keep from "xxx-yxxx"
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}

function shuttingDown(): BridgeError {
  return new BridgeError('network-unavailable', 'the bridge is shutting down');
}

/** How a sender appears on other networks: as its own address. */
function senderTarget(from: Address): Target {
  return { kind: 'address', address: from };
}
