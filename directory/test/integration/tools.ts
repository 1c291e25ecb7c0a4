import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

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
