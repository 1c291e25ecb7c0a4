import { createSocket } from 'node:dgram';
import type { Socket as Datagrams } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { DnsSocketError, SocketDnsTransport } from '../src/sockets.js';

// The Node socket transport against real sockets on 127.0.0.1: framing split across reads,
// datagrams for another query ignored, and each failure named by its kind.

const QUERY = Uint8Array.from([0x12, 0x34, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const REPLY = Uint8Array.from([0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]);

const listening = (server: Server): Promise<number> =>
  new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
const bound = (socket: Datagrams): Promise<number> =>
  new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket.address().port)));
const closed = (server: Server): Promise<void> => new Promise((r) => server.close(() => r()));

/** What `exchange` threw: its kind. */
const kindOf = async (p: Promise<unknown>): Promise<string> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof DnsSocketError ? err.kind : `not a DnsSocketError: ${String(err)}`;
};

describe('SocketDnsTransport (the /node entry)', () => {
  const open: Socket[] = [];
  afterEach(() => open.splice(0).forEach((s) => s.destroy()));

  it('reads a TCP answer whose length and body arrive in separate reads', async () => {
    const asked: Buffer[] = [];
    const server = createServer((socket) => {
      open.push(socket);
      socket.on('data', (d) => {
        asked.push(d);
        const framed = Buffer.alloc(REPLY.length + 2);
        framed.writeUInt16BE(REPLY.length);
        framed.set(REPLY, 2);
        socket.write(framed.subarray(0, 1));
        setTimeout(() => socket.write(framed.subarray(1, 5)), 20);
        setTimeout(() => socket.write(framed.subarray(5)), 40);
      });
    });
    const port = await listening(server);
    try {
      // tcpOnly: asked for UDP, sent over TCP.
      const dns = new SocketDnsTransport({ tcpOnly: true });
      expect(await dns.exchange(`127.0.0.1:${port}`, QUERY, 'udp')).toEqual(REPLY);
      expect(Buffer.concat(asked).readUInt16BE(0)).toBe(QUERY.length);
    } finally {
      await closed(server);
    }
  });

  it('over UDP, ignores a datagram for another query id and takes the matching one', async () => {
    const server = createSocket('udp4');
    server.on('message', (_msg, peer) => {
      const other = Uint8Array.from(REPLY);
      other[1] = 0x35;
      server.send(other, peer.port, peer.address);
      server.send(REPLY, peer.port, peer.address);
    });
    const port = await bound(server);
    try {
      const answer = await new SocketDnsTransport().exchange(`127.0.0.1:${port}`, QUERY, 'udp');
      expect(answer).toEqual(REPLY);
    } finally {
      server.close();
    }
  });

  it('names each failure: a silent server, a closed port, an early close, a bad address', async () => {
    const silent = createSocket('udp4');
    const silentPort = await bound(silent);
    const hangUp = createServer((socket) => socket.resume().end());
    const hangUpPort = await listening(hangUp);
    const gone = createServer();
    const gonePort = await listening(gone);
    await closed(gone);
    const dns = new SocketDnsTransport({ timeoutMs: 200 });
    try {
      expect(await kindOf(dns.exchange(`127.0.0.1:${silentPort}`, QUERY, 'udp'))).toBe('timeout');
      expect(await kindOf(dns.exchange(`127.0.0.1:${gonePort}`, QUERY, 'tcp'))).toBe('refused');
      expect(await kindOf(dns.exchange(`127.0.0.1:${hangUpPort}`, QUERY, 'tcp'))).toBe('closed');
      for (const server of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '[::1]']) {
        expect(await kindOf(dns.exchange(server, QUERY, 'udp'))).toBe('address');
      }
    } finally {
      silent.close();
      await closed(hangUp);
    }
  });
});
