import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { connect } from 'node:net';
import { SwitchboardError } from '../errors.js';
import type { DnsTransport } from '../lookup/transport.js';

function parseServer(server: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(server) ?? /^([^:]+):(\d+)$/.exec(server);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new SwitchboardError('invalid-input', 'a DNS server must be written host:port');
  }
  return { host: m[1]!, port };
}

/** UDP and TCP DNS exchange over Node sockets (RFC 1035 §4.2). */
export class NodeDnsTransport implements DnsTransport {
  readonly #defaultTimeoutMs: number;

  constructor(options: { readonly timeoutMs?: number } = {}) {
    this.#defaultTimeoutMs = options.timeoutMs ?? 3000;
  }

  exchange(
    server: string,
    query: Uint8Array,
    protocol: 'udp' | 'tcp',
    options: { readonly timeoutMs?: number } = {},
  ): Promise<Uint8Array> {
    const { host, port } = parseServer(server);
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    return protocol === 'udp'
      ? udp(host, port, query, timeoutMs)
      : tcp(host, port, query, timeoutMs);
  }
}

function timeoutError(): SwitchboardError {
  return new SwitchboardError('dns-failed', 'the DNS server did not answer in time');
}

function udp(
  host: string,
  port: number,
  query: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    const id = ((query[0] ?? 0) << 8) | (query[1] ?? 0);
    const timer = setTimeout(() => finish(timeoutError()), timeoutMs);
    function finish(err: Error | undefined, msg?: Uint8Array): void {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(msg!);
    }
    socket.on('error', (err) =>
      finish(
        new SwitchboardError('dns-failed', 'UDP exchange with the DNS server failed', {
          cause: err,
        }),
      ),
    );
    socket.on('message', (msg, rinfo) => {
      // Ignore datagrams from elsewhere or for another query (RFC 5452 §9.1).
      if (rinfo.port !== port || msg.length < 2 || ((msg[0]! << 8) | msg[1]!) !== id) return;
      finish(undefined, new Uint8Array(msg));
    });
    socket.send(query, port, host);
  });
}

function tcp(
  host: string,
  port: number,
  query: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buf = new Uint8Array(0);
    const timer = setTimeout(() => finish(timeoutError()), timeoutMs);
    function finish(err: Error | undefined, msg?: Uint8Array): void {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(msg!);
    }
    socket.on('error', (err) =>
      finish(
        new SwitchboardError('dns-failed', 'TCP exchange with the DNS server failed', {
          cause: err,
        }),
      ),
    );
    socket.on('connect', () => {
      const framed = new Uint8Array(query.length + 2);
      framed[0] = query.length >> 8;
      framed[1] = query.length & 0xff;
      framed.set(query, 2);
      socket.write(framed);
    });
    socket.on('data', (chunk: Uint8Array) => {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
      if (buf.length >= 2) {
        const len = (buf[0]! << 8) | buf[1]!;
        if (buf.length >= len + 2) finish(undefined, buf.slice(2, len + 2));
      }
    });
    socket.on('end', () =>
      finish(new SwitchboardError('dns-failed', 'the DNS server closed the connection early')),
    );
  });
}
