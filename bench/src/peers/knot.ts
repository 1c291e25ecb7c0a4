// Knot DNS (knotd) with an explicit config: online signing (mod-onlinesign, RFC 4470/9824-style
// "black lies") or serving a pre-signed zone as is.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningPeer } from '../load/process.js';
import { startDaemon } from '../load/process.js';
import type { PeerDefinition, PeerStart } from './common.js';

function knotConfig(o: PeerStart, online: boolean): string {
  const zoneLines = online ? ['    module: mod-onlinesign/bench'] : [];
  const onlineSection = online
    ? [
        'policy:',
        '  - id: bench',
        '    algorithm: ecdsap256sha256',
        '    single-type-signing: on',
        '    rrsig-lifetime: 14d',
        '    rrsig-refresh: 7d',
        'mod-onlinesign:',
        '  - id: bench',
        '    policy: bench',
      ]
    : [];
  return [
    'server:',
    `    listen: 127.0.0.1@${o.port}`,
    `    rundir: ${o.workDir}`,
    '    udp-workers: 1',
    '    tcp-workers: 1',
    '    background-workers: 1',
    'database:',
    `    storage: ${join(o.workDir, 'db')}`,
    'log:',
    '  - target: stderr',
    '    any: notice',
    ...onlineSection,
    'template:',
    '  - id: default',
    `    storage: ${o.workDir}`,
    '    zonefile-sync: -1',
    '    zonefile-load: whole',
    '    journal-content: none',
    '    semantic-checks: off',
    'zone:',
    `  - domain: ${o.apex}`,
    `    file: ${o.zoneFile}`,
    ...zoneLines,
    '',
  ].join('\n');
}

function knotPeer(online: boolean): PeerDefinition {
  return {
    id: online ? 'knot-online' : 'knot-presigned',
    description: online
      ? 'Knot DNS, mod-onlinesign (ECDSA P-256, online NSEC "black lies")'
      : 'Knot DNS, pre-signed NSEC3 zone (dnssec-signzone output)',
    zone: online ? 'unsigned' : 'presigned',
    // RSS seen: online 1,364 MB at 1,000,000 numbers (2026-12-03), pre-signed 249 MB at 100,000.
    bytesPerNumber: online ? 1400 : 2500,
    start(o: PeerStart): Promise<RunningPeer> {
      mkdirSync(join(o.workDir, 'db'), { recursive: true });
      const conf = join(o.workDir, 'knot.conf');
      writeFileSync(conf, knotConfig(o, online));
      return Promise.resolve(
        startDaemon({
          name: this.id,
          command: 'knotd',
          args: ['-c', conf, '-s', join(o.workDir, 'knot.sock')],
          port: o.port,
          logFile: join(o.workDir, 'knotd.log'),
          ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
        }),
      );
    },
  };
}

export const knotOnline: PeerDefinition = knotPeer(true);
export const knotPresigned: PeerDefinition = knotPeer(false);
