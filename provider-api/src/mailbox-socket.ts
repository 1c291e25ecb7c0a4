import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { HttpSignatureError, verifyRequest } from '@switchboard/http-signature';
import type { ProviderDeps } from './deps.js';
import type { MailboxHub } from './mailboxes.js';
import { mailboxKeyResolver } from './mailboxes.js';

const SOCKET_PATH = /^\/v1\/mailboxes\/([A-Za-z0-9_-]{43})\/socket$/;

/**
 * Push delivery: `GET /v1/mailboxes/{mailbox}/socket` upgraded to a WebSocket, signed like a
 * pull (RFC 9421 by the mailbox key, empty body). Every message delivered afterwards arrives as
 * one JSON `MailboxMessage` text frame; the client still deletes each message after handling it.
 * Returns a function that closes every socket.
 */
export function attachMailboxSockets(
  server: Server,
  deps: ProviderDeps,
  hub: MailboxHub,
): () => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  const refuse = (socket: Duplex, status: number, reason: string): void => {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const mailbox = SOCKET_PATH.exec(path)?.[1];
    if (!mailbox) {
      refuse(socket, 404, 'Not Found');
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
    }).then(
      () => {
        wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
          const unsubscribe = hub.subscribe(mailbox, (message) => ws.send(JSON.stringify(message)));
          ws.on('close', unsubscribe);
          ws.on('error', unsubscribe);
        });
      },
      (err: unknown) => {
        if (!HttpSignatureError.is(err))
          deps.logger.error({ err }, 'mailbox socket upgrade failed');
        refuse(socket, 401, 'Unauthorized');
      },
    );
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const client of wss.clients) client.terminate();
    wss.close();
  };
}
