import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { Message } from '@switchboard/dns-wire';
import { decodeMessage, RRType } from '@switchboard/dns-wire';
import type { Logger, RunningHttpServer } from '@switchboard/service-kit';
import { listenHttp, withSecurityHeaders } from '@switchboard/service-kit';
import type { ResponseRateLimiter } from './rrl.js';
import { processPacket } from './server.js';
import type { QueryGate } from './admission.js';
import type { TransferPolicy } from './server.js';
import type { ZoneState } from '../state/zone-state.js';

/** The path DNS over HTTPS is served on (RFC 8484 URI template `{?dns}` under it). */
export const DOH_PATH = '/dns-query';

/**
 * Largest DNS query accepted, in octets, by GET (after base64url decoding) and POST. A query
 * for this zone (one question, OPT, RFC 8467 padding) is far smaller; TSIG and transfers are
 * not served over DoH.
 */
export const DOH_MAX_QUERY_OCTETS = 4096;

/** Zone transfers are never served over DoH: no TSIG keys, nobody allowed without one. */
const NO_TRANSFERS: TransferPolicy = { tsigKeys: [], allowFrom: [] };

/** Settings for {@link startDohServer}. */
export interface DohServerConfig {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly zone: ZoneState;
  /** Response rate limiting, the same as for UDP (per client prefix and answer identity). */
  readonly rrl: ResponseRateLimiter;
  readonly logger: Logger;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** Most concurrent connections in all. Default 200. */
  readonly maxConnections?: number;
  /** Counters for metrics. */
  readonly onResponse?: (rcode: number, kind: string) => void;
  /**
   * Admission to signing (the DNS listener's gate, shared): a DoH client is a TCP client, so
   * every signature it needs comes out of the same budget and per-client limit.
   */
  readonly gate?: QueryGate;
}

/** A failure answered with an RFC 9457 problem. */
class DohProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/**
 * DNS over HTTPS (RFC 8484) on a listener of its own: GET `?dns=<base64url>` and POST
 * `application/dns-message` on {@link DOH_PATH}, answered by {@link processPacket}, the
 * function the UDP and TCP listeners answer with (TCP's size rules: no truncation). Plain
 * HTTP: TLS is for the proxy in front of it (RFC 8484 requires HTTPS of what clients reach).
 */
export async function startDohServer(config: DohServerConfig): Promise<RunningHttpServer> {
  const server = createServer(
    withSecurityHeaders((req, res) => {
      void handle(req, res, config).catch((err: unknown) => {
        config.logger.error({ err }, 'doh request failed');
        if (!res.headersSent) sendProblem(res, new DohProblem(500, 'internal', 'internal error'));
        else res.destroy();
      });
    }),
  );
  server.maxConnections = config.maxConnections ?? 200;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 10_000;
  return listenHttp(server, config.host, config.port);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  config: DohServerConfig,
): Promise<void> {
  // CORS for GET (RFC 8484 5.1 answers are cacheable and public): pages of any origin may read
  // answers and problems. POST needs a preflight, which is not offered.
  if (req.method === 'GET' || req.method === 'HEAD')
    res.setHeader('Access-Control-Allow-Origin', '*');
  try {
    const url = requestUrl(req.url ?? '');
    if (url.pathname !== DOH_PATH) throw new DohProblem(404, 'not-found', 'no such resource');
    const query = await readQuery(req, url);
    const client = req.socket.remoteAddress ?? '';
    sendAnswer(res, answer(query, client, config), req.method === 'HEAD');
  } catch (err) {
    if (!(err instanceof DohProblem)) throw err;
    // A body left unread would be parsed as the next request on a kept-alive connection.
    if (req.method === 'POST' && !req.readableEnded) res.setHeader('Connection', 'close');
    sendProblem(res, err);
  }
}

/** The request target as a URL; anything but an origin-form path is refused. */
function requestUrl(target: string): URL {
  try {
    if (target.startsWith('/')) return new URL(`http://doh.invalid${target}`);
  } catch {
    // Refused below.
  }
  throw new DohProblem(400, 'invalid-query', 'the request target must be a path');
}

/** The query's wire octets from a GET's `dns` parameter or a POST body. */
async function readQuery(req: IncomingMessage, url: URL): Promise<Uint8Array> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    const values = url.searchParams.getAll('dns');
    const text = values[0];
    if (values.length !== 1 || text === undefined || text.length === 0) {
      throw new DohProblem(400, 'invalid-query', 'one dns parameter is required');
    }
    if (text.length > Math.ceil((DOH_MAX_QUERY_OCTETS * 4) / 3)) {
      throw new DohProblem(413, 'payload-too-large', tooLarge());
    }
    // RFC 8484 6: base64url without padding.
    if (!/^[A-Za-z0-9_-]+$/.test(text) || text.length % 4 === 1) {
      throw new DohProblem(400, 'invalid-query', 'dns must be base64url without padding');
    }
    return Buffer.from(text, 'base64url');
  }
  if (req.method !== 'POST') {
    throw new DohProblem(405, 'method-not-allowed', 'use GET or POST', {
      Allow: 'GET, HEAD, POST',
    });
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/dns-message') {
    throw new DohProblem(415, 'unsupported-media-type', 'the body must be application/dns-message');
  }
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > DOH_MAX_QUERY_OCTETS) throw new DohProblem(413, 'payload-too-large', tooLarge());
  return readBody(req);
}

function tooLarge(): string {
  return `DNS queries are limited to ${DOH_MAX_QUERY_OCTETS} octets`;
}

/** The body, refused once it passes the limit (chunked bodies declare no length). */
async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > DOH_MAX_QUERY_OCTETS) throw new DohProblem(413, 'payload-too-large', tooLarge());
    chunks.push(chunk);
  }
  if (length === 0) throw new DohProblem(400, 'invalid-query', 'the body is empty');
  return Buffer.concat(chunks);
}

/** The reply octets from the UDP/TCP answer path, rate limited like UDP. */
function answer(query: Uint8Array, client: string, config: DohServerConfig): Uint8Array {
  const outcome = processPacket(query, 'tcp', client, {
    zone: config.zone,
    transfer: NO_TRANSFERS,
    now: config.now,
    ...(config.gate ? { gate: config.gate } : {}),
    ...(config.onResponse
      ? {
          onResponse: (_t: string, rcode: number, kind: string) => config.onResponse?.(rcode, kind),
        }
      : {}),
  });
  // Responses (QR set) and octets without a header are dropped over UDP; here they are refused.
  if (outcome.kind === 'drop') throw new DohProblem(400, 'invalid-query', 'not a DNS query');
  const bytes = outcome.kind === 'reply' ? outcome.messages[0] : undefined;
  if (!bytes) throw new DohProblem(400, 'invalid-query', 'zone transfers are not served over DoH');
  if (config.rrl.enabled && config.rrl.check(client, outcome.identity) !== 'send') {
    // Over HTTP a truncated (slipped) answer would not make the client retry anywhere else.
    throw new DohProblem(429, 'rate-limited', 'too many identical answers', {
      'Retry-After': '1',
    });
  }
  return bytes;
}

function sendAnswer(res: ServerResponse, bytes: Uint8Array, headOnly: boolean): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/dns-message');
  res.setHeader('Content-Length', String(bytes.length));
  res.setHeader('Cache-Control', `max-age=${freshness(bytes)}`);
  res.end(headOnly ? undefined : bytes);
}

/**
 * RFC 8484 5.1: no fresher than the smallest TTL of the records in the answer (OPT aside); for
 * a denial that includes the SOA's MINIMUM (RFC 2308 5). 0 when there are no records.
 */
export function freshness(bytes: Uint8Array): number {
  let message: Message;
  try {
    message = decodeMessage(bytes);
  } catch {
    return 0;
  }
  let min = Infinity;
  for (const rr of [...message.answers, ...message.authorities, ...message.additionals]) {
    if (rr.type === RRType.OPT) continue;
    min = Math.min(min, rr.ttl);
    if (rr.type === RRType.SOA && 'minimum' in rr.data) min = Math.min(min, rr.data.minimum);
  }
  return Number.isFinite(min) ? min : 0;
}

function sendProblem(res: ServerResponse, problem: DohProblem): void {
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  const words = problem.code.replace(/-/g, ' ');
  const body = JSON.stringify({
    type: `https://switchboard.test/problems/${problem.code}`,
    title: words.charAt(0).toUpperCase() + words.slice(1),
    status: problem.status,
    detail: problem.message,
    code: problem.code,
    instance: DOH_PATH,
  });
  res.statusCode = problem.status;
  res.setHeader('Content-Type', 'application/problem+json');
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}
