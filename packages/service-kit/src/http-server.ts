import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

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
