// NSD with an explicit config: pre-signed NSEC3 zone, one server process, no nsd.db, RRL off.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningPeer } from '../load/process.js';
import { startDaemon } from '../load/process.js';
import type { PeerDefinition, PeerStart } from './common.js';

export const nsdPresigned: PeerDefinition = {
  id: 'nsd-presigned',
  description: 'NSD, pre-signed NSEC3 zone (dnssec-signzone output), rrl-ratelimit 0',
  zone: 'presigned',
  // Its server process held 6.7 GB RSS while loading 1,000,000 numbers (2026-12-03).
  bytesPerNumber: 6700,
  start(o: PeerStart): Promise<RunningPeer> {
    const conf = join(o.workDir, 'nsd.conf');
    writeFileSync(
      conf,
      [
        'server:',
        `    ip-address: 127.0.0.1@${o.port}`,
        `    port: ${o.port}`,
        '    do-ip6: no',
        '    server-count: 1',
        '    username: ""',
        '    chroot: ""',
        `    zonesdir: "${o.workDir}"`,
        '    database: ""',
        `    pidfile: "${join(o.workDir, 'nsd.pid')}"`,
        `    xfrdfile: "${join(o.workDir, 'xfrd.state')}"`,
        `    zonelistfile: "${join(o.workDir, 'zone.list')}"`,
        `    xfrdir: "${o.workDir}"`,
        `    logfile: "${join(o.workDir, 'nsd.log')}"`,
        '    verbosity: 1',
        '    rrl-ratelimit: 0',
        '    rrl-whitelist-ratelimit: 0',
        'remote-control:',
        '    control-enable: no',
        'zone:',
        `    name: "${o.apex}"`,
        `    zonefile: "${o.zoneFile}"`,
        '',
      ].join('\n'),
    );
    return Promise.resolve(
      startDaemon({
        name: this.id,
        command: 'nsd',
        args: ['-d', '-c', conf],
        port: o.port,
        logFile: join(o.workDir, 'nsd.stderr.log'),
        ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
      }),
    );
  },
};
