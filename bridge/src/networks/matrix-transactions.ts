import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/** Largest request body read (a transaction of 100 events of up to 64 KiB each fits). */
export const MAX_BODY_BYTES = 10_000_000;

/**
 * `PUT /_matrix/app/v1/transactions/{txnId}`, the doubled prefix, or the legacy path without
 * it (matrix-endpoint.ts serves the same paths through express). No query string: requests
 * with one (`?access_token=`) take the express route.
 */
const TRANSACTION_PATH = /^(?:\/_matrix\/app\/v1){0,2}\/transactions\/([^/?]+)$/;

/** What the endpoint does with a transaction: resolves once its events are recorded. */
export type TransactionHandler = (txnId: string, body: Record<string, unknown>) => Promise<void>;

type Answer = readonly [status: number, body: string];

const OK: Answer = [200, '{}'];
const MISSING_TOKEN: Answer = [
  401,
  '{"errcode":"M_UNAUTHORIZED","error":"missing homeserver token"}',
];
const BAD_TOKEN: Answer = [403, '{"errcode":"M_FORBIDDEN","error":"bad homeserver token"}'];
const NOT_JSON: Answer = [400, '{"errcode":"M_NOT_JSON","error":"the body is not valid JSON"}'];
const BAD_JSON: Answer = [
  400,
  '{"errcode":"M_BAD_JSON","error":"transaction body must be an object"}',
];
const TOO_LARGE: Answer = [413, '{"errcode":"M_TOO_LARGE","error":"the body is too large"}'];
const NOT_PROCESSED: Answer = [
  500,
  '{"errcode":"M_UNKNOWN","error":"transaction not processed; retry"}',
];

/**
 * Serves the homeserver's transaction pushes on the bare HTTP listener and hands every other
 * request to `fallback` (the express app). Express's router and body parser cost about 300 us
 * of CPU per transaction (docs/decisions.md), and Synapse pushes small transactions, often one
 * event. Only requests the express route would answer the same way are taken here: a `PUT` on
 * an exact path, JSON in UTF-8 without content coding, a body, no query string. The answers are
 * the express route's and `httpErrors`' (token checked before the body is read; the 10 MB
 * limit; 400 for what is not a JSON object).
 */
export function transactionListener(
  hsToken: string,
  handler: TransactionHandler,
  fallback: RequestListener,
): RequestListener {
  return (req, res) => {
    const txnId = req.method === 'PUT' ? fastTransactionId(req) : undefined;
    if (txnId === undefined) {
      fallback(req, res);
      return;
    }
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (token !== hsToken) {
      answer(res, token === undefined ? MISSING_TOKEN : BAD_TOKEN);
      req.resume();
      return;
    }
    readBody(req, (text) => {
      if (text === undefined) {
        answer(res, TOO_LARGE);
        return;
      }
      const body = parseObject(text);
      if (isAnswer(body)) {
        answer(res, body);
        return;
      }
      handler(txnId, body).then(
        () => answer(res, OK),
        () => answer(res, NOT_PROCESSED),
      );
    });
  };
}

/** The transaction id if this request is one the fast path serves exactly as express would. */
function fastTransactionId(req: IncomingMessage): string | undefined {
  const match = TRANSACTION_PATH.exec(req.url ?? '');
  if (!match) return undefined;
  const type = req.headers['content-type']?.toLowerCase();
  if (type !== 'application/json' && type !== 'application/json; charset=utf-8') return undefined;
  const coding = req.headers['content-encoding'];
  if (coding !== undefined && coding.toLowerCase() !== 'identity') return undefined;
  // A request without a body is left to express (its parser does not read one).
  if (req.headers['content-length'] === undefined && !req.headers['transfer-encoding']) {
    return undefined;
  }
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

/** Reads the body as UTF-8; `undefined` when it exceeds {@link MAX_BODY_BYTES}. */
function readBody(req: IncomingMessage, done: (text: string | undefined) => void): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    done(undefined);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) {
      chunks.push(chunk);
      return;
    }
    req.off('data', onData);
    req.off('end', onEnd);
    req.resume();
    done(undefined);
  };
  const onEnd = (): void => {
    const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    done(buffer.toString('utf8'));
  };
  req.on('data', onData);
  req.on('end', onEnd);
}

/**
 * The body as express's strict JSON parser and the route read it: empty means `{}`, the first
 * character past white space must open an object or array, and the route takes objects only.
 */
function parseObject(text: string): Record<string, unknown> | Answer {
  // An Answer is an array; a parsed array is refused (BAD_JSON), so the two never mix.
  const start = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (start.length === 0) return {};
  const first = start.charAt(firstNonWhiteSpace(start));
  if (first !== '{' && first !== '[') return NOT_JSON;
  let body: unknown;
  try {
    body = JSON.parse(start);
  } catch {
    return NOT_JSON;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return BAD_JSON;
  return body as Record<string, unknown>;
}

/** Index of the first character that is not JSON white space (RFC 8259: space, tab, LF, CR). */
function firstNonWhiteSpace(text: string): number {
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
  }
  return i;
}

function isAnswer(value: Record<string, unknown> | Answer): value is Answer {
  return Array.isArray(value);
}

function answer(res: ServerResponse, [status, body]: Answer): void {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
