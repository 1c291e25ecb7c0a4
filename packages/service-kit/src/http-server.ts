import type { RequestListener, Server } from 'node:http';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What {@link expressServer} needs of an express app. */
export interface ExpressApp extends RequestListener {
  readonly request: object;
  readonly response: object;
}

/**
 * An HTTP server for an express app whose requests and responses are made with the app's own
 * prototypes from the start. Express 5 gives every request and response the app's prototype
 * in `app.handle` (`Object.setPrototypeOf`), and V8 pays for that change on every request:
 * new hidden classes and allocation in the old generation, so 3-5 ms scavenges every few hundred
 * requests. With the prototype already right, that call changes nothing. Measured on a bare
 * express 5 app, one core each for server and load: about 4x the requests per second, p99 from
 * 7 ms to under 1 ms (docs/decisions.md). `listener` (default: the app) is what serves the
 * requests, e.g. a fast path for one route that hands everything else to the app.
 */
export function expressServer(app: ExpressApp, listener: RequestListener = app): Server {
  // Should a later Node make them classes (not callable this way), do without.
  if (
    [IncomingMessage, ServerResponse].some((c) =>
      /^class\b/.test(Function.prototype.toString.call(c)),
    )
  ) {
    return createServer(listener);
  }
  // Node's IncomingMessage and ServerResponse are plain constructor functions; these call them
  // on objects whose prototype is express's (which itself inherits from theirs).
  function Request(this: IncomingMessage, socket: Socket): void {
    Reflect.apply(IncomingMessage, this, [socket]);
  }
  Request.prototype = app.request;
  function Response(this: ServerResponse, req: IncomingMessage, options?: object): void {
    Reflect.apply(ServerResponse, this, [req, options]);
  }
  Response.prototype = app.response;
  return createServer(
    {
      IncomingMessage: Request as unknown as typeof IncomingMessage,
      ServerResponse: Response as unknown as typeof ServerResponse,
    },
    listener,
  );
}

/** A listening HTTP server that can be closed gracefully. */
export interface RunningHttpServer {
  readonly server: Server;
  /** `http://host:port` as actually bound (port 0 resolves to the real port). */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes idle sockets. */
  close(graceMs?: number): Promise<void>;
}

/** Starts `server` on host:port and tracks its sockets so {@link RunningHttpServer.close} is graceful. */
export async function listenHttp(
  server: Server,
  host: string,
  port: number,
): Promise<RunningHttpServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    close: (graceMs = 5000) =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, graceMs);
        timer.unref();
      })),
  };
}
