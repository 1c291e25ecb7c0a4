import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { createLogger } from '@switchboard/service-kit';
import { SipAgent } from '../src/networks/sip/sip-agent.js';
import type { SipAnswer } from '../src/networks/sip/sip-agent.js';
import { parseSipMessage } from '../src/networks/sip/sip-message.js';
import type { SipRequest, SipResponse } from '../src/networks/sip/sip-message.js';
import { SipRegistration } from '../src/networks/sip/sip-registration.js';
import {
  ClientTransactions,
  ServerTransactions,
  TransactionError,
} from '../src/networks/sip/sip-transactions.js';

const logger = createLogger({ service: 'sip-agent-test', level: 'silent' });

function response(status: number, branch: string, method = 'MESSAGE', cseq = 1): SipResponse {
  const text = [
    `SIP/2.0 ${status} X`,
    `Via: SIP/2.0/WS h.invalid;branch=${branch}`,
    'From: <sip:a@s>;tag=1',
    'To: <sip:b@s>;tag=2',
    'Call-ID: c',
    `CSeq: ${cseq} ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseSipMessage(text) as SipResponse;
}

describe('SIP client transactions', () => {
  it('settle once, with the first final response; provisional ones are absorbed', async () => {
    const t = new ClientTransactions(60_000);
    const done = t.start('z9hG4bK-a', 'MESSAGE');
    expect(t.onResponse(response(100, 'z9hG4bK-a'))).toBe(true);
    expect(t.size).toBe(1);
    expect(t.onResponse(response(202, 'z9hG4bK-a'))).toBe(true);
    expect((await done).status).toBe(202);
    // A second final response (or any late one) matches nothing and is dropped.
    expect(t.onResponse(response(200, 'z9hG4bK-a'))).toBe(false);
    expect(t.size).toBe(0);
  });

  it('ignore responses for unknown transactions or another method', async () => {
    const t = new ClientTransactions(60_000);
    const done = t.start('z9hG4bK-b', 'MESSAGE');
    expect(t.onResponse(response(200, 'z9hG4bK-other'))).toBe(false);
    expect(t.onResponse(response(200, 'z9hG4bK-b', 'REGISTER'))).toBe(false);
    expect(t.size).toBe(1);
    t.failAll();
    await expect(done).rejects.toEqual(new TransactionError('transport'));
    expect(t.size).toBe(0);
  });

  it('end with timer F when no final response comes', async () => {
    const t = new ClientTransactions(20);
    await expect(t.start('z9hG4bK-c', 'MESSAGE')).rejects.toEqual(new TransactionError('timeout'));
    expect(t.size).toBe(0);
  });
});

describe('SIP server transactions', () => {
  const req = (branch: string, cseq = 1): SipRequest =>
    parseSipMessage(
      [
        'MESSAGE sip:b@s SIP/2.0',
        `Via: SIP/2.0/WS h.invalid;branch=${branch}`,
        'From: <sip:a@s>;tag=1',
        'To: <sip:b@s>',
        'Call-ID: same',
        `CSeq: ${cseq} MESSAGE`,
        '',
        '',
      ].join('\r\n'),
    ) as SipRequest;

  it('absorb a retransmission while the first copy is handled, not after', () => {
    const s = new ServerTransactions();
    expect(s.open(req('z9hG4bK-1'))).toBe(true);
    expect(s.open(req('z9hG4bK-1'))).toBe(false);
    // The same Call-ID and CSeq under another branch is another transaction (RFC 3261 §17.2.3).
    expect(s.open(req('z9hG4bK-2'))).toBe(true);
    s.close(req('z9hG4bK-1'));
    expect(s.open(req('z9hG4bK-1'))).toBe(true);
    expect(s.size).toBe(2);
  });
});

/** A raw WebSocket peer speaking as the proxy: it sees every frame and writes what it likes. */
class RawProxy {
  readonly server: WebSocketServer;
  readonly listening: Promise<void>;
  readonly frames: string[] = [];
  socket: WebSocket | undefined;
  #waiters: Array<() => void> = [];

  constructor(
    opts: { protocol?: string | false; onFrame?: (text: string, ws: WebSocket) => void } = {},
  ) {
    this.server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) =>
        opts.protocol === undefined ? (protocols.has('sip') ? 'sip' : false) : opts.protocol,
    });
    this.listening = new Promise((r) => this.server.once('listening', r));
    this.server.on('connection', (ws) => {
      this.socket = ws;
      ws.on('message', (data: Buffer) => {
        const text = data.toString();
        this.frames.push(text);
        opts.onFrame?.(text, ws);
        for (const w of this.#waiters.splice(0)) w();
      });
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async next(match: (text: string) => boolean): Promise<string> {
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  async close(): Promise<void> {
    for (const c of this.server.clients) c.terminate();
    await new Promise((r) => this.server.close(r));
  }
}

async function agentFor(
  proxy: RawProxy,
  onMessage: (req: SipRequest) => Promise<SipAnswer> = () => Promise.resolve({ status: 200 }),
  extra: { credentials?: { username: string; password: string }; onClose?: () => void } = {},
): Promise<SipAgent> {
  await proxy.listening;
  return SipAgent.connect({
    server: proxy.url,
    logger,
    onMessage,
    onClose: extra.onClose ?? (() => undefined),
    credentials: extra.credentials,
    timerFMs: 60_000,
  });
}

const incoming = (branch: string, extra: readonly string[] = [], body = 'hi'): string =>
  [
    'MESSAGE sip:abc@h.invalid;transport=ws SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch}`,
    'From: <sip:carol@sip.test>;tag=c1',
    'To: <sip:xmpp_bob=40xmpp.test@sip.test>',
    'Call-ID: in-1',
    'CSeq: 5 MESSAGE',
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');

describe('SIP agent over a WebSocket', () => {
  let proxy: RawProxy;
  afterEach(async () => proxy?.close());

  it('refuses a proxy that does not speak the sip subprotocol', async () => {
    proxy = new RawProxy({ protocol: false });
    await expect(agentFor(proxy)).rejects.toThrow();
  });

  it('answers 400 to a hostile request and keeps serving; drops stray responses', async () => {
    const seen: SipRequest[] = [];
    proxy = new RawProxy();
    const agent = await agentFor(proxy, (req) => {
      seen.push(req);
      return Promise.resolve({
        status: 200,
        headers: [['X-Switchboard-Security', 'end-to-bridge']],
      });
    });
    const ws = proxy.socket!;
    ws.send(incoming('z9hG4bK-long', [`X-Long: ${'ä'.repeat(9000)}`]));
    await proxy.next((t) => t.startsWith('SIP/2.0 400'));
    ws.send('\u0000\u0001 not SIP at all');
    ws.send('SIP/2.0/WS h.invalid;branch=z9hG4bK-half'); // half a line
    ws.send(
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/WS x;branch=z9hG4bK-nobody\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n\r\n',
    );
    ws.send('\r\n\r\n'); // keepalive
    ws.send(incoming('z9hG4bK-ok'));
    const ok = await proxy.next((t) => t.startsWith('SIP/2.0 200'));
    expect(ok).toContain('Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-ok');
    expect(ok).toMatch(/To: <sip:xmpp_bob=40xmpp\.test@sip\.test>;tag=\S+/);
    expect(ok).toContain('CSeq: 5 MESSAGE');
    expect(ok).toContain('X-Switchboard-Security: end-to-bridge');
    expect(seen.map((r) => r.body)).toEqual(['hi']);
    expect(agent.open).toBe(true);
    await agent.close();
  });

  it('handles a retransmission once, answers other methods itself', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    proxy = new RawProxy();
    const agent = await agentFor(proxy, async () => {
      calls += 1;
      await gate;
      return { status: 202 };
    });
    const ws = proxy.socket!;
    ws.send(incoming('z9hG4bK-dup'));
    ws.send(incoming('z9hG4bK-dup'));
    ws.send(
      incoming('z9hG4bK-dup')
        .replace(/MESSAGE/g, 'OPTIONS')
        .replace('branch=z9hG4bK-dup', 'branch=z9hG4bK-o'),
    );
    ws.send(incoming('z9hG4bK-i').replace(/MESSAGE/g, 'INVITE'));
    ws.send(incoming('z9hG4bK-s').replace(/MESSAGE/g, 'SUBSCRIBE'));
    await proxy.next((t) => t.startsWith('SIP/2.0 405'));
    expect(proxy.frames.some((t) => t.startsWith('SIP/2.0 488'))).toBe(true);
    expect(proxy.frames.some((t) => t.startsWith('SIP/2.0 200') && t.includes('OPTIONS'))).toBe(
      true,
    );
    release();
    await proxy.next((t) => t.startsWith('SIP/2.0 202'));
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1);
    expect(proxy.frames.filter((t) => t.startsWith('SIP/2.0 202'))).toHaveLength(1);
    await agent.close();
  });

  it('settles a request with its final response, and with the loss of the connection', async () => {
    proxy = new RawProxy({
      onFrame: (text, ws) => {
        const req = parseSipMessage(text) as SipRequest;
        if (req.body === 'answer me') {
          const via = req.headers.get('via')!;
          ws.send(
            `SIP/2.0 100 Trying\r\nVia: ${via}\r\nCall-ID: ${req.callId}\r\nCSeq: 1 MESSAGE\r\n\r\n`,
          );
          ws.send(
            `SIP/2.0 200 OK\r\nVia: ${via}\r\nCall-ID: ${req.callId}\r\nCSeq: 1 MESSAGE\r\n\r\n`,
          );
        }
      },
    });
    let closed = 0;
    const agent = await agentFor(proxy, undefined, { onClose: () => (closed += 1) });
    const base = { method: 'MESSAGE', uri: 'sip:b@s', from: 'sip:a@s', to: 'sip:b@s' };
    const res = await agent.request({ ...base, body: 'answer me', contentType: 'text/plain' });
    expect(res.status).toBe(200);
    const sent = proxy.frames[0]!;
    expect(sent).toMatch(/^Call-ID: sb-[0-9a-f-]{36}$/m);
    expect(sent).toContain('Content-Type: text/plain');
    const lost = agent.request({ ...base, body: 'never answered' });
    await proxy.next((t) => t.includes('never answered'));
    proxy.socket!.terminate();
    await expect(lost).rejects.toEqual(new TransactionError('transport'));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(1);
    expect(agent.open).toBe(false);
    await expect(agent.request(base)).rejects.toEqual(new TransactionError('transport'));
  });

  it('answers a digest challenge once, with the next CSeq', async () => {
    const nonce = 'n0nce';
    proxy = new RawProxy({
      onFrame: (text, ws) => {
        const req = parseSipMessage(text) as SipRequest;
        const via = req.headers.get('via')!;
        const auth = req.headers.get('authorization');
        const head = `Via: ${via}\r\nCall-ID: ${req.callId}\r\nCSeq: ${req.cseq} REGISTER\r\n`;
        if (!auth) {
          ws.send(
            `SIP/2.0 401 Unauthorized\r\n${head}WWW-Authenticate: Digest realm="sip.test", nonce="${nonce}", qop="auth"\r\n\r\n`,
          );
          return;
        }
        const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
        const nc = /nc=([0-9a-f]+)/.exec(auth)![1]!;
        const cnonce = /cnonce="([^"]+)"/.exec(auth)![1]!;
        const ha1 = md5('bridge:sip.test:secret');
        const ha2 = md5('REGISTER:sip:sip.test');
        const good = auth.includes(
          `response="${md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)}"`,
        );
        ws.send(`SIP/2.0 ${good ? '200 OK' : '403 Forbidden'}\r\n${head}\r\n`);
      },
    });
    const agent = await agentFor(proxy, undefined, {
      credentials: { username: 'bridge', password: 'secret' },
    });
    const res = await agent.request({
      method: 'REGISTER',
      uri: 'sip:sip.test',
      from: 'sip:bridge@sip.test',
      to: 'sip:bridge@sip.test',
      cseq: 4,
    });
    expect(res.status).toBe(200);
    expect(proxy.frames.map((t) => /^CSeq: (\d+)/m.exec(t)![1])).toEqual(['4', '5']);
    await agent.close();
  });
});

describe('SIP registration through the agent', () => {
  let proxy: RawProxy;
  afterEach(async () => proxy?.close());

  /** A registrar: 423 below 2 s, else 200 granting 1 s (so the refresh comes soon). */
  const registrar = (text: string, ws: WebSocket): void => {
    const req = parseSipMessage(text) as SipRequest;
    const contact = req.headers.get('contact') ?? '';
    const asked = Number(/expires=(\d+)/.exec(contact)?.[1] ?? req.headers.get('expires'));
    const head = `Via: ${req.headers.get('via')!}\r\nCall-ID: ${req.callId}\r\nCSeq: ${req.cseq} REGISTER\r\n`;
    if (contact !== '*' && asked > 0 && asked < 2) {
      ws.send(`SIP/2.0 423 Interval Too Brief\r\n${head}Min-Expires: 2\r\n\r\n`);
      return;
    }
    const granted =
      contact === '*' || asked === 0
        ? ''
        : `Contact: ${contact.replace(/;expires=\d+/, '')};expires=1\r\n`;
    ws.send(`SIP/2.0 200 OK\r\n${head}${granted}\r\n`);
  };

  it('drops stale bindings, asks again after 423, refreshes before expiry, unregisters', async () => {
    proxy = new RawProxy({ onFrame: registrar });
    const agent = await agentFor(proxy);
    const states: boolean[] = [];
    const registration = new SipRegistration(agent, {
      aor: 'sip:bridge@sip.test',
      registrar: 'sip:sip.test',
      expires: 1,
      retryMs: 60_000,
      logger,
      onState: (up) => states.push(up),
    });
    await registration.dropStale();
    await registration.register();
    expect(states).toEqual([true]);
    // The registrar granted 1 s: a refresh comes at 90 % of it.
    await proxy.next(() => proxy.frames.length >= 4);
    await registration.unregister();
    const registers = proxy.frames.map((t) => parseSipMessage(t) as SipRequest);
    const contacts = registers.map((r) => r.headers.get('contact'));
    expect(contacts[0]).toBe('*');
    expect(registers[0]!.headers.get('expires')).toBe('0');
    expect(contacts[1]).toMatch(/;expires=1$/);
    expect(contacts[2]).toMatch(/;expires=2$/); // Min-Expires of the 423
    expect(contacts[3]).toMatch(/;expires=2$/); // the refresh
    expect(contacts[contacts.length - 1]).toMatch(/;expires=0$/);
    const cseqs = registers.map((r) => r.cseq);
    expect([...cseqs].sort((a, b) => a - b)).toEqual(cseqs);
    expect(new Set(registers.map((r) => r.callId)).size).toBe(1);
    expect(states.every((up) => up)).toBe(true);
    await agent.close();
  });
});
