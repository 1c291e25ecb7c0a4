import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killChild } from './processes.js';
import type { ChildProcess } from 'node:child_process';

/** A received SIP MESSAGE as SIPp logged it. */
export interface SippReceived {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

function scenario(dir: string, name: string, xml: string): string {
  const path = join(dir, `${name}.xml`);
  writeFileSync(path, `<?xml version="1.0" encoding="ISO-8859-1" ?>\n${xml}`);
  return path;
}

/** A UDP port free on 127.0.0.1 now, with `port + extra` free too (SIPp's media uses +2). */
async function freeUdpPort(extra = 0): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      first.once('error', reject);
      first.bind(0, '127.0.0.1', () => resolve(first.address().port));
    });
    const partner = createSocket('udp4');
    const ok =
      extra === 0 ||
      (port + extra <= 65535 &&
        (await new Promise<boolean>((resolve) => {
          partner.once('error', () => resolve(false));
          partner.bind(port + extra, '127.0.0.1', () => resolve(true));
        })));
    first.close();
    if (extra !== 0) partner.close();
    if (ok) return port;
  }
  throw new Error('no free UDP port pair found');
}

/**
 * Starts SIPp. Each instance gets its own RTP echo (`-mp`, also +2) and control (`-cp`) ports:
 * SIPp's defaults (6000, 8888) are shared by every instance, and two starting at once made
 * one fail to bind and exit 254 before doing anything.
 */
async function run(
  args: readonly string[],
  cwd: string,
): Promise<{ child: ChildProcess; done: Promise<{ code: number | null; output: string }> }> {
  const media = await freeUdpPort(2);
  const control = await freeUdpPort();
  const child = spawn('sipp', [...args, '-mp', String(media), '-cp', String(control), '-nostdin'], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  // 'close', not 'exit': 'exit' can come before the pipes are read to their end, and the
  // output is what tells a port taken from a real failure.
  const done = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, output })),
  );
  return { child, done };
}

/** Whether process `pid` holds a UDP socket bound to 127.0.0.1:port (Linux /proc). */
function holdsUdpPort(pid: number, port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[9]) inodes.add(`socket:[${fields[9]}]`);
  }
  if (inodes.size === 0) return false;
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * Starts a SIPp that listens on a fresh UDP port and resolves once SIPp itself holds that
 * port. A port found free can be taken before SIPp binds it (SIPp then exits 254 at once):
 * such a start is retried on another port, so nothing is registered for a dead listener.
 */
async function listen(
  args: (port: number) => readonly string[],
  cwd: string,
): Promise<{
  port: number;
  child: ChildProcess;
  done: Promise<{ code: number | null; output: string }>;
}> {
  for (let attempt = 1; ; attempt++) {
    const port = await freeUdpPort();
    const started = await run(args(port), cwd);
    let exited: { code: number | null; output: string } | undefined;
    void started.done.then((result) => (exited = result));
    const deadline = Date.now() + 60_000;
    while (!exited && started.child.pid !== undefined && !holdsUdpPort(started.child.pid, port)) {
      if (Date.now() > deadline) {
        await killChild(started.child);
        throw new Error(`sipp did not bind 127.0.0.1:${port} within 60 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!exited) return { port, ...started };
    if (exited.code === 254 && attempt < 5) continue;
    throw new Error(
      `sipp exited before listening: exit ${exited.code}\n${exited.output.slice(-1500)}`,
    );
  }
}

/**
 * SIPp's T2 for a request that may wait `timeoutSeconds` for its answer. SIPp 3.6 retransmits a
 * request 9 times, 500 ms apart and doubling up to T2, then waits T2 once more: with the
 * default T2 (4 s) it gives up after 32 s whatever `-max_non_invite_retrans` says, and a
 * starved machine has been seen to take ~29 s to commit what a MESSAGE waits for. Past 8 s of
 * T2 the whole wait is 15.5 s + 5 x T2.
 */
function retransmitCapMs(timeoutSeconds: number): number {
  return Math.max(4000, Math.ceil((timeoutSeconds * 1000 - 15_500) / 5));
}

/** A SIP user played by SIPp (UDP) through the proxy at 127.0.0.1:proxyPort. */
export class SippUser {
  readonly #children = new Set<ChildProcess>();
  #seq = 0;

  constructor(
    readonly user: string,
    readonly domain: string,
    readonly proxyPort: number,
    readonly dir: string,
    /**
     * How long one MESSAGE may wait for its final answer. Generous by default: a loaded machine
     * (the suite runs beside a CPU hog) can take far longer than SIP's own 32 s timer B allows
     * for in production, and a test must not fail on that.
     */
    readonly sendTimeoutSeconds = 90,
  ) {}

  /**
   * Sends one MESSAGE and resolves with the final status code SIPp saw (expects `expect`).
   * `requestHeaders` are added to the request as they are (`Name: value`).
   */
  async sendMessage(
    toUser: string,
    contentType: string,
    body: string,
    expect = 200,
    expectInResponse?: string,
    requestHeaders: readonly string[] = [],
  ): Promise<void> {
    const file = this.#messageScenario(
      toUser,
      contentType,
      body,
      expect,
      expectInResponse,
      requestHeaders,
    );
    await this.#runOnce(file, this.sendTimeoutSeconds, `MESSAGE did not get ${expect}`);
  }

  /**
   * Sends `count` MESSAGEs with the same body (each its own Call-ID) from one SIPp process, at
   * once, and resolves when every one got 200.
   */
  async sendMessages(
    count: number,
    toUser: string,
    contentType: string,
    body: string,
  ): Promise<void> {
    const file = this.#messageScenario(toUser, contentType, body, 200, undefined, []);
    await this.#runOnce(
      file,
      this.sendTimeoutSeconds,
      `a MESSAGE of ${count} did not get 200`,
      count,
    );
  }

  /** A client scenario: one MESSAGE, expecting `expect` (and `expectInResponse` in it). */
  #messageScenario(
    toUser: string,
    contentType: string,
    body: string,
    expect: number,
    expectInResponse: string | undefined,
    requestHeaders: readonly string[],
  ): string {
    // SIPp fails the call when a check_it regexp does not match the response.
    const check = expectInResponse
      ? `<action><ereg regexp="${expectInResponse}" search_in="msg" check_it="true" assign_to="1"/></action>`
      : '';
    const reference = expectInResponse ? '\n  <Reference variables="1"/>' : '';
    const n = ++this.#seq;
    return scenario(
      this.dir,
      `send-${this.user}-${n}`,
      `<scenario name="send">
  <send retrans="500">
    <![CDATA[
      MESSAGE sip:${toUser}@${this.domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: <sip:${this.user}@${this.domain}>;tag=[pid]tag[call_number]
      To: <sip:${toUser}@${this.domain}>
      Call-ID: [call_id]
      CSeq: 1 MESSAGE
      Content-Type: ${contentType}${requestHeaders.map((h) => `\n      ${h}`).join('')}
      Content-Length: [len]

      ${body}
    ]]>
  </send>
  <recv response="${expect}">${check}</recv>${reference}
</scenario>`,
    );
  }

  /**
   * Registers `user` with a contact on a fresh port and starts a SIPp UAS there that answers
   * one MESSAGE with 200. Resolves to a function waiting for that MESSAGE.
   */
  async receiveOne(): Promise<() => Promise<SippReceived>> {
    const n = ++this.#seq;
    const uasFile = scenario(
      this.dir,
      `uas-${this.user}-${n}`,
      `<scenario name="receive">
  <recv request="MESSAGE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>`,
    );
    const traceDir = join(this.dir, `uas-${n}`);
    mkdirSync(traceDir);
    const uas = await listen(
      (port) => [
        '-sf',
        uasFile,
        '-i',
        '127.0.0.1',
        '-p',
        String(port),
        '-m',
        '1',
        '-timeout',
        '60s',
        '-timeout_error',
        '-trace_msg',
      ],
      traceDir,
    );
    this.#children.add(uas.child);
    await this.register(uas.port);
    return async () => {
      const { code, output } = await uas.done;
      this.#children.delete(uas.child);
      if (code !== 0)
        throw new Error(`sipp UAS did not receive a MESSAGE: exit ${code}\n${output.slice(-1500)}`);
      const log = readdirSync(traceDir).find((f) => f.endsWith('_messages.log'));
      if (!log) throw new Error('sipp wrote no message trace');
      return parseReceivedMessage(readFileSync(join(traceDir, log), 'utf8'));
    };
  }

  /**
   * Starts a SIPp UAS that answers every MESSAGE with 200 until closed, and registers it.
   * `received()` reads every MESSAGE it has logged so far (copies included).
   */
  async inbox(): Promise<SippInbox> {
    const n = ++this.#seq;
    const uasFile = scenario(
      this.dir,
      `inbox-${this.user}-${n}`,
      `<scenario name="inbox">
  <recv request="MESSAGE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>`,
    );
    const traceDir = join(this.dir, `inbox-${n}`);
    mkdirSync(traceDir);
    const uas = await listen(
      (port) => ['-sf', uasFile, '-i', '127.0.0.1', '-p', String(port), '-trace_msg'],
      traceDir,
    );
    this.#children.add(uas.child);
    await this.register(uas.port);
    return {
      register: () => this.register(uas.port),
      received: () => {
        const log = readdirSync(traceDir).find((f) => f.endsWith('_messages.log'));
        return log ? parseReceivedMessages(readFileSync(join(traceDir, log), 'utf8')) : [];
      },
    };
  }

  /** REGISTERs `user` at the proxy with contact 127.0.0.1:contactPort. */
  async register(contactPort: number): Promise<void> {
    const n = ++this.#seq;
    const file = scenario(
      this.dir,
      `reg-${this.user}-${n}`,
      `<scenario name="register">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:${this.domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: <sip:${this.user}@${this.domain}>;tag=[pid]reg[call_number]
      To: <sip:${this.user}@${this.domain}>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:${this.user}@127.0.0.1:${contactPort}>
      Expires: 600
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>`,
    );
    await this.#runOnce(file, 15, 'REGISTER failed');
  }

  /**
   * Runs a one-shot client scenario (one call) through the proxy. Free ports are found and
   * released before SIPp binds them, so another process can take its main, control or RTP port
   * first: SIPp then exits before sending anything (so trying again cannot duplicate a request),
   * with exit code -2 (254, "fatal error binding a socket"), and other ports are tried.
   */
  async #runOnce(file: string, timeoutSeconds: number, failure: string, calls = 1): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const port = await freeUdpPort();
      const { child, done } = await run(
        [
          '-sf',
          file,
          '-i',
          '127.0.0.1',
          '-p',
          String(port),
          // `calls` calls (one scenario each), all started within the first second.
          '-m',
          String(calls),
          '-r',
          String(calls),
          '-timeout',
          `${timeoutSeconds}s`,
          '-T2',
          String(retransmitCapMs(timeoutSeconds)),
          '-timeout_error',
          `127.0.0.1:${this.proxyPort}`,
        ],
        this.dir,
      );
      this.#children.add(child);
      const { code, output } = await done;
      this.#children.delete(child);
      const portTaken =
        code === 254 ||
        /Unable to bind (main|remote control|audio RTP|video RTP) socket/.test(output);
      if (code !== 0 && portTaken && attempt < 5) continue;
      if (code !== 0) throw new Error(`sipp ${failure}: exit ${code}\n${output.slice(-1500)}`);
      return;
    }
  }

  /** Kills every SIPp this user still runs. */
  async close(): Promise<void> {
    await Promise.all([...this.#children].map((c) => killChild(c)));
  }
}

/** A SIP user's inbox played by SIPp: every MESSAGE answered 200. */
export interface SippInbox {
  /** Registers the inbox again (a restarted proxy has forgotten it). */
  register(): Promise<void>;
  received(): SippReceived[];
}

/** Pulls the first received MESSAGE request (headers + body) out of a SIPp -trace_msg log. */
export function parseReceivedMessage(log: string): SippReceived {
  const [first] = parseReceivedMessages(log);
  if (!first) throw new Error('no MESSAGE in sipp trace');
  return first;
}

/** Every received MESSAGE request in a SIPp -trace_msg log, in order. */
export function parseReceivedMessages(log: string): SippReceived[] {
  const out: SippReceived[] = [];
  const blocks = log.split(/^-{10,}.*$/m);
  for (const block of blocks) {
    const start = block.search(/^MESSAGE sip:/m);
    if (start < 0 || !/message received/.test(block)) continue;
    const text = block.slice(start).replace(/\r\n/g, '\n');
    const split = text.indexOf('\n\n');
    const head = split < 0 ? text : text.slice(0, split);
    const body = split < 0 ? '' : text.slice(split + 2).replace(/\n+$/, '');
    const headers: Record<string, string> = {};
    for (const line of head.split('\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0)
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    out.push({ headers, body });
  }
  return out;
}
