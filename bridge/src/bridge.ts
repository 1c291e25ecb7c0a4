import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import express from 'express';
import type { Application, ErrorRequestHandler } from 'express';
import type { Database } from '@switchboard/db';
import type { Logger, RunningHttpServer } from '@switchboard/service-kit';
import { listenHttp, listenMetrics, withSecurityHeaders } from '@switchboard/service-kit';
import { BridgeCore } from './core/core.js';
import type { NetworkConnector, QueueHealth } from './core/core.js';
import type { BridgeConfig } from './config.js';
import { BridgeMetrics } from './core/metrics.js';
import type { Address, Network, Target } from './model/model.js';
import { XmppNetwork } from './networks/xmpp-network.js';
import type { XmppSideEvents } from './networks/xmpp-network.js';
import { SipNetwork } from './networks/sip/sip-network.js';
import { MatrixNetwork } from './networks/matrix-network.js';
import type { MatrixSideEvents } from './networks/matrix-network.js';
import type { Resolver } from './routing/routing.js';
import { BridgeStore } from './store/bridge-store.js';

const PRUNE_EVERY_MS = 10 * 60 * 1000;
const KEEP_DONE_MS = 24 * 60 * 60 * 1000;
/** How long disconnecting the networks may take when the bridge stops. */
const STOP_NETWORKS_MS = 3000;

/** Waits for `work`, but no longer than `ms` (then calls `late` and resolves). */
async function within(ms: number, work: Promise<unknown>, late: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      late();
      resolve();
    }, ms);
  });
  await Promise.race([work.then(() => undefined), timeout]);
  clearTimeout(timer);
}

/** What a bridge needs besides its config. */
export interface BridgeDeps {
  readonly database: Database<unknown>;
  readonly resolver: Resolver;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * The last handler of the HTTP app. matrix-appservice parses JSON bodies before any route (and
 * before the token check), and express's own handler would answer a body that is not JSON with
 * an HTML page holding the stack trace and print it: anyone reaching the port could. Answered
 * instead as the Application Service API answers errors (`errcode`, `error`), without detail.
 */
function httpErrors(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = err as { type?: unknown; status?: unknown } | null;
    if (e?.type === 'entity.parse.failed') {
      res.status(400).json({ errcode: 'M_NOT_JSON', error: 'the body is not valid JSON' });
    } else if (e?.type === 'entity.too.large') {
      res.status(413).json({ errcode: 'M_TOO_LARGE', error: 'the body is too large' });
    } else if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(e.status).json({ errcode: 'M_UNKNOWN', error: 'the request could not be read' });
    } else {
      logger.error({ err }, 'HTTP request failed');
      res.status(500).json({ errcode: 'M_UNKNOWN', error: 'internal error' });
    }
  };
}

/** Health as the `/health` endpoint reports it. */
export interface BridgeHealth {
  /** False when any network is disconnected or its queue is stuck. */
  readonly ok: boolean;
  /** Per network: connected (and registered) and its queue moving. */
  readonly networks: Readonly<Partial<Record<Network, boolean>>>;
  /** Messages waiting in the store. */
  readonly pending: number;
  /** Per network: connection and queue state, with the oldest waiting message's age. */
  readonly queues: Readonly<Partial<Record<Network, NetworkHealth>>>;
}

/** One network's part of {@link BridgeHealth}. */
export interface NetworkHealth extends QueueHealth {
  readonly connected: boolean;
}

/**
 * A running bridge: the core plus one connector per configured network. Build with
 * {@link SwitchboardBridge.create}, then {@link SwitchboardBridge.start}.
 */
export class SwitchboardBridge {
  readonly core: BridgeCore;
  readonly store: BridgeStore;
  readonly metrics: BridgeMetrics;
  readonly xmpp: XmppNetwork | undefined;
  readonly sip: SipNetwork | undefined;
  readonly matrix: MatrixNetwork | undefined;
  readonly #config: BridgeConfig;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #http: RunningHttpServer | undefined;
  #metricsHttp: RunningHttpServer | undefined;
  #stopped: Promise<void> | undefined;

  private constructor(config: BridgeConfig, store: BridgeStore, deps: BridgeDeps) {
    this.#config = config;
    this.#logger = deps.logger;
    this.store = store;
    this.metrics = new BridgeMetrics();
    this.core = new BridgeCore({
      store,
      resolver: deps.resolver,
      metrics: this.metrics,
      logger: deps.logger,
      plaintextRelay: config.plaintextRelay,
      rateLimit: config.rateLimit,
      deliveryTimeoutMs: config.deliveryTimeoutMs,
      stuckAfterMs: config.stuckAfterMs,
      ...(deps.now ? { now: deps.now } : {}),
    });
    const shared = { core: this.core, store, logger: deps.logger, metrics: this.metrics };
    const typing = (from: Address, target: Target, isTyping: boolean): void =>
      this.#relayTyping(from, target, isTyping);
    const xmppEvents: XmppSideEvents = {
      typing,
      presence: (from, available) => this.#relayPresence(from, available),
      displayed: (from, _target, stanzaId) => this.#relayRead('xmpp', from, stanzaId),
    };
    const matrixEvents: MatrixSideEvents = {
      typing,
      presence: (from, remotes, available) => this.#relayMatrixPresence(from, remotes, available),
      read: (from, eventId) => this.#relayRead('matrix', from, eventId),
    };
    this.xmpp = config.xmpp
      ? new XmppNetwork(config.xmpp, { ...shared, events: xmppEvents })
      : undefined;
    this.sip = config.sip ? new SipNetwork(config.sip, shared) : undefined;
    this.matrix = config.matrix
      ? new MatrixNetwork(config.matrix, { ...shared, events: matrixEvents })
      : undefined;
    for (const c of this.#connectors()) this.core.register(c);
  }

  /** Opens the store (migrating it) and builds the networks the config names. */
  static async create(config: BridgeConfig, deps: BridgeDeps): Promise<SwitchboardBridge> {
    const store = await BridgeStore.open(deps.database.db, deps.database.dialect, deps.now);
    return new SwitchboardBridge(config, store, deps);
  }

  /** Connects every network and starts delivering what earlier runs left pending. */
  async start(): Promise<void> {
    this.#http = await listenHttp(
      createServer(withSecurityHeaders(this.#httpListener())),
      this.#config.http.host,
      this.#config.http.port,
    );
    const { http } = this.#config;
    const at = this.#config.metrics ?? { host: '127.0.0.1', port: http.port === 0 ? 0 : 9001 };
    const source = {
      contentType: this.metrics.registry.contentType,
      metrics: () => this.metrics.render(),
    };
    this.#metricsHttp = await listenMetrics(source, at.host, at.port, (err) =>
      this.#logger.warn({ err }, 'metrics could not be collected'),
    );
    await Promise.all([this.xmpp?.start(), this.sip?.start(), this.matrix?.start()]);
    let lastPrune = 0;
    this.#timer = setInterval(() => {
      this.core.flush();
      // Delivered and failed messages are kept a day (read markers refer to them), then go.
      const now = Date.now();
      if (now - lastPrune > PRUNE_EVERY_MS) {
        lastPrune = now;
        this.store
          .prune(now - KEEP_DONE_MS)
          .catch((err: unknown) => this.#logger.warn({ err }, 'outbox prune failed'));
      }
    }, this.#config.retryIntervalMs);
    this.#timer.unref();
    this.core.flush();
  }

  /** Stops delivering, disconnects every network; idempotent. */
  stop(): Promise<void> {
    return (this.#stopped ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      // Bounded throughout: what is not delivered stays pending in the store for next start.
      await this.core.stop();
      await this.#http?.close(2000);
      await this.#metricsHttp?.close(2000);
      const networks = Promise.all([this.xmpp?.stop(), this.sip?.stop(), this.matrix?.stop()]);
      await within(STOP_NETWORKS_MS, networks, () =>
        this.#logger.warn('a network did not disconnect in time; stopping anyway'),
      );
    })());
  }

  /** Where the application-service endpoint and `/health` listen. */
  get httpUrl(): string {
    if (!this.#http) throw new Error('bridge not started');
    return this.#http.url;
  }

  /** `http://host:port/metrics` (Prometheus), a listener of its own. */
  get metricsUrl(): string {
    if (!this.#metricsHttp) throw new Error('bridge not started');
    return `${this.#metricsHttp.url}/metrics`;
  }

  /**
   * One HTTP listener: the Application Service API when Matrix is configured (its transaction
   * pushes served without express), plus `/health` (200 when every network is connected, 503
   * otherwise); every response `nosniff`.
   */
  #httpListener(): RequestListener {
    const app = this.#httpApp();
    return this.matrix ? this.matrix.listener(app) : app;
  }

  /** The express app behind the listener. */
  #httpApp(): Application {
    const app = this.matrix?.expressApp ?? express();
    const health = (res: { status(code: number): { json(body: unknown): void } }): void => {
      this.health().then(
        (h) => res.status(h.ok ? 200 : 503).json(h),
        () => res.status(503).json({ ok: false }),
      );
    };
    if (this.matrix) this.matrix.onHealth(health);
    else app.get('/health', (_req, res) => health(res));
    app.use(httpErrors(this.#logger));
    return app;
  }

  /** Connection and queue state of each network and the outbox size. */
  async health(): Promise<BridgeHealth> {
    const networks: Partial<Record<Network, boolean>> = {};
    const queues: Partial<Record<Network, NetworkHealth>> = {};
    const queueHealth = this.core.queueHealth();
    for (const c of this.#connectors()) {
      const queue = queueHealth[c.network] ?? { pending: 0, oldestPendingMs: 0, stuck: false };
      const connected = c.healthy?.() ?? c.isUp();
      networks[c.network] = connected && !queue.stuck;
      queues[c.network] = { connected, ...queue };
    }
    const pending = await this.store.pendingCount();
    return { ok: Object.values(networks).every(Boolean), networks, pending, queues };
  }

  #connectors(): NetworkConnector[] {
    return [this.xmpp, this.sip, this.matrix].filter(
      (c): c is NonNullable<typeof c> => c !== undefined,
    );
  }

  #relayTyping(from: Address, target: Target, typing: boolean): void {
    if (target.kind !== 'address') return;
    const to = target.address;
    const about: Target = { kind: 'address', address: from };
    const send =
      to.network === 'xmpp'
        ? this.xmpp?.typing(to, about, typing)
        : to.network === 'matrix'
          ? this.matrix?.typing(to, about, typing)
          : undefined;
    send?.catch((err: unknown) => this.#logger.debug({ err }, 'typing not relayed'));
  }

  /**
   * A reader on `network` marked as read the message the bridge delivered there under
   * `nativeId`; tell the original sender if their network has read markers (Matrix `m.read`,
   * XMPP XEP-0333). SIP has none.
   */
  #relayRead(network: Network, reader: Address, nativeId: string): void {
    void (async () => {
      const entry = await this.store.findDelivered(network, nativeId);
      if (!entry) return;
      const about: Target = { kind: 'address', address: reader };
      if (entry.sourceNetwork === 'matrix') {
        await this.matrix?.readReceipt(entry.from, about, entry.sourceNativeId);
      } else if (entry.sourceNetwork === 'xmpp') {
        await this.xmpp?.displayed(entry.from, about, entry.sourceNativeId);
      }
    })().catch((err: unknown) => this.#logger.debug({ err }, 'read marker not relayed'));
  }

  /** A Matrix user's presence, as directed presence from their JID to each XMPP party. */
  #relayMatrixPresence(from: Address, remotes: readonly Target[], available: boolean): void {
    const about: Target = { kind: 'address', address: from };
    for (const remote of remotes) {
      if (remote.kind !== 'address' || remote.address.network !== 'xmpp') continue;
      this.xmpp
        ?.presence(remote.address, about, available)
        .catch((err: unknown) => this.#logger.debug({ err }, 'presence not relayed'));
    }
  }

  #relayPresence(from: Address, available: boolean): void {
    // Presence goes only to Matrix ghosts (global presence); XMPP presence is directed and
    // answered per subscription. SIP has no presence in this bridge.
    if (from.network === 'matrix') return;
    this.matrix
      ?.setGhostPresence({ kind: 'address', address: from }, available)
      .catch((err: unknown) => this.#logger.debug({ err }, 'presence not relayed'));
  }
}
