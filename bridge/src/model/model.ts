/** The networks a bridge can carry messages between. */
export type Network = 'matrix' | 'xmpp' | 'sip';

/** Every network, in a fixed order (used for metrics labels and config). */
export const NETWORKS: readonly Network[] = ['matrix', 'xmpp', 'sip'];

/**
 * A user on one network, in that network's canonical form without scheme:
 * Matrix `@alice:example.org`, XMPP bare JID `alice@example.org`, SIP `alice@example.org`.
 */
export interface Address {
  readonly network: Network;
  readonly id: string;
}

/** Who a message is for, as the sender wrote it: a user on some network, or a phone number. */
export type Target =
  | { readonly kind: 'address'; readonly address: Address }
  | { readonly kind: 'phone'; readonly e164: string };

/**
 * What a message carries. An envelope is opaque Switchboard ciphertext (docs/envelope.md) that
 * the bridge forwards byte for byte; plaintext exists only for clients without Switchboard and
 * is relayed only when the operator enabled it, always marked end-to-bridge.
 */
export type Payload =
  | { readonly kind: 'envelope'; readonly bytes: Uint8Array }
  | { readonly kind: 'plaintext'; readonly text: string };

/** A message received from one network, translated but not yet routed. */
export interface InboundMessage {
  readonly from: Address;
  readonly target: Target;
  readonly payload: Payload;
  /** The sender network's id for this message (stanza id, Call-ID+CSeq, event id). */
  readonly nativeId: string;
  /** Whether the sender asked for a delivery receipt (XEP-0184). */
  readonly wantsReceipt?: boolean;
}

/** A routed message as the bridge hands it to the destination network. */
export interface OutboundMessage {
  /** The bridge's id for this message; stable across retries. */
  readonly id: string;
  readonly from: Address;
  readonly to: Address;
  readonly payload: Payload;
}

/** Marker text prefixed to every plaintext message relayed by the bridge. */
export const END_TO_BRIDGE_MARK = '[end-to-bridge]';
