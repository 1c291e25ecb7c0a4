import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Started } from './processes.js';
import { freePort, start, waitForPort } from './processes.js';

/** A real Prosody on 127.0.0.1 with an explicit config in a temp dir. */
export class ProsodyServer {
  readonly dir: string;
  readonly domain = 'xmpp.test';
  readonly componentDomain = 'bridge.xmpp.test';
  readonly componentSecret = 'component-secret-for-tests';
  c2sPort = 0;
  componentPort = 0;
  #proc: Started | undefined;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'sb-prosody-'));
  }

  get configPath(): string {
    return join(this.dir, 'prosody.cfg.lua');
  }

  async init(): Promise<void> {
    this.c2sPort = await freePort();
    this.componentPort = await freePort();
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    mkdirSync(join(this.dir, 'certs'), { recursive: true });
    writeFileSync(
      this.configPath,
      `-- Test-only Prosody: loopback, no TLS, no s2s.
daemonize = false
run_as_root = true
pidfile = "${this.dir}/prosody.pid"
data_path = "${this.dir}/data"
certificates = "${this.dir}/certs"
log = { info = "${this.dir}/prosody.log"; error = "${this.dir}/prosody.err" }
interfaces = { "127.0.0.1" }
c2s_ports = { ${this.c2sPort} }
c2s_interfaces = { "127.0.0.1" }
component_ports = { ${this.componentPort} }
component_interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_direct_tls_ports = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "offline"; "ping"; "presence"; "message"; "iq" }
modules_disabled = { "s2s"; "tls"; "http"; "posix" }
authentication = "internal_hashed"
allow_registration = false
c2s_require_encryption = false
-- A client's stanza carrying a maximal envelope (256 KiB, 350 KB as base64) must fit; the
-- default is 256 KiB (docs/bridge.md, XMPP server settings).
c2s_stanza_size_limit = 1024 * 512
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
storage = "internal"

VirtualHost "${this.domain}"

Component "${this.componentDomain}"
  component_secret = "${this.componentSecret}"
`,
    );
  }

  /** Creates an account (works while the server is stopped: writes the data dir). */
  register(user: string, password: string): void {
    execFileSync(
      'prosodyctl',
      ['--config', this.configPath, 'register', user, this.domain, password],
      {
        stdio: 'ignore',
      },
    );
  }

  async start(): Promise<void> {
    this.#proc = start('prosody', ['--config', this.configPath, '-F']);
    try {
      await waitForPort(this.c2sPort);
      await waitForPort(this.componentPort);
    } catch (err) {
      throw new Error(`prosody did not start: ${this.#proc.output()}`, { cause: err });
    }
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is processed. */
  freeze(): void {
    const pid = this.#proc?.child.pid;
    if (pid) process.kill(pid, 'SIGSTOP');
  }

  /** Stops the server (SIGTERM), or kills it without warning (SIGKILL: nothing flushed). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.#proc?.kill(signal);
    this.#proc = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
