// The runtime's ceiling (bench/src/children/udp-echo.ts): not a DNS server, so its answers are not
// checked and it has no place in the goals; shown for what node:dgram itself costs.
import { join, resolve } from 'node:path';
import type { RunningPeer } from '../load/process.js';
import { startDaemon } from '../load/process.js';
import type { PeerDefinition, PeerStart } from './common.js';

const child = resolve(import.meta.dirname, '../children/udp-echo.js');

export const nodeUdpEcho: PeerDefinition = {
  id: 'node-udp-echo',
  description: 'Node.js node:dgram echo (no DNS work): the UDP ceiling of a Node.js server',
  zone: 'none',
  reference: true,
  start(o: PeerStart): Promise<RunningPeer> {
    return Promise.resolve(
      startDaemon({
        name: 'node-udp-echo',
        command: process.execPath,
        args: [child, String(o.port)],
        port: o.port,
        logFile: join(o.workDir, 'echo.log'),
        ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
      }),
    );
  },
};
