import type { Socket as UdpSocket, RemoteInfo } from 'node:dgram';
import { createSocket } from 'node:dgram';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createServer, isIPv6 } from 'node:net';
import type { Message, Question } from '@switchboard/dns-wire';
import {
  decodeMessage,
  DnsWireError,
  encodeMessage,
  Opcode,
  peekHeader,
  Rcode,
  RRClass,
  RRType,
  canonicalName,
  EdnsOptionCode,
} from '@switchboard/dns-wire';
import type { Logger, PrefixLengths } from '@switchboard/service-kit';
import { clientPrefix } from '@switchboard/service-kit';
import type { Answer } from './answer.js';
import { fastIdentity, fastInfo, fastReply } from './fast-path.js';
import { answerQuery, errorResponse, SERVER_UDP_PAYLOAD, servfailFor } from './answer.js';
import type { ResponseRateLimiter } from './rrl.js';
import type { LimitAction, LimitReason, QueryGate } from './admission.js';
import { SIGNING_REFUSED } from './admission.js';
import type { CookieStatus } from './cookies.js';
import { cookieLengthOk } from './cookies.js';
import {
  axfrRecords,
  ixfrRecords,
  MessagePacker,
  transferMessages,
  yieldToLoop,
} from '../transfer/transfer.js';
import type { StreamedTransfer } from '../transfer/xfr-stream.js';
import type { TsigKey, TsigStream } from '../transfer/tsig.js';
import {
  signTsigResponse,
  tsigErrorResponse,
  tsigStream,
  verifyTsigRequest,
} from '../transfer/tsig.js';
import type { ZoneState } from '../state/zone-state.js';

/** Who may transfer the zone (RFC 5936 section 6). */
export interface TransferPolicy {
  readonly tsigKeys: readonly TsigKey[];
  /** Client addresses allowed without TSIG (exact match, e.g. `127.0.0.1`). */
  readonly allowFrom: readonly string[];
}

/** How long and how many TCP connections a client may hold. */
export interface TcpLimits {
  /** Connections idle between messages are closed after this long. Default 10 s. */
  readonly idleMs?: number;
  /**
   * A DNS message must arrive whole within this long of its first byte, however the bytes
   * trickle in; otherwise the connection is closed. Default 10 s.
   */
  readonly messageDeadlineMs?: number;
  /**
   * A zone transfer whose client takes nothing for this long is cut off (its connection
   * closed): a transfer reads one version in one read transaction, which a client that stops
   * reading would otherwise hold open for ever (and with it the WAL's checkpoints). Default 30 s.
   */
  readonly transferStallMs?: number;
  /** Most concurrent connections in all. Default 200. */
  readonly maxConnections?: number;
  /** Most concurrent connections from one client prefix. Default 16. */
  readonly maxConnectionsPerClient?: number;
  /** What counts as one client. Default IPv4 /32, IPv6 /64. */
  readonly clientPrefix?: PrefixLengths;
}

/** Settings for {@link startDnsServer}. */
export interface DnsServerConfig {
  readonly host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  readonly port: number;
  readonly zone: ZoneState;
  readonly rrl: ResponseRateLimiter;
  readonly transfer: TransferPolicy;
  readonly logger: Logger;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** TCP limits (RFC 7766 6.2.3, 6.2.2). */
  readonly tcp?: TcpLimits;
  /** Counters for metrics. */
  readonly onResponse?: (transport: 'udp' | 'tcp', rcode: number, kind: string) => void;
  /**
   * Admission to signing work (rate limits and the signing budget, before any signature) and
   * DNS cookies; without it every query is signed as asked and cookies are ignored.
   */
  readonly gate?: QueryGate;
  /** A query not given the signature it needed, and what it got instead. */
  readonly onLimited?: (transport: 'udp' | 'tcp', reason: LimitReason, action: LimitAction) => void;
  /** A query that carried a COOKIE option. */
  readonly onCookie?: (status: CookieStatus) => void;
  /**
   * Counts every UDP datagram and TCP message received, answered or not: the background
   * signing (warmer.ts) reads it to give way while queries come.
   */
  readonly queries?: QueryCount;
}

/** Queries received so far, counted by the listeners. */
export interface QueryCount {
  count: number;
}

/** A running DNS listener. */
export interface RunningDnsServer {
  readonly host: string;
  readonly port: number;
  /** TCP connections open now (zone transfers under way included). */
  tcpConnections(): number;
  close(): Promise<void>;
}

/** What to send back for one incoming packet. */
type Outcome =
  | { readonly kind: 'drop' }
  | {
      readonly kind: 'reply';
      readonly messages: readonly Uint8Array[];
      readonly identity: string;
    }
  | {
      /**
       * A zone transfer (TCP only): its messages come once the zone is signed on the export
       * worker thread, and are made one by one as they are sent.
       */
      readonly kind: 'transfer';
      readonly messages: AsyncIterable<Uint8Array>;
      readonly identity: string;
    };

type Responder = (packet: Uint8Array, transport: 'udp' | 'tcp', client: string) => Outcome;

/**
 * The authoritative listener, on node:dgram and node:net directly (directory/README.md says
 * why not dns2): UDP and TCP on the same port, EDNS(0) payload negotiation, truncation with TC
 * built here (never by cutting bytes), FORMERR for undecodable queries, NOTIMP for other
 * opcodes, TSIG-checked AXFR/IXFR over TCP, response rate limiting on UDP, and (with
 * `config.gate`) DNS cookies and admission of signing work before it is done, UDP and TCP.
 */
export async function startDnsServer(config: DnsServerConfig): Promise<RunningDnsServer> {
  const family = isIPv6(config.host) ? 'udp6' : 'udp4';
  const { queries } = config;
  const respond: Responder = (packet, transport, client) => {
    if (queries) queries.count += 1;
    return processPacket(packet, transport, client, config);
  };
  const tcp = createServer({ pauseOnConnect: false });
  const sockets = new Map<Socket, TcpActivity>();
  const maxTcp = config.tcp?.maxConnections ?? 200;
  const maxPerClient = config.tcp?.maxConnectionsPerClient ?? 16;
  // Open connections per client prefix: one client must not take every slot (slowloris).
  const perClient = new Map<string, number>();
  tcp.on('connection', (socket) => {
    const client = clientPrefix(socket.remoteAddress ?? '', config.tcp?.clientPrefix);
    const held = perClient.get(client) ?? 0;
    // When every slot is taken, the connection idle the longest (no message under way, no
    // answer owed) makes room (RFC 7766 6.2.3): clients holding connections open without using
    // them cannot lock others out, whatever number of addresses they hold them from.
    if (held >= maxPerClient || (sockets.size >= maxTcp && !closeIdlest(sockets))) {
      socket.destroy();
      return;
    }
    perClient.set(client, held + 1);
    const activity: TcpActivity = { lastActive: performance.now(), inMessage: false, owed: 0 };
    sockets.set(socket, activity);
    socket.on('close', () => {
      sockets.delete(socket);
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
    });
    handleTcp(socket, activity, config, respond);
  });
  tcp.on('error', (err) => config.logger.error({ err }, 'dns tcp listener error'));
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(config.port, config.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  const port = (tcp.address() as AddressInfo).port;
  const udp = udpSocket(family, config);
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, config.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await closeTcp(tcp, sockets);
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    host: config.host,
    port,
    tcpConnections: () => sockets.size,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        await closeTcp(tcp, sockets);
      })()),
  };
}

/** The UDP socket, answering each query as it comes (not yet bound). */
function udpSocket(family: 'udp4' | 'udp6', config: DnsServerConfig): UdpSocket {
  const udp = createSocket({
    type: family,
    reuseAddr: false,
    // Replies go to the address a query came from, always a literal: skip the resolver (and the
    // tick it defers each send by).
    lookup: (address, _options, callback) =>
      (callback as (err: Error | null, address: string, family: number) => void)(
        null,
        address,
        family === 'udp6' ? 6 : 4,
      ),
  });
  const { queries } = config;
  udp.on('message', (packet, rinfo) => {
    if (queries) queries.count += 1;
    try {
      handleUdp(udp, packet, rinfo, config);
    } catch (err) {
      const reply = answerFailed(packet, 'udp', err, config);
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    }
  });
  udp.on('error', (err) => config.logger.error({ err }, 'dns udp socket error'));
  return udp;
}

/** What a TCP connection is doing, for choosing one to close when all slots are taken. */
interface TcpActivity {
  /** `performance.now()` of the last byte in or answer out. */
  lastActive: number;
  /** A message has begun arriving and is not complete. */
  inMessage: boolean;
  /** Answers not yet written. */
  owed: number;
}

/** Closes the connection idle the longest; false if every connection is busy. */
function closeIdlest(sockets: Map<Socket, TcpActivity>): boolean {
  let idlest: Socket | undefined;
  let since = Infinity;
  for (const [socket, a] of sockets) {
    if (!a.inMessage && a.owed === 0 && a.lastActive < since) {
      idlest = socket;
      since = a.lastActive;
    }
  }
  if (!idlest) return false;
  sockets.delete(idlest);
  idlest.destroy();
  return true;
}

function closeTcp(tcp: Server, sockets: Map<Socket, TcpActivity>): Promise<void> {
  return new Promise<void>((resolve) => {
    tcp.close(() => resolve());
    for (const s of sockets.keys()) s.destroy();
  });
}

/** Filled in by each fast reply (used synchronously, so one for all queries). */
const FAST = fastInfo();

function handleUdp(
  udp: UdpSocket,
  packet: Buffer,
  rinfo: RemoteInfo,
  config: DnsServerConfig,
): void {
  const { zone, rrl, gate } = config;
  const now = Math.floor(config.now() / 1000);
  // Signatures this query needs are admitted (or refused) before they are made. The cookie's
  // place is what the fast path finds as it parses (none if it declines early).
  FAST.cookieLength = 0;
  gate?.reset('udp', rinfo.address, now, packet, FAST);
  if (gate) zone.signer.gate = gate.admit;
  // Most queries take the fast path (fast-path.ts): no Outcome, and the RRL identity is only
  // made when RRL is on; the rest go the general way without trying the fast path again.
  let bytes: Uint8Array | undefined;
  let identity: string | undefined;
  try {
    bytes = fastReply(packet, 'udp', zone.snapshot, zone.signer, now, FAST);
    if (bytes) {
      config.onResponse?.('udp', FAST.rcode, FAST.kind);
      if (gate && FAST.cookieLength > 0) bytes = fastCookie(bytes, gate, config);
      if (rrl.enabled) identity = fastIdentity(packet, FAST, zone.snapshot.settings.apex);
    }
  } catch (err) {
    if (err !== SIGNING_REFUSED || !gate) throw err;
    bytes = limited(packet, 'udp', gate, config);
    if (bytes) udp.send(bytes, rinfo.port, rinfo.address);
    return;
  } finally {
    zone.signer.gate = undefined;
  }
  if (!bytes) {
    let outcome: Outcome;
    try {
      if (gate) zone.signer.gate = gate.admit;
      // A failure here reaches the socket listener, which answers SERVFAIL (answerFailed).
      outcome = processGeneral(packet, 'udp', rinfo.address, config, now);
    } finally {
      zone.signer.gate = undefined;
    }
    if (outcome.kind !== 'reply') return;
    bytes = outcome.messages[0];
    identity = outcome.identity;
    if (!bytes) return;
  }
  // RRL judged this query already if it needed a signature; a valid cookie shows the address
  // is the client's own, so answering it reflects nothing at anyone: not limited (as in BIND).
  if (identity !== undefined && !(gate && (gate.rrlDone || gate.cookieStatus === 'valid'))) {
    const decision = rrl.check(rinfo.address, identity);
    if (decision === 'drop') return;
    if (decision === 'slip') {
      bytes = gate?.cookie ? gate.limitedReply(packet, 'badcookie') : slipped(bytes);
    }
    if (!bytes) return;
  }
  udp.send(bytes, rinfo.port, rinfo.address);
}

/** Failures logged at most once a second (one bad query repeated must not flood the log). */
const failureLog = { at: 0, suppressed: 0 };

/**
 * The answer path never throws to the socket (issue 14): a query whose answer failed gets
 * SERVFAIL, and the failure is logged (the error only: no name, no address).
 */
function answerFailed(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  err: unknown,
  config: Pick<DnsServerConfig, 'logger' | 'onResponse'>,
): Uint8Array | undefined {
  const now = performance.now();
  if (now - failureLog.at >= 1000) {
    config.logger.error({ err, suppressed: failureLog.suppressed }, 'dns answer failed: SERVFAIL');
    failureLog.at = now;
    failureLog.suppressed = 0;
  } else {
    failureLog.suppressed += 1;
  }
  config.onResponse?.(transport, Rcode.SERVFAIL, 'error');
  return servfailFor(packet);
}

/** A fast-path reply to a query with a COOKIE option, with the reply's cookie. */
function fastCookie(
  bytes: Uint8Array,
  gate: QueryGate,
  config: Pick<DnsServerConfig, 'onCookie'>,
): Uint8Array {
  config.onCookie?.(gate.cookieStatus);
  return gate.appendCookie(bytes);
}

/** What to send for a query the gate did not admit to signing (undefined: nothing). */
function limited(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  gate: QueryGate,
  config: Pick<DnsServerConfig, 'onLimited'>,
): Uint8Array | undefined {
  const { reason, action } = gate.limited ?? { reason: 'budget', action: 'refused' };
  config.onLimited?.(transport, reason, action);
  return gate.limitedReply(packet, action);
}

/** An empty truncated copy of a response (header and question only, TC set) for RRL slip. */
function slipped(bytes: Uint8Array): Uint8Array | undefined {
  try {
    const msg = decodeMessage(bytes);
    return encodeMessage({ ...msg, tc: true, answers: [], authorities: [], additionals: [] });
  } catch {
    return undefined;
  }
}

function handleTcp(
  socket: Socket,
  activity: TcpActivity,
  config: DnsServerConfig,
  respond: Responder,
): void {
  let buffered: Buffer = Buffer.alloc(0);
  let busy = Promise.resolve();
  // RFC 7766 6.2.3 idle timeout: any byte resets it, so between messages it is the idle time;
  // within a message, the deadline below bounds how long a trickle can hold the connection.
  const idleMs = config.tcp?.idleMs ?? 10_000;
  socket.setTimeout(idleMs, () => socket.destroy());
  const deadlineMs = config.tcp?.messageDeadlineMs ?? 10_000;
  let messageDeadline: NodeJS.Timeout | undefined;
  const endMessage = (): void => {
    clearTimeout(messageDeadline);
    messageDeadline = undefined;
  };
  socket.on('close', endMessage);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    activity.lastActive = performance.now();
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    if (buffered.length > 70_000) {
      socket.destroy();
      return;
    }
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) break;
      const packet = buffered.subarray(2, 2 + length);
      buffered = Buffer.from(buffered.subarray(2 + length));
      endMessage();
      activity.owed += 1;
      // Answers go out in order; one slow AXFR does not interleave with the next answer.
      busy = busy.then(() => answerTcp(socket, activity, packet, config, respond, idleMs));
    }
    // A message has begun (in this chunk or before): its deadline runs from its first byte and
    // later bytes do not extend it.
    activity.inMessage = buffered.length > 0;
    if (buffered.length > 0 && !socket.destroyed) {
      messageDeadline ??= setTimeout(() => socket.destroy(), deadlineMs);
    }
  });
}

/** Answers one message on a TCP connection, in its turn (after the answers before it). */
async function answerTcp(
  socket: Socket,
  activity: TcpActivity,
  packet: Uint8Array,
  config: DnsServerConfig,
  respond: Responder,
  idleMs: number,
): Promise<void> {
  activity.lastActive = performance.now();
  if (socket.destroyed) {
    activity.owed -= 1;
    return;
  }
  let outcome: Outcome;
  try {
    outcome = respond(packet, 'tcp', socket.remoteAddress ?? '');
  } catch (err) {
    activity.owed -= 1;
    const failed = answerFailed(packet, 'tcp', err, config);
    if (failed) writeFrame(socket, failed);
    else socket.destroy();
    return;
  }
  if (outcome.kind !== 'transfer') {
    activity.owed -= 1;
    if (outcome.kind === 'reply') for (const m of outcome.messages) writeFrame(socket, m);
    return;
  }
  // While the zone is being signed nothing is sent: the idle timeout must not close the
  // connection meanwhile, and the answer stays owed (so it is not the idlest to close).
  socket.setTimeout(0);
  const stallMs = config.tcp?.transferStallMs ?? 30_000;
  try {
    for await (const message of outcome.messages) {
      if (socket.destroyed) break;
      activity.lastActive = performance.now();
      if (!writeFrame(socket, message)) await drained(socket, stallMs);
    }
  } catch (err) {
    config.logger.error({ err }, 'dns zone transfer failed');
    socket.destroy();
  } finally {
    activity.owed -= 1;
    activity.lastActive = performance.now();
    if (!socket.destroyed) socket.setTimeout(idleMs);
  }
}

/** Writes one message with its RFC 7766 length prefix; false when the socket buffer is full. */
function writeFrame(socket: Socket, message: Uint8Array): boolean {
  const frame = Buffer.alloc(2 + message.length);
  frame.writeUInt16BE(message.length, 0);
  frame.set(message, 2);
  return socket.write(frame);
}

/**
 * Resolves when the socket can take more data, or is closed: closed by this function when the
 * client has taken nothing for `stallMs`.
 */
function drained(socket: Socket, stallMs: number): Promise<void> {
  return new Promise((resolve) => {
    const stalled = setTimeout(() => socket.destroy(), stallMs);
    const done = (): void => {
      clearTimeout(stalled);
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

function encodeReply(
  answer: Message,
  transport: 'udp' | 'tcp',
  query: Message | undefined,
): Uint8Array {
  const full = encodeMessage(answer);
  const limit =
    transport === 'tcp'
      ? 65_535
      : query?.edns
        ? Math.min(Math.max(query.edns.udpPayloadSize, 512), SERVER_UDP_PAYLOAD)
        : 512;
  if (full.length <= limit) return full;
  // RFC 2181 9 / RFC 6891 7: rather than a partial RRset, send header + question (+ OPT) with TC
  // so the client asks again over TCP.
  return encodeMessage({ ...answer, tc: true, answers: [], authorities: [], additionals: [] });
}

/** Decodes, answers and encodes one query. Exported for the in-memory tests. */
export function processPacket(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  client: string,
  config: GeneralConfig,
): Outcome {
  const nowSeconds = Math.floor(config.now() / 1000);
  const zone = config.zone.snapshot;
  const { gate } = config;
  FAST.cookieLength = 0;
  gate?.reset(transport, client, nowSeconds, packet, FAST);
  if (gate) config.zone.signer.gate = gate.admit;
  try {
    let fast = fastReply(packet, transport, zone, config.zone.signer, nowSeconds, FAST);
    if (fast) {
      config.onResponse?.(transport, FAST.rcode, FAST.kind);
      if (gate && FAST.cookieLength > 0) fast = fastCookie(fast, gate, config);
      return {
        kind: 'reply',
        messages: [fast],
        identity: fastIdentity(packet, FAST, zone.settings.apex),
      };
    }
    return processGeneral(packet, transport, client, config, nowSeconds);
  } catch (err) {
    if (err !== SIGNING_REFUSED || !gate) throw err;
    const bytes = limited(packet, transport, gate, config);
    return bytes ? { kind: 'reply', messages: [bytes], identity: 'limited' } : { kind: 'drop' };
  } finally {
    config.zone.signer.gate = undefined;
  }
}

type GeneralConfig = Pick<
  DnsServerConfig,
  'zone' | 'transfer' | 'now' | 'onResponse' | 'gate' | 'onLimited' | 'onCookie'
>;

/** {@link processPacket} for a packet the fast path declined. */
function processGeneral(
  packet: Uint8Array,
  transport: 'udp' | 'tcp',
  client: string,
  config: GeneralConfig,
  nowSeconds: number,
): Outcome {
  const zone = config.zone.snapshot;
  let query: Message;
  try {
    query = decodeMessage(packet);
  } catch (err) {
    if (!(err instanceof DnsWireError)) throw err;
    return undecodable(packet, transport, config);
  }
  if (query.qr) return { kind: 'drop' };
  const cookied = cookieCheck(query, transport, config);
  if (cookied) return cookied;

  let tsig: TsigStream | undefined;
  let tsigOk = false;
  try {
    const check = verifyTsigRequest(packet, config.transfer.tsigKeys, nowSeconds);
    if (check.status === 'failed') {
      // RFC 8945 5.2: NOTAUTH carrying the TSIG error (signed only for BADTIME).
      const reply = errorResponse(query, Rcode.NOTAUTH, query.questions);
      config.onResponse?.(transport, Rcode.NOTAUTH, 'tsig');
      const bytes = tsigErrorResponse(encodeMessage(reply), check, nowSeconds);
      return { kind: 'reply', messages: [bytes], identity: 'tsig' };
    }
    if (check.status === 'ok') {
      tsig = tsigStream(check.key, check.part);
      tsigOk = true;
    }
  } catch {
    const reply = errorResponse(query, Rcode.FORMERR);
    return { kind: 'reply', messages: [encodeMessage(reply)], identity: 'formerr' };
  }

  const question = query.questions[0];
  if (query.opcode === Opcode.QUERY && question && query.questions.length === 1) {
    const isXfr = question.type === RRType.AXFR || question.type === RRType.IXFR;
    if (isXfr) {
      return xfrOutcome(query, question, transport, client, config, tsig, tsigOk, nowSeconds);
    }
  }
  let answer: Answer;
  try {
    answer = answerQuery(zone, config.zone.signer, query, nowSeconds);
  } catch (err) {
    if (err !== SIGNING_REFUSED || !config.gate) throw err;
    const bytes = limited(packet, transport, config.gate, config);
    return bytes ? { kind: 'reply', messages: [bytes], identity: 'limited' } : { kind: 'drop' };
  }
  config.onResponse?.(transport, answer.message.rcode, answer.kind);
  const message = config.gate ? config.gate.withCookie(answer.message) : answer.message;
  return {
    kind: 'reply',
    messages: [signedReply(message, transport, query, tsig, nowSeconds)],
    identity: answerIdentity(answer, query, zone.settings.apex),
  };
}

/** FORMERR for a query that does not decode, when its header can be answered; else dropped. */
function undecodable(packet: Uint8Array, transport: 'udp' | 'tcp', config: GeneralConfig): Outcome {
  // FORMERR needs a header we can answer to; never answer responses (reflection loops).
  const header = packet.length >= 12 ? peekHeader(packet) : undefined;
  if (!header || header.qr) return { kind: 'drop' };
  const reply = errorResponse(
    { id: header.id, opcode: header.opcode, rd: header.rd, cd: header.cd },
    Rcode.FORMERR,
  );
  config.onResponse?.(transport, Rcode.FORMERR, 'formerr');
  return { kind: 'reply', messages: [encodeMessage(reply)], identity: 'formerr' };
}

/** The identity an answer is rate limited under: its name and type, else apex, kind and rcode. */
function answerIdentity(answer: Answer, query: Message, apex: string): string {
  const q = query.questions[0];
  return answer.kind === 'answer' && q
    ? `${canonicalName(q.name)}/${q.type}`
    : `${apex}/${answer.kind}/${answer.message.rcode}`;
}

/** A reply's bytes, sized for the transport, TSIG-signed when the query was. */
function signedReply(
  message: Message,
  transport: 'udp' | 'tcp',
  query: Message,
  tsig: TsigStream | undefined,
  nowSeconds: number,
): Uint8Array {
  const bytes = encodeReply(message, transport, query);
  return tsig ? signTsigResponse(bytes, tsig, nowSeconds) : bytes;
}

/** The outcome of an AXFR or IXFR query (one question, opcode QUERY). */
function xfrOutcome(
  query: Message,
  question: Question,
  transport: 'udp' | 'tcp',
  client: string,
  config: GeneralConfig,
  tsig: TsigStream | undefined,
  tsigOk: boolean,
  nowSeconds: number,
): Outcome {
  const zone = config.zone.snapshot;
  const reply = (message: Message, identity: string): Outcome => ({
    kind: 'reply',
    messages: [signedReply(message, transport, query, tsig, nowSeconds)],
    identity,
  });
  const inZone =
    canonicalName(question.name) === zone.settings.apex && question.class === RRClass.IN;
  if (!inZone) {
    return reply(errorResponse(query, Rcode.NOTAUTH, query.questions), 'xfr');
  }
  const allowed = tsigOk || config.transfer.allowFrom.includes(normaliseAddress(client));
  if (!allowed) {
    config.onResponse?.(transport, Rcode.REFUSED, 'xfr');
    return reply(errorResponse(query, Rcode.REFUSED, query.questions), 'xfr');
  }
  if (transport === 'udp') {
    if (question.type === RRType.AXFR) {
      return reply(errorResponse(query, Rcode.FORMERR, query.questions), 'xfr');
    }
    // RFC 1995 2: a UDP IXFR that cannot be answered gets the current SOA (ask over TCP).
    const soa = zone.apexNode.get(RRType.SOA) ?? [];
    return reply(
      { ...errorResponse(query, Rcode.NOERROR, query.questions), aa: true, answers: soa },
      'xfr',
    );
  }
  // IXFR: just the SOA when up to date, a condensed difference from a version this
  // process transferred before, else the whole zone in AXFR form (RFC 1995 4).
  const clientSerial = question.type === RRType.IXFR ? ixfrSerial(query) : undefined;
  if (clientSerial === zone.serial) {
    const soa = zone.apexNode.get(RRType.SOA) ?? [];
    return reply(
      { ...errorResponse(query, Rcode.NOERROR, query.questions), aa: true, answers: soa },
      'xfr',
    );
  }
  return {
    kind: 'transfer',
    messages: transferOutcome(query, clientSerial, tsig, config),
    identity: 'xfr',
  };
}

/**
 * The query's COOKIE option (RFC 7873 5.2), when it has one and a gate is configured: the gate
 * learns it; a malformed one is answered FORMERR (5.2.2), and a query without a question, as
 * clients send to learn a server cookie, gets NOERROR with one (5.4). Otherwise undefined.
 */
function cookieCheck(
  query: Message,
  transport: 'udp' | 'tcp',
  config: Pick<DnsServerConfig, 'gate' | 'onCookie' | 'onResponse'>,
): Outcome | undefined {
  const { gate } = config;
  const option = query.edns?.options.find((o) => o.code === EdnsOptionCode.COOKIE);
  if (!gate || !option) {
    gate?.setCookie(undefined);
    return undefined;
  }
  if (!cookieLengthOk(option.data.length)) {
    gate.setCookie(undefined);
    config.onCookie?.('malformed');
    config.onResponse?.(transport, Rcode.FORMERR, 'error');
    return {
      kind: 'reply',
      messages: [encodeMessage(errorResponse(query, Rcode.FORMERR))],
      identity: 'formerr',
    };
  }
  gate.setCookie(option.data);
  config.onCookie?.(gate.cookieStatus);
  if (query.opcode !== Opcode.QUERY || query.questions.length > 0) return undefined;
  config.onResponse?.(transport, Rcode.NOERROR, 'cookie');
  const reply = gate.withCookie(errorResponse(query, Rcode.NOERROR));
  return { kind: 'reply', messages: [encodeMessage(reply)], identity: 'cookie' };
}

/**
 * The messages of an AXFR or IXFR answer, each signed with TSIG in turn (RFC 8945 5.3.1) when
 * the query was: waits for the zone signed for transfer (on the export worker, so DNS keeps
 * being answered meanwhile), then packs records into messages, letting the event loop run
 * between every few. If signing fails (the worker crashed), the answer is one SERVFAIL.
 */
async function* transferOutcome(
  query: Message,
  clientSerial: number | undefined,
  tsig: TsigStream | undefined,
  config: Pick<DnsServerConfig, 'zone' | 'now' | 'onResponse'>,
): AsyncGenerator<Uint8Array> {
  const sign = (bytes: Uint8Array): Uint8Array =>
    tsig ? signTsigResponse(bytes, tsig, Math.floor(config.now() / 1000)) : bytes;
  if (config.zone.transferForm === 'unsigned') {
    yield* streamedOutcome(query, clientSerial, sign, config);
    return;
  }
  let records: Iterable<Uint8Array>;
  try {
    const signed = await config.zone.transferZone(Math.floor(config.now() / 1000));
    const previous =
      clientSerial === undefined || clientSerial === signed.serial
        ? undefined
        : config.zone.transferredVersion(clientSerial);
    if (clientSerial === signed.serial) {
      const answer = { ...errorResponse(query, Rcode.NOERROR, query.questions), aa: true };
      config.onResponse?.('tcp', Rcode.NOERROR, 'xfr');
      yield sign(encodeMessage({ ...answer, answers: [signed.soa] }));
      return;
    }
    records = previous
      ? await ixfrRecords(previous, signed, config.zone.exportSigner)
      : axfrRecords(signed);
  } catch {
    config.onResponse?.('tcp', Rcode.SERVFAIL, 'xfr');
    yield sign(encodeMessage(errorResponse(query, Rcode.SERVFAIL, query.questions)));
    return;
  }
  config.onResponse?.('tcp', Rcode.NOERROR, 'xfr');
  let sent = 0;
  for (const message of transferMessages(query, records)) {
    yield sign(message);
    if (++sent % 8 === 0) await yieldToLoop();
  }
}

/**
 * The unsigned form's answer (state/zone-state.ts `unsignedTransfer`): records come in batches
 * read as the messages before them are taken (the socket's backpressure reaches the reader),
 * packed and signed message by message. A version that cannot be read is one SERVFAIL.
 */
async function* streamedOutcome(
  query: Message,
  clientSerial: number | undefined,
  sign: (bytes: Uint8Array) => Uint8Array,
  config: Pick<DnsServerConfig, 'zone' | 'onResponse'>,
): AsyncGenerator<Uint8Array> {
  let transfer: StreamedTransfer;
  try {
    transfer = await config.zone.unsignedTransfer(clientSerial);
  } catch {
    config.onResponse?.('tcp', Rcode.SERVFAIL, 'xfr');
    yield sign(encodeMessage(errorResponse(query, Rcode.SERVFAIL, query.questions)));
    return;
  }
  config.onResponse?.('tcp', Rcode.NOERROR, 'xfr');
  if (clientSerial === transfer.serial) {
    const answer = { ...errorResponse(query, Rcode.NOERROR, query.questions), aa: true };
    yield sign(encodeMessage({ ...answer, answers: [transfer.soa] }));
    return;
  }
  const packer = new MessagePacker(query);
  let sent = 0;
  for await (const batch of transfer.records) {
    for (const rr of batch) {
      const message = packer.add(rr);
      if (!message) continue;
      yield sign(message);
      if (++sent % 8 === 0) await yieldToLoop();
    }
  }
  const last = packer.end();
  if (last) yield sign(last);
}

function ixfrSerial(query: Message): number | undefined {
  const soa = query.authorities.find((rr) => rr.type === RRType.SOA);
  return soa && 'serial' in soa.data ? soa.data.serial : undefined;
}

function normaliseAddress(address: string): string {
  return address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}
