import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Started } from './processes.js';
import { freePort, start, waitFor, waitForPort } from './processes.js';

/**
 * A real ejabberd on 127.0.0.1 with an explicit config in a temp dir: c2s without TLS, the
 * bridge's component (XEP-0114), and the HTTP API on loopback for registering accounts.
 * Erlang distribution listens on its own free loopback port (no epmd). ejabberdctl runs the
 * node as the `ejabberd` user; the node writes its OS pid, and stop/kill signal that pid.
 */
export class EjabberdServer {
  readonly dir: string;
  readonly domain = 'xmpp.test';
  readonly componentDomain = 'bridge.xmpp.test';
  readonly componentSecret = 'component-secret-for-tests';
  c2sPort = 0;
  componentPort = 0;
  httpPort = 0;
  #distPort = 0;
  #proc: Started | undefined;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'sb-ejabberd-'));
  }

  async init(): Promise<void> {
    [this.c2sPort, this.componentPort, this.httpPort, this.#distPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    for (const sub of ['db', 'log']) mkdirSync(join(this.dir, sub));
    writeFileSync(
      join(this.dir, 'ejabberdctl.cfg'),
      `ERLANG_NODE=sbtest${this.#distPort}@localhost
INET_DIST_INTERFACE=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
ERL_DIST_PORT=${this.#distPort}
EJABBERD_PID_PATH=${join(this.dir, 'ejabberd.pid')}
`,
    );
    writeFileSync(
      join(this.dir, 'ejabberd.yml'),
      `# Test-only ejabberd: loopback, no TLS, no s2s.
hosts: ["${this.domain}"]
loglevel: info
certfiles: []
listen:
  - port: ${this.c2sPort}
    ip: "127.0.0.1"
    module: ejabberd_c2s
  - port: ${this.componentPort}
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      "${this.componentDomain}":
        password: "${this.componentSecret}"
  - port: ${this.httpPort}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
auth_method: internal
auth_password_format: plain
api_permissions:
  "loopback":
    who:
      ip: "127.0.0.1/8"
    what: ["register"]
modules:
  mod_offline: {}
  mod_ping: {}
  mod_roster: {}
  mod_disco: {}
  mod_http_api: {}
`,
    );
    // ejabberdctl runs the node as the ejabberd user: it must own its spool and logs.
    execFileSync('chown', ['-R', 'ejabberd:ejabberd', this.dir]);
  }

  async start(): Promise<void> {
    const pidFile = join(this.dir, 'ejabberd.pid');
    rmSync(pidFile, { force: true });
    this.#proc = start('ejabberdctl', [
      '--config-dir',
      this.dir,
      '--config',
      join(this.dir, 'ejabberd.yml'),
      '--ctl-config',
      join(this.dir, 'ejabberdctl.cfg'),
      '--logs',
      join(this.dir, 'log'),
      '--spool',
      join(this.dir, 'db'),
      'foreground',
    ]);
    try {
      await waitForPort(this.componentPort, 60_000);
      await waitForPort(this.c2sPort, 60_000);
      await waitForPort(this.httpPort, 60_000);
    } catch (err) {
      throw new Error(`ejabberd did not start: ${this.#proc.output()}`, { cause: err });
    }
  }

  /** Creates an account through the HTTP API (the server must be running). */
  async register(user: string, password: string): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/api/register`, {
      method: 'POST',
      body: JSON.stringify({ user, host: this.domain, password }),
    });
    if (!res.ok) throw new Error(`ejabberd register failed: ${res.status} ${await res.text()}`);
  }

  /** Freezes the node (SIGSTOP): connections stay open, nothing is processed. */
  freeze(): void {
    const pid = Number(readFileSync(join(this.dir, 'ejabberd.pid'), 'utf8').trim());
    if (pid > 1) process.kill(pid, 'SIGSTOP');
  }

  /** Stops the node (SIGTERM: orderly), or kills it without warning (SIGKILL). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    this.#proc = undefined;
    let pid: number | undefined;
    try {
      pid = Number(readFileSync(join(this.dir, 'ejabberd.pid'), 'utf8').trim());
    } catch {
      pid = undefined;
    }
    if (pid && pid > 1) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    const exited = await waitFor(
      () => (proc.child.exitCode !== null || proc.child.signalCode !== null ? true : undefined),
      'ejabberd exit',
      30_000,
    ).catch(() => false);
    if (!exited) {
      if (pid && pid > 1) process.kill(pid, 'SIGKILL');
      await proc.kill();
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
