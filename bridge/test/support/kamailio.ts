import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  async init(): Promise<void> {
    this.udpPort = await freePort();
    this.wsPort = await freePort();
    writeFileSync(
      this.configPath,
      `#!KAMAILIO
# Test-only proxy: loopback, no auth, no database.
debug=2
log_stderror=yes
fork=yes
children=2
tcp_children=2
auto_aliases=no
alias="${this.domain}"
listen=udp:127.0.0.1:${this.udpPort}
listen=tcp:127.0.0.1:${this.wsPort}
tcp_accept_no_cl=yes
# One whole request must fit the read buffer (the default, written out): the bridge sends
# envelopes over 8192 bytes in fragments (docs/bridge.md, SIP fragments).
tcp_rd_buf_size=16384
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "nathelper.so"
loadmodule "xhttp.so"
loadmodule "websocket.so"
loadmodule "ctl.so"

modparam("ctl", "binrpc", "unix:${this.ctlSocket}")
modparam("usrloc", "db_mode", 0)
# Pass the bridge's 503 (rate limit, with Retry-After) to the sender as it is; by default tm
# turns a 503 from downstream into 500 (RFC 3261 16.7).
modparam("tm", "remap_503_500", 0)
modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")

request_route {
  if (!mf_process_maxfwd_header("10")) {
    sl_send_reply("483", "Too Many Hops");
    exit;
  }
  # WebSocket clients advertise an unroutable Contact (RFC 7118 §5.2): remember the socket.
  if (nat_uac_test("64")) {
    force_rport();
    if (is_method("REGISTER")) {
      fix_nated_register();
    } else if (is_present_hf("Contact")) {
      add_contact_alias();
    }
  }
  if (is_method("REGISTER")) {
    if (!save("location")) sl_reply_error();
    exit;
  }
  if (!is_method("MESSAGE|OPTIONS")) {
    sl_send_reply("405", "Method Not Allowed");
    exit;
  }
  if ($rU =~ "^(sip|xmpp|mx|tel)_" || $rU =~ "^[+]") {
    if (!lookup("location", "sip:${this.bridgeUser}@${this.domain}")) {
      sl_send_reply("480", "Bridge Not Registered");
      exit;
    }
  } else if (!lookup("location")) {
    # Every user of this test domain exists; one with no registered contact is offline.
    sl_send_reply("480", "Temporarily Unavailable");
    exit;
  }
  if (!t_relay()) sl_reply_error();
  exit;
}

event_route[xhttp:request] {
  if ($hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm =~ "GET") {
    if (ws_handle_handshake()) exit;
  }
  xhttp_reply("404", "Not Found", "", "");
}
`,
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
