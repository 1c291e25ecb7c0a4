import type { Application, Response } from 'express';
import type { RequestListener } from 'node:http';
import { AppServiceRegistration } from 'matrix-appservice-bridge';
import type { Logger } from '@switchboard/service-kit';
import { remoteKeyFor, parseRemoteKey } from '../routing/addressing.js';
import type { BridgeCore, NetworkConnector } from '../core/core.js';
import { BridgeError } from '../model/errors.js';
import type { BridgeMetrics } from '../core/metrics.js';
import type { Address, InboundMessage, OutboundMessage, Target } from '../model/model.js';
import type { BridgeStore, PortalRecord } from '../store/bridge-store.js';
import type { GhostNaming, MatrixEvent, MatrixInbound, PortalInfo } from '../translators/matrix.js';
import {
  ENVELOPE_EVENT_TYPE,
  MATRIX_ERRORS,
  MESSAGE_ID_KEY,
  SECURITY_KEY,
  bridgeStateEvent,
  fromMatrixEvent,
  ghostDisplayName,
  ghostUserId,
  toMatrixEvent,
  toMatrixNotice,
} from '../translators/matrix.js';
import { presenceCommand } from './xmpp-network.js';
import { MatrixClient, MatrixHttpError } from './matrix-client.js';
import { appServiceEndpoint } from './matrix-endpoint.js';
import { transactionListener } from './matrix-transactions.js';

/** How the bridge runs as a Matrix application service. */
export interface MatrixConfig {
  /** Client-Server API base URL of the homeserver. */
  readonly homeserverUrl: string;
  /** The homeserver's server name (the part after `:` in user ids). */
  readonly domain: string;
  /** Registration id. */
  readonly id: string;
  /** Token the bridge presents to the homeserver. */
  readonly asToken: string;
  /** Token the homeserver presents to the bridge. */
  readonly hsToken: string;
  /** The bridge bot's localpart (registration `sender_localpart`). */
  readonly senderLocalpart: string;
  /** Ghost localparts start with this; the namespace `@<prefix>.*:<domain>` is exclusive. */
  readonly ghostPrefix: string;
  /** How often an unreachable homeserver is probed again (ms). */
  readonly probeIntervalMs: number;
  /**
   * How long an event failing transiently (homeserver 5xx/unreachable, database) holds its
   * transaction back (answered 5xx, retried by the homeserver) before it is given up (ms).
   */
  readonly eventRetryBudgetMs: number;
}

/** Cross-network events the Matrix side raises besides messages. */
export interface MatrixSideEvents {
  typing?(from: Address, target: Target, typing: boolean): void;
  /** The Matrix user read the event the bridge delivered with this event id. */
  read?(from: Address, eventId: string): void;
  /** A Matrix user with portals changed presence (already filtered by the opt-out). */
  presence?(from: Address, remotes: readonly Target[], available: boolean): void;
}

/** How long processed event ids are remembered (a homeserver retrying longer re-delivers). */
export const MATRIX_EVENT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** At most this many processed event ids are remembered. */
export const MAX_REMEMBERED_EVENTS = 200_000;
const PRUNE_SEEN_EVERY_MS = 10 * 60 * 1000;
const MAX_TRACKED_FAILURES = 1000;
/** How many of a new portal's latest events are read for messages sent before the join. */
export const BACKFILL_LIMIT = 100;
/** How many of a portal's latest events are searched for a send whose answer was lost. */
const LOOKBACK_LIMIT = 50;

/** Failures that may pass: the homeserver unreachable, 5xx or 429, or our own database. */
function isTransient(err: unknown): boolean {
  if (err instanceof MatrixHttpError) return err.status >= 500 || err.status === 429;
  if (BridgeError.is(err)) return err.code === 'network-unavailable';
  return true;
}

function failureCode(err: unknown): string {
  if (err instanceof MatrixHttpError) return `homeserver-${err.status}`;
  return BridgeError.is(err) ? err.code : 'internal';
}

/**
 * The `url` a registration should carry: without a path of its own (a reverse proxy's prefix
 * is kept, a trailing `/_matrix/app/v1` is dropped). Homeservers before Synapse 1.81 call
 * `<url>/transactions/...`, those since mid-2023 only `<url>/_matrix/app/v1/transactions/...`;
 * the bridge serves both (see {@link appServicePaths}), so this one form works with either.
 */
export function registrationUrl(url: string): string {
  const u = new URL(url);
  u.pathname = u.pathname.replace(/\/+$/, '').replace(/\/_matrix\/app\/v1$/, '') || '/';
  return u.toString().replace(/\/$/, '');
}

/**
 * The registration file for a homeserver (Application Service API §Registration): exclusive
 * user and alias namespaces for ghosts, ephemeral events (typing, receipts) pushed, and the
 * `url` in the form every homeserver version reaches ({@link registrationUrl}).
 */
export function buildRegistration(config: MatrixConfig, url: string): AppServiceRegistration {
  const reg = new AppServiceRegistration(registrationUrl(url));
  reg.setId(config.id);
  reg.setAppServiceToken(config.asToken);
  reg.setHomeserverToken(config.hsToken);
  reg.setSenderLocalpart(config.senderLocalpart);
  reg.setRateLimited(false);
  reg.setProtocols(['switchboard']);
  const domain = config.domain.replace(/[.]/g, '\\.');
  reg.addRegexPattern('users', `@${config.ghostPrefix}.*:${domain}`, true);
  reg.addRegexPattern('aliases', `#${config.ghostPrefix}.*:${domain}`, true);
  reg.pushEphemeral = true;
  return reg;
}

/**
 * The Matrix side of the bridge: an application service with ghosts for remote users in an
 * exclusive namespace and one portal room per conversation, created on demand.
 */
export class MatrixNetwork implements NetworkConnector {
  readonly network = 'matrix' as const;
  readonly client: MatrixClient;
  readonly #config: MatrixConfig;
  readonly #core: BridgeCore;
  readonly #store: BridgeStore;
  readonly #logger: Logger;
  readonly #metrics: BridgeMetrics;
  readonly #events: MatrixSideEvents;
  readonly #naming: GhostNaming;
  readonly #app: Application;
  #healthHandler: (res: Response) => void = (res) => res.send('OK');
  #up = false;
  #stopped = false;
  #probe: NodeJS.Timeout | undefined;
  /** Transactions are processed one after another (a retry may overlap the first try). */
  #transactions: Promise<void> = Promise.resolve();
  /** While a transaction is processed: its messages being stored, by event id. */
  #accepting: Map<string, Promise<boolean>> | undefined;
  #lastPrune = 0;
  #transactionFailing = false;
  /** Events whose processing failed transiently: event id -> first failure (ms). */
  readonly #failing = new Map<string, number>();
  /** Messages whose last send got no answer or a 5xx: they may have been posted. */
  readonly #uncertain = new Set<string>();
  /** Portals already told (since this start) that their plaintext is end-to-bridge. */
  readonly #toldEndToBridge = new Set<string>();

  constructor(
    config: MatrixConfig,
    deps: {
      core: BridgeCore;
      store: BridgeStore;
      logger: Logger;
      metrics: BridgeMetrics;
      events?: MatrixSideEvents;
      fetch?: typeof fetch;
    },
  ) {
    this.#config = config;
    this.#core = deps.core;
    this.#store = deps.store;
    this.#logger = deps.logger.child({ network: 'matrix' });
    this.#metrics = deps.metrics;
    this.#events = deps.events ?? {};
    this.#naming = { prefix: config.ghostPrefix, domain: config.domain };
    this.client = new MatrixClient(config.homeserverUrl, config.asToken, deps.fetch);
    this.#app = appServiceEndpoint(config.hsToken, {
      transaction: (_txnId, body) => this.#onTransaction(body),
      userExists: (userId) => this.#userExists(userId),
      health: (res) => this.#healthHandler(res),
    });
  }

  /** The express app serving the Application Service API (mount health/metrics on it too). */
  get expressApp(): Application {
    return this.#app;
  }

  /**
   * The HTTP listener to serve: transaction pushes answered on the bare listener
   * (matrix-transactions.ts), everything else through `app` (this network's express app with
   * whatever the service mounted on it).
   */
  listener(app: RequestListener): RequestListener {
    return transactionListener(
      this.#config.hsToken,
      (_txnId, body) => this.#onTransaction(body),
      app,
    );
  }

  /** Lets the service answer `/health` on this app. */
  onHealth(handler: (res: { status(code: number): { json(body: unknown): void } }) => void): void {
    this.#healthHandler = (res) =>
      handler(res as unknown as { status(code: number): { json(body: unknown): void } });
  }

  /** The bridge bot's user id. */
  get botUserId(): string {
    return `@${this.#config.senderLocalpart}:${this.#config.domain}`;
  }

  async start(): Promise<void> {
    await this.#probeHomeserver();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#probe) clearTimeout(this.#probe);
    this.#setUp(false);
  }

  isUp(): boolean {
    return this.#up;
  }

  async deliver(msg: OutboundMessage, sender: Target): Promise<string> {
    return this.#guard(async () => {
      const ghost = await this.#ensureGhost(sender);
      const portal = await this.#portalFor(msg.to.id, sender, ghost);
      try {
        return await this.#send(msg, ghost, portal);
      } catch (err) {
        // The ghost is no longer in the portal (removed while the bridge did not hear of it):
        // forget that room and open a new portal rather than give the message up.
        if (!(err instanceof MatrixHttpError) || err.status !== 403) throw err;
        this.#logger.info('ghost not in its portal; opening a new one');
        await this.#store.deletePortal(portal.roomId);
        return this.#send(msg, ghost, await this.#portalFor(msg.to.id, sender, ghost));
      }
    });
  }

  /**
   * Posts one message. The bridge's message id is the Client-Server transaction id, so a retry
   * after a lost answer is de-duplicated by the homeserver, but only while it remembers the id
   * (Synapse forgets them when it restarts). So the id also travels in the content, and a send
   * whose outcome is unknown (no answer, or 5xx) is looked for in the portal before it is
   * repeated.
   */
  async #send(msg: OutboundMessage, ghost: string, portal: PortalRecord): Promise<string> {
    if (this.#uncertain.delete(msg.id)) {
      const recent = await this.client.recentEvents(ghost, portal.roomId, LOOKBACK_LIMIT);
      const posted = recent.find(
        (e) =>
          e['sender'] === ghost &&
          (e['content'] as Record<string, unknown> | undefined)?.[MESSAGE_ID_KEY] === msg.id,
      );
      if (typeof posted?.['event_id'] === 'string') return posted['event_id'];
    }
    const event = toMatrixEvent(msg);
    try {
      return await this.client.sendEvent(ghost, portal.roomId, event.type, msg.id, event.content);
    } catch (err) {
      if (!(err instanceof MatrixHttpError) || err.status >= 500) {
        if (this.#uncertain.size >= MAX_TRACKED_FAILURES) this.#uncertain.clear();
        this.#uncertain.add(msg.id);
      }
      throw err;
    }
  }

  /** Marks an event read by a remote user (the ghost's `m.read` receipt). */
  async readReceipt(to: Address, about: Target, eventId: string): Promise<void> {
    const portal = await this.#store.portalFor(to.id, remoteKeyFor(about));
    if (!portal || !this.#up) return;
    await this.#guard(() =>
      this.client.sendReadReceipt(ghostUserId(about, this.#naming), portal.roomId, eventId),
    );
  }

  async notify(to: Address, about: Target, text: string): Promise<void> {
    await this.#guard(async () => {
      const ghost = await this.#ensureGhost(about);
      const portal = await this.#portalFor(to.id, about, ghost);
      const notice = toMatrixNotice(text);
      await this.client.sendEvent(
        ghost,
        portal.roomId,
        notice.type,
        `notice-${Date.now()}-${Math.random()}`,
        notice.content,
      );
    });
  }

  /** Shows a remote user typing in the portal, if there is one. */
  async typing(to: Address, about: Target, typing: boolean): Promise<void> {
    const portal = await this.#store.portalFor(to.id, remoteKeyFor(about));
    if (!portal || !this.#up) return;
    await this.#guard(() =>
      this.client.setTyping(ghostUserId(about, this.#naming), portal.roomId, typing),
    );
  }

  /** Sets a ghost's presence (only for ghosts that exist). */
  async setGhostPresence(about: Target, online: boolean): Promise<void> {
    const ghost = ghostUserId(about, this.#naming);
    if (!this.#up || !(await this.#store.hasGhost(ghost))) return;
    await this.#guard(() => this.client.setPresence(ghost, online));
  }

  /**
   * One homeserver transaction, processed after the ones before it. Its id is not used:
   * homeservers reuse ids (Synapse on SQLite numbers them from 1 again after a restart), so a
   * transaction seen "again" may carry new events. Room events are de-duplicated by event id
   * instead (remembered durably, {@link MATRIX_EVENT_RETENTION_MS}, at most
   * {@link MAX_REMEMBERED_EVENTS}); ephemeral events (typing, receipts, presence) have no id
   * and are idempotent.
   */
  #onTransaction(body: Record<string, unknown>): Promise<void> {
    const run = this.#transactions.then(() => this.#processTransaction(body));
    this.#transactions = run.then(
      () => {
        this.#transactionFailing = false;
      },
      () => {
        this.#transactionFailing = true;
      },
    );
    return run;
  }

  /**
   * False while the homeserver is unreachable or the last transaction failed (answered 5xx):
   * then nothing from Matrix gets through, whatever the connection state says.
   */
  healthy(): boolean {
    return this.#up && !this.#transactionFailing;
  }

  async #processTransaction(body: Record<string, unknown>): Promise<void> {
    const events = (Array.isArray(body['events']) ? (body['events'] as unknown[]) : []).filter(
      (e): e is MatrixEvent => typeof e === 'object' && e !== null,
    );
    const ephemeral = [
      ...(Array.isArray(body['ephemeral']) ? (body['ephemeral'] as MatrixEvent[]) : []),
      ...(Array.isArray(body['de.sorunome.msc2409.ephemeral'])
        ? (body['de.sorunome.msc2409.ephemeral'] as MatrixEvent[])
        : []),
    ];
    const ids = events.map((e) => e.event_id).filter((id): id is string => typeof id === 'string');
    const seen = await this.#store.seenMatrixEvents(ids);
    // Event ids are recorded as each event is done, committed together (the store groups
    // them); the transaction is answered only once they are durable. Messages are accepted
    // without waiting for each other (see #onEvent), so all of a transaction's messages go
    // into one commit, each with its event id; other events' ids follow once they are done.
    const saves: Array<Promise<void>> = [];
    const accepting = new Map<string, Promise<boolean>>();
    this.#accepting = accepting;
    let failure: { err: unknown } | undefined;
    try {
      for (const event of events) {
        const id = typeof event.event_id === 'string' ? event.event_id : undefined;
        if (id !== undefined && seen.has(id)) continue;
        await this.#handleEvent(event);
        if (id !== undefined) {
          const stored = accepting.get(id) ?? Promise.resolve(false);
          saves.push(
            stored.then(async (recorded) => {
              if (!recorded) await this.#store.saveMatrixEvent(id);
            }),
          );
          seen.add(id);
        }
      }
    } catch (err) {
      failure = { err };
    } finally {
      this.#accepting = undefined;
    }
    const saved = await Promise.allSettled([...saves, ...accepting.values()]);
    if (failure) throw failure.err;
    for (const s of saved) if (s.status === 'rejected') throw s.reason;
    for (const event of ephemeral) {
      if (typeof event !== 'object' || event === null) continue;
      await this.#onEphemeral(event);
    }
    await this.#pruneSeenEvents();
  }

  /**
   * Processes one room event. Bad input and refusals by the homeserver (4xx) are logged and
   * the event counts as processed: a 5xx would make the homeserver retry the transaction
   * forever and hold back everything behind it. Only failures that may pass (the homeserver
   * unreachable or answering 5xx/429, the database) are thrown, so the transaction is retried,
   * and only for `eventRetryBudgetMs`; then the event is given up.
   */
  async #handleEvent(event: MatrixEvent): Promise<void> {
    const id = event.event_id ?? '';
    try {
      await this.#onEvent(event);
      this.#failing.delete(id);
    } catch (err) {
      const code = failureCode(err);
      const firstFailure = this.#failing.get(id) ?? Date.now();
      const log = { eventType: event.type, eventId: id, code };
      if (isTransient(err) && Date.now() - firstFailure < this.#config.eventRetryBudgetMs) {
        if (this.#failing.size >= MAX_TRACKED_FAILURES) this.#failing.clear();
        this.#failing.set(id, firstFailure);
        this.#logger.warn(log, 'Matrix event not processed; the homeserver will retry');
        throw err;
      }
      this.#failing.delete(id);
      this.#metrics.failed('matrix', code);
      this.#logger.warn(log, 'Matrix event could not be acted on; acknowledged anyway');
    }
  }

  /** Keeps the record of processed event ids bounded (at most every few minutes). */
  async #pruneSeenEvents(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastPrune < PRUNE_SEEN_EVERY_MS) return;
    this.#lastPrune = now;
    await this.#store
      .pruneMatrixEvents(now - MATRIX_EVENT_RETENTION_MS, MAX_REMEMBERED_EVENTS)
      .catch((err: unknown) => this.#logger.warn({ err }, 'pruning Matrix event ids failed'));
  }

  async #onEvent(event: MatrixEvent): Promise<void> {
    const record = event.room_id ? await this.#store.portalByRoom(event.room_id) : undefined;
    const portal: PortalInfo | undefined = record && {
      roomId: record.roomId,
      matrixUser: record.matrixUser,
      remote: parseRemoteKey(record.remoteKey),
    };
    let inbound;
    try {
      inbound = fromMatrixEvent(event, portal, this.#naming, this.botUserId);
    } catch (err) {
      if (!BridgeError.is(err) || !portal) throw err;
      this.#metrics.failed('matrix', err.code);
      await this.#noticeInRoom(portal, `Not delivered: ${err.message}`);
      return;
    }
    switch (inbound.kind) {
      case 'invite':
        await this.#acceptInvite(inbound.roomId, inbound.inviter, inbound.ghost, inbound.remote);
        return;
      case 'bot-invite':
        this.#logger.info('the bot was invited; it runs no rooms and declines');
        await this.client.leave(this.botUserId, inbound.roomId);
        return;
      case 'bad-invite':
        this.#logger.info({ reason: inbound.reason }, 'invite for a ghost of no reachable party');
        this.#metrics.failed('matrix', inbound.reason);
        return;
      case 'left':
      case 'ghost-removed':
        await this.#onMembershipLoss(inbound);
        return;
      case 'message': {
        const accepting = this.#acceptMessage(inbound.message, portal);
        // Within a transaction the next event need not wait for this one to be stored: the
        // core stamps its order when called, and the transaction waits for all at its end.
        if (this.#accepting && event.event_id) this.#accepting.set(event.event_id, accepting);
        else await accepting;
        return;
      }
      case 'command': {
        const reply = await presenceCommand(this.#store, `matrix:${inbound.sender}`, inbound.text);
        if (portal) await this.#noticeInRoom(portal, reply);
        return;
      }
      case 'ignored':
        return;
    }
  }

  async #onEphemeral(event: MatrixEvent): Promise<void> {
    if (event.type === 'm.presence') {
      await this.#onPresence(event);
      return;
    }
    if (!event.room_id || (event.type !== 'm.typing' && event.type !== 'm.receipt')) return;
    const record = await this.#store.portalByRoom(event.room_id);
    if (!record) return;
    const owner: Address = { network: 'matrix', id: record.matrixUser };
    if (event.type === 'm.typing') {
      const userIds = event.content?.['user_ids'];
      const typing = Array.isArray(userIds) && userIds.includes(record.matrixUser);
      this.#events.typing?.(owner, parseRemoteKey(record.remoteKey), typing);
      return;
    }
    // m.receipt content: { "$event": { "m.read": { "@user:hs": { ts } } } }
    for (const [eventId, receipts] of Object.entries(event.content ?? {})) {
      const read = (receipts as Record<string, unknown> | null)?.['m.read'];
      if (read && typeof read === 'object' && record.matrixUser in read) {
        this.#events.read?.(owner, eventId);
      }
    }
  }

  /** m.presence EDU: shown to the remote parties this user has portals with, unless opted out. */
  async #onPresence(event: MatrixEvent): Promise<void> {
    const sender = event.sender;
    const presence = event.content?.['presence'];
    if (
      !sender ||
      typeof presence !== 'string' ||
      sender.startsWith(`@${this.#config.ghostPrefix}`)
    )
      return;
    if (await this.#store.presenceOptedOut(`matrix:${sender}`)) return;
    const portals = await this.#store.portalsOf(sender);
    if (portals.length === 0) return;
    this.#events.presence?.(
      { network: 'matrix', id: sender },
      portals.map((p) => parseRemoteKey(p.remoteKey)),
      presence === 'online',
    );
  }

  async #acceptInvite(
    roomId: string,
    inviter: string,
    ghost: string,
    remote: Target,
  ): Promise<void> {
    await this.#ensureGhost(remote);
    await this.client.join(ghost, roomId);
    const saved = await this.#store.savePortal({
      roomId,
      matrixUser: inviter,
      remoteKey: remoteKeyFor(remote),
    });
    if (saved.roomId !== roomId) {
      this.#logger.info('a second room for the same conversation; keeping the first as portal');
      return;
    }
    const state = bridgeStateEvent(remote, this.botUserId, inviter);
    try {
      await this.client.sendState(ghost, roomId, state.type, state.stateKey, state.content);
    } catch (err) {
      // In a room the user created the ghost may lack the power level for state events.
      this.#logger.debug({ err }, 'm.bridge state not set');
    }
    try {
      await this.#backfill(roomId, ghost, inviter);
    } catch (err) {
      // Retried with the invitation when it may pass; the portal stands either way.
      if (isTransient(err)) throw err;
      this.#logger.warn({ code: failureCode(err) }, 'messages sent before the join not read');
    }
  }

  /**
   * Follows portal membership: when the portal's Matrix user leaves (or is removed), or its
   * ghost is removed, the room stops being the portal; the ghost leaves it, and the next
   * message opens a new portal (a DM with a fresh invitation) instead of going into a room
   * nobody reads.
   */
  async #onMembershipLoss(
    inbound: Extract<MatrixInbound, { kind: 'left' | 'ghost-removed' }>,
  ): Promise<void> {
    const portal = await this.#store.portalByRoom(inbound.roomId);
    if (!portal) return;
    const ghost = ghostUserId(parseRemoteKey(portal.remoteKey), this.#naming);
    const lost =
      inbound.kind === 'left' ? inbound.user === portal.matrixUser : inbound.ghost === ghost;
    if (!lost) return;
    await this.#store.deletePortal(portal.roomId);
    this.#logger.info(
      { reason: inbound.kind },
      'portal abandoned; the next message opens a new one',
    );
    if (inbound.kind === 'ghost-removed') return;
    try {
      await this.client.leave(ghost, portal.roomId);
    } catch (err) {
      this.#logger.debug({ err }, 'ghost could not leave the abandoned portal');
    }
  }

  /**
   * Messages the inviter sent into a new portal after inviting the ghost and before it joined:
   * the homeserver pushes no events of a room until a user of the application service has
   * joined it, so they are read from the room (among its newest {@link BACKFILL_LIMIT} events)
   * and processed like pushed ones, in order, each once.
   */
  async #backfill(roomId: string, ghost: string, inviter: string): Promise<void> {
    const recent = await this.client.recentEvents(ghost, roomId, BACKFILL_LIMIT);
    const events: MatrixEvent[] = [];
    for (const e of recent as unknown as MatrixEvent[]) {
      if (e.type === 'm.room.member' && e.state_key === ghost) {
        if (e.content?.['membership'] === 'invite') break;
        continue;
      }
      const isMessage = e.type === 'm.room.message' || e.type === ENVELOPE_EVENT_TYPE;
      if (isMessage && e.sender === inviter && typeof e.event_id === 'string') events.unshift(e);
    }
    const seen = await this.#store.seenMatrixEvents(events.map((e) => e.event_id!));
    for (const event of events) {
      const id = event.event_id!;
      if (seen.has(id)) continue;
      await this.#handleEvent(event);
      // Within a transaction a message is stored in the background (#onEvent): its id is
      // recorded with it, never before it.
      if (!(await (this.#accepting?.get(id) ?? false))) await this.#store.saveMatrixEvent(id);
    }
  }

  async #userExists(userId: string): Promise<boolean> {
    if (!userId.startsWith(`@${this.#config.ghostPrefix}`)) return false;
    try {
      const suffix = `:${this.#config.domain}`;
      if (!userId.endsWith(suffix)) return false;
      const target = parseRemoteKey(
        userId.slice(this.#config.ghostPrefix.length + 1, -suffix.length),
      );
      await this.#ensureGhost(target);
      return true;
    } catch (err) {
      if (BridgeError.is(err, 'invalid-address')) return false;
      throw err;
    }
  }

  /** Registers the ghost of `target` if needed and gives it its display name once. */
  async #ensureGhost(target: Target): Promise<string> {
    const ghost = ghostUserId(target, this.#naming);
    const known = await this.#store.ghost(ghost);
    if (!known) {
      await this.client.registerGhost(ghost.slice(1, ghost.indexOf(':')));
      await this.#store.saveGhost(ghost);
    }
    const name = ghostDisplayName(target);
    if (known?.displayName !== name) {
      try {
        await this.client.setDisplayName(ghost, name);
        await this.#store.setGhostDisplayName(ghost, name);
      } catch (err) {
        // Cosmetic: tried again the next time the ghost is used.
        this.#logger.debug({ err }, 'ghost display name not set');
      }
    }
    return ghost;
  }

  async #portalFor(matrixUser: string, remote: Target, ghost: string): Promise<PortalRecord> {
    const key = remoteKeyFor(remote);
    const existing = await this.#store.portalFor(matrixUser, key);
    if (existing) return existing;
    const state = bridgeStateEvent(remote, this.botUserId, ghost);
    const roomId = await this.client.createRoom(ghost, {
      preset: 'trusted_private_chat',
      is_direct: true,
      invite: [matrixUser],
      name: remote.kind === 'phone' ? remote.e164 : remote.address.id,
      initial_state: [{ type: state.type, state_key: state.stateKey, content: state.content }],
    });
    return this.#store.savePortal({ roomId, matrixUser, remoteKey: key });
  }

  /**
   * Stores a message from Matrix (true: with its event id, see BridgeStore.enqueue), or tells
   * the room why it was refused (false). Tells the Matrix side, once per portal and run, that
   * its plaintext is end-to-bridge.
   */
  async #acceptMessage(message: InboundMessage, portal: PortalInfo | undefined): Promise<boolean> {
    try {
      await this.#core.accept('matrix', message);
    } catch (err) {
      if (!BridgeError.is(err) || !portal) throw err;
      this.#logger.info({ code: err.code }, 'message from Matrix refused');
      await this.#noticeInRoom(portal, `Not delivered: ${err.message}`);
      return false;
    }
    if (message.payload.kind === 'plaintext' && portal) await this.#markEndToBridge(portal);
    return message.nativeId !== '';
  }

  async #markEndToBridge(portal: PortalInfo): Promise<void> {
    if (this.#toldEndToBridge.has(portal.roomId)) return;
    this.#toldEndToBridge.add(portal.roomId);
    await this.#noticeInRoom(
      portal,
      'Plain text messages in this chat are relayed by the bridge in the clear: they are end-to-bridge, not end-to-end encrypted.',
      { [SECURITY_KEY]: 'end-to-bridge' },
    );
  }

  async #noticeInRoom(
    portal: PortalInfo | PortalRecord,
    text: string,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    const remote = 'remote' in portal ? portal.remote : parseRemoteKey(portal.remoteKey);
    const notice = toMatrixNotice(text);
    try {
      await this.client.sendEvent(
        ghostUserId(remote, this.#naming),
        portal.roomId,
        notice.type,
        `notice-${Date.now()}-${Math.random().toString(36).slice(2)}`,
        { ...notice.content, ...extra },
      );
    } catch (err) {
      this.#logger.warn({ err }, 'could not post a notice');
    }
  }

  /** Maps homeserver failures onto retry (`network-unavailable`) or give up (`delivery-rejected`). */
  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      if (!this.#up) this.#setUp(true);
      return result;
    } catch (err) {
      if (err instanceof MatrixHttpError) {
        if (err.status >= 500 || err.status === 429) {
          throw new BridgeError('network-unavailable', `homeserver answered ${err.status}`);
        }
        throw new BridgeError('delivery-rejected', `homeserver refused: ${err.errcode}`);
      }
      if (BridgeError.is(err, 'network-unavailable')) {
        this.#setUp(false);
        this.#scheduleProbe();
      }
      throw err;
    }
  }

  async #probeHomeserver(): Promise<void> {
    try {
      await this.client.versions();
      this.#setUp(true);
      this.#core.flush();
    } catch (err) {
      this.#logger.warn({ err }, 'homeserver not reachable; retrying');
      this.#setUp(false);
      this.#scheduleProbe();
    }
  }

  #scheduleProbe(): void {
    if (this.#stopped || this.#probe) return;
    this.#probe = setTimeout(() => {
      this.#probe = undefined;
      void this.#probeHomeserver();
    }, this.#config.probeIntervalMs);
  }

  #setUp(up: boolean): void {
    this.#up = up;
    this.#metrics.setUp('matrix', up);
  }
}

/** HTTP status and errcode for a bridge error (used by the AS endpoint's callers). */
export function matrixErrorFor(err: BridgeError): {
  readonly status: number;
  readonly errcode: string;
} {
  return MATRIX_ERRORS[err.code];
}
