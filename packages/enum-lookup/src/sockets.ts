// Node-only entry of @switchboard/enum-lookup (`@switchboard/enum-lookup/node`): DNS over
// sockets, for the client SDK's Node entry and the provider API. Not in any browser bundle.
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import type { DnsTransport } from './transport.js';

/** Why an exchange failed (no server address or message content in the text). */
export class DnsSocketError extends Error {
  override readonly name = 'DnsSocketError';
  constructor(
    readonly kind: 'address' | 'timeout' | 'refused' | 'closed',
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `host:port` (IPv6 in brackets) taken apart, or a {@link DnsSocketError}. */
function parseServer(server: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(server) ?? /^([^:]+):(\d+)$/.exec(server);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new DnsSocketError('address', 'a nameserver must be written host:port');
  }
  return { host: m[1]!, port };
}

/**
 * DNS over Node sockets (RFC 1035 §4.2): UDP, and TCP with two-byte length framing. With
 * `tcpOnly`, every exchange goes over TCP whatever protocol is asked (RFC 7766: no truncation),
 * the sure way for a server asking a nameserver.
 */
export class SocketDnsTransport implements DnsTransport {
  readonly #timeoutMs: number;
  readonly #tcpOnly: boolean;

  constructor(options: { readonly timeoutMs?: number; readonly tcpOnly?: boolean } = {}) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#tcpOnly = options.tcpOnly ?? false;
  }

  async exchange(
    server: string,
    query: Uint8Array,
    protocol: 'udp' | 'tcp',
    options: { readonly timeoutMs?: number } = {},
  ): Promise<Uint8Array> {
    const { host, port } = parseServer(server);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return protocol === 'udp' && !this.#tcpOnly
      ? udp(host, port, query, timeoutMs)
      : tcp(host, port, query, timeoutMs);
  }
}

const timedOut = (): DnsSocketError =>
  new DnsSocketError('timeout', 'the nameserver did not answer in time');

function udp(host: string, port: number, query: Uint8Array, timeoutMs: number) {
  return new Promise<Uint8Array>((resolve, reject) => {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    const id = ((query[0] ?? 0) << 8) | (query[1] ?? 0);
    const timer = setTimeout(() => finish(timedOut()), timeoutMs);
    function finish(err: Error | undefined, msg?: Uint8Array): void {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(msg!);
    }
    socket.on('error', (cause) =>
      finish(new DnsSocketError('refused', 'the nameserver refused the datagram', { cause })),
    );
    socket.on('message', (msg, rinfo) => {
      // Ignore datagrams from elsewhere or for another query (RFC 5452 §9.1).
      if (rinfo.port !== port || msg.length < 2 || ((msg[0]! << 8) | msg[1]!) !== id) return;
      finish(undefined, new Uint8Array(msg));
    });
    socket.send(query, port, host);
  });
}

function tcp(host: string, port: number, query: Uint8Array, timeoutMs: number) {
  return new Promise<Uint8Array>((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(() => finish(timedOut()), timeoutMs);
    function finish(err: Error | undefined, msg?: Uint8Array): void {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(msg!);
    }
    socket.on('error', (cause) =>
      finish(new DnsSocketError('refused', 'the nameserver refused the connection', { cause })),
    );
    socket.on('connect', () => {
      const framed = Buffer.alloc(query.length + 2);
      framed.writeUInt16BE(query.length);
      framed.set(query, 2);
      socket.write(framed);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < 2) return;
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      chunks.splice(0, chunks.length, all);
      const length = all.readUInt16BE(0);
      if (received >= length + 2) finish(undefined, new Uint8Array(all.subarray(2, length + 2)));
    });
    socket.on('end', () =>
      finish(new DnsSocketError('closed', 'the nameserver closed the connection early')),
    );
  });
}
