import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { HttpSignatureError, verifyRequest } from '@switchboard/http-signature';
import { clientPrefix } from '@switchboard/service-kit';
import type { ProviderDeps } from '../core/deps.js';
import type { MailboxHub } from './mailboxes.js';
import { mailboxKeyResolver, markFetched } from './mailboxes.js';

const SOCKET_PATH = /^\/v1\/mailboxes\/([A-Za-z0-9_-]{43})\/socket$/;

/** Options of {@link attachMailboxSockets}. */
export interface MailboxSocketOptions {
  /**
   * express's compiled `trust proxy` (`app.get('trust proxy fn')`): which hops may name the
   * client in `X-Forwarded-For`. Absent: the socket's peer is the client.
   */
  readonly trustProxy?: (address: string, hop: number) => boolean;
}

/** The client address as express computes `req.ip` (proxy-addr's walk over X-Forwarded-For). */
export function upgradeClientAddress(
  req: IncomingMessage,
  trust: ((address: string, hop: number) => boolean) | undefined,
): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const header = req.headers['x-forwarded-for'];
  if (!trust || typeof header !== 'string') return peer;
  const chain = [
    peer,
    ...header
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '')
      .reverse(),
  ];
  let i = 0;
  while (i < chain.length - 1 && trust(chain[i] ?? '', i)) i++;
  return chain[i] ?? peer;
}

/** Adds `delta` to a counter in `map`, removing it at zero. */
function bump(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/**
 * Push delivery: `GET /v1/mailboxes/{mailbox}/socket` upgraded to a WebSocket, signed like a
 * pull (RFC 9421 by the mailbox key, empty body). Every message delivered afterwards arrives as
 * one JSON `MailboxMessage` text frame; the client still deletes each message after handling it.
 * Upgrades are rate limited per client prefix (the client address found as express finds it,
 * given its `trust proxy` function), and open sockets are capped per mailbox and per client
 * prefix. Returns a function that closes every socket.
 */
export function attachMailboxSockets(
  server: Server,
  deps: ProviderDeps,
  hub: MailboxHub,
  options: MailboxSocketOptions = {},
): () => void {
  const sockets: OpenSockets = {
    wss: new WebSocketServer({ noServer: true, maxPayload: 1024 }),
    perMailbox: new Map<string, number>(),
    perPrefix: new Map<string, number>(),
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Without a listener a reset during a refusal ('write ECONNRESET') would end the process.
    socket.on('error', () => socket.destroy());
    const address = upgradeClientAddress(req, options.trustProxy);
    const prefix = clientPrefix(address);
    const path = (req.url ?? '').split('?')[0] ?? '';
    const mailbox = SOCKET_PATH.exec(path)?.[1];
    if (!mailbox) {
      refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (!deps.limits.socketUpgradesPerPrefix.take(prefix).allowed) {
      refuseUpgrade(socket, 429, 'Too Many Requests');
      return;
    }
    verifyRequest({
      method: req.method ?? 'GET',
      url: req.url ?? '',
      headers: req.headers,
      body: '',
      now: deps.now() / 1000,
      resolveKey: mailboxKeyResolver(mailbox),
      replayCache: deps.replayCache,
      maxSkewSeconds: deps.config.signatureMaxSkewSeconds,
    })
      .then(() =>
        markFetched(deps, mailbox, clientPrefix(address, deps.config.mailboxes.senderPrefix)),
      )
      .then(
        () => admitSocket({ req, socket, head, mailbox, prefix }, sockets, deps, hub),
        (err: unknown) => {
          if (!HttpSignatureError.is(err))
            deps.logger.error({ err }, 'mailbox socket upgrade failed');
          refuseUpgrade(socket, 401, 'Unauthorized');
        },
      );
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const client of sockets.wss.clients) client.terminate();
    sockets.wss.close();
  };
}

/** The WebSocket server and the open sockets counted per mailbox and per client prefix. */
interface OpenSockets {
  readonly wss: WebSocketServer;
  readonly perMailbox: Map<string, number>;
  readonly perPrefix: Map<string, number>;
}

/** An upgrade whose signature verified. */
interface VerifiedUpgrade {
  readonly req: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly mailbox: string;
  readonly prefix: string;
}

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  // A client may already have reset the connection; writing then would fail.
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Opens the socket unless its mailbox or client prefix holds the most allowed; subscribes it. */
function admitSocket(
  upgrade: VerifiedUpgrade,
  sockets: OpenSockets,
  deps: ProviderDeps,
  hub: MailboxHub,
): void {
  const { req, socket, head, mailbox, prefix } = upgrade;
  const { perMailbox, perPrefix } = sockets;
  const limits = deps.config.mailboxes;
  if (
    (perMailbox.get(mailbox) ?? 0) >= limits.maxSocketsPerMailbox ||
    (perPrefix.get(prefix) ?? 0) >= limits.maxSocketsPerClientPrefix
  ) {
    refuseUpgrade(socket, 429, 'Too Many Requests');
    return;
  }
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  bump(perMailbox, mailbox, 1);
  bump(perPrefix, prefix, 1);
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    bump(perMailbox, mailbox, -1);
    bump(perPrefix, prefix, -1);
  };
  socket.once('close', release);
  sockets.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
    const unsubscribe = hub.subscribe(mailbox, (message) => ws.send(JSON.stringify(message)));
    ws.on('close', unsubscribe);
    ws.on('error', unsubscribe);
  });
}
