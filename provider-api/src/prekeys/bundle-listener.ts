import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { API_CONTENT_SECURITY_POLICY } from '@switchboard/service-kit';

/**
 * `GET /v1/keys/bundles/{address}` as the express route matches it, without a trailing slash
 * or a query string (those, and every other request, take the express app).
 */
const BUNDLE_PATH = /^\/v1\/keys\/bundles\/([^/?#]+)$/;

/** The document's `maxLength` of `address` (the express route's validator checks it). */
const MAX_ADDRESS = 64;

/** What {@link bundleListener} serves bundle fetches with. */
export interface BundleFastPath {
  /**
   * The prototype of the requests service-kit's `expressServer` makes for the app (express's
   * request, so `req.ip` and the like work before the app saw the request). Requests made
   * otherwise take the app.
   */
  readonly requestPrototype: object;
  /** The bound route's work for a fetch of `address` (no body): the bundle's JSON text. */
  readonly fetch: (req: IncomingMessage, address: string) => Promise<string>;
  /** Counts a bundle served (the app's request counter, as its middleware would). */
  readonly served: () => void;
  /** The express app: every other request, and the fetches whose work failed. */
  readonly app: RequestListener;
  /**
   * Where a failed fetch leaves its error for the app's route, which throws it: the problem
   * is answered by the app (problem+json, headers, counters, logs), exactly as if the route
   * had failed.
   */
  readonly failed: WeakMap<IncomingMessage, unknown>;
}

/**
 * Serves bundle fetches on the bare HTTP listener and hands every other request to the express
 * app. Express's router, body parser, validator and middleware cost more CPU per fetch than the
 * fetch's own SQL (docs/decisions.md); the fast path takes only requests the route would
 * accept as they are (GET, exact path, no body, no `Sender-Certificate`, an address of at most
 * 64 characters), runs the route's own work, and answers with the route's headers, the app's
 * security headers and the same body. A fetch whose work fails goes to the app with its error.
 */
export function bundleListener(fast: BundleFastPath): RequestListener {
  return (req, res) => {
    const address = fastAddress(req, fast.requestPrototype);
    if (address === undefined) {
      fast.app(req, res);
      return;
    }
    fast.fetch(req, address).then(
      (body) => {
        sendBundle(res, body);
        fast.served();
      },
      (err: unknown) => {
        fast.failed.set(req, err);
        fast.app(req, res);
      },
    );
  };
}

/** The decoded address of a fetch the fast path may serve, or undefined: the app's. */
function fastAddress(req: IncomingMessage, requestPrototype: object): string | undefined {
  if (req.method !== 'GET' || Object.getPrototypeOf(req) !== requestPrototype) return undefined;
  const match = BUNDLE_PATH.exec(req.url ?? '');
  if (!match?.[1]) return undefined;
  const headers = req.headers;
  // A body (the route refuses one) or a certificate (checked against the document) go to the app.
  if (headers['transfer-encoding'] !== undefined || headers['sender-certificate'] !== undefined) {
    return undefined;
  }
  const length = headers['content-length'];
  if (length !== undefined && length !== '0') return undefined;
  let address: string;
  try {
    address = decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
  return address.length <= MAX_ADDRESS ? address : undefined;
}

/** The route's answer: 200, `no-store`, JSON, with the app's security headers. */
function sendBundle(res: ServerResponse, body: string): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Content-Security-Policy', API_CONTENT_SECURITY_POLICY);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  // As bytes: Node writes a string body's first chunk by concatenating it to the header text
  // (then flattened to measure it), about 10 KB of garbage a bundle; bytes go out beside it.
  res.end(Buffer.from(body, 'utf8'));
}
