// Minimal, fast clients for the bridge benchmark: an XMPP c2s client and a SIP user agent over
// UDP on raw sockets (Matrix events come from the homeserver double, which pushes them as
// Synapse does). Each message body carries `sbbench-<tag>-<seq>`; receivers find those marks
// in the raw stream (no XML or SIP parsing beyond what answering needs), so the client's cost
// per message stays small next to the servers'.
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** Called for each `sbbench-<tag>-<seq>` mark a receiver sees. */
export type OnMark = (tag: number, seq: number) => void;

const MARK = /sbbench-(\d+)-(\d+)/g;

/** Scans a stream for marks, keeping a short tail so a mark split across chunks is found. */
class MarkScanner {
  #tail = '';
  constructor(readonly onMark: OnMark) {}

  push(chunk: string): void {
    const text = this.#tail + chunk;
    MARK.lastIndex = 0;
    let end = 0;
    for (let m = MARK.exec(text); m; m = MARK.exec(text)) {
      // A mark touching the end may be cut short: leave it for the next chunk.
      if (m.index + m[0].length >= text.length) break;
      this.onMark(Number(m[1]), Number(m[2]));
      end = m.index + m[0].length;
    }
    this.#tail = text.slice(Math.max(end, text.length - 40));
  }
}

function waitFor(read: () => string, pattern: RegExp, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (pattern.test(read())) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');

/**
 * An XMPP client (RFC 6120) on a plain TCP socket: SASL PLAIN (the bench Prosody allows it
 * unencrypted on loopback), resource binding, initial presence; then it writes message stanzas
 * and reports the marks of those it receives.
 */
export class XmppBenchClient {
  #socket: Socket | undefined;
  #buffer = '';
  #online = false;
  #sent = 0;
  readonly #scanner: MarkScanner;

  constructor(
    readonly user: string,
    readonly domain: string,
    readonly password: string,
    onMark: OnMark,
  ) {
    this.#scanner = new MarkScanner(onMark);
  }

  get jid(): string {
    return `${this.user}@${this.domain}`;
  }

  async connect(port: number): Promise<void> {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      if (this.#online) this.#scanner.push(chunk);
      else this.#buffer += chunk;
    });
    const open = `<?xml version='1.0'?><stream:stream to='${this.domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
    socket.write(open);
    await waitFor(() => this.#buffer, /<\/stream:features>/, 'stream features');
    const plain = Buffer.from(`\0${this.user}\0${this.password}`).toString('base64');
    this.#buffer = '';
    socket.write(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`,
    );
    await waitFor(() => this.#buffer, /<success/, 'SASL success');
    this.#buffer = '';
    socket.write(open);
    await waitFor(() => this.#buffer, /<\/stream:features>/, 'stream features after SASL');
    this.#buffer = '';
    socket.write(
      `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>`,
    );
    await waitFor(() => this.#buffer, /<jid>/, 'resource binding');
    this.#buffer = '';
    this.#online = true;
    socket.write('<presence/>');
  }

  /** Writes one chat message (a fresh stanza id each); false when the socket's buffer is full. */
  send(to: string, body: string): boolean {
    const id = `${this.user}${process.pid}-${++this.#sent}`;
    return this.#socket!.write(
      `<message to='${xmlEscape(to)}' type='chat' id='${id}'><body>${xmlEscape(body)}</body></message>`,
    );
  }

  close(): void {
    this.#socket?.end('</stream:stream>');
    this.#socket?.destroy();
  }
}

/**
 * A SIP user agent over UDP (RFC 3261, just enough): REGISTERs with the proxy, answers every
 * MESSAGE with 200 and reports its marks, and sends MESSAGE requests (no retransmission: a
 * request that gets lost counts as lost). Final answers to its own requests are counted.
 */
export class SipBenchUser {
  #socket: UdpSocket | undefined;
  #port = 0;
  readonly answers = new Map<number, number>();
  #registered: ((ok: boolean) => void) | undefined;
  readonly #scanner: MarkScanner;
  readonly #seen = new Set<string>();
  #sent = 0;
  /** Requests without a final answer yet, for retransmission. */
  readonly #pending = new Map<
    string,
    { text: string; sentAt: number; due: number; interval: number; giveUpAt: number }
  >();
  /** Time from each request's first send to its final answer (ms), the latest 10,000. */
  readonly answerMs: number[] = [];
  #resender: NodeJS.Timeout | undefined;
  retransmissions = 0;
  /** Called with the mark of a message of ours answered with a final non-2xx. */
  onRefused: OnMark | undefined;

  constructor(
    readonly user: string,
    readonly domain: string,
    readonly proxyPort: number,
    onMark: OnMark,
  ) {
    this.#scanner = new MarkScanner(onMark);
  }

  async open(): Promise<void> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    this.#port = socket.address().port;
    socket.on('message', (msg, rinfo) => this.#onDatagram(msg.toString('utf8'), rinfo.port));
  }

  /** Registers `sip:<user>@<domain>` at this socket with the proxy. */
  async register(): Promise<void> {
    const ok = new Promise<boolean>((resolve) => (this.#registered = resolve));
    const callId = `reg-${this.user}-${process.pid}-${Date.now()}`;
    this.#write(
      [
        `REGISTER sip:${this.domain} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${this.#port};branch=z9hG4bK-${callId};rport`,
        'Max-Forwards: 70',
        `From: <sip:${this.user}@${this.domain}>;tag=r${process.pid}`,
        `To: <sip:${this.user}@${this.domain}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 REGISTER',
        `Contact: <sip:${this.user}@127.0.0.1:${this.#port}>`,
        'Expires: 3600',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    const timer = setTimeout(() => this.#registered?.(false), 10_000);
    const good = await ok;
    clearTimeout(timer);
    if (!good) throw new Error(`SIP user ${this.user} could not register`);
  }

  /**
   * Sends one MESSAGE to `sip:<toUser>@<domain>` through the proxy, resent as RFC 3261 timer E
   * says (500 ms, doubling up to 4 s) until a final answer comes, for at most 32 s (timer F).
   */
  send(toUser: string, body: string): void {
    const callId = `m${++this.#sent}-${process.pid}`;
    const bytes = Buffer.byteLength(body);
    const text =
      `MESSAGE sip:${toUser}@${this.domain} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${this.#port};branch=z9hG4bK-${callId};rport\r\n` +
      'Max-Forwards: 70\r\n' +
      `From: <sip:${this.user}@${this.domain}>;tag=f${process.pid}\r\n` +
      `To: <sip:${toUser}@${this.domain}>\r\n` +
      `Call-ID: ${callId}\r\n` +
      'CSeq: 1 MESSAGE\r\n' +
      'Content-Type: text/plain\r\n' +
      `Content-Length: ${bytes}\r\n\r\n${body}`;
    this.#write(text);
    const now = Date.now();
    this.#pending.set(callId, {
      text,
      sentAt: performance.now(),
      due: now + 500,
      interval: 500,
      giveUpAt: now + 32_000,
    });
    this.#resender ??= setInterval(() => this.#resend(), 50);
  }

  close(): void {
    if (this.#resender) clearInterval(this.#resender);
    this.#socket?.close();
  }

  #resend(): void {
    const now = Date.now();
    for (const [callId, p] of this.#pending) {
      if (now >= p.giveUpAt) this.#pending.delete(callId);
      else if (now >= p.due) {
        this.#write(p.text);
        this.retransmissions += 1;
        p.interval = Math.min(4000, p.interval * 2);
        p.due = now + p.interval;
      }
    }
  }

  #write(text: string, port = this.proxyPort): void {
    this.#socket?.send(text, port, '127.0.0.1');
  }

  #onDatagram(text: string, fromPort: number): void {
    if (text.startsWith('SIP/2.0 ')) {
      const code = Number(text.slice(8, 11));
      if (code < 200) return;
      if (/^CSeq:\s*\d+ REGISTER/im.test(text)) {
        this.#registered?.(code === 200);
        return;
      }
      const callId = /^(?:Call-ID|i):\s*(\S+)/im.exec(text)?.[1] ?? '';
      const request = this.#pending.get(callId);
      if (!request) return;
      this.#pending.delete(callId);
      this.answers.set(code, (this.answers.get(code) ?? 0) + 1);
      if (this.answerMs.length >= 10_000) this.answerMs.shift();
      this.answerMs.push(performance.now() - request.sentAt);
      // Refused: the message will never arrive; say which one at once.
      const mark = code >= 300 ? /sbbench-(\d+)-(\d+)/.exec(request.text) : null;
      if (mark) this.onRefused?.(Number(mark[1]), Number(mark[2]));
      return;
    }
    if (!text.startsWith('MESSAGE ')) return;
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    const lines = head.split('\r\n');
    const pick = (re: RegExp): string[] => lines.filter((l) => re.test(l));
    const callId = pick(/^(Call-ID|i):/i)[0] ?? '';
    const reply = [
      'SIP/2.0 200 OK',
      ...pick(/^(Via|v):/i),
      ...pick(/^(From|f):/i),
      ...pick(/^(To|t):/i).map((l) => (/;tag=/.test(l) ? l : `${l};tag=b${process.pid}`)),
      callId,
      ...pick(/^CSeq:/i),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    this.#write(reply, fromPort);
    // The proxy retransmits when an answer was lost: count each request once.
    if (this.#seen.has(callId)) return;
    if (this.#seen.size > 200_000) this.#seen.clear();
    this.#seen.add(callId);
    this.#scanner.push(text.slice(head.length));
    this.#scanner.push('\n'); // a datagram ends its mark
  }
}
