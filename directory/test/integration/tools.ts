import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import type { Message } from '@switchboard/dns-wire';
import { decodeMessage, encodeMessage } from '@switchboard/dns-wire';

/** Runs a program to completion (never through a shell); resolves with its output and exit code. */
export function run(
  file: string,
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
  });
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns whether it succeeded. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** A port held on 127.0.0.1 (TCP and UDP) until `release()`: nothing else can bind it meanwhile. */
export interface HeldPort {
  readonly port: number;
  release(): Promise<void>;
}

/**
 * Holds a port free for TCP and UDP until released: for a server started later whose port must be
 * written into another server's configuration first (a port only found free could be taken in
 * between, even by that other server's own bind to port 0).
 */
export async function reservePort(): Promise<HeldPort> {
  for (;;) {
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
    const udp = createSocket('udp4');
    const udpHeld = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    const release = async (): Promise<void> => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (udpHeld) await new Promise<void>((resolve) => udp.close(() => resolve()));
    };
    if (udpHeld) return { port, release };
    await release();
  }
}

/** A port free for both TCP and UDP on 127.0.0.1 (found and released at once). */
export async function freePort(): Promise<number> {
  const held = await reservePort();
  await held.release();
  return held.port;
}

/** A DNS message framed for TCP (RFC 7766 8: a two-octet length first). */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  out.set(message, 2);
  return out;
}

/** What {@link tcpExchange} runs along the way. */
export interface TcpExchangeHooks {
  /** Once the query is written. */
  onSent?: () => void;
  /** Once the first message came, given those so far; awaited with the socket paused. */
  onFirst?: (messages: readonly Message[]) => Promise<void>;
}

/**
 * Sends one query over TCP and collects the answer's messages until `done` says the answer is
 * complete (or the server closes the connection).
 */
export function tcpExchange(
  port: number,
  message: Message,
  done: (messages: readonly Message[]) => boolean,
  hooks: TcpExchangeHooks = {},
): Promise<Message[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const messages: Message[] = [];
    let buffered = Buffer.alloc(0);
    let first = hooks.onFirst;
    socket.on('connect', () => {
      socket.write(frame(encodeMessage(message)));
      hooks.onSent?.();
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const length = buffered.readUInt16BE(0);
        messages.push(decodeMessage(buffered.subarray(2, 2 + length)));
        buffered = buffered.subarray(2 + length);
      }
      if (done(messages)) {
        socket.destroy();
        resolve(messages);
      } else if (first && messages.length > 0) {
        const run = first;
        first = undefined;
        socket.pause();
        run(messages).then(
          () => socket.resume(),
          (err: unknown) => reject(err as Error),
        );
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(messages));
  });
}
