// Configurations of the XMPP and SIP servers the bridge talks to, for running them on loopback
// with explicit files (the bridge's integration tests and `npm run demo`). Pure: text out.

/** Where and as what a loopback Prosody runs. */
export interface ProsodySettings {
  /** A directory of its own: pid file, data, certificates and logs go there. */
  readonly dir: string;
  readonly c2sPort: number;
  readonly componentPort: number;
  /** The users' domain, e.g. `xmpp.test`. */
  readonly domain: string;
  /** The bridge's XEP-0114 component domain, e.g. `bridge.xmpp.test`. */
  readonly componentDomain: string;
  readonly componentSecret: string;
}

/**
 * `prosody.cfg.lua` for a Prosody on 127.0.0.1 only: no TLS, no s2s, no HTTP, plain
 * authentication allowed (loopback), in-file storage under `dir/data`, and the bridge's
 * component. Never for a public server.
 */
export function prosodyConfig(s: ProsodySettings): string {
  return `-- Loopback-only Prosody: no TLS, no s2s.
daemonize = false
run_as_root = true
pidfile = "${s.dir}/prosody.pid"
data_path = "${s.dir}/data"
certificates = "${s.dir}/certs"
log = { info = "${s.dir}/prosody.log"; error = "${s.dir}/prosody.err" }
interfaces = { "127.0.0.1" }
c2s_ports = { ${s.c2sPort} }
c2s_interfaces = { "127.0.0.1" }
component_ports = { ${s.componentPort} }
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
-- Small stanzas leave at once: with Nagle's algorithm (Prosody's default) a stanza to a client
-- waited for the ACK of the one before, up to the peer's delayed-ACK timer (~40 ms): component
-- traffic paced at 200/s arrived p50 17 ms late (docs/bridge.md, XMPP server settings).
network_settings = { nagle = false }

VirtualHost "${s.domain}"

Component "${s.componentDomain}"
  component_secret = "${s.componentSecret}"
`;
}

/** Where Debian installs Kamailio's modules (amd64). */
export const KAMAILIO_MODULES_DIR = '/usr/lib/x86_64-linux-gnu/kamailio/modules/';

/** Where and as what a loopback Kamailio runs. */
export interface KamailioSettings {
  readonly udpPort: number;
  /** SIP over WebSocket (RFC 7118), where the bridge connects. */
  readonly wsPort: number;
  /** The SIP domain, e.g. `sip.test`. */
  readonly domain: string;
  /** The user the bridge registers as. */
  readonly bridgeUser: string;
  /** The control socket (`kamcmd -s unix:<path>`). */
  readonly ctlSocket: string;
  readonly modulesDir?: string;
  /**
   * How long a relayed request waits for its final answer before the proxy answers 408 itself
   * (tm `fr_timer`, and `max_noninv_lifetime` 2 s longer); Kamailio's defaults (30 and 32 s)
   * when absent.
   */
  readonly transactionTimeoutMs?: number;
}

/**
 * `kamailio.cfg` for a Kamailio on 127.0.0.1: SIP over UDP for users and over WebSocket for the
 * bridge, an in-memory location table, no authentication (loopback only). Requests for users
 * that look like bridge remote keys (`sip_`, `xmpp_`, `mx_`, `tel_`, `+`) go to whatever the
 * bridge registered; every other user of the domain is reached at its registered contact.
 */
export function kamailioConfig(s: KamailioSettings): string {
  return kamailioGlobals(s) + KAMAILIO_MODULES + kamailioModparams(s) + kamailioRoutes(s);
}

/** Core settings: logging, processes, the UDP and WebSocket listeners, the module path. */
function kamailioGlobals(s: KamailioSettings): string {
  return `#!KAMAILIO
# Loopback-only proxy: no auth, no database.
debug=2
log_stderror=yes
fork=yes
children=2
tcp_children=2
auto_aliases=no
alias="${s.domain}"
listen=udp:127.0.0.1:${s.udpPort}
listen=tcp:127.0.0.1:${s.wsPort}
tcp_accept_no_cl=yes
# One whole request must fit the read buffer (the default, written out): the bridge sends
# envelopes over 8192 bytes in fragments (docs/bridge.md, SIP fragments).
tcp_rd_buf_size=16384
mpath="${s.modulesDir ?? KAMAILIO_MODULES_DIR}"

`;
}

const KAMAILIO_MODULES = `loadmodule "kex.so"
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

`;

/** Module parameters: the control socket, an in-memory location table, replies passed through. */
function kamailioModparams(s: KamailioSettings): string {
  return `modparam("ctl", "binrpc", "unix:${s.ctlSocket}")
modparam("usrloc", "db_mode", 0)
# Pass the bridge's 503 (rate limit, with Retry-After) to the sender as it is; by default tm
# turns a 503 from downstream into 500 (RFC 3261 16.7).
modparam("tm", "remap_503_500", 0)
${s.transactionTimeoutMs === undefined ? '' : transactionTimeout(s.transactionTimeoutMs)}modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")

`;
}

/** tm's final-response timer and the non-INVITE lifetime that would otherwise cut it at 32 s. */
function transactionTimeout(ms: number): string {
  return `modparam("tm", "fr_timer", ${ms})\nmodparam("tm", "max_noninv_lifetime", ${ms + 2000})\n`;
}

/** Routing: REGISTER saved, MESSAGE and OPTIONS relayed (bridge keys to the bridge), WebSocket handshakes. */
function kamailioRoutes(s: KamailioSettings): string {
  return `request_route {
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
    if (!lookup("location", "sip:${s.bridgeUser}@${s.domain}")) {
      sl_send_reply("480", "Bridge Not Registered");
      exit;
    }
  } else if (!lookup("location")) {
    # Every user of this domain exists; one with no registered contact is offline.
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
`;
}
