import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { killChild, waitFor } from './processes.js';

/** Script lives in the source tree; tests run from dist/test/support. */
const SCRIPT = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../test/support/xmpp_client.py',
);

export interface XmppEvent {
  readonly event: string;
  readonly from?: string;
  readonly id?: string;
  readonly envelope?: string | null;
  readonly body?: string | null;
  readonly security?: string | null;
  readonly condition?: string | null;
  readonly text?: string | null;
  readonly state?: string;
  readonly type?: string;
}

/** A real XMPP client (slixmpp under Debian's python3), driven over JSON lines. */
export class XmppTestClient {
  readonly events: XmppEvent[] = [];
  readonly #child: ChildProcess;
  #stderr = '';

  constructor(jid: string, password: string, port: number) {
    this.#child = spawn('/usr/bin/python3', [SCRIPT, jid, password, '127.0.0.1', String(port)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as XmppEvent);
      } catch {
        this.#stderr += `${line}\n`;
      }
    });
    this.#child.stderr!.on(
      'data',
      (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-5000)),
    );
  }

  get diagnostics(): string {
    return this.#stderr;
  }

  /** Waits for the n-th `ready` (1 = first session, 2 = after one reconnect...). */
  async ready(n = 1, timeoutMs = 20000): Promise<void> {
    await waitFor(
      () => (this.events.filter((e) => e.event === 'ready').length >= n ? true : undefined),
      `xmpp client ready #${n} (${this.#stderr.slice(-500)})`,
      timeoutMs,
    );
  }

  send(cmd: { to: string; envelope?: string; body?: string; id?: string }): void {
    this.#child.stdin!.write(`${JSON.stringify({ cmd: 'send', ...cmd })}\n`);
  }

  /** Sends a XEP-0333 displayed marker for a message id. */
  displayed(to: string, id: string): void {
    this.#child.stdin!.write(`${JSON.stringify({ cmd: 'displayed', to, id })}\n`);
  }

  /** Sends a XEP-0085 chat state (`composing`, `active`...). */
  chatState(to: string, state: string): void {
    this.#child.stdin!.write(`${JSON.stringify({ cmd: 'chatstate', to, state })}\n`);
  }

  /** Sends directed presence (`unavailable` to go offline). */
  presence(to: string, type?: 'unavailable'): void {
    this.#child.stdin!.write(
      `${JSON.stringify({ cmd: 'presence', to, ...(type ? { type } : {}) })}\n`,
    );
  }

  async next(
    predicate: (e: XmppEvent) => boolean,
    what: string,
    timeoutMs = 20000,
  ): Promise<XmppEvent> {
    return waitFor(() => this.events.find(predicate), what, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.#child.exitCode === null) {
      this.#child.stdin!.write(`${JSON.stringify({ cmd: 'quit' })}\n`);
      const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
      const timer = setTimeout(() => void killChild(this.#child), 3000);
      await exited;
      clearTimeout(timer);
    }
  }
}
