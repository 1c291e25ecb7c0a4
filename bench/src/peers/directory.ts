// Our directory (walk-proof default: online signing, RFC 9824 compact denial), run in a child
// Node process on a SQLite database seeded with the benchmark numbers; measured pinned to one
// core, every thread of it, once started up (its warmer signs on a worker thread per core:
// start-up may use every core, as dnssec-signzone -P does for the pre-signed peers).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { waitForZone } from '../load/probe.js';
import type { RunningPeer } from '../load/process.js';
import { freePort, logTail, pinRunning, startDaemon } from '../load/process.js';
import type { PeerDefinition, PeerStart } from './common.js';

const child = resolve(import.meta.dirname, '../children/directory-server.js');

/**
 * Our directory, serving the entries of `importFile` (JSON Lines for `switchboard-directory
 * import`: the same numbers the zone file of the other peers holds). Its answers are signed in the
 * background after the first answer; with `waitWarm` the peer is ready once they all are (the
 * wait allows 900 s plus 3 ms a number), otherwise at its first answer.
 */
export function directoryPeer(importFile: string, count: number, waitWarm = true): PeerDefinition {
  return {
    id: 'switchboard',
    description: `Switchboard directory, online signing + compact denial (walk-proof default), SQLite, RRL off, answer cache ${process.env['DIRECTORY_ANSWER_CACHE_MB'] ?? '1024 (default)'} MB; measured ${waitWarm ? 'once warm' : 'from its first answer, signing on demand'}`,
    zone: 'none',
    // RSS at a million numbers was 1.4 GB (2026-12-03).
    bytesPerNumber: 1400,
    async start(o: PeerStart): Promise<RunningPeer> {
      const apiPort = await freePort();
      const running = startDaemon({
        name: 'switchboard',
        command: process.execPath,
        args: [child, o.workDir, importFile, String(o.port), String(apiPort)],
        port: o.port,
        logFile: join(o.workDir, 'directory.log'),
      });
      const t0 = performance.now();
      try {
        // Seeding the database (the bulk import) is not start-up: the child marks its end.
        await waitForFile(join(o.workDir, 'seeded'), running, 3_600_000);
        const setupMs = performance.now() - t0;
        // The first authoritative answer, timed alongside the wait for warm: measured once
        // every RRset is signed ahead of queries, as BIND and NSD are measured with their zone
        // signed (that time counts as start-up).
        let firstAnswerMs: number | undefined;
        const first = waitForZone(o.port, o.apex, 900_000, () => running.exited()).then(() => {
          firstAnswerMs = performance.now() - t0;
        });
        first.catch(() => undefined); // awaited below, unless the warm wait fails first
        if (waitWarm) await waitUntilWarm(apiPort, running, 900_000 + 3 * count);
        await first;
        if (o.cpu !== undefined && !pinRunning(running.pid, o.cpu)) {
          throw new Error(`could not pin the directory to CPU ${o.cpu}`);
        }
        return { ...running, setupMs, ...(firstAnswerMs !== undefined ? { firstAnswerMs } : {}) };
      } catch (err) {
        await running.stop();
        throw err;
      }
    },
  };
}

/** Polls (every 100 ms) until `path` exists; fails at once if the child dies. */
async function waitForFile(path: string, running: RunningPeer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    const exited = running.exited();
    if (exited !== undefined) {
      throw new Error(`directory child died (${exited}):\n${logTail(running.logFile)}`);
    }
    if (Date.now() > deadline) throw new Error('directory child did not finish seeding');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls /healthz until `warm`; fails at once, with its log's tail, if the child dies. */
async function waitUntilWarm(
  apiPort: number,
  running: RunningPeer,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = running.exited();
    if (exited !== undefined) {
      throw new Error(`directory child died (${exited}):\n${logTail(running.logFile)}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
      if (res.ok && ((await res.json()) as { warm?: boolean }).warm === true) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('directory did not finish signing its zone');
    // Once a second: /healthz is rate limited per client (120 a minute by default).
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
