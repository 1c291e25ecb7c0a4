import { randomUUID } from 'node:crypto';
import type { Logger } from '@switchboard/service-kit';
import { RateLimiter } from '@switchboard/service-kit';
import type { RateLimit } from '@switchboard/service-kit';
import { remoteKeyFor } from './addressing.js';
import { BridgeError } from './errors.js';
import type { BridgeMetrics } from './metrics.js';
import type { Address, InboundMessage, Network, OutboundMessage, Target } from './model.js';
import { routeCandidates } from './routing.js';
import type { Resolver } from './routing.js';
import type { BridgeStore, OutboxEntry } from './store/bridge-store.js';
import { parseRemoteKey } from './addressing.js';

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
  readonly now?: () => number;
}

/** The result of accepting a message: the sender's network may now acknowledge it. */
export interface Accepted {
  readonly id: string;
  readonly duplicate: boolean;
}

/**
 * The network-independent heart of the bridge: checks, routes and durably records each inbound
 * message before the sender's network acknowledges it, then delivers from that record, in
 * order, retrying when a network comes back. Envelopes pass through as opaque bytes.
 */
export class BridgeCore {
  readonly #opts: BridgeCoreOptions;
  readonly #connectors = new Map<Network, NetworkConnector>();
  readonly #limiter: RateLimiter;
  readonly #now: () => number;
  #flushing: Promise<void> | undefined;
  #lastCreatedAt = 0;
  #flushAgain = false;
  #stopped = false;

  constructor(options: BridgeCoreOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
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
      const decision = this.#limiter.take(`${msg.from.network}:${msg.from.id}`);
      if (!decision.allowed) {
        throw new BridgeError(
          'rate-limited',
          `too many messages; retry in ${decision.retryAfterSeconds}s`,
        );
      }
      if (msg.payload.kind === 'plaintext' && !this.#opts.plaintextRelay) {
        throw new BridgeError(
          'plaintext-relay-disabled',
          'this bridge carries only Switchboard end-to-end encrypted messages',
        );
      }
      const candidates = await routeCandidates(msg.target, this.networks, this.#opts.resolver);
      const id = randomUUID();
      const inserted = await this.#opts.store.enqueue({
        id,
        sourceNetwork: network,
        sourceNativeId: msg.nativeId === '' ? id : msg.nativeId,
        from: msg.from,
        targetKey: remoteKeyFor(msg.target),
        candidates,
        payload: msg.payload,
        wantsReceipt: msg.wantsReceipt === true,
        // Strictly increasing, so messages accepted within one millisecond keep their order.
        createdAt: (this.#lastCreatedAt = Math.max(this.#now(), this.#lastCreatedAt + 1)),
      });
      metrics.received(network);
      if (inserted) this.flush();
      return { id, duplicate: !inserted };
    } catch (err) {
      const code = BridgeError.is(err) ? err.code : 'internal';
      metrics.failed(network, code);
      throw err;
    }
  }

  /**
   * Delivers every pending message that can be delivered now, oldest first. Called after each
   * accepted message and whenever a network comes (back) up; concurrent calls coalesce.
   */
  flush(): void {
    if (this.#stopped) return;
    if (this.#flushing) {
      this.#flushAgain = true;
      return;
    }
    this.#flushing = this.#flushLoop().finally(() => {
      this.#flushing = undefined;
      if (this.#flushAgain) {
        this.#flushAgain = false;
        this.flush();
      }
    });
  }

  /** Resolves when no delivery pass is running (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /** Stops delivering; pending messages stay recorded for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.idle();
  }

  async #flushLoop(): Promise<void> {
    const { store, logger, metrics } = this.#opts;
    try {
      const skipped = new Set<string>();
      for (;;) {
        const batch = (await store.pending(200)).filter((e) => !skipped.has(e.id));
        if (batch.length === 0 || this.#stopped) break;
        for (const entry of batch) {
          if (this.#stopped) break;
          const done = await this.#deliverOne(entry);
          if (!done) skipped.add(entry.id);
        }
      }
      metrics.setPending(await store.pendingCount());
    } catch (err) {
      logger.error({ err }, 'delivery pass failed; will retry');
    }
  }

  /** Tries each candidate in order; returns false when the message stays queued. */
  async #deliverOne(entry: OutboxEntry): Promise<boolean> {
    const { store, metrics, logger } = this.#opts;
    const sender = senderTarget(entry.from);
    if ((entry.attempts ?? 0) >= MAX_DELIVERY_ATTEMPTS) {
      await store.markFailed(entry.id);
      metrics.failed(entry.candidates[0]?.network ?? entry.sourceNetwork, 'gave-up');
      await this.#notifySender(entry, 'your message could not be delivered after many attempts');
      return true;
    }
    for (const to of entry.candidates) {
      const connector = this.#connectors.get(to.network);
      if (!connector || !connector.isUp()) continue;
      const msg: OutboundMessage = { id: entry.id, from: entry.from, to, payload: entry.payload };
      try {
        await store.recordAttempt(entry.id);
        const nativeId = await connector.deliver(msg, sender);
        await store.markDelivered(entry.id, to.network, nativeId ?? undefined);
        metrics.delivered(to.network, Math.max(0, this.#now() - entry.createdAt) / 1000);
        if (entry.wantsReceipt) await this.#receipt(entry);
        return true;
      } catch (err) {
        const code = BridgeError.is(err) ? err.code : 'internal';
        metrics.failed(to.network, code);
        if (BridgeError.is(err, 'delivery-rejected')) {
          await store.markFailed(entry.id);
          await this.#notifySender(
            entry,
            'your message could not be delivered: the recipient refused it',
          );
          return true;
        }
        logger.warn({ err, network: to.network }, 'delivery failed; trying next route or later');
      }
    }
    return false;
  }

  async #receipt(entry: OutboxEntry): Promise<void> {
    const connector = this.#connectors.get(entry.sourceNetwork);
    if (!connector?.delivered || !connector.isUp()) return;
    try {
      await connector.delivered(
        entry.from,
        parseRemoteKey(entry.targetKey),
        entry.sourceNativeId,
        entry.payload.kind === 'plaintext',
      );
    } catch (err) {
      this.#opts.logger.warn({ err }, 'could not send delivery receipt');
    }
  }

  async #notifySender(entry: OutboxEntry, text: string): Promise<void> {
    const connector = this.#connectors.get(entry.sourceNetwork);
    if (!connector) return;
    try {
      await connector.notify(entry.from, parseRemoteKey(entry.targetKey), text);
    } catch (err) {
      this.#opts.logger.warn({ err }, 'could not tell the sender about a failed delivery');
    }
  }
}

/** How a sender appears on other networks: as its own address. */
function senderTarget(from: Address): Target {
  return { kind: 'address', address: from };
}
