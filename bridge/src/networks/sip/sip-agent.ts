import { randomBytes, randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import type { Socket } from 'node:net';
import type { Logger } from '@switchboard/service-kit';
import { digestAuthorization, parseDigestChallenge } from './sip-digest.js';
import { formatRequest, formatResponse, parseSipMessage } from './sip-message.js';
import type { HeaderField, SipRequest, SipResponse } from './sip-message.js';
import {
  ClientTransactions,
  ServerTransactions,
  TIMER_F_MS,
  TransactionError,
} from './sip-transactions.js';
import { badRequestAnswer, hasTag, reasonFor } from './sip-answers.js';

/** What the agent answers a request with. */
export interface SipAnswer {
  readonly status: number;
  /** Reason phrase; the standard one for `status` when absent. */
  readonly reason?: string;
  readonly headers?: readonly HeaderField[];
}

export interface SipAgentOptions {
  /** `ws://` or `wss://` URL of the proxy's WebSocket listener (RFC 7118). */
  readonly server: string;
  /** Digest credentials, used when the proxy challenges a request (401/407). */
  readonly credentials?: { readonly username: string; readonly password: string } | undefined;
  readonly logger: Logger;
  /** Answers a MESSAGE (other methods the agent answers itself). */
  readonly onMessage: (req: SipRequest) => Promise<SipAnswer>;
  /** Called once when the connection is gone (not after {@link SipAgent.close}). */
  readonly onClose: () => void;
  /** Timer F (ms); RFC 3261's 32 s by default. */
  readonly timerFMs?: number;
  /** Interval of WebSocket pings; a connection that missed a pong is dropped. */
  readonly keepaliveMs?: number;
  /** How long connecting may take (ms). */
  readonly connectTimeoutMs?: number;
}

/** A request the agent sends outside any dialog (MESSAGE, REGISTER). */
export interface OutgoingRequest {
  readonly method: string;
  readonly uri: string;
  readonly from: string;
  /** The From tag; a fresh one when absent. */
  readonly fromTag?: string;
  readonly to: string;
  /** A fresh `sb-<uuid>` when absent. */
  readonly callId?: string;
  /** 1 when absent. A challenged request is sent again with `cseq + 1`. */
  readonly cseq?: number;
  readonly headers?: readonly HeaderField[];
  readonly contentType?: string;
  readonly body?: string;
}

const KEEPALIVE_MS = 15_000;
/** Largest WebSocket frame taken: a SIP message is at most {@link MAX_MESSAGE_CHARS}. */
const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * One connection to the SIP proxy as a user agent (RFC 3261 over WebSocket, RFC 7118):
 * non-INVITE client transactions settled by their final response, timer F or the loss of the
 * connection; MESSAGE requests handed to `onMessage` and answered once; OPTIONS answered
 * 200, INVITE 488 and other methods 405; digest authentication when challenged; WebSocket
 * pings as keepalive. A new agent is made for each connection.
 */
export class SipAgent {
  readonly #ws: WebSocket;
  readonly #opts: SipAgentOptions;
  readonly #client: ClientTransactions;
  readonly #server = new ServerTransactions();
  readonly #viaHost = `${randomBytes(6).toString('hex')}.invalid`;
  readonly #transport: 'WS' | 'WSS';
  readonly #idPrefix = randomBytes(6).toString('hex');
  #ids = 0;
  #closed = false;
  #alive = true;
  #keepalive: NodeJS.Timeout | undefined;
  /** The socket is corked until the end of this turn of the event loop (see #write). */
  #corked = false;

  private constructor(ws: WebSocket, opts: SipAgentOptions) {
    this.#ws = ws;
    this.#opts = opts;
    this.#client = new ClientTransactions(opts.timerFMs ?? TIMER_F_MS);
    this.#transport = opts.server.startsWith('wss:') ? 'WSS' : 'WS';
  }

  /** Connects; rejects when the proxy cannot be reached. */
  static async connect(opts: SipAgentOptions): Promise<SipAgent> {
    const ws = new WebSocket(opts.server, 'sip', {
      handshakeTimeout: opts.connectTimeoutMs ?? 5000,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('the proxy closed the connection')));
    });
    if (ws.protocol !== 'sip') {
      ws.terminate();
      throw new Error('the proxy did not accept the sip WebSocket subprotocol');
    }
    const agent = new SipAgent(ws, opts);
    agent.#listen();
    return agent;
  }

  /** The host this agent writes in its Via and Contact (`<random>.invalid`, RFC 7118 §5). */
  get viaHost(): string {
    return this.#viaHost;
  }

  /** Whether the connection is open. */
  get open(): boolean {
    return !this.#closed && this.#ws.readyState === WebSocket.OPEN;
  }

  /** Client transactions waiting for their final response. */
  get pending(): number {
    return this.#client.size;
  }

  /** A fresh token for tags and branches (unique per agent; the prefix is random). */
  newId(): string {
    return `${this.#idPrefix}${(++this.#ids).toString(36)}`;
  }

  /**
   * Sends `req` and resolves with its final response; a 401/407 is answered once with digest
   * credentials when the agent has them. Rejects with {@link TransactionError} (timer F,
   * connection lost).
   */
  async request(req: OutgoingRequest): Promise<SipResponse> {
    const fixed = {
      ...req,
      fromTag: req.fromTag ?? this.newId(),
      callId: req.callId ?? `sb-${randomUUID()}`,
    };
    const res = await this.#send(fixed, []);
    if ((res.status !== 401 && res.status !== 407) || !this.#opts.credentials) return res;
    const auth = this.#authorization(res, fixed);
    if (!auth) return res;
    return this.#send({ ...fixed, cseq: (fixed.cseq ?? 1) + 1 }, [auth]);
  }

  #authorization(res: SipResponse, req: OutgoingRequest): HeaderField | undefined {
    const proxy = res.status === 407;
    const value = res.headers.get(proxy ? 'proxy-authenticate' : 'www-authenticate');
    const challenge = value === undefined ? undefined : parseDigestChallenge(value);
    if (!challenge) return undefined;
    const { username, password } = this.#opts.credentials!;
    const credentials = digestAuthorization(challenge, {
      username,
      password,
      method: req.method,
      uri: req.uri,
      nc: 1,
    });
    return [proxy ? 'Proxy-Authorization' : 'Authorization', credentials];
  }

  #send(req: OutgoingRequest, extra: readonly HeaderField[]): Promise<SipResponse> {
    if (!this.open) return Promise.reject(new TransactionError('transport'));
    const branch = `z9hG4bK${this.newId()}`;
    const headers: HeaderField[] = [
      ['Via', `SIP/2.0/${this.#transport} ${this.#viaHost};branch=${branch}`],
      ['Max-Forwards', '70'],
      ['To', `<${req.to}>`],
      ['From', `<${req.from}>;tag=${req.fromTag!}`],
      ['Call-ID', req.callId!],
      ['CSeq', `${req.cseq ?? 1} ${req.method}`],
      ...extra,
      ...(req.headers ?? []),
    ];
    if (req.contentType) headers.push(['Content-Type', req.contentType]);
    const text = formatRequest(req.method, req.uri, headers, req.body ?? '');
    const settled = this.#client.start(branch, req.method);
    this.#write(text);
    return settled;
  }

  /**
   * Frames written in one turn of the event loop leave in one socket write: the socket is
   * corked at the first and uncorked once the turn's I/O is done. Answers to a read full of
   * MESSAGEs and the MESSAGEs a delivery pass starts then cost one system call (and one read for
   * the proxy) instead of one each (the WebSocket has Nagle's algorithm off).
   */
  #write(text: string): void {
    const socket = (this.#ws as unknown as { _socket?: Socket | null })._socket;
    if (socket && !this.#corked) {
      socket.cork();
      this.#corked = true;
      setImmediate(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    this.#ws.send(text);
  }

  /** Closes the connection (pending transactions fail); resolves once it is closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopKeepalive();
    this.#client.failAll();
    await new Promise<void>((resolve) => {
      if (this.#ws.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => {
        this.#ws.terminate();
        resolve();
      }, 1000);
      this.#ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#ws.close(1000);
    });
  }

  #listen(): void {
    const ws = this.#ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.#alive = true;
      this.#onFrame(isBinary ? data.toString('utf8') : data.toString());
    });
    ws.on('pong', () => (this.#alive = true));
    ws.on('error', (err) => this.#opts.logger.debug({ err }, 'SIP WebSocket error'));
    ws.on('close', () => {
      this.#stopKeepalive();
      this.#client.failAll();
      if (this.#closed) return;
      this.#closed = true;
      this.#opts.onClose();
    });
    this.#keepalive = setInterval(() => {
      if (!this.#alive) {
        this.#opts.logger.warn('SIP proxy did not answer a keepalive; reconnecting');
        ws.terminate();
        return;
      }
      this.#alive = false;
      ws.ping();
    }, this.#opts.keepaliveMs ?? KEEPALIVE_MS);
    this.#keepalive.unref();
  }

  #stopKeepalive(): void {
    if (this.#keepalive) clearInterval(this.#keepalive);
    this.#keepalive = undefined;
  }

  #onFrame(text: string): void {
    if (/^[\r\n]*$/.test(text)) return; // a CRLF keepalive (RFC 5626 §3.5.1)
    let msg;
    try {
      msg = parseSipMessage(text);
    } catch (err) {
      this.#opts.logger.debug({ reason: (err as Error).message }, 'malformed SIP message');
      const answer = badRequestAnswer(text);
      if (answer && this.open) this.#write(answer);
      return;
    }
    if (msg.kind === 'response') {
      if (!this.#client.onResponse(msg)) {
        this.#opts.logger.debug({ status: msg.status }, 'SIP response for no transaction');
      }
      return;
    }
    void this.#onRequest(msg);
  }

  async #onRequest(req: SipRequest): Promise<void> {
    if (req.method === 'ACK' || !this.#server.open(req)) return;
    let answer: SipAnswer;
    try {
      answer = await this.#answerFor(req);
    } catch (err) {
      this.#opts.logger.error({ err }, 'unexpected failure answering a SIP request');
      answer = { status: 500 };
    }
    try {
      this.#respond(req, answer);
    } catch (err) {
      this.#opts.logger.error({ err }, 'could not answer a SIP request');
    } finally {
      this.#server.close(req);
    }
  }

  #answerFor(req: SipRequest): Promise<SipAnswer> | SipAnswer {
    switch (req.method) {
      case 'MESSAGE':
        return this.#opts.onMessage(req);
      case 'OPTIONS':
        return { status: 200, headers: [['Allow', ALLOW]] };
      case 'INVITE':
        return { status: 488 };
      case 'CANCEL':
      case 'BYE':
        return { status: 481 };
      default:
        return { status: 405, headers: [['Allow', ALLOW]] };
    }
  }

  /** Answers `req` (RFC 3261 §8.2.6): its Via, From, Call-ID and CSeq, To with our tag. */
  #respond(req: SipRequest, answer: SipAnswer): void {
    if (!this.open) return;
    const h = req.headers;
    const to = h.get('to') ?? '';
    const headers: HeaderField[] = [
      ...h.all('via').map((v): HeaderField => ['Via', v]),
      ['From', h.get('from') ?? ''],
      ['To', hasTag(to) ? to : `${to};tag=${this.newId()}`],
      ['Call-ID', req.callId],
      ['CSeq', h.get('cseq') ?? ''],
      ...(answer.headers ?? []),
    ];
    const reason = answer.reason ?? reasonFor(answer.status);
    this.#write(formatResponse(answer.status, reason, headers));
  }
}

const ALLOW = 'MESSAGE, OPTIONS';
