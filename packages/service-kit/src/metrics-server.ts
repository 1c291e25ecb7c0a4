import { createServer } from 'node:http';
import type { RunningHttpServer } from './http-server.js';
import { listenHttp } from './http-server.js';

/** What {@link listenMetrics} serves: a prom-client `Registry` is one. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** Where a service's metrics listener binds. */
export interface MetricsAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * The metrics listener's address from `<PREFIX>_METRICS_HOST` (default 127.0.0.1) and
 * `<PREFIX>_METRICS_PORT` (default `defaultPort`, or 0, any free port, when the service's own
 * port is 0: a service started on a free port, as tests do, must not collide on a fixed one).
 */
export function metricsAddress(
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
  defaults: { readonly servicePort: number; readonly defaultPort: number },
): MetricsAddress {
  const raw = env[`${prefix}_METRICS_PORT`];
  const port = raw === undefined ? (defaults.servicePort === 0 ? 0 : defaults.defaultPort) : +raw;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${prefix}_METRICS_PORT must be a port number (0-65535)`);
  }
  return { host: env[`${prefix}_METRICS_HOST`] ?? '127.0.0.1', port };
}

/**
 * Serves `GET /metrics` (Prometheus text format) on a listener of its own, apart from the
 * public API: bind it to loopback or an internal network and let only the scraper reach it.
 * Anything else answers 404 (405 for another method on `/metrics`).
 *
 * @example
 * const running = await listenMetrics(registry, '127.0.0.1', 9080);
 */
export async function listenMetrics(
  source: MetricsSource,
  host: string,
  port: number,
  onError: (err: unknown) => void = () => undefined,
): Promise<RunningHttpServer> {
  const server = createServer((req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    source.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': source.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        onError(err);
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('failed\n');
      },
    );
  });
  return listenHttp(server, host, port);
}
