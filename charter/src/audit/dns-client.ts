// Plain DNS over UDP and TCP (RFC 1035 section 4.2, RFC 7766) with node:dgram and node:net.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { Socket } from 'node:net';
import type { AuditMessage } from './dns-message.js';
import { decodeMessage, encodeQuery } from './dns-message.js';

export interface DnsServer {
  readonly host: string;
  readonly port: number;
}

/** `host:port` or `[v6]:port`. */
export function parseServer(text: string): DnsServer {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):([0-9]{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (m === null || port < 1 || port > 65535) throw new Error(`"${text}" is not host:port`);
  return { host: m[1] ?? (m[2] as string), port };
}

/** A DNS exchange that got no usable answer. */
export class DnsTimeoutError extends Error {
  override readonly name = 'DnsTimeoutError';
}

/** One UDP query; resolves with the decoded response whose id matches. */
export function udpQuery(
  server: DnsServer,
  name: string,
  type: number,
  timeoutMs: number,
): Promise<AuditMessage> {
  return new Promise((resolve, reject) => {
    const id = randomInt(0, 65536);
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(
        new DnsTimeoutError(`no UDP answer from ${server.host}:${server.port} in ${timeoutMs} ms`),
      );
    }, timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.on('message', (msg) => {
      try {
        const decoded = decodeMessage(msg);
        if (decoded.id !== id) return;
        clearTimeout(timer);
        socket.close();
        resolve(decoded);
      } catch (err) {
        clearTimeout(timer);
        socket.close();
        reject(err as Error);
      }
    });
    socket.send(encodeQuery(id, name, type), server.port, server.host);
  });
}

/**
 * Sends `count` queries at once from one socket and counts what comes back within `timeoutMs`
 * (response rate limiting, RFC-less but universal: BIND/Knot/NSD RRL drop or truncate).
 */
export function udpBurst(
  server: DnsServer,
  name: string,
  type: number,
  count: number,
  timeoutMs: number,
): Promise<{ sent: number; answered: number; truncated: number; refused: number }> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    const ids = new Set<number>();
    let answered = 0;
    let truncated = 0;
    let refused = 0;
    const finish = (): void => {
      socket.close();
      resolve({ sent: count, answered, truncated, refused });
    };
    let timer = setTimeout(finish, timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.on('message', (msg) => {
      try {
        const decoded = decodeMessage(msg);
        if (!ids.delete(decoded.id)) return;
        answered += 1;
        if (decoded.truncated) truncated += 1;
        if (decoded.rcode === 5) refused += 1;
        if (ids.size === 0) {
          clearTimeout(timer);
          finish();
        }
      } catch {
        // a garbled answer is not an answer
      }
    });
    for (let i = 0; i < count; i += 1) {
      let id = randomInt(0, 65536);
      while (ids.has(id)) id = randomInt(0, 65536);
      ids.add(id);
      socket.send(encodeQuery(id, name, type), server.port, server.host);
    }
    clearTimeout(timer);
    timer = setTimeout(finish, timeoutMs);
  });
}

/**
 * One query over TCP (two-octet length prefix); resolves with the first response, or with
 * `null` if the server closed the connection without answering (how many servers refuse AXFR).
 */
export function tcpQuery(
  server: DnsServer,
  name: string,
  type: number,
  timeoutMs: number,
): Promise<AuditMessage | null> {
  return new Promise((resolve, reject) => {
    const id = randomInt(0, 65536);
    const query = encodeQuery(id, name, type);
    const socket = new Socket();
    let buffered = Buffer.alloc(0);
    let settled = false;
    const done = (value: AuditMessage | null, err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== undefined) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(
      () =>
        done(
          null,
          new DnsTimeoutError(
            `no TCP answer from ${server.host}:${server.port} in ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    socket.on('error', (err) => done(null, err));
    socket.on('close', () => done(null));
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2) return;
      const len = buffered.readUInt16BE(0);
      if (buffered.length < 2 + len) return;
      try {
        done(decodeMessage(buffered.subarray(2, 2 + len)));
      } catch (err) {
        done(null, err as Error);
      }
    });
    socket.connect(server.port, server.host, () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(query.length, 0);
      socket.write(Buffer.concat([prefix, query]));
    });
  });
}
