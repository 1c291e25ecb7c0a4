import { createSocket } from 'node:dgram';
import type { Message } from '@switchboard/dns-wire';
import { decodeMessage, encodeMessage, Opcode, RRClass, RRType } from '@switchboard/dns-wire';
import { randomInt } from 'node:crypto';
import type { TsigKey } from './tsig.js';
import { signTsigRequest } from './tsig.js';

/** A secondary to NOTIFY (RFC 1996). */
export interface NotifyTarget {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `[v6]:port`. */
export function parseNotifyTarget(text: string): NotifyTarget {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || !(port > 0 && port < 65536)) {
    throw new Error('secondary must be written host:port (e.g. 127.0.0.1:5301)');
  }
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * Sends NOTIFY for `apex` to one secondary over UDP and waits for its response, retrying
 * (RFC 1996 3.6) up to `attempts` times. Resolves true once acknowledged.
 */
export async function sendNotify(
  target: NotifyTarget,
  apex: string,
  options: { tsig?: TsigKey; attempts?: number; timeoutMs?: number; now: () => number },
): Promise<boolean> {
  const attempts = options.attempts ?? 5;
  const id = randomInt(0, 65536);
  const message: Message = {
    id,
    qr: false,
    opcode: Opcode.NOTIFY,
    aa: true,
    tc: false,
    rd: false,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name: apex, type: RRType.SOA, class: RRClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
  };
  let bytes = encodeMessage(message);
  if (options.tsig) bytes = signTsigRequest(bytes, options.tsig, options.now() / 1000).bytes;
  const socket = createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
  // Unreachable secondaries surface as send errors; the retry loop already handles silence.
  socket.on('error', () => undefined);
  try {
    for (let i = 0; i < attempts; i += 1) {
      const acked = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          socket.off('message', onMessage);
          resolve(false);
        }, options.timeoutMs ?? 1000);
        const onMessage = (reply: Buffer): void => {
          try {
            const decoded = decodeMessage(reply, { allowTrailingData: true });
            if (decoded.id !== id || !decoded.qr) return;
          } catch {
            return;
          }
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve(true);
        };
        socket.on('message', onMessage);
        socket.send(bytes, target.port, target.host);
      });
      if (acked) return true;
    }
    return false;
  } finally {
    socket.close();
  }
}
