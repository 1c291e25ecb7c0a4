// Our directory (walk-proof default: online signing, RFC 9824 compact denial), run in a child
// Node process pinned to one core, on a SQLite database seeded with the benchmark numbers.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunningPeer } from '../process.js';
import { freePort, startDaemon } from '../process.js';
import type { BenchEntry } from '../zone-data.js';
import type { PeerDefinition, PeerStart } from './common.js';

const child = resolve(import.meta.dirname, '../cli/directory-server.js');

/** Our directory, serving `entries` (the same numbers the zone file of the other peers holds). */
export function directoryPeer(entries: readonly BenchEntry[]): PeerDefinition {
  return {
    id: 'switchboard',
    description:
      'Switchboard directory, online signing + compact denial (walk-proof default), SQLite, RRL off',
    zone: 'none',
    async start(o: PeerStart): Promise<RunningPeer> {
      const entriesFile = join(o.workDir, 'entries.json');
      writeFileSync(entriesFile, JSON.stringify(entries));
      const apiPort = await freePort();
      return startDaemon({
        name: 'switchboard',
        command: process.execPath,
        args: [child, o.workDir, entriesFile, String(o.port), String(apiPort)],
        port: o.port,
        logFile: join(o.workDir, 'directory.log'),
        ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
      });
    },
  };
}
