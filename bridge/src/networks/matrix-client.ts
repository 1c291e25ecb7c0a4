import { BridgeError } from '../model/errors.js';

/** A Matrix error response (Client-Server API §Standard error response). */
export class MatrixHttpError extends Error {
  override readonly name = 'MatrixHttpError';
  constructor(
    readonly status: number,
    readonly errcode: string,
  ) {
    super(`homeserver answered ${status} ${errcode}`);
  }
}

/**
 * The few Client-Server API calls the bridge makes, as the application service: every call
 * carries the `as_token` (Authorization: Bearer) and, to act as a ghost, `user_id`
 * (Application Service API §Identity assertion). v3 endpoints, as in spec v1.2+.
 */
export class MatrixClient {
  readonly #baseUrl: string;
  readonly #asToken: string;
  readonly #fetch: typeof fetch;

  constructor(baseUrl: string, asToken: string, fetchImpl: typeof fetch = fetch) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#asToken = asToken;
    this.#fetch = fetchImpl;
  }

  /** Spec versions the homeserver supports (also our liveness probe). */
  async versions(): Promise<readonly string[]> {
    const body = await this.#call('GET', '/_matrix/client/versions', undefined, undefined);
    return Array.isArray(body['versions']) ? (body['versions'] as string[]) : [];
  }

  /** Registers a ghost in the exclusive namespace; an existing one is fine. */
  async registerGhost(localpart: string): Promise<void> {
    try {
      await this.#call('POST', '/_matrix/client/v3/register', undefined, {
        type: 'm.login.application_service',
        username: localpart,
        inhibit_login: true,
      });
    } catch (err) {
      if (err instanceof MatrixHttpError && err.errcode === 'M_USER_IN_USE') return;
      throw err;
    }
  }

  async createRoom(asUser: string, body: Record<string, unknown>): Promise<string> {
    const res = await this.#call('POST', '/_matrix/client/v3/createRoom', asUser, body);
    const roomId = res['room_id'];
    if (typeof roomId !== 'string') throw new MatrixHttpError(502, 'M_BAD_RESPONSE');
    return roomId;
  }

  async join(asUser: string, roomId: string): Promise<void> {
    await this.#call('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/join`, asUser, {});
  }

  /** Sets a user's display name. */
  async setDisplayName(asUser: string, displayName: string): Promise<void> {
    await this.#call('PUT', `/_matrix/client/v3/profile/${enc(asUser)}/displayname`, asUser, {
      displayname: displayName,
    });
  }

  /** The newest `limit` events of a room, newest first (`/messages`, dir=b). */
  async recentEvents(
    asUser: string,
    roomId: string,
    limit: number,
  ): Promise<Array<Record<string, unknown>>> {
    const res = await this.#call(
      'GET',
      `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=${limit}`,
      asUser,
      undefined,
    );
    const chunk = res['chunk'];
    return Array.isArray(chunk)
      ? chunk.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      : [];
  }

  /** Leaves a room, or declines an invitation to it. */
  async leave(asUser: string, roomId: string): Promise<void> {
    await this.#call('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, asUser, {});
  }

  /** Sends an event; `txnId` makes retries idempotent. Returns the event id. */
  async sendEvent(
    asUser: string,
    roomId: string,
    type: string,
    txnId: string,
    content: Record<string, unknown>,
  ): Promise<string> {
    const res = await this.#call(
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`,
      asUser,
      content,
    );
    return String(res['event_id'] ?? '');
  }

  async sendState(
    asUser: string,
    roomId: string,
    type: string,
    stateKey: string,
    content: Record<string, unknown>,
  ): Promise<void> {
    await this.#call(
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`,
      asUser,
      content,
    );
  }

  async setTyping(asUser: string, roomId: string, typing: boolean): Promise<void> {
    await this.#call(
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(asUser)}`,
      asUser,
      typing ? { typing: true, timeout: 30000 } : { typing: false },
    );
  }

  async setPresence(asUser: string, online: boolean): Promise<void> {
    await this.#call('PUT', `/_matrix/client/v3/presence/${enc(asUser)}/status`, asUser, {
      presence: online ? 'online' : 'offline',
    });
  }

  async sendReadReceipt(asUser: string, roomId: string, eventId: string): Promise<void> {
    await this.#call(
      'POST',
      `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`,
      asUser,
      {},
    );
  }

  async #call(
    method: string,
    path: string,
    asUser: string | undefined,
    body: Record<string, unknown> | undefined,
  ): Promise<Record<string, unknown>> {
    const url = new URL(this.#baseUrl + path);
    if (asUser) url.searchParams.set('user_id', asUser);
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#asToken}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15000),
      });
    } catch (err) {
      throw new BridgeError('network-unavailable', 'homeserver not reachable', { cause: err });
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      throw new MatrixHttpError(
        res.status,
        typeof json['errcode'] === 'string' ? json['errcode'] : 'M_UNKNOWN',
      );
    }
    return json;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
