import { parseRemoteKey, remoteKeyFor, validateAddress } from '../addressing.js';
import { ENVELOPE_MEDIA_TYPE, envelopeFromText, envelopeToText } from '../envelope.js';
import { BridgeError } from '../errors.js';
import type { BridgeErrorCode } from '../errors.js';
import type { Address, InboundMessage, OutboundMessage, Target } from '../model.js';
import { END_TO_BRIDGE_MARK } from '../model.js';

/** Header marking a relayed plaintext MESSAGE (the body carries the same mark). */
export const SECURITY_HEADER = 'X-Switchboard-Security';

/**
 * The bridge's id of a MESSAGE it sends, the same on every retry: delivery is at least once,
 * and a receiver that sees an id again drops the copy.
 */
export const MESSAGE_ID_HEADER = 'X-Switchboard-Message-Id';

/** The parts of a SIP MESSAGE request (RFC 3428) the bridge reads. */
export interface SipMessageIn {
  /** From header URI, e.g. `sip:alice@sip.test`. */
  readonly fromUri: string;
  /** To header URI: whom the sender addressed (the Request-URI is the bridge's contact). */
  readonly toUri: string;
  readonly contentType: string | undefined;
  readonly body: string;
  readonly callId: string;
  readonly cseq: number;
}

/** A MESSAGE the bridge sends. */
export interface SipMessageOut {
  readonly targetUri: string;
  readonly fromUri: string;
  readonly contentType: string;
  readonly body: string;
  readonly extraHeaders: readonly string[];
}

/** `sip:user@host;params` -> `{ user, host }` (user percent-decoded, RFC 3261 §19.1.2). */
export function parseSipUri(uri: string): { readonly user: string; readonly host: string } {
  const m = /^<?sips?:([^@;>]+)@([^;>?]+)/i.exec(uri.trim());
  if (!m) throw new BridgeError('invalid-address', 'not a SIP URI with a user part');
  let user: string;
  try {
    user = decodeURIComponent(m[1]!);
  } catch (err) {
    throw new BridgeError('invalid-address', 'bad escape in SIP user part', { cause: err });
  }
  return { user, host: m[2]!.toLowerCase() };
}

/** Translates an incoming MESSAGE into an inbound message (throws {@link BridgeError}). */
export function fromSipMessage(req: SipMessageIn): InboundMessage {
  const from = parseSipUri(req.fromUri);
  const to = parseSipUri(req.toUri);
  const fromAddress = validateAddress({ network: 'sip', id: `${from.user}@${from.host}` });
  const target: Target = parseRemoteKey(to.user);
  const type = (req.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const nativeId = `${req.callId}/${req.cseq}`;
  if (type === ENVELOPE_MEDIA_TYPE) {
    // A SIP-over-WebSocket text frame must be UTF-8, so the body is the envelope text form.
    return {
      from: fromAddress,
      target,
      payload: { kind: 'envelope', bytes: envelopeFromText(req.body) },
      nativeId,
    };
  }
  if (type === 'text/plain') {
    return { from: fromAddress, target, payload: { kind: 'plaintext', text: req.body }, nativeId };
  }
  throw new BridgeError(
    'invalid-message',
    `content type must be ${ENVELOPE_MEDIA_TYPE} or text/plain`,
  );
}

/** The MESSAGE delivering `msg` to a SIP user, sent from the sender's ghost URI on `sipDomain`. */
export function toSipMessage(
  msg: OutboundMessage,
  sender: Target,
  sipDomain: string,
): SipMessageOut {
  const fromUri = `sip:${remoteKeyFor(sender)}@${sipDomain}`;
  const targetUri = `sip:${msg.to.id}`;
  if (msg.payload.kind === 'envelope') {
    return {
      targetUri,
      fromUri,
      contentType: ENVELOPE_MEDIA_TYPE,
      body: envelopeToText(msg.payload.bytes),
      extraHeaders: [`${MESSAGE_ID_HEADER}: ${msg.id}`],
    };
  }
  return {
    targetUri,
    fromUri,
    contentType: 'text/plain;charset=utf-8',
    body: `${END_TO_BRIDGE_MARK} ${msg.payload.text}`,
    extraHeaders: [`${SECURITY_HEADER}: end-to-bridge`, `${MESSAGE_ID_HEADER}: ${msg.id}`],
  };
}

/** The sender of a SIP message as a bridge address. */
export function sipAddress(uri: string): Address {
  const { user, host } = parseSipUri(uri);
  return validateAddress({ network: 'sip', id: `${user}@${host}` });
}

const SIP_STATUS: Readonly<Record<BridgeErrorCode, { code: number; reason: string }>> = {
  'invalid-config': { code: 500, reason: 'Server Internal Error' },
  'invalid-address': { code: 404, reason: 'Not Found' },
  'invalid-envelope': { code: 400, reason: 'Bad Request' },
  'envelope-too-large': { code: 513, reason: 'Message Too Large' },
  'invalid-message': { code: 415, reason: 'Unsupported Media Type' },
  'unsupported-network': { code: 416, reason: 'Unsupported URI Scheme' },
  'number-not-found': { code: 404, reason: 'Number Not Found In Directory' },
  'lookup-failed': { code: 504, reason: 'Directory Lookup Failed' },
  'no-route': { code: 404, reason: 'No Reachable Contact Method' },
  'network-unavailable': { code: 480, reason: 'Temporarily Unavailable' },
  'delivery-rejected': { code: 480, reason: 'Temporarily Unavailable' },
  'plaintext-relay-disabled': { code: 488, reason: 'Plaintext Relay Disabled' },
  'rate-limited': { code: 503, reason: 'Rate Limited' },
  'not-configured': { code: 503, reason: 'Service Unavailable' },
};

/** The final response for a MESSAGE the bridge could not take (RFC 3261 §21). */
export function sipStatusFor(err: BridgeError): { readonly code: number; readonly reason: string } {
  return SIP_STATUS[err.code];
}
