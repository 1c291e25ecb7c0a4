// TCP resource exhaustion (slowloris): one client holding many connections, or trickling a
// message byte by byte, must not keep other clients from being answered over TCP (RFC 7766 6.2.3:
// per-client limits; a message must arrive within a bounded time of its first byte).
// Clients use distinct loopback source addresses (127.0.0.x all route to lo on Linux).
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import type { Message } from '@switchboard/dns-wire';
import { decodeMessage, encodeMessage, Rcode, RRType } from '@switchboard/dns-wire';
import { query } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, startTestDirectory } from '../support.js';
import { run, waitFor } from './tools.js';

/** One DNS query over TCP from `localAddress`; rejects if the server closes first. */
function tcpQuery(port: number, localAddress: string, id = 4242): Promise<Message> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let received = Buffer.alloc(0);
    socket.on('connect', () => socket.write(frame(encodeMessage(query(APEX, RRType.SOA, { id })))));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        socket.destroy();
        resolve(decodeMessage(received.subarray(2, 2 + received.readUInt16BE(0))));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed by the server before an answer')));
  });
}

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  out.set(message, 2);
  return out;
}

function opened(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('DNS over TCP under a slowloris attack', () => {
  let t: TestDirectory;
  const attackers: Socket[] = [];

  beforeAll(async () => {
    // Default TCP limits: the attack below is the reviewer's reproduction (200 sockets).
    t = await startTestDirectory();
  });
  afterAll(async () => {
    for (const s of attackers) s.destroy();
    await t.close();
  });

  it('one client holding 200 slow connections cannot keep another client from being answered', async () => {
    const port = t.dir.dns.port;
    const closedByServer = new Set<Socket>();
    for (let i = 0; i < 200; i += 1) {
      const socket = await opened(port, '127.0.0.2');
      socket.on('error', () => undefined);
      socket.on('close', () => closedByServer.add(socket));
      // The first byte of a length prefix, then nothing: a message that never completes.
      socket.write(Buffer.from([0]));
      attackers.push(socket);
    }
    // The server refuses most of them (per-client cap)...
    expect(await waitFor(() => Promise.resolve(closedByServer.size >= 100), 10_000)).toBe(true);
    // ...and another client still gets answers, from node and from dig.
    const answer = await tcpQuery(port, '127.0.0.3');
    expect(answer.rcode).toBe(Rcode.NOERROR);
    expect(answer.answers.some((rr) => rr.type === RRType.SOA)).toBe(true);
    const dig = await run('dig', [
      '+tcp',
      '+tries=1',
      '+time=5',
      '-b',
      '127.0.0.4',
      '-p',
      String(port),
      '@127.0.0.1',
      APEX,
      'SOA',
    ]);
    expect(dig.stdout).toMatch(/status: NOERROR/);
    expect(dig.stdout).toMatch(/ANSWER: [1-9]/);
  });
});

describe('DNS over TCP when every slot is taken', () => {
  let t: TestDirectory;
  const holders: Socket[] = [];

  beforeAll(async () => {
    // Small limits so the table fills quickly: 12 slots, 4 per client address.
    t = await startTestDirectory({
      extra: { dnsTcp: { maxConnections: 12, maxConnectionsPerClient: 4 } },
    });
  });
  afterAll(async () => {
    for (const s of holders) s.destroy();
    await t.close();
  });

  it('closes the longest idle connection for a new client, but never one mid-message', async () => {
    const port = t.dir.dns.port;
    const closed = new Set<Socket>();
    // Four addresses take every slot: three hold idle connections, one is mid-message.
    const busy: Socket[] = [];
    for (const host of ['127.0.1.1', '127.0.1.2', '127.0.1.3', '127.0.1.4']) {
      for (let i = 0; i < 4 && holders.length < 12; i += 1) {
        const socket = await opened(port, host);
        socket.on('error', () => undefined);
        socket.on('close', () => closed.add(socket));
        holders.push(socket);
        if (host === '127.0.1.4') {
          socket.write(Buffer.from([0])); // a message has begun
          busy.push(socket);
        }
        await sleep(5); // distinct last-activity times
      }
    }
    expect(holders).toHaveLength(12);
    await sleep(100);
    expect(closed.size).toBe(0);
    // A new client is answered: the oldest idle connection made room.
    const answer = await tcpQuery(port, '127.0.1.9');
    expect(answer.answers.some((rr) => rr.type === RRType.SOA)).toBe(true);
    expect(await waitFor(() => Promise.resolve(closed.has(holders[0]!)), 5_000)).toBe(true);
    for (const s of busy) expect(closed.has(s)).toBe(false);
  });
});

describe('DNS over TCP message deadline', () => {
  let t: TestDirectory;

  beforeAll(async () => {
    t = await startTestDirectory({ extra: { dnsTcp: { messageDeadlineMs: 300 } } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('closes a connection whose message is trickled byte by byte past the deadline', async () => {
    const socket = await opened(t.dir.dns.port, '127.0.0.5');
    let closed = false;
    let answered = false;
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    socket.on('data', () => (answered = true));
    const bytes = frame(encodeMessage(query(APEX, RRType.SOA)));
    let sent = 0;
    // Every byte resets an idle timer, so only a deadline from the first byte can end this.
    while (!closed && sent < bytes.length) {
      socket.write(bytes.subarray(sent, sent + 1));
      sent += 1;
      await sleep(100);
    }
    expect(closed).toBe(true);
    expect(answered).toBe(false);
    expect(sent).toBeLessThan(bytes.length);
  });

  it('does not count the time between messages (RFC 7766 idle semantics)', async () => {
    const socket = await opened(t.dir.dns.port, '127.0.0.6');
    const replies: Message[] = [];
    let closed = false;
    let received = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        const length = received.readUInt16BE(0);
        replies.push(decodeMessage(received.subarray(2, 2 + length)));
        received = received.subarray(2 + length);
      }
    });
    socket.write(frame(encodeMessage(query(APEX, RRType.SOA, { id: 1 }))));
    expect(await waitFor(() => Promise.resolve(replies.length === 1), 5_000)).toBe(true);
    // Quiet for longer than the message deadline, then a message in two parts.
    await sleep(700);
    const second = frame(encodeMessage(query(APEX, RRType.SOA, { id: 2 })));
    socket.write(second.subarray(0, 5));
    await sleep(50);
    socket.write(second.subarray(5));
    expect(await waitFor(() => Promise.resolve(replies.length === 2 || closed), 5_000)).toBe(true);
    expect(replies.map((r) => r.id)).toEqual([1, 2]);
    socket.destroy();
  });
});
