// Starting and stopping peer servers: explicit config in a temp dir, pinned to a core when
// `taskset` is usable, always stopped by PID.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';

/** A server the benchmark started; `stop()` signals exactly its PID. */
export interface RunningPeer {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly logFile: string;
  /** The exit code or signal once the process has ended, undefined while it runs. */
  exited(): string | undefined;
  /** Milliseconds from spawn to the first authoritative answer, when the peer waits past it. */
  readonly firstAnswerMs?: number;
  /**
   * Milliseconds from spawn spent on set-up that is not start-up (our directory's child seeding
   * its database); start-up times are counted from its end.
   */
  readonly setupMs?: number;
  stop(): Promise<void>;
}

/** True when `taskset -c 1` works here (Linux with util-linux and at least 2 CPUs usable). */
export function canPin(): boolean {
  return spawnSync('taskset', ['-c', '1', 'true']).status === 0;
}

/** Prefixes a command with `taskset -c <cpu>` when pinning is possible. */
export function pinned(
  cpu: number | undefined,
  command: string,
  args: readonly string[],
): [string, string[]] {
  if (cpu === undefined || !canPin()) return [command, [...args]];
  return ['taskset', ['-c', String(cpu), command, ...args]];
}

/**
 * Pins a running process, every thread of it, to `cpu` (`taskset -a -p`), when pinning is
 * possible: false if it is not or failed.
 */
export function pinRunning(pid: number, cpu: number): boolean {
  if (!canPin()) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)]).status === 0;
}

export interface DaemonOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly port: number;
  readonly logFile: string;
  readonly cpu?: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Spawns a foreground daemon (taskset execs it, so the PID is the daemon's). */
export function startDaemon(options: DaemonOptions): RunningPeer {
  const [cmd, args] = pinned(options.cpu, options.command, options.args);
  const fd = openSync(options.logFile, 'a');
  const child = spawn(cmd, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined)
    throw new Error(`${options.name}: could not start ${options.command}`);
  const pid = child.pid;
  return {
    name: options.name,
    pid,
    port: options.port,
    logFile: options.logFile,
    exited: () =>
      child.exitCode !== null ? `exit code ${child.exitCode}` : (child.signalCode ?? undefined),
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      if (await waitExit(child, 15_000)) return;
      process.kill(pid, 'SIGKILL');
      await waitExit(child, 5_000);
    },
  };
}

/**
 * Runs a command to completion (pinned when asked), returning its exit code, wall time and, when
 * GNU time is installed, the CPU time (user + system) of the command and everything it waited
 * for: on a shared machine the wall time depends on the others' load, the CPU time far less.
 */
export function runTimed(
  command: string,
  args: readonly string[],
  options: { cpu?: number; logFile: string; cwd?: string },
): Promise<{ code: number | null; seconds: number; cpuSeconds?: number }> {
  const cpuFile = existsSync(GNU_TIME) ? `${options.logFile}.cpu-${process.hrtime.bigint()}` : '';
  const timed: [string, string[]] = cpuFile
    ? [GNU_TIME, ['-f', '%U %S', '-o', cpuFile, command, ...args]]
    : [command, [...args]];
  const [cmd, full] = pinned(options.cpu, ...timed);
  const fd = openSync(options.logFile, 'a');
  const started = process.hrtime.bigint();
  const child = spawn(cmd, full, { cwd: options.cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpuSeconds = cpuFile ? readCpuSeconds(cpuFile) : undefined;
      resolve({ code, seconds, ...(cpuSeconds !== undefined ? { cpuSeconds } : {}) });
    });
  });
}

const GNU_TIME = '/usr/bin/time';

/** User + system seconds from GNU time's `-f '%U %S'` output (its last line); the file is removed. */
function readCpuSeconds(file: string): number | undefined {
  try {
    const last = readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
    const [user, system] = last.split(' ').map(Number);
    return user !== undefined && system !== undefined && Number.isFinite(user + system)
      ? user + system
      : undefined;
  } catch {
    return undefined;
  } finally {
    rmSync(file, { force: true });
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const tcp = createServer();
    tcp.once('error', () => resolve(false));
    tcp.listen(port, '127.0.0.1', () => {
      const udp = createSocket('udp4');
      udp.once('error', () => tcp.close(() => resolve(false)));
      udp.bind(port, '127.0.0.1', () => {
        udp.close();
        tcp.close(() => resolve(true));
      });
    });
  });
}

/** A random high port free for both UDP and TCP on 127.0.0.1 (racy by nature; good enough here). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    if (await portFree(port)) return port;
  }
  throw new Error('no free port found on 127.0.0.1');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The last `lines` lines of a log file (for an error message when a child died). */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
