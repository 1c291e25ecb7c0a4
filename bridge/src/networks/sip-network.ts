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
import { ENVELOPE_MEDIA_TYPE } from '../envelope.js';
import type { InboundMessage } from '../model.js';
import {
  DEFAULT_MAX_SIP_BODY,
  FRAGMENT_HEADER,
  FRAGMENT_MEDIA_TYPE,
  MESSAGE_ID_HEADER,
  SECURITY_HEADER,
  fromSipMessage,
  mediaType,
  parseSipFragment,
  sipAddress,
  sipStatusFor,
  toSipMessages,
} from '../translators/sip.js';
import type { SipFragment, SipMessageIn, SipMessageOut } from '../translators/sip.js';
import { FragmentAssembler, sendFragments } from './sip-fragments.js';
import { remoteKeyFor } from '../addressing.js';
import { speedUpSipGrammar } from './sip-grammar.js';

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
  /**
   * Largest MESSAGE body the bridge sends (bytes); a longer envelope goes in fragments. Must
   * leave room for the headers (about 1 KB) within the proxy's TCP read buffer (Kamailio
   * `tcp_rd_buf_size`, 16 KB by default). Default 8192.
   */
  readonly maxBodyBytes?: number | null;
}

/** Fragments of one envelope in flight at once. */
const FRAGMENT_WINDOW = 4;
/** Fragmented messages whose partial progress is remembered between attempts. */
const PROGRESS_KEPT = 1024;

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
  readonly #inFlight = new Set<(err?: BridgeError, status?: number) => void>();
  /** Per fragmented message: fragments acknowledged by an earlier attempt (by index). */
  readonly #progress = new Map<string, Set<number>>();
  readonly #assembler: FragmentAssembler;
  readonly #maxBody: number;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    config: SipConfig,
    deps: { core: BridgeCore; store: BridgeStore; logger: Logger; metrics: BridgeMetrics },
  ) {
    this.#config = config;
    this.#core = deps.core;
    this.#store = deps.store;
    this.#logger = deps.logger.child({ network: 'sip' });
    this.#metrics = deps.metrics;
    this.#maxBody = config.maxBodyBytes ?? DEFAULT_MAX_SIP_BODY;
    this.#assembler = new FragmentAssembler();
  }

  /** Incomplete fragmented messages and characters held now. */
  get fragmentsHeld(): { readonly partials: number; readonly chars: number } {
    return this.#assembler.held;
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
    if (!(await speedUpSipGrammar())) this.#logger.info('sip.js parser used as shipped');
    this.#sweeper = setInterval(() => this.#assembler.sweep(), 5000);
    this.#sweeper.unref();
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
    if (this.#sweeper) clearInterval(this.#sweeper);
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

  /**
   * Sends `msg` as one MESSAGE, or, when its envelope is longer than `maxBodyBytes`, as
   * fragments, {@link FRAGMENT_WINDOW} at a time. Fragments acknowledged in an attempt that
   * then failed are not sent again in the next (a long envelope makes progress even when one
   * attempt cannot carry it all within the delivery timeout). Delivered only when the
   * receiver answered a fragment `200` (it completed the envelope, or had it already); `202`
   * means "held, waiting for the rest". All answered `202` means the receiver lost what it
   * held (it restarted): the next attempt sends every fragment again.
   */
  async deliver(msg: OutboundMessage, sender: Target): Promise<void> {
    const parts = toSipMessages(msg, sender, this.#config.domain, this.#maxBody);
    if (parts.length === 1) {
      await this.#sendOut(parts[0]!);
      return;
    }
    const acked = this.#progress.get(msg.id) ?? new Set<number>();
    this.#progress.delete(msg.id);
    this.#progress.set(msg.id, acked);
    if (this.#progress.size > PROGRESS_KEPT) {
      this.#progress.delete(this.#progress.keys().next().value as string);
    }
    const complete = await sendFragments(parts.length, acked, FRAGMENT_WINDOW, (i) =>
      this.#sendOut(parts[i]!),
    );
    this.#progress.delete(msg.id);
    if (!complete) {
      throw new BridgeError('network-unavailable', 'the SIP recipient lost earlier fragments');
    }
  }

  #sendOut(out: SipMessageOut): Promise<number> {
    return this.#send(out.targetUri, out.fromUri, out.contentType, out.body, out.extraHeaders);
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
  ): Promise<number> {
    const ua = this.#ua;
    const target = UserAgent.makeURI(targetUri);
    if (!ua || !this.isUp()) {
      return Promise.reject(
        new BridgeError('network-unavailable', 'not registered with the SIP proxy'),
      );
    }
    if (!target) return Promise.reject(new BridgeError('invalid-address', 'not a SIP URI'));
    return new Promise<number>((resolve, reject) => {
      const messager = new Messager(ua, target, body, contentType, {
        extraHeaders: [...headers],
        params: { fromUri, callId: ownCallId() } as MessagerOptions['params'],
      });
      // sip.js disposes a transaction without calling either delegate when its agent is
      // replaced: every send is settled from here too, when the agent goes (see #settleAll).
      const settle = (err?: BridgeError, status = 0): void => {
        this.#inFlight.delete(settle);
        if (err) reject(err);
        else resolve(status);
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
        .message({
          requestDelegate: {
            onAccept: (response) => settle(undefined, response.message.statusCode ?? 200),
            onReject,
          },
        })
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
    try {
      const taken = await this.#take(message.request);
      // The sender's side is told a plaintext message went through the bridge in the clear.
      // A fragment held until the rest arrives is answered 202, so the sender can tell it
      // from the one that completed (and was stored with) the envelope.
      await message.accept({
        statusCode: taken === 'held' ? 202 : 200,
        ...(taken === 'plaintext' ? { extraHeaders: [`${SECURITY_HEADER}: end-to-bridge`] } : {}),
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

  /**
   * Translates a MESSAGE and hands it to the core (a fragment to the assembler first: only
   * the one completing an envelope reaches the core). Resolves once it may be answered 200,
   * to the kind of payload taken; throws a {@link BridgeError} to answer with.
   */
  async #take(req: Message['request']): Promise<'envelope' | 'plaintext' | 'held' | 'taken'> {
    let fields: SipMessageIn = {
      fromUri: req.from.uri.toString(),
      toUri: req.to.uri.toString(),
      contentType: req.getHeader('Content-Type'),
      body: req.body,
      callId: req.callId,
      cseq: req.cseq,
      messageId: req.getHeader(MESSAGE_ID_HEADER),
      fragment: req.getHeader(FRAGMENT_HEADER),
    };
    let inbound: InboundMessage;
    let fragment: SipFragment | undefined;
    try {
      if (mediaType(fields.contentType) === FRAGMENT_MEDIA_TYPE) {
        fragment = parseSipFragment(fields);
        const outcome = this.#assembler.add(sipAddress(fields.fromUri).id, fragment);
        if (outcome.kind === 'partial') return 'held';
        if (outcome.kind === 'already-complete') return 'taken';
        fields = { ...fields, contentType: ENVELOPE_MEDIA_TYPE, body: outcome.text };
      }
      inbound = fromSipMessage(fields);
    } catch (err) {
      if (BridgeError.is(err)) this.#metrics.failed('sip', err.code);
      throw err;
    }
    await this.#core.accept('sip', inbound);
    if (fragment) this.#assembler.taken(inbound.from.id, fragment.messageId);
    return inbound.payload.kind;
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
