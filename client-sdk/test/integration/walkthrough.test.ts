// The README's first ten minutes, in the checkout: its first command (`npm install && npm start`,
// on free ports and with its data in a temporary folder so it can run beside anything else),
// a number registered with `npx switchboard` and the code from the server output, the lookups
// with dig, delv and `npx switchboard`, and Ctrl-C. Nothing may be left in the source tree.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jest } from '@jest/globals';

jest.setTimeout(900_000);

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const NUMBER = '+442079460958';
const NAME = '8.5.9.0.6.4.9.7.0.2.4.4.e164.switchboard.test.';

let work: string;
let dataDir: string;
let stack: ChildProcess | undefined;
let out = '';
let err = '';

function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: () => Promise<string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: options.env ?? { PATH: process.env['PATH'] ?? '', HOME: work },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (options.stdin) {
      options.stdin().then(
        (text) => child.stdin.end(text),
        (e: unknown) => reject(e as Error),
      );
    } else {
      child.stdin.end();
    }
  });
}

/** Waits (every 200 ms, bounded) until `find` finds something in the output so far. */
async function waitFor<T>(
  what: string,
  find: () => T | undefined,
  timeoutMs: number,
  whileRunning = true,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (whileRunning && stack && (stack.exitCode !== null || stack.signalCode !== null))
      throw new Error(`npm start exited: ${out}\n${err}`);
    if (Date.now() > deadline) throw new Error(`${what} not seen in time:\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function gitStatus(): string {
  return execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sb-walkthrough-'));
  dataDir = join(work, 'data');
});

afterAll(async () => {
  if (stack?.pid && stack.exitCode === null && stack.signalCode === null) {
    try {
      process.kill(-stack.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(work, { recursive: true, force: true });
});

describe('the README walkthrough', () => {
  it('starts the stack, registers, looks up with dig, delv and npx switchboard, and stops on Ctrl-C', async () => {
    const before = gitStatus();
    // The first README command, `npm install && npm start`, as a terminal runs it (npm start
    // in a process group of its own, which Ctrl-C signals).
    const install = await run('npm', ['install', '--no-audit', '--no-fund'], {
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? work },
    });
    expect(install.code).toBe(0);
    stack = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: true,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? work,
        SWITCHBOARD_DATA_DIR: dataDir,
        DIRECTORY_DNS_PORT: '0',
        DIRECTORY_API_PORT: '0',
        PROVIDER_API_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    stack.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<string>((r) =>
      stack!.once('exit', (code, signal) => r(signal ?? String(code))),
    );
    await waitFor(
      '"part(s) running"',
      () => (/\d part\(s\) running/.test(out) ? true : undefined),
      600_000,
    );
    const dnsPort = Number(/directory +DNS udp\+tcp 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    expect(dnsPort).toBeGreaterThan(0);
    expect(out).toMatch(/provider-api +HTTP http:\/\/127\.0\.0\.1:\d+ \(onboarding page \//);
    expect(out).toMatch(/operator page http:\/\/127\.0\.0\.1:\d+\/operator/);

    const cliEnv = {
      PATH: process.env['PATH'] ?? '',
      HOME: work,
      SWITCHBOARD_TRUST_LIST: join(dataDir, 'charter', 'trust-list.json'),
    };
    const reg = await run(
      'npx',
      [
        'switchboard',
        '--data-dir',
        join(work, '.switchboard-alice'),
        'register',
        NUMBER,
        '--provider',
        'dev-provider',
        '--publish',
        'sip:alice@example.net',
      ],
      {
        env: cliEnv,
        // The code the provider printed in the `npm start` output, as the person copies it.
        stdin: async () =>
          `${await waitFor('the verification code', () => /code for \.\.\.958 by sms: (\d{6})/.exec(err)?.[1], 60_000)}\n`,
      },
    );
    expect(reg.code).toBe(0);
    expect(reg.stdout).toContain(
      `registered ${NUMBER} at dev-provider, published in the directory`,
    );

    const dig = (): Promise<{ code: number; stdout: string }> =>
      run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+dnssec', '+norec', '+tcp', 'NAPTR', NAME]);
    let answer = await dig();
    const deadline = Date.now() + 60_000;
    while (!answer.stdout.includes('sip:alice@example.net') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      answer = await dig();
    }
    expect(answer.stdout).toContain('status: NOERROR');
    expect(answer.stdout).toMatch(
      /NAPTR\s+\d+ \d+ "u" "E2U\+sip" "!\^\.\*\$!sip:alice@example\.net!"/i,
    );
    expect(answer.stdout).toMatch(/RRSIG\s+NAPTR 13 /);

    const delv = await run('delv', [
      '@127.0.0.1',
      '-p',
      String(dnsPort),
      '-a',
      join(dataDir, 'directory', 'trust-anchor.conf'),
      '+root=e164.switchboard.test.',
      '+tcp',
      'NAPTR',
      NAME,
    ]);
    expect(delv.stdout + delv.stderr).toContain('; fully validated');
    expect(delv.stdout).toContain('sip:alice@example.net');

    const found = await run(
      'npx',
      ['switchboard', '--data-dir', join(work, '.switchboard-bob'), 'lookup', NUMBER],
      { env: cliEnv },
    );
    expect(found.code).toBe(0);
    expect(found.stdout).toMatch(/dnssec: +secure/);
    expect(found.stdout).toContain('sip:alice@example.net');

    // Ctrl-C: SIGINT to the whole foreground group, as a terminal sends it. npm itself ends by
    // the signal, as it does in a terminal; the stack stops every part and says so.
    process.kill(-stack.pid!, 'SIGINT');
    expect(['SIGINT', '0', '130']).toContain(await exited);
    await waitFor(
      '"every part stopped"',
      () => (out.includes('switchboard: every part stopped') ? true : undefined),
      60_000,
      false,
    );
    expect(err).not.toMatch(/stopping \S+ failed/);
    expect(await tcpOpen(dnsPort)).toBe(false);
    // Keys and data went to the folders given, none into the checkout.
    expect(gitStatus()).toBe(before);
  });
});
