import { Rcode, decodeMessage, encodeQuery } from '@switchboard/dns-wire';
import type { Message } from '@switchboard/dns-wire';
import type { DnsTransport } from './transport.js';

/** No nameserver gave a usable answer; the message says why, without the name asked. */
export class DnsQueryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DnsQueryError';
  }
}

/** How {@link queryDns} reaches the nameservers. */
export interface QueryOptions {
  readonly dns: DnsTransport;
  readonly timeoutMs?: number;
  /** Random 16-bit query ids; default `crypto.getRandomValues`. Injectable for tests. */
  readonly randomId?: () => number;
}

function randomId(): number {
  const a = new Uint16Array(1);
  globalThis.crypto.getRandomValues(a);
  return a[0]!;
}

/** A query with the DO bit and CD (RFC 4035 §3.2.2: the answer is validated here). */
function queryBytes(id: number, qname: string, qtype: number): Uint8Array {
  return encodeQuery(id, qname, qtype, { cd: true });
}

/**
 * Asks `servers` in turn (UDP, then TCP when the answer is truncated, RFC 7766) until one gives
 * a well-formed answer to this very question that is not SERVFAIL or REFUSED; a
 * {@link DnsQueryError} when none does.
 */
export async function queryDns(
  servers: ReadonlyArray<string>,
  qname: string,
  qtype: number,
  options: QueryOptions,
): Promise<Message> {
  if (servers.length === 0) throw new DnsQueryError('the directory lists no nameserver');
  let lastError: unknown;
  for (const server of servers) {
    try {
      const id = (options.randomId ?? randomId)();
      const bytes = queryBytes(id, qname, qtype);
      const opts = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
      const ask = async (protocol: 'udp' | 'tcp'): Promise<Message> =>
        checkResponse(await options.dns.exchange(server, bytes, protocol, opts), id, qname, qtype);
      let response = await ask('udp');
      if (response.tc) response = await ask('tcp');
      if (response.rcode === Rcode.SERVFAIL || response.rcode === Rcode.REFUSED) {
        throw new DnsQueryError(
          `the directory server answered ${response.rcode === Rcode.SERVFAIL ? 'SERVFAIL' : 'REFUSED'}`,
        );
      }
      return response;
    } catch (err) {
      lastError = err;
    }
  }
  if (lastError instanceof DnsQueryError) throw lastError;
  throw new DnsQueryError('no directory server answered; check the network or try again', {
    cause: lastError,
  });
}

function checkResponse(bytes: Uint8Array, id: number, qname: string, qtype: number): Message {
  let m: Message;
  try {
    m = decodeMessage(bytes);
  } catch (cause) {
    throw new DnsQueryError('the directory server sent a malformed DNS message', { cause });
  }
  const q = m.questions[0];
  if (
    m.id !== id ||
    !m.qr ||
    m.questions.length !== 1 ||
    !q ||
    q.type !== qtype ||
    q.name.toLowerCase() !== qname.toLowerCase()
  ) {
    throw new DnsQueryError('the DNS response does not match the question');
  }
  return m;
}
