import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kamailioConfig } from '@switchboard/service-kit';
import type { Started } from './processes.js';
import { freePort, start, waitForPort } from './processes.js';

/**
 * A real Kamailio on 127.0.0.1: SIP over UDP for SIPp and over WebSocket (RFC 7118) for the
 * bridge, with an in-memory location table. Requests for users that look like bridge remote
 * keys (`sip_`, `xmpp_`, `mx_`, `tel_`, `+`) go to whatever the bridge registered.
 */
export class KamailioServer {
  readonly dir: string;
  readonly domain = 'sip.test';
  readonly bridgeUser = 'switchboard-bridge';
  udpPort = 0;
  wsPort = 0;
  #proc: Started | undefined;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'sb-kamailio-'));
  }

  get configPath(): string {
    return join(this.dir, 'kamailio.cfg');
  }

  get ctlSocket(): string {
    return join(this.dir, 'kamailio.ctl');
  }

  /** How many contacts the location table holds for a user (asked over the control socket). */
  contacts(user: string): number {
    let out: string;
    try {
      out = execFileSync(
        'kamcmd',
        ['-s', `unix:${this.ctlSocket}`, 'ul.lookup', 'location', user],
        {
          encoding: 'utf8',
        },
      );
    } catch {
      return 0; // "AOR not found"
    }
    return (out.match(/Address:/g) ?? []).length;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.wsPort}`;
  }

  /**
   * Writes the configuration. With `bridgePassword`, REGISTER requests are challenged (digest,
   * realm = the domain) and only the bridge user with that password may register.
   */
  async init(opts: { bridgePassword?: string } = {}): Promise<void> {
    this.udpPort = await freePort();
    this.wsPort = await freePort();
    const config = kamailioConfig({
      udpPort: this.udpPort,
      wsPort: this.wsPort,
      domain: this.domain,
      bridgeUser: this.bridgeUser,
      ctlSocket: this.ctlSocket,
      // As long as SippUser waits: on a starved machine the bridge's durable commit has been
      // seen to take ~29 s (PostgreSQL runnable but not scheduled), past tm's default 30 s.
      transactionTimeoutMs: 90_000,
    });
    writeFileSync(
      this.configPath,
      opts.bridgePassword === undefined ? config : withRegisterAuth(config, opts.bridgePassword),
    );
  }

  async start(): Promise<void> {
    this.#proc = start('kamailio', [
      '-f',
      this.configPath,
      '-DD',
      '-E',
      '-Y',
      this.dir,
      '-P',
      join(this.dir, 'kamailio.pid'),
      '-m',
      '64',
      '-M',
      '8',
    ]);
    try {
      await waitForPort(this.wsPort);
    } catch (err) {
      throw new Error(`kamailio did not start: ${this.#proc.output()}`, { cause: err });
    }
  }

  output(): string {
    return this.#proc?.output() ?? '';
  }

  async stop(): Promise<void> {
    await this.#proc?.kill();
    this.#proc = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `config` with digest authentication of REGISTER (auth module, one plaintext password). */
function withRegisterAuth(config: string, password: string): string {
  const register = `  if (is_method("REGISTER")) {
    if (!save("location")) sl_reply_error();`;
  if (!config.includes(register) || !config.includes('loadmodule "sl.so"')) {
    throw new Error('unexpected kamailio.cfg: cannot add REGISTER authentication');
  }
  return config.replace('loadmodule "sl.so"', 'loadmodule "sl.so"\nloadmodule "auth.so"').replace(
    register,
    `  if (is_method("REGISTER")) {
    if (!pv_www_authenticate("$td", "${password}", "0")) {
      www_challenge("$td", "1");
      exit;
    }
    if ($au != $tU) {
      sl_send_reply("403", "Forbidden");
      exit;
    }
    if (!save("location")) sl_reply_error();`,
  );
}
