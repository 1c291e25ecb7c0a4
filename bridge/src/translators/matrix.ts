import { parseRemoteKey, remoteKeyFor, validateAddress } from '../routing/addressing.js';
import { ENVELOPE_MEDIA_TYPE, envelopeFromText, envelopeToText } from '../model/envelope.js';
import { BridgeError } from '../model/errors.js';
import type { BridgeErrorCode } from '../model/errors.js';
import type { Address, InboundMessage, OutboundMessage, Target } from '../model/model.js';
import { END_TO_BRIDGE_MARK } from '../model/model.js';

/** Custom room event carrying an envelope: `{ envelope: <base64>, media_type }`. */
export const ENVELOPE_EVENT_TYPE = 'org.switchboard.envelope';
/** Content key marking relayed plaintext. */
export const SECURITY_KEY = 'org.switchboard.security';
/** Content key carrying the bridge's message id (finds a send whose answer was lost). */
export const MESSAGE_ID_KEY = 'org.switchboard.message_id';
/** Protocol id in `m.bridge` state events (MSC2346). */
export const BRIDGE_PROTOCOL_ID = 'switchboard';

/** A client-server event as delivered in an application service transaction. */
export interface MatrixEvent {
  readonly type: string;
  readonly event_id?: string;
  readonly room_id?: string;
  readonly sender?: string;
  readonly state_key?: string;
  readonly content?: Record<string, unknown>;
}

/** Where a portal room leads: the Matrix user in it and the remote party. */
export interface PortalInfo {
  readonly roomId: string;
  readonly matrixUser: string;
  readonly remote: Target;
}

/** How the bridge names its ghosts: `@<prefix><remote key>:<domain>`. */
export interface GhostNaming {
  readonly prefix: string;
  readonly domain: string;
}

/** What an event means to the bridge. */
export type MatrixInbound =
  | { readonly kind: 'message'; readonly message: InboundMessage; readonly roomId: string }
  | {
      readonly kind: 'invite';
      readonly roomId: string;
      readonly inviter: string;
      readonly ghost: string;
      readonly remote: Target;
    }
  /** The bridge bot was invited (it runs no rooms and declines). */
  | { readonly kind: 'bot-invite'; readonly roomId: string; readonly inviter: string }
  /** A user in the ghost namespace that stands for no reachable party was invited. */
  | { readonly kind: 'bad-invite'; readonly roomId: string; readonly reason: string }
  /** A Matrix user left (or was removed from) a room. */
  | { readonly kind: 'left'; readonly roomId: string; readonly user: string }
  /** A ghost was kicked or banned by someone else. */
  | { readonly kind: 'ghost-removed'; readonly roomId: string; readonly ghost: string }
  | {
      readonly kind: 'command';
      readonly roomId: string;
      readonly sender: string;
      readonly text: string;
    }
  | { readonly kind: 'ignored'; readonly reason: string };

/** The ghost user id for a remote party. */
export function ghostUserId(target: Target, naming: GhostNaming): string {
  return `@${naming.prefix}${remoteKeyFor(target)}:${naming.domain}`;
}

const NETWORK_LABELS = { sip: 'SIP', xmpp: 'XMPP', matrix: 'Matrix' } as const;

/**
 * A ghost's display name: the remote address and its network (`alice@xmpp.example (XMPP)`).
 * Phone numbers are never shown (directory entries are not to be walked or collected): a
 * phone ghost is `Phone contact (Switchboard)`, an address whose user part is a number is
 * `SIP contact at sip.example`.
 */
export function ghostDisplayName(target: Target): string {
  if (target.kind === 'phone') return 'Phone contact (Switchboard)';
  const { network, id } = target.address;
  const label = NETWORK_LABELS[network];
  const bare = network === 'matrix' ? id.slice(1) : id;
  const at = bare.lastIndexOf(network === 'matrix' ? ':' : '@');
  const user = at < 0 ? bare : bare.slice(0, at);
  if (/^[+]?[0-9][0-9 ().-]*$/.test(user)) {
    return at < 0 ? `${label} contact` : `${label} contact at ${bare.slice(at + 1)}`;
  }
  return `${id} (${label})`;
}

/** The remote party a ghost stands for, or null when `userId` is not one of ours. */
export function targetFromGhost(userId: string, naming: GhostNaming): Target | null {
  const suffix = `:${naming.domain}`;
  const head = `@${naming.prefix}`;
  if (!userId.startsWith(head) || !userId.endsWith(suffix)) return null;
  return parseRemoteKey(userId.slice(head.length, userId.length - suffix.length));
}

/** True when `userId` lies in the bridge's exclusive namespace. */
export function isGhost(userId: string, naming: GhostNaming): boolean {
  return userId.startsWith(`@${naming.prefix}`) && userId.endsWith(`:${naming.domain}`);
}

/**
 * Translates a room event. `portal` is the portal the room is mapped to, if any. Events sent by
 * the bridge's own ghosts or bot are ignored (no echo).
 */
export function fromMatrixEvent(
  event: MatrixEvent,
  portal: PortalInfo | undefined,
  naming: GhostNaming,
  botUserId: string,
): MatrixInbound {
  const sender = event.sender;
  const roomId = event.room_id;
  if (!sender || !roomId) return { kind: 'ignored', reason: 'no sender or room' };
  if (sender === botUserId || isGhost(sender, naming)) return { kind: 'ignored', reason: 'echo' };
  const content = event.content ?? {};

  if (event.type === 'm.room.member') {
    return fromMemberEvent(
      event.state_key,
      content['membership'],
      roomId,
      sender,
      naming,
      botUserId,
    );
  }

  const isMessage = event.type === 'm.room.message' || event.type === ENVELOPE_EVENT_TYPE;
  if (!isMessage) return { kind: 'ignored', reason: 'event type not bridged' };
  if (event.type === 'm.room.message') {
    const body = content['body'];
    if (typeof body === 'string' && body.startsWith('!switchboard')) {
      return { kind: 'command', roomId, sender, text: body };
    }
  }
  if (!portal) return { kind: 'ignored', reason: 'room is not a portal' };
  if (portal.matrixUser !== sender)
    return { kind: 'ignored', reason: 'sender is not the portal owner' };
  const from: Address = validateAddress({ network: 'matrix', id: sender });
  const nativeId = event.event_id ?? '';

  if (event.type === ENVELOPE_EVENT_TYPE) {
    const text = content['envelope'];
    if (typeof text !== 'string') {
      throw new BridgeError('invalid-envelope', `${ENVELOPE_EVENT_TYPE} needs a string envelope`);
    }
    const bytes = envelopeFromText(text);
    return {
      kind: 'message',
      roomId,
      message: { from, target: portal.remote, payload: { kind: 'envelope', bytes }, nativeId },
    };
  }
  const msgtype = content['msgtype'];
  const body = content['body'];
  if (
    (msgtype !== 'm.text' && msgtype !== 'm.notice' && msgtype !== 'm.emote') ||
    typeof body !== 'string'
  ) {
    return { kind: 'ignored', reason: 'message type not bridged' };
  }
  return {
    kind: 'message',
    roomId,
    message: { from, target: portal.remote, payload: { kind: 'plaintext', text: body }, nativeId },
  };
}

/**
 * A membership change (sent by someone other than the bridge): invitations of the bot or a
 * ghost, and leaves, kicks and bans. Never throws: a junk ghost is a `bad-invite`.
 */
function fromMemberEvent(
  target: string | undefined,
  membership: unknown,
  roomId: string,
  sender: string,
  naming: GhostNaming,
  botUserId: string,
): MatrixInbound {
  if (!target) return { kind: 'ignored', reason: 'membership without a state key' };
  if (membership === 'leave' || membership === 'ban') {
    return isGhost(target, naming)
      ? { kind: 'ghost-removed', roomId, ghost: target }
      : { kind: 'left', roomId, user: target };
  }
  if (membership !== 'invite') return { kind: 'ignored', reason: 'membership not bridged' };
  if (target === botUserId) return { kind: 'bot-invite', roomId, inviter: sender };
  if (!isGhost(target, naming)) return { kind: 'ignored', reason: 'invite not for a ghost' };
  let remote: Target | null;
  try {
    remote = targetFromGhost(target, naming);
  } catch (err) {
    if (!BridgeError.is(err)) throw err;
    return { kind: 'bad-invite', roomId, reason: err.code };
  }
  if (!remote) return { kind: 'bad-invite', roomId, reason: 'invalid-address' };
  return { kind: 'invite', roomId, inviter: sender, ghost: target, remote };
}

/** The event (type + content) delivering `msg` into a portal room. */
export function toMatrixEvent(msg: OutboundMessage): {
  readonly type: string;
  readonly content: Record<string, unknown>;
} {
  if (msg.payload.kind === 'envelope') {
    return {
      type: ENVELOPE_EVENT_TYPE,
      content: {
        envelope: envelopeToText(msg.payload.bytes),
        media_type: ENVELOPE_MEDIA_TYPE,
        [MESSAGE_ID_KEY]: msg.id,
      },
    };
  }
  return {
    type: 'm.room.message',
    content: {
      msgtype: 'm.text',
      body: `${END_TO_BRIDGE_MARK} ${msg.payload.text}`,
      [SECURITY_KEY]: 'end-to-bridge',
      [MESSAGE_ID_KEY]: msg.id,
    },
  };
}

/** A bot/ghost notice (errors, command replies). */
export function toMatrixNotice(text: string): {
  readonly type: string;
  readonly content: Record<string, unknown>;
} {
  return { type: 'm.room.message', content: { msgtype: 'm.notice', body: text } };
}

/**
 * The `m.bridge` state event (MSC2346) describing a portal room: which protocol and which
 * remote party it leads to.
 */
export function bridgeStateEvent(
  remote: Target,
  botUserId: string,
  creator: string,
): { readonly type: string; readonly stateKey: string; readonly content: Record<string, unknown> } {
  const network = remote.kind === 'phone' ? 'tel' : remote.address.network;
  const id = remote.kind === 'phone' ? remote.e164 : remote.address.id;
  const key = remoteKeyFor(remote);
  return {
    type: 'm.bridge',
    stateKey: `org.switchboard://${network}/${key}`,
    content: {
      bridgebot: botUserId,
      creator,
      protocol: { id: BRIDGE_PROTOCOL_ID, displayname: 'Switchboard' },
      network: { id: network, displayname: network.toUpperCase() },
      channel: { id: key, displayname: id },
    },
  };
}

/** Matrix errcode and HTTP status for bridge errors answered over the AS API. */
export const MATRIX_ERRORS: Readonly<Record<BridgeErrorCode, { status: number; errcode: string }>> =
  {
    'invalid-config': { status: 500, errcode: 'M_UNKNOWN' },
    'invalid-address': { status: 400, errcode: 'M_INVALID_PARAM' },
    'invalid-envelope': { status: 400, errcode: 'M_BAD_JSON' },
    'envelope-too-large': { status: 413, errcode: 'M_TOO_LARGE' },
    'invalid-message': { status: 400, errcode: 'M_BAD_JSON' },
    'unsupported-network': { status: 400, errcode: 'M_UNRECOGNIZED' },
    'number-not-found': { status: 404, errcode: 'M_NOT_FOUND' },
    'lookup-failed': { status: 502, errcode: 'M_UNKNOWN' },
    'no-route': { status: 404, errcode: 'M_NOT_FOUND' },
    'network-unavailable': { status: 503, errcode: 'M_UNKNOWN' },
    'delivery-rejected': { status: 502, errcode: 'M_UNKNOWN' },
    'plaintext-relay-disabled': { status: 403, errcode: 'M_FORBIDDEN' },
    'rate-limited': { status: 429, errcode: 'M_LIMIT_EXCEEDED' },
    'not-configured': { status: 503, errcode: 'M_UNKNOWN' },
  };
