// The embedded stack's one configuration file (`SWITCHBOARD_CONFIG`, a section per part, each
// checked by its part with errors naming the key; the environment overrides it), through
// `scripts/start.js` as `npm start` runs it (the build is already there when tests run).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jest } from '@jest/globals';

jest.setTimeout(600_000);

const START = fileURLToPath(new URL('../../../../scripts/start.js', import.meta.url));

let work: string;
const children: ChildProcess[] = [];

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | string>;
}

function start(config: unknown, env: Record<string, string> = {}): Promise<Started> {
  return (async () => {
    const file = join(work, `config-${children.length}.json`);
    await writeFile(file, typeof config === 'string' ? config : JSON.stringify(config));
    const child = spawn(process.execPath, [START], {
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: work,
        SWITCHBOARD_DATA_DIR: join(work, `data-${children.length}`),
        SWITCHBOARD_CONFIG: file,
        DIRECTORY_API_PORT: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const exited = new Promise<number | string>((r) =>
      child.once('exit', (code, signal) => r(signal ?? code ?? -1)),
    );
    return { child, output: () => text, exited };
  })();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Waits (every 200 ms, bounded) for `pattern` in the output while the stack runs. */
async function waitFor(s: Started, pattern: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const found = pattern.exec(s.output());
    if (found) return found;
    if (s.child.exitCode !== null) throw new Error(`start.js exited:\n${s.output()}`);
    if (Date.now() > deadline) throw new Error(`${String(pattern)} not seen:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sb-stack-config-'));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(work, { recursive: true, force: true });
});

describe('SWITCHBOARD_CONFIG', () => {
  it('refuses a section that is not a part, naming it', async () => {
    const s = await start({ dirctory: { DIRECTORY_DNS_PORT: 5300 } });
    expect(await s.exited).toBe(2);
    expect(s.output()).toContain('section "dirctory" is not a part');
  });

  it('refuses a file that is not JSON', async () => {
    const s = await start('{"directory": ');
    expect(await s.exited).toBe(2);
    expect(s.output()).toContain('SWITCHBOARD_CONFIG names a file that is missing or not JSON');
  });

  it('lets the part refuse a wrong value, naming the key and not the value', async () => {
    const s = await start({ directory: { DIRECTORY_DNS_PORT: 'seventy-one' } });
    expect(await s.exited).toBe(1);
    expect(s.output()).toMatch(/directory failed to start: .*DIRECTORY_DNS_PORT/);
    expect(s.output()).not.toContain('seventy-one');
  });

  it('lets the part refuse an unknown variable in its section', async () => {
    const s = await start({
      directory: { DIRECTORY_DNS_PORT: 0 },
      'provider-api': { PROVIDER_API_PROT: 8080 },
    });
    expect(await s.exited).toBe(1);
    expect(s.output()).toMatch(/provider-api failed to start: .*PROVIDER_API_PROT/);
  });

  it('configures each part from its section, the environment overriding the file', async () => {
    const [dnsPort, fileApiPort, envApiPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const s = await start(
      {
        directory: { DIRECTORY_DNS_PORT: dnsPort },
        'provider-api': { PROVIDER_API_PORT: fileApiPort, PROVIDER_METRICS_PORT: 0 },
      },
      { PROVIDER_API_PORT: String(envApiPort) },
    );
    await waitFor(s, /\d part\(s\) running/);
    expect(s.output()).toContain(`DNS udp+tcp 127.0.0.1:${dnsPort}`);
    expect(s.output()).toContain(`http://127.0.0.1:${envApiPort}`);
    expect(s.output()).not.toContain(`http://127.0.0.1:${fileApiPort}`);
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    expect(s.output()).toContain('every part stopped');
  });
});
