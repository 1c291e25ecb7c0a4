// A minimal SIP user agent over UDP (RFC 3261) for the demo: registers at the proxy, answers
// every MESSAGE with 200 and hands its body on, and sends MESSAGEs. Loopback only, no auth.
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Buffer } from 'node:buffer';
import { clearTimeout, setTimeout } from 'node:timers';

const COMPACT = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  l: 'content-length',
  c: 'content-type',
};
const rand = () => randomBytes(6).toString('hex');

/** Parses one SIP datagram into start line, headers (lower-case names, in order) and body. */
export function parseSip(text) {
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const [start, ...lines] = head.split('\r\n');
  const headers = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.push([COMPACT[name] ?? name, line.slice(colon + 1).trim()]);
  }
  const get = (name) => headers.find(([n]) => n === name)?.[1];
  const length = Number(get('content-length') ?? 0);
  const body =
    split === -1
      ? ''
      : Buffer.from(text.slice(split + 4))
          .subarray(0, length)
          .toString();
  return { start, headers, get, body };
}

export class SipPhone {
  #socket = createSocket('udp4');
  #pending = new Map();
  #inbox = [];
  #waiters = [];
  #proxy;
  #cseq = 1;

  /** `user@domain` registered through the proxy at 127.0.0.1:`proxyPort`. */
  constructor(user, domain, proxyPort) {
    this.user = user;
    this.domain = domain;
    this.#proxy = proxyPort;
  }

  get aor() {
    return `sip:${this.user}@${this.domain}`;
  }

  async register(expires = 600) {
    await new Promise((resolve) => this.#socket.bind(0, '127.0.0.1', resolve));
    this.#socket.on('message', (msg) => this.#onMessage(msg.toString('utf8')));
    const res = await this.#request('REGISTER', `sip:${this.domain}`, this.aor, [
      `Contact: <sip:${this.user}@127.0.0.1:${this.#socket.address().port}>`,
      `Expires: ${expires}`,
    ]);
    if (!res.start.startsWith('SIP/2.0 200')) throw new Error(`REGISTER answered ${res.start}`);
  }

  /** Sends a MESSAGE to `target` (a SIP URI); resolves with the final status line. */
  async message(target, contentType, body) {
    const res = await this.#request(
      'MESSAGE',
      target,
      target,
      [`Content-Type: ${contentType}`],
      body,
    );
    return res.start;
  }

  /** The next MESSAGE received (already answered 200), within `timeoutMs`. */
  next(timeoutMs = 60_000) {
    const ready = this.#inbox.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.aor} received nothing in time`)),
        timeoutMs,
      );
      this.#waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }

  close() {
    this.#socket.close();
  }

  #request(method, uri, to, extra, body = '') {
    const callId = `${rand()}@127.0.0.1`;
    const port = this.#socket.address().port;
    const text = [
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${rand()};rport`,
      'Max-Forwards: 70',
      `From: <${this.aor}>;tag=${rand()}`,
      `To: <${to}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${this.#cseq++} ${method}`,
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(callId);
        reject(new Error(`${method} got no final answer`));
      }, 60_000);
      this.#pending.set(callId, (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      this.#socket.send(text, this.#proxy, '127.0.0.1');
    });
  }

  #onMessage(text) {
    const msg = parseSip(text);
    if (msg.start.startsWith('SIP/2.0 ')) {
      const status = Number(msg.start.slice(8, 11));
      const done = this.#pending.get(msg.get('call-id'));
      if (done && status >= 200) {
        this.#pending.delete(msg.get('call-id'));
        done(msg);
      }
      return;
    }
    this.#answer(msg, msg.start.startsWith('MESSAGE ') ? '200 OK' : '405 Method Not Allowed');
    if (!msg.start.startsWith('MESSAGE ')) return;
    const received = {
      from: msg.get('from'),
      contentType: msg.get('content-type'),
      body: msg.body,
    };
    const waiter = this.#waiters.shift();
    if (waiter) waiter(received);
    else this.#inbox.push(received);
  }

  #answer(req, status) {
    const copy = req.headers
      .filter(([n]) => ['via', 'from', 'call-id', 'cseq'].includes(n))
      .map(
        ([n, v]) =>
          `${n === 'call-id' ? 'Call-ID' : n === 'cseq' ? 'CSeq' : n[0].toUpperCase() + n.slice(1)}: ${v}`,
      );
    const to = req.get('to') ?? '';
    const text = [
      `SIP/2.0 ${status}`,
      ...copy,
      `To: ${to.includes(';tag=') ? to : `${to};tag=${rand()}`}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    // RFC 3261 18.2.2 with rport: back to where the request came from (the proxy).
    this.#socket.send(text, this.#proxy, '127.0.0.1');
  }
}
