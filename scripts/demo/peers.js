// Prosody and Kamailio for the demo: generated configs (the same as the bridge's integration
// tests, from @switchboard/service-kit), 127.0.0.1 only, free ports, a folder of their own.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { KAMAILIO_MODULES_DIR, kamailioConfig, prosodyConfig } from '@switchboard/service-kit';
import { clearTimeout, setTimeout } from 'node:timers';

const INSTALL =
  'install them with: sudo apt-get install prosody kamailio kamailio-websocket-modules ' +
  '(or ./scripts/install-peers.sh, which installs every peer the tests use)';

/** The full path of `command` on PATH (or in the sbin folders, where Debian puts daemons). */
export function findCommand(command) {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  return dirs.map((d) => join(d, command)).find((p) => p !== command && existsSync(p));
}

/** What is missing to run the demo's servers, with how to install it; undefined when ready. */
export function missingPeers() {
  const missing = ['prosody', 'prosodyctl', 'kamailio'].filter((c) => !findCommand(c));
  if (!existsSync(join(KAMAILIO_MODULES_DIR, 'websocket.so'))) {
    missing.push('kamailio-websocket-modules');
  }
  return missing.length === 0 ? undefined : `the demo needs ${missing.join(', ')}: ${INSTALL}`;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:`port` accepts TCP connections (every 100 ms, up to `timeoutMs`). */
export async function waitForPort(port, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A child process whose output is kept (last 8 KiB) for error messages. */
function run(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => {
    output = (output + d.toString()).slice(-8192);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Prosody with users `users` (`{ name: password }`) and the bridge's component. */
export async function startProsody(dir, users) {
  const p = {
    dir,
    domain: 'xmpp.demo',
    componentDomain: 'bridge.xmpp.demo',
    componentSecret: `demo-${Math.random().toString(36).slice(2)}`,
    c2sPort: await freePort(),
    componentPort: await freePort(),
  };
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'certs'), { recursive: true });
  const config = join(dir, 'prosody.cfg.lua');
  writeFileSync(config, prosodyConfig(p));
  for (const [name, password] of Object.entries(users)) {
    execFileSync(
      findCommand('prosodyctl'),
      ['--config', config, 'register', name, p.domain, password],
      {
        stdio: 'ignore',
      },
    );
  }
  const proc = run(findCommand('prosody'), ['--config', config, '-F']);
  try {
    await waitForPort(p.c2sPort);
    await waitForPort(p.componentPort);
  } catch (err) {
    await proc.stop();
    throw new Error(`Prosody did not start: ${proc.output()}`, { cause: err });
  }
  return { ...p, stop: () => proc.stop() };
}

/** Kamailio: UDP for SIP phones, WebSocket for the bridge. */
export async function startKamailio(dir) {
  mkdirSync(dir, { recursive: true });
  const k = {
    domain: 'sip.demo',
    bridgeUser: 'switchboard-bridge',
    udpPort: await freePort(),
    wsPort: await freePort(),
    ctlSocket: join(dir, 'kamailio.ctl'),
  };
  const config = join(dir, 'kamailio.cfg');
  writeFileSync(config, kamailioConfig(k));
  const proc = run(findCommand('kamailio'), [
    '-f',
    config,
    '-DD',
    '-E',
    '-Y',
    dir,
    '-P',
    join(dir, 'kamailio.pid'),
    '-m',
    '64',
    '-M',
    '8',
  ]);
  try {
    await waitForPort(k.wsPort);
  } catch (err) {
    await proc.stop();
    throw new Error(`Kamailio did not start: ${proc.output()}`, { cause: err });
  }
  return { ...k, wsUrl: `ws://127.0.0.1:${k.wsPort}`, stop: () => proc.stop() };
}
