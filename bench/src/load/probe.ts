// One DNS question over UDP with the DO bit, to know a peer is up and answers what we expect
// before we measure it (a fast server that answers wrongly would win for nothing).
import { createSocket } from 'node:dgram';
import type { Message } from '@switchboard/dns-wire';
import { decodeMessage, encodeQuery, Rcode, RRType } from '@switchboard/dns-wire';
import { sleep } from './process.js';

/** Sends one query; resolves undefined on timeout or an undecodable reply. */
export function queryOnce(
  port: number,
  name: string,
  type: number,
  timeoutMs = 1000,
): Promise<{ message: Message; bytes: number } | undefined> {
  const id = Math.floor(Math.random() * 65536);
  const bytes = encodeQuery(id, name, type);
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (m: { message: Message; bytes: number } | undefined): void => {
      clearTimeout(timer);
      socket.close();
      resolve(m);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('error', () => done(undefined));
    socket.on('message', (msg) => {
      try {
        const reply = decodeMessage(msg);
        if (reply.id === id) done({ message: reply, bytes: msg.length });
      } catch {
        done(undefined);
      }
    });
    socket.send(bytes, port, '127.0.0.1');
  });
}

/** Waits until anything answers a query on `port` (for reference peers that are no DNS server). */
export async function waitForReply(port: number, apex: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await queryOnce(port, apex, RRType.SOA, 500)) return;
    await sleep(250);
  }
  throw new Error(`nothing answered on port ${port} after ${timeoutMs} ms`);
}

/** Waits until the peer answers the apex SOA authoritatively (large zones take a while to load). */
export async function waitForZone(
  port: number,
  apex: string,
  timeoutMs: number,
  exited?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ended = exited?.();
    if (ended !== undefined) throw new Error(`the server died (${ended}) before it answered`);
    const reply = (await queryOnce(port, apex, RRType.SOA, 500))?.message;
    if (
      reply &&
      reply.rcode === Rcode.NOERROR &&
      reply.aa &&
      reply.answers.some((r) => r.type === RRType.SOA)
    ) {
      return;
    }
    await sleep(250);
  }
  throw new Error(`no authoritative SOA for ${apex} on port ${port} after ${timeoutMs} ms`);
}

/** What one peer answered for a published and an unpublished number (shown in the results). */
export interface AnswerCheck {
  readonly ok: boolean;
  readonly existing: string;
  readonly missing: string;
  readonly existingBytes: number;
  readonly missingBytes: number;
}

function shape(m: Message | undefined): string {
  if (!m) return 'no answer';
  const count = (rrs: readonly { type: number }[]): string => {
    const byType = new Map<number, number>();
    for (const r of rrs) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
    return [...byType].map(([t, n]) => `${n}x${t}`).join(',');
  };
  return `rcode=${m.rcode} an=[${count(m.answers)}] ns=[${count(m.authorities)}]`;
}

/**
 * Checks DNSSEC answers: a published number gets NAPTR + RRSIG; an unpublished one gets no NAPTR
 * and an NSEC or NSEC3 proof with RRSIGs. Sizes are of the encoded replies.
 */
export async function checkAnswers(
  port: number,
  existingName: string,
  missingName: string,
): Promise<AnswerCheck> {
  const eReply = await queryOnce(port, existingName, RRType.NAPTR);
  const mReply = await queryOnce(port, missingName, RRType.NAPTR);
  const e = eReply?.message;
  const m = mReply?.message;
  const existingOk =
    e !== undefined &&
    e.rcode === Rcode.NOERROR &&
    e.answers.some((r) => r.type === RRType.NAPTR) &&
    e.answers.some((r) => r.type === RRType.RRSIG);
  const missingOk =
    m !== undefined &&
    (m.rcode === Rcode.NOERROR || m.rcode === Rcode.NXDOMAIN) &&
    !m.answers.some((r) => r.type === RRType.NAPTR) &&
    m.authorities.some((r) => r.type === RRType.NSEC || r.type === RRType.NSEC3) &&
    m.authorities.some((r) => r.type === RRType.RRSIG);
  return {
    ok: existingOk && missingOk,
    existing: shape(e),
    missing: shape(m),
    existingBytes: eReply?.bytes ?? 0,
    missingBytes: mReply?.bytes ?? 0,
  };
}
