import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prosodyConfig } from '@switchboard/service-kit';
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
      prosodyConfig({
        dir: this.dir,
        c2sPort: this.c2sPort,
        componentPort: this.componentPort,
        domain: this.domain,
        componentDomain: this.componentDomain,
        componentSecret: this.componentSecret,
      }),
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
