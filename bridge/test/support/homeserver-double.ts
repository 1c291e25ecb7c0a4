import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { RunningHttpServer } from '@switchboard/service-kit';
import { listenHttp } from '@switchboard/service-kit';

/** One event as the double stored it (and pushed it to the application service). */
export interface RecordedEvent {
  readonly event_id: string;
  readonly room_id: string;
  readonly sender: string;
  readonly type: string;
  readonly state_key?: string;
  readonly content: Record<string, unknown>;
  readonly origin_server_ts: number;
}

export interface Room {
  readonly id: string;
  readonly creator: string;
  readonly members: Map<string, 'invite' | 'join'>;
  readonly events: RecordedEvent[];
}

export interface HomeserverDoubleOptions {
  readonly domain: string;
  readonly asToken: string;
  readonly hsToken: string;
  /** The AS's exclusive user namespace, as a regex over full user ids. */
  readonly userNamespace: RegExp;
  readonly senderLocalpart: string;
  /**
   * Where transactions go. `legacy`: `{url}/transactions/{txnId}` only, as Synapse did up to
   * 1.80 (1.67 is the release the bridge was tried against); `v1`: `{url}/_matrix/app/v1/...`
   * only, as Synapse does since the legacy paths were removed in 2023 (Application Service
   * API v1.x). Default `legacy`.
   */
  readonly pushPaths?: 'legacy' | 'v1';
}

/** Room events (and, separately, ephemeral events) per transaction at most, as in Synapse. */
export const MAX_EVENTS_PER_TRANSACTION = 100;

/** A handler's way to say: the request was carried out, but drop the connection unanswered. */
const LOSE_ANSWER = Symbol('lose answer');

class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A test double of a homeserver's side of the Application Service API (spec v1.2-era):
 * the Client-Server endpoints the bridge calls, with the checks a real homeserver makes
 * (as_token on every call, `user_id` masquerading only inside the exclusive namespace and
 * only for registered users, membership before sending, per-user transaction idempotency,
 * power levels for state), and the push side as Synapse does it: one transaction in flight at a
 * time carrying every event queued meanwhile (up to 100, and up to 100 ephemeral ones), with
 * the hs_token, in order, retried with the same id until the AS answers 200 (a 3xx is a
 * failure: redirects are not followed); only events the AS is interested in (sender or state
 * key in its namespace, or a room where one of its users has joined: events sent while a
 * ghost is only invited are not pushed); and after {@link HomeserverDouble.restart}
 * transaction ids start from 1 again (Synapse on SQLite does that), while events not yet
 * acknowledged are pushed again under new ids.
 */
export class HomeserverDouble {
  readonly users = new Set<string>();
  readonly rooms = new Map<string, Room>();
  /** Every Client-Server request the AS made: method, path, acting user. */
  readonly requests: Array<{ method: string; path: string; userId: string }> = [];
  /** Requests refused by the checks, with the errcode. */
  readonly refused: Array<{ path: string; errcode: string }> = [];
  /** Typing and presence as the AS set them. */
  readonly typing = new Map<string, boolean>();
  readonly presence = new Map<string, string>();
  /** Read receipts the AS sent: `roomId|userId` -> event id. */
  readonly receipts = new Map<string, string>();
  /** Display names the AS set for its users. */
  readonly displayNames = new Map<string, string>();
  /** Transactions pushed (id, how each was answered, room events in it), across restarts. */
  readonly pushed: Array<{ txnId: string; status: number; events: number }> = [];
  /** Client-Server paths answered with this status instead of being served (fault injection). */
  readonly faults: Array<{ path: RegExp; status: number }> = [];
  pushPaths: 'legacy' | 'v1';
  /**
   * The next this many sends are carried out but their answers lost (connection dropped), as
   * when the homeserver goes down right then: it answers 503 until {@link restart}.
   */
  loseSendAnswers = 0;
  #goingDown = false;
  readonly #opts: HomeserverDoubleOptions;
  readonly #txns = new Map<string, string>();
  /** Events and ephemeral events not yet acknowledged by the AS, oldest first. */
  readonly #events: RecordedEvent[] = [];
  readonly #ephemeral: unknown[] = [];
  #asUrl = '';
  #http: RunningHttpServer | undefined;
  #pushing: Promise<void> | undefined;
  #txnCounter = 0;
  #port = 0;
  /** Bumped by restart(): a push loop of an earlier run stops. */
  #epoch = 0;
  #inFlight: AbortController | undefined;

  constructor(opts: HomeserverDoubleOptions) {
    this.#opts = opts;
    this.pushPaths = opts.pushPaths ?? 'legacy';
    this.users.add(this.botUserId);
  }

  get botUserId(): string {
    return `@${this.#opts.senderLocalpart}:${this.#opts.domain}`;
  }

  get url(): string {
    if (!this.#http) throw new Error('not started');
    return this.#http.url;
  }

  /** Where transactions are pushed (the AS `url` from its registration). */
  setAppServiceUrl(url: string): void {
    this.#asUrl = url;
    this.#kick();
  }

  async start(): Promise<void> {
    this.#http = await listenHttp(createServer(this.#app()), '127.0.0.1', this.#port);
    this.#port = Number(new URL(this.#http.url).port);
  }

  async stop(): Promise<void> {
    this.#epoch++;
    this.#inFlight?.abort();
    const http = this.#http;
    this.#http = undefined; // nothing is pushed while stopped
    await http?.close(500);
  }

  /**
   * Stops and starts again on the same port, as a homeserver restart: the transaction in
   * flight is abandoned (its answer lost), transaction ids start from 1 again, and every
   * event not yet acknowledged is pushed again. Rooms, users and events are kept; the
   * Client-Server transaction ids seen are forgotten (Synapse keeps them in memory only), so a
   * send repeated after the restart is posted again.
   */
  async restart(): Promise<void> {
    await this.stop();
    await this.#pushing?.catch(() => undefined);
    this.#txnCounter = 0;
    this.#txns.clear();
    this.#goingDown = false;
    await this.start();
    this.#kick();
  }

  // ---- a local (non-AS) user's actions, as a Matrix client would cause them ----

  addLocalUser(localpart: string): string {
    const id = `@${localpart}:${this.#opts.domain}`;
    this.users.add(id);
    return id;
  }

  createRoomAs(user: string, invite: readonly string[] = []): string {
    const room = this.#createRoom(user, {});
    for (const target of invite) this.#invite(user, room, target);
    return room.id;
  }

  joinAs(user: string, roomId: string): void {
    this.#join(user, this.#room(roomId));
  }

  /** A local user leaves a room (or rejects an invite). */
  leaveAs(user: string, roomId: string): void {
    this.#leave(user, this.#room(roomId));
  }

  /** A local user invites someone into a room. */
  inviteAs(user: string, roomId: string, target: string): void {
    this.#invite(user, this.#room(roomId), target);
  }

  sendAs(user: string, roomId: string, type: string, content: Record<string, unknown>): string {
    const room = this.#room(roomId);
    if (room.members.get(user) !== 'join') throw new Error(`${user} is not in ${roomId}`);
    return this.#record(room, user, type, content).event_id;
  }

  typingAs(user: string, roomId: string, typing: boolean): void {
    this.#ephemeral.push({
      type: 'm.typing',
      room_id: roomId,
      content: { user_ids: typing ? [user] : [] },
    });
    this.#kick();
  }

  /** A local user's presence change, pushed to the AS as an ephemeral `m.presence`. */
  presenceAs(user: string, presence: 'online' | 'offline'): void {
    this.#ephemeral.push({ type: 'm.presence', sender: user, content: { presence } });
    this.#kick();
  }

  /** A local user's read receipt, pushed to the AS as an ephemeral `m.receipt`. */
  readAs(user: string, roomId: string, eventId: string): void {
    this.#ephemeral.push({
      type: 'm.receipt',
      room_id: roomId,
      content: { [eventId]: { 'm.read': { [user]: { ts: Date.now() } } } },
    });
    this.#kick();
  }

  /** Pushes one raw transaction as-is (for token and idempotency checks); returns the status. */
  async pushRaw(
    txnId: string,
    body: unknown,
    auth: 'bearer' | 'query' | 'none' | 'wrong' = 'bearer',
    signal?: AbortSignal,
  ): Promise<number> {
    const token = auth === 'wrong' ? 'not-the-hs-token' : this.#opts.hsToken;
    const prefix = this.pushPaths === 'v1' ? '/_matrix/app/v1' : '';
    const url = new URL(`${this.#asUrl}${prefix}/transactions/${encodeURIComponent(txnId)}`);
    if (auth === 'query') url.searchParams.set('access_token', token);
    const res = await fetch(url, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        ...(auth === 'bearer' || auth === 'wrong' ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
      redirect: 'manual', // Synapse does not follow redirects from an application service
      ...(signal ? { signal } : {}),
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** Resolves when every queued transaction was accepted by the AS. */
  async drained(): Promise<void> {
    while (this.#pushing) await this.#pushing;
  }

  eventsIn(roomId: string, type?: string): RecordedEvent[] {
    return this.#room(roomId).events.filter((e) => type === undefined || e.type === type);
  }

  roomsWith(user: string): Room[] {
    return [...this.rooms.values()].filter((r) => r.members.has(user));
  }

  // ---- internals ----

  #room(roomId: string): Room {
    const room = this.rooms.get(roomId);
    if (!room) throw new MatrixError(404, 'M_NOT_FOUND', 'unknown room');
    return room;
  }

  #createRoom(creator: string, body: Record<string, unknown>): Room {
    const id = `!${randomBytes(9).toString('base64url')}:${this.#opts.domain}`;
    const room: Room = { id, creator, members: new Map(), events: [] };
    this.rooms.set(id, room);
    this.#record(room, creator, 'm.room.create', { creator }, '');
    room.members.set(creator, 'join');
    this.#record(room, creator, 'm.room.member', { membership: 'join' }, creator);
    const initialState = Array.isArray(body['initial_state'])
      ? (body['initial_state'] as Array<Record<string, unknown>>)
      : [];
    for (const s of initialState) {
      this.#record(
        room,
        creator,
        String(s['type']),
        (s['content'] ?? {}) as Record<string, unknown>,
        String(s['state_key'] ?? ''),
      );
    }
    return room;
  }

  #invite(by: string, room: Room, target: string): void {
    if (room.members.get(by) !== 'join') {
      throw new MatrixError(403, 'M_FORBIDDEN', 'inviter not in room');
    }
    room.members.set(target, 'invite');
    this.#record(room, by, 'm.room.member', { membership: 'invite' }, target);
  }

  #join(user: string, room: Room): void {
    const m = room.members.get(user);
    if (m === 'join') return;
    if (m !== 'invite') throw new MatrixError(403, 'M_FORBIDDEN', 'not invited');
    room.members.set(user, 'join');
    this.#record(room, user, 'm.room.member', { membership: 'join' }, user);
  }

  #leave(user: string, room: Room): void {
    if (!room.members.has(user)) throw new MatrixError(403, 'M_FORBIDDEN', 'not in room');
    room.members.delete(user);
    this.#record(room, user, 'm.room.member', { membership: 'leave' }, user);
  }

  #record(
    room: Room,
    sender: string,
    type: string,
    content: Record<string, unknown>,
    stateKey?: string,
  ): RecordedEvent {
    const event: RecordedEvent = {
      event_id: `$${randomBytes(12).toString('base64url')}`,
      room_id: room.id,
      sender,
      type,
      content,
      origin_server_ts: Date.now(),
      ...(stateKey === undefined ? {} : { state_key: stateKey }),
    };
    room.events.push(event);
    if (this.#interested(room, event)) {
      this.#events.push(event);
      this.#kick();
    }
    return event;
  }

  #kick(): void {
    const queued = this.#events.length + this.#ephemeral.length;
    if (this.#pushing || !this.#asUrl || queued === 0 || !this.#http) return;
    const epoch = this.#epoch;
    this.#pushing = this.#pushLoop(epoch)
      .catch(() => undefined)
      .finally(() => {
        this.#pushing = undefined;
        if (epoch === this.#epoch) this.#kick();
      });
  }

  /**
   * Sends what is queued, one transaction at a time, as Synapse's appservice scheduler does:
   * each transaction takes up to {@link MAX_EVENTS_PER_TRANSACTION} of the events queued (and
   * as many ephemeral events), so events that arrive while one is in flight go together in
   * the next. A failed one is retried (same txn id) until 200.
   */
  async #pushLoop(epoch: number): Promise<void> {
    while (this.#events.length + this.#ephemeral.length > 0 && epoch === this.#epoch) {
      const events = this.#events.slice(0, MAX_EVENTS_PER_TRANSACTION);
      const ephemeral = this.#ephemeral.slice(0, MAX_EVENTS_PER_TRANSACTION);
      const txnId = `${++this.#txnCounter}`;
      for (let attempt = 0; ; attempt++) {
        if (epoch !== this.#epoch) return;
        this.#inFlight = new AbortController();
        let status = 0;
        try {
          status = await this.pushRaw(
            txnId,
            { events, ephemeral },
            'bearer',
            this.#inFlight.signal,
          );
        } catch {
          // AS down (or this run stopped): retry like a homeserver does.
        }
        if (epoch !== this.#epoch) return; // the answer is lost with the restart
        this.pushed.push({ txnId, status, events: events.length });
        if (status === 200) break;
        if (attempt > 600) throw new Error('AS never accepted the transaction');
        await new Promise((r) => setTimeout(r, 100));
      }
      this.#events.splice(0, events.length);
      this.#ephemeral.splice(0, ephemeral.length);
    }
  }

  /** Synapse's interest rule: the AS's users send it, are its state key, or joined the room. */
  #interested(room: Room, event: RecordedEvent): boolean {
    const ours = (user: string | undefined): boolean =>
      user !== undefined && (user === this.botUserId || this.#opts.userNamespace.test(user));
    if (ours(event.sender) || ours(event.state_key)) return true;
    return [...room.members].some(([user, m]) => m === 'join' && ours(user));
  }

  #app(): express.Express {
    const app = express();
    app.use(express.json({ limit: '10mb' }));
    app.get('/_matrix/client/versions', (_req, res) => {
      res.json({ versions: ['v1.1', 'v1.2', 'v1.3'] });
    });
    const wrap =
      (fn: (req: Request, actingUser: string) => unknown) =>
      (req: Request, res: Response, next: NextFunction): void => {
        try {
          const fault = this.faults.find((f) => f.path.test(req.path));
          if (fault) throw new MatrixError(fault.status, 'M_UNKNOWN', 'injected fault');
          if (this.#goingDown) throw new MatrixError(503, 'M_UNKNOWN', 'shutting down');
          const actingUser = this.#authenticate(req);
          this.requests.push({ method: req.method, path: req.path, userId: actingUser });
          const out = fn(req, actingUser);
          if (out === LOSE_ANSWER) {
            req.socket.destroy(); // done, but the answer never reaches the AS
            return;
          }
          res.json(out ?? {});
        } catch (err) {
          if (err instanceof MatrixError) {
            this.refused.push({ path: req.path, errcode: err.errcode });
            res.status(err.status).json({ errcode: err.errcode, error: err.message });
            return;
          }
          next(err);
        }
      };
    const body = (req: Request): Record<string, unknown> =>
      (req.body ?? {}) as Record<string, unknown>;
    app.post(
      '/_matrix/client/v3/register',
      wrap((req) => {
        if (body(req)['type'] !== 'm.login.application_service') {
          throw new MatrixError(401, 'M_FORBIDDEN', 'AS registration needs that login type');
        }
        const userId = `@${String(body(req)['username'])}:${this.#opts.domain}`;
        if (!this.#opts.userNamespace.test(userId)) {
          throw new MatrixError(400, 'M_EXCLUSIVE', 'outside namespace');
        }
        if (this.users.has(userId)) throw new MatrixError(400, 'M_USER_IN_USE', 'taken');
        this.users.add(userId);
        return { user_id: userId };
      }),
    );
    app.post(
      '/_matrix/client/v3/createRoom',
      wrap((req, user) => {
        const room = this.#createRoom(user, body(req));
        const invite = body(req)['invite'];
        for (const target of Array.isArray(invite) ? (invite as string[]) : []) {
          this.#invite(user, room, target);
        }
        return { room_id: room.id };
      }),
    );
    app.post(
      '/_matrix/client/v3/rooms/:roomId/join',
      wrap((req, user) => {
        const room = this.#room(String(req.params['roomId']));
        this.#join(user, room);
        return { room_id: room.id };
      }),
    );
    app.post(
      '/_matrix/client/v3/rooms/:roomId/leave',
      wrap((req, user) => {
        this.#leave(user, this.#room(String(req.params['roomId'])));
        return {};
      }),
    );
    app.post(
      '/_matrix/client/v3/rooms/:roomId/invite',
      wrap((req, user) => {
        const target = String(body(req)['user_id'] ?? '');
        const room = this.#room(String(req.params['roomId']));
        if (room.members.get(target) === 'join') {
          throw new MatrixError(403, 'M_FORBIDDEN', 'already in the room');
        }
        this.#invite(user, room, target);
        return {};
      }),
    );
    app.put(
      '/_matrix/client/v3/profile/:userId/displayname',
      wrap((req, user) => {
        if (req.params['userId'] !== user) {
          throw new MatrixError(403, 'M_FORBIDDEN', 'display name of another user');
        }
        const name = body(req)['displayname'];
        if (typeof name !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'no displayname');
        this.displayNames.set(user, name);
        return {};
      }),
    );
    app.get(
      '/_matrix/client/v3/rooms/:roomId/messages',
      wrap((req, user) => {
        // History visibility `shared` (the default): a joined member sees the whole history.
        const room = this.#room(String(req.params['roomId']));
        if (room.members.get(user) !== 'join') {
          throw new MatrixError(403, 'M_FORBIDDEN', 'not joined');
        }
        if (req.query['dir'] !== 'b') throw new MatrixError(400, 'M_INVALID_PARAM', 'dir=b only');
        const limit = Math.min(Number(req.query['limit'] ?? 10) || 10, 1000);
        const from =
          typeof req.query['from'] === 'string' ? Number(req.query['from']) : room.events.length;
        const start = Math.max(0, from - limit);
        const chunk = room.events.slice(start, from).reverse();
        return { chunk, start: String(from), ...(start > 0 ? { end: String(start) } : {}) };
      }),
    );
    app.put(
      '/_matrix/client/v3/rooms/:roomId/send/:type/:txnId',
      wrap((req, user) => {
        const room = this.#room(String(req.params['roomId']));
        if (room.members.get(user) !== 'join') {
          throw new MatrixError(403, 'M_FORBIDDEN', 'not joined');
        }
        // Client-Server API §Transaction identifiers: scoped to the access token (and, for an
        // application service, the masqueraded user).
        const key = `${user}|${String(req.params['txnId'])}`;
        const seen = this.#txns.get(key);
        if (seen) return { event_id: seen };
        const event = this.#record(room, user, String(req.params['type']), body(req));
        this.#txns.set(key, event.event_id);
        if (this.loseSendAnswers > 0) {
          this.loseSendAnswers--;
          this.#goingDown = true;
          return LOSE_ANSWER;
        }
        return { event_id: event.event_id };
      }),
    );
    app.put(
      '/_matrix/client/v3/rooms/:roomId/state/:type/:stateKey',
      wrap((req, user) => {
        const room = this.#room(String(req.params['roomId']));
        if (room.members.get(user) !== 'join') {
          throw new MatrixError(403, 'M_FORBIDDEN', 'not joined');
        }
        if (room.creator !== user) {
          throw new MatrixError(403, 'M_FORBIDDEN', 'power level too low for state');
        }
        const event = this.#record(
          room,
          user,
          String(req.params['type']),
          body(req),
          String(req.params['stateKey']),
        );
        return { event_id: event.event_id };
      }),
    );
    app.put(
      '/_matrix/client/v3/rooms/:roomId/typing/:userId',
      wrap((req, user) => {
        if (req.params['userId'] !== user) {
          throw new MatrixError(403, 'M_FORBIDDEN', 'typing for another user');
        }
        const room = this.#room(String(req.params['roomId']));
        if (room.members.get(user) !== 'join') {
          throw new MatrixError(403, 'M_FORBIDDEN', 'not joined');
        }
        this.typing.set(`${room.id}|${user}`, body(req)['typing'] === true);
        return {};
      }),
    );
    app.post(
      '/_matrix/client/v3/rooms/:roomId/receipt/:receiptType/:eventId',
      wrap((req, user) => {
        const room = this.#room(String(req.params['roomId']));
        if (room.members.get(user) !== 'join') {
          throw new MatrixError(403, 'M_FORBIDDEN', 'not joined');
        }
        const eventId = String(req.params['eventId']);
        if (!room.events.some((e) => e.event_id === eventId)) {
          throw new MatrixError(404, 'M_NOT_FOUND', 'unknown event');
        }
        if (req.params['receiptType'] !== 'm.read') {
          throw new MatrixError(400, 'M_INVALID_PARAM', 'unsupported receipt type');
        }
        this.receipts.set(`${room.id}|${user}`, eventId);
        return {};
      }),
    );
    app.put(
      '/_matrix/client/v3/presence/:userId/status',
      wrap((req, user) => {
        if (req.params['userId'] !== user) {
          throw new MatrixError(403, 'M_FORBIDDEN', 'presence for another user');
        }
        this.presence.set(user, String(body(req)['presence']));
        return {};
      }),
    );
    return app;
  }

  /** Application Service API §Authorization and §Identity assertion. */
  #authenticate(req: Request): string {
    const header = req.headers.authorization;
    const query =
      typeof req.query['access_token'] === 'string' ? req.query['access_token'] : undefined;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : query;
    if (token === undefined) throw new MatrixError(401, 'M_MISSING_TOKEN', 'missing token');
    if (token !== this.#opts.asToken) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'bad token');
    const userId = typeof req.query['user_id'] === 'string' ? req.query['user_id'] : this.botUserId;
    if (userId !== this.botUserId && !this.#opts.userNamespace.test(userId)) {
      throw new MatrixError(403, 'M_EXCLUSIVE', 'user_id outside the namespace');
    }
    if (!this.users.has(userId) && req.path !== '/_matrix/client/v3/register') {
      throw new MatrixError(403, 'M_FORBIDDEN', 'application service has not registered this user');
    }
    return userId;
  }
}
