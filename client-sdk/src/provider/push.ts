/**
 * Push delivery from a provider mailbox: a WebSocket opened with a signed upgrade request
 * (RFC 9421 headers), one JSON text frame per delivered message. Injected like `HttpClient`,
 * because the socket implementation depends on the platform: browsers' `WebSocket` cannot send
 * the signature headers, so push needs a client that can (`nodePushConnector()` in
 * `@switchboard/client-sdk/node`); elsewhere, pull with `ProviderClient.receive`.
 */
export interface PushSocket {
  /** Registers the listener for text frames (one per message). */
  onText(listener: (text: string) => void): void;
  /** Registers the listener called once when the socket closes (`error` unless closed cleanly). */
  onClose(listener: (error?: Error) => void): void;
  close(): void;
}

/**
 * Opens `url` (`ws:` or `wss:`) with the given request headers. Rejects with a
 * `ProviderError` when the provider refuses the upgrade (its HTTP status), else a
 * `SwitchboardError` `network-failed`.
 */
export type PushConnector = (
  url: string,
  headers: Readonly<Record<string, string>>,
) => Promise<PushSocket>;

/** A live push subscription to one mailbox. */
export interface MailboxSubscription {
  /** Stops receiving; `closed` then resolves without an error. */
  close(): void;
  /** Resolves when the subscription ends: undefined when closed by us, else why it ended. */
  readonly closed: Promise<Error | undefined>;
}
