// Starting the HTTP benchmark server child (children/http-server.ts) and reading its fixture.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunningPeer } from './process.js';
import { sleep, startDaemon } from './process.js';
import type { HttpFixture } from '../fixtures/provider-fixture.js';

const child = resolve(import.meta.dirname, '../children/http-server.js');

/** Starts `children/http-server.js` with `argv` and waits until it has written its fixture. */
export async function startHttpChild(
  name: string,
  dir: string,
  argv: string[],
  port: number,
  cpu: number | undefined,
): Promise<{ peer: RunningPeer; fixture: HttpFixture }> {
  mkdirSync(dir, { recursive: true });
  const peer = startDaemon({
    name,
    command: process.execPath,
    args: [
      // Pinned to one core, V8's parallel GC threads can only take turns with the server (its
      // scavenges then paused 5-15 ms, the p99 of provider and bare alike); a one-core
      // deployment runs node with --single-threaded-gc, and so do both servers here.
      ...(cpu !== undefined ? ['--single-threaded-gc'] : []),
      // More Node flags for the server, e.g. SB_BENCH_CHILD_NODE_ARGS=--trace-gc.
      ...(process.env['SB_BENCH_CHILD_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
      child,
      ...argv,
    ],
    port,
    logFile: join(dir, 'server.log'),
    ...(cpu !== undefined ? { cpu } : {}),
  });
  const fixtureFile = join(dir, 'fixture.json');
  const deadline = Date.now() + 600_000;
  while (!existsSync(fixtureFile)) {
    if (Date.now() > deadline)
      throw new Error(`${name}: no fixture after 600 s; see ${join(dir, 'server.log')}`);
    const log = existsSync(join(dir, 'server.log'))
      ? readFileSync(join(dir, 'server.log'), 'utf8')
      : '';
    if (log.includes('http-server:')) throw new Error(`${name} failed: ${log.slice(0, 400)}`);
    await sleep(200);
  }
  await sleep(200);
  return { peer, fixture: JSON.parse(readFileSync(fixtureFile, 'utf8')) as HttpFixture };
}
