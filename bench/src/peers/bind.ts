// BIND 9 (named -g) with an explicit config: pre-signed NSEC3 zone, one worker thread.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningPeer } from '../load/process.js';
import { startDaemon } from '../load/process.js';
import type { PeerDefinition, PeerStart } from './common.js';

export const bindPresigned: PeerDefinition = {
  id: 'bind-presigned',
  description: 'BIND 9, pre-signed NSEC3 zone (dnssec-signzone output), named -n 1',
  zone: 'presigned',
  // 259 MB at 100,000 numbers (2026-11-22).
  bytesPerNumber: 2600,
  start(o: PeerStart): Promise<RunningPeer> {
    const conf = join(o.workDir, 'named.conf');
    writeFileSync(
      conf,
      [
        'options {',
        `  directory "${o.workDir}";`,
        `  pid-file "${join(o.workDir, 'named.pid')}";`,
        `  session-keyfile "${join(o.workDir, 'session.key')}";`,
        `  managed-keys-directory "${o.workDir}";`,
        `  listen-on port ${o.port} { 127.0.0.1; };`,
        '  listen-on-v6 { none; };',
        '  recursion no;',
        '  dnssec-validation no;',
        '  notify no;',
        '  querylog no;',
        '};',
        'controls { };',
        `zone "${o.apex}" {`,
        '  type primary;',
        `  file "${o.zoneFile}";`,
        '};',
        '',
      ].join('\n'),
    );
    return Promise.resolve(
      startDaemon({
        name: this.id,
        command: 'named',
        args: ['-c', conf, '-g', '-n', '1', '-U', '1'],
        port: o.port,
        logFile: join(o.workDir, 'named.log'),
        ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
      }),
    );
  },
};
