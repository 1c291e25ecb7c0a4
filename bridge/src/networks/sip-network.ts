import { Messager, Registerer, RegistererState, UserAgent } from 'sip.js';
import type { Message, MessagerOptions } from 'sip.js';
import type { IncomingResponse } from 'sip.js/lib/core/index.js';
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import type { Logger } from '@switchboard/service-kit';
import type { BridgeCore, NetworkConnector } from '../core.js';
import { BridgeError } from '../errors.js';
import type { BridgeMetrics } from '../metrics.js';
import type { Address, OutboundMessage, Target } from '../model.js';
import type { BridgeStore } from '../store/bridge-store.js';
import { SECURITY_HEADER, fromSipMessage, sipStatusFor, toSipMessage } from '../translators/sip.js';
import { remoteKeyFor } from '../addressing.js';

/** How the bridge reaches its SIP proxy: a user agent over WebSocket (RFC 7118). */
export interface SipConfig {
  /** `ws://host:port` (or `wss://`) of the proxy's WebSocket listener. */
  readonly server: string;
  /** The SIP domain; ghosts appear as `sip:<remote key>@<domain>`. */
  readonly domain: string;
  /** The bridge's own user; it registers `sip:<user>@<domain>`. */
  readonly user: string;
  /** Digest password, when the proxy authenticates REGISTER. */
  readonly password?: string | null;
  /** Registration lifetime asked for (s); sip.js refreshes before it runs out. */
  readonly registerExpires: number;
  /** Delay between reconnection attempts after the proxy went away (ms). */
  readonly reconnectDelayMs: number;
}

/** Final responses after which retrying the same MESSAGE later may succeed. */
const RETRYABLE = new Set([408, 480, 500, 502, 503, 504]);

/**
 * The SIP side of the bridge: one registered user agent. MESSAGE requests (RFC 3428) the proxy
 * routes to it are answered 200 only once the core has recorded them; outgoing messages are
 * sent through the proxy. Re-registers on refresh, reconnects and re-registers after the proxy
 * restarts.
 */
export class SipNetwork implements NetworkConnector {
  readonly network = 'sip' as const;
  readonly #config: SipConfig;
  readonly #core: BridgeCore;
  readonly #store: BridgeStore;
  readonly #logger: Logger;
  readonly #metrics: BridgeMetrics;
  #ua: UserAgent | undefined;
  #registerer: Registerer | undefined;
  #registered = false;
  #connected = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<(err?: BridgeError) => void>();

  constructor(
    config: SipConfig,
    deps: { core: BridgeCore; store: BridgeStore; logger: Logger; metrics: BridgeMetrics },
  ) {
    this.#config = config;
    this.#core = deps.core;
    this.#store = deps.store;
    this.#logger = deps.logger.child({ network: 'sip' });
    this.#metrics = deps.metrics;
  }

  /** The address of record the bridge registers. */
  get aor(): string {
    return `sip:${this.#config.user}@${this.#config.domain}`;
  }

  /** Starts the user agent; if the proxy is not there yet, keeps trying in the background. */
  async start(): Promise<void> {
    // sip.js's WebSocket transport uses the browser global; Node 20 has none, `ws` provides it.
    const g = globalThis as { WebSocket?: unknown };
    g.WebSocket ??= WebSocket;
    if (!UserAgent.makeURI(this.aor)) {
      throw new BridgeError('invalid-config', 'SIP user and domain do not form a URI');
    }
    await this.#startUserAgent();
  }

  /**
   * Builds a fresh user agent and registerer and connects. After the proxy went away the
   * whole agent is replaced rather than reconnected: sip.js's transport can stay stuck in
   * "Connecting" after a refused reconnect, while a new agent starts from a clean state.
   */
  async #startUserAgent(): Promise<void> {
    if (this.#stopped) return;
    const uri = UserAgent.makeURI(this.aor)!;
    const ua = new UserAgent({
      uri,
      transportOptions: { server: this.#config.server, connectionTimeout: 5 },
      logBuiltinEnabled: false,
      logLevel: 'error',
      reconnectionAttempts: 0,
      ...(this.#config.password
        ? {
            authorizationUsername: this.#config.user,
            authorizationPassword: this.#config.password,
          }
        : {}),
      delegate: {
        onConnect: () => {
          if (ua !== this.#ua) return;
          this.#connected = true;
          void this.#register();
        },
        onDisconnect: () => {
          if (ua !== this.#ua) return;
          this.#connected = false;
          this.#setRegistered(false);
          this.#settleAll();
          // A proxy shutting down cleanly closes the socket without an error: restart too.
          if (!this.#stopped) {
            this.#logger.warn('SIP proxy connection lost; reconnecting');
            this.#scheduleRestart();
          }
        },
        onMessage: (message: Message) => {
          void this.#onMessage(message);
        },
        onInvite: (invitation) => {
          void invitation.reject({ statusCode: 488 });
        },
      },
    });
    const registerer = new Registerer(ua, { expires: this.#config.registerExpires });
    registerer.stateChange.addListener((state) => {
      if (ua !== this.#ua) return;
      this.#setRegistered(state === RegistererState.Registered);
      const expiresAt =
        state === RegistererState.Registered
          ? Date.now() + this.#config.registerExpires * 1000
          : null;
      this.#store
        .saveRegistration('sip', this.aor, state, expiresAt)
        .catch((err: unknown) => this.#logger.warn({ err }, 'could not record registration'));
      if (state === RegistererState.Registered) this.#core.flush();
    });
    this.#ua = ua;
    this.#registerer = registerer;
    try {
      await ua.start();
    } catch (err) {
      this.#logger.warn({ err }, 'SIP proxy not reachable; retrying');
      this.#scheduleRestart();
    }
  }

  /** Unregisters (best effort) and stops. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    const ua = this.#ua;
    if (!ua) return;
    try {
      if (this.#registered) await this.#registerer?.unregister();
    } catch (err) {
      this.#logger.debug({ err }, 'unregister failed');
    }
    try {
      await ua.stop();
    } catch (err) {
      this.#logger.debug({ err }, 'sip stop');
    }
    this.#setRegistered(false);
    this.#settleAll();
  }

  isUp(): boolean {
    return this.#connected && this.#registered;
  }

  async deliver(msg: OutboundMessage, sender: Target): Promise<void> {
    const out = toSipMessage(msg, sender, this.#config.domain);
    await this.#send(out.targetUri, out.fromUri, out.contentType, out.body, out.extraHeaders);
  }

  async notify(to: Address, about: Target, text: string): Promise<void> {
    const fromUri = `sip:${remoteKeyFor(about)}@${this.#config.domain}`;
    await this.#send(
      `sip:${to.id}`,
      fromUri,
      'text/plain;charset=utf-8',
      `[switchboard bridge] ${text}`,
      [],
    );
  }

  #send(
    targetUri: string,
    fromUri: string,
    contentType: string,
    body: string,
    headers: readonly string[],
  ): Promise<void> {
    const ua = this.#ua;
    const target = UserAgent.makeURI(targetUri);
    if (!ua || !this.isUp()) {
      return Promise.reject(
        new BridgeError('network-unavailable', 'not registered with the SIP proxy'),
      );
    }
    if (!target) return Promise.reject(new BridgeError('invalid-address', 'not a SIP URI'));
    return new Promise<void>((resolve, reject) => {
      const messager = new Messager(ua, target, body, contentType, {
        extraHeaders: [...headers],
        params: { fromUri, callId: ownCallId() } as MessagerOptions['params'],
      });
      // sip.js disposes a transaction without calling either delegate when its agent is
      // replaced: every send is settled from here too, when the agent goes (see #settleAll).
      const settle = (err?: BridgeError): void => {
        this.#inFlight.delete(settle);
        if (err) reject(err);
        else resolve();
      };
      this.#inFlight.add(settle);
      const onReject = (response: IncomingResponse): void => {
        const code = response.message.statusCode ?? 0;
        this.#logger.debug({ status: code }, 'SIP MESSAGE refused');
        settle(
          RETRYABLE.has(code)
            ? new BridgeError('network-unavailable', 'the SIP recipient is not reachable now')
            : new BridgeError('delivery-rejected', 'the SIP recipient refused the message'),
        );
      };
      // Only a final 2xx counts as delivered.
      messager
        .message({ requestDelegate: { onAccept: () => settle(), onReject } })
        .catch((err: unknown) =>
          settle(new BridgeError('network-unavailable', 'SIP send failed', { cause: err })),
        );
    });
  }

  /** Fails every send still waiting for an answer (the agent they went through is gone). */
  #settleAll(): void {
    for (const settle of [...this.#inFlight]) {
      settle(new BridgeError('network-unavailable', 'the SIP proxy connection was lost'));
    }
  }

  async #register(): Promise<void> {
    await this.#dropStaleBindings();
    try {
      await this.#registerer?.register({
        requestDelegate: {
          onReject: (response) => {
            this.#logger.warn({ status: response.message.statusCode }, 'SIP registration refused');
          },
        },
      });
    } catch (err) {
      this.#logger.warn({ err }, 'SIP registration failed');
    }
  }

  /**
   * Removes every binding of the bridge's address of record (`Contact: *`) before
   * registering, so contacts an earlier agent or process left behind do not pile up at the
   * proxy. Waits for the answer (bounded); a refusal is only logged.
   */
  async #dropStaleBindings(): Promise<void> {
    const registerer = this.#registerer;
    if (!registerer) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      registerer
        .unregister({ all: true, requestDelegate: { onAccept: done, onReject: done } })
        .catch((err: unknown) => {
          this.#logger.debug({ err }, 'could not remove earlier registrations');
          done();
        });
    });
  }

  #scheduleRestart(): void {
    if (this.#stopped || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      const old = this.#ua;
      this.#ua = undefined;
      this.#settleAll();
      void (async () => {
        try {
          await old?.stop();
        } catch (err) {
          this.#logger.debug({ err }, 'stopping the old SIP agent failed');
        }
        await this.#startUserAgent();
      })();
    }, this.#config.reconnectDelayMs);
  }

  #setRegistered(up: boolean): void {
    this.#registered = up;
    this.#metrics.setUp('sip', this.isUp());
  }

  async #onMessage(message: Message): Promise<void> {
    const req = message.request;
    try {
      let inbound;
      try {
        inbound = fromSipMessage({
          fromUri: req.from.uri.toString(),
          toUri: req.to.uri.toString(),
          contentType: req.getHeader('Content-Type'),
          body: req.body,
          callId: req.callId,
          cseq: req.cseq,
        });
      } catch (err) {
        if (BridgeError.is(err)) this.#metrics.failed('sip', err.code);
        throw err;
      }
      await this.#core.accept('sip', inbound);
      // The sender's side is told a plaintext message went through the bridge in the clear.
      await message.accept({
        statusCode: 200,
        ...(inbound.payload.kind === 'plaintext'
          ? { extraHeaders: [`${SECURITY_HEADER}: end-to-bridge`] }
          : {}),
      });
    } catch (err) {
      const bridgeErr = BridgeError.is(err)
        ? err
        : new BridgeError('network-unavailable', 'internal bridge error');
      if (!BridgeError.is(err))
        this.#logger.error({ err }, 'unexpected failure handling a MESSAGE');
      const { code, reason } = sipStatusFor(bridgeErr);
      const retryAfter = bridgeErr.retryAfterSeconds;
      await message
        .reject({
          statusCode: code,
          reasonPhrase: reason,
          ...(retryAfter !== undefined
            ? { extraHeaders: [`Retry-After: ${Math.max(1, Math.ceil(retryAfter))}`] }
            : {}),
        })
        .catch((e: unknown) => this.#logger.debug({ err: e }, 'could not answer a MESSAGE'));
    }
  }
}

/**
 * A Call-ID for a MESSAGE the bridge sends. sip.js answers 482 (Loop Detected) to any request
 * without a To tag whose Call-ID starts with the agent's own 5-character id, i.e. to every
 * request it generated itself. A message for a SIP address that is itself one of the bridge's
 * ghosts (`sip:xmpp_bob=40xmpp.example@sip.example`) comes back to this very agent through the
 * proxy and must be taken, so the bridge picks its own Call-IDs: `sb-` never starts a sip.js id
 * (those are alphanumeric).
 */
function ownCallId(): string {
  return `sb-${randomUUID()}`;
}
