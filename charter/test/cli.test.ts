// Runs the real `switchboard-charter` binary as a child process, as a board member would.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trustListSchema } from '../src/index.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const NOW = '2026-11-22T00:00:00Z';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
const at = (...args: string[]): Promise<Run> => cli(dir, ...args, '--now', NOW);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'charter-cli-'));
  for (const name of ['alice', 'bob', 'carol', 'dave', 'acme']) {
    const r = await at('keygen', '--name', name, '--out', `${name}.key`);
    expect(r.code).toBe(0);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('switchboard-charter', () => {
  test('keygen writes the private key 0600 and never overwrites one', async () => {
    expect((await stat(join(dir, 'alice.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'alice.pub'))).mode & 0o777).toBe(0o644);
    const again = await at('keygen', '--name', 'alice', '--out', 'alice.key');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refusing to overwrite/);
  });

  test('a list goes from draft to verified: init, add, sign, combine, verify', async () => {
    expect(
      (
        await at(
          'init',
          '--board-key',
          'alice.pub',
          '--board-key',
          'bob.pub',
          '--board-key',
          'carol.pub',
          '--threshold',
          '2',
          '--out',
          'list.json',
        )
      ).code,
    ).toBe(0);
    const add = await at(
      'add-provider',
      'list.json',
      '--id',
      'acme',
      '--name',
      'Acme Telecom',
      '--api-base-url',
      'https://acme.example',
      '--publishing-key',
      'acme.pub',
      '--network',
      'sip',
      '--network',
      'matrix',
      '--not-after',
      '2027-12-31',
    );
    expect(add.code).toBe(0);
    const dirAdd = await at(
      'add-directory',
      'list.json',
      '--id',
      'dir-eu',
      '--operator',
      'EU Directory e.V.',
      '--apex',
      'e164.switchboard.test',
      '--anchor',
      `DS 12345 13 2 ${'ab'.repeat(32)}`,
      '--nameserver',
      '127.0.0.1:5300',
      '--publish-endpoint',
      'http://127.0.0.1:8053',
    );
    expect(dirAdd.code).toBe(0);

    const fp = (await at('fingerprint', 'list.json')).stdout.trim();
    expect(fp).toMatch(/^[0-9a-f]{64}$/);

    const unsigned = await at('verify', 'list.json', '--board-fingerprint', fp);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toMatch(/threshold-not-met/);

    expect((await at('sign', 'list.json', '--key', 'alice.key')).code).toBe(0);
    const one = await at('verify', 'list.json', '--board-fingerprint', fp);
    expect(one.code).toBe(1);
    expect(one.stderr).toMatch(/only 1 valid signature/);

    expect((await at('sign', 'list.json', '--key', 'bob.key', '--detached', 'bob.sig')).code).toBe(
      0,
    );
    expect((await at('combine', 'list.json', 'bob.sig')).code).toBe(0);
    const ok = await at('verify', 'list.json', '--board-fingerprint', fp, '--json');
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout) as { ok: boolean; version: number; signedBy: string[] };
    expect(report).toMatchObject({ ok: true, version: 1 });
    expect(report.signedBy).toHaveLength(2);

    const human = await at(
      'verify',
      'list.json',
      '--board-key',
      'alice.pub',
      '--board-key',
      'bob.pub',
      '--board-key',
      'carol.pub',
      '--threshold',
      '2',
    );
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/OK: the list verifies/);
    expect(human.stdout).toMatch(/acme {2}active {2}"Acme Telecom"/);
  });

  test('failures get specific messages and exit 1', async () => {
    const text = await readFile(join(dir, 'list.json'), 'utf8');
    const fp = (await at('fingerprint', 'list.json')).stdout.trim();

    await writeFile(join(dir, 'truncated.json'), text.slice(0, text.length / 2));
    const truncated = await at('verify', 'truncated.json', '--board-fingerprint', fp);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toMatch(/refused \(malformed-json\): truncated JSON/);

    const o = JSON.parse(text) as { signed: Record<string, unknown> };
    o.signed['comment'] = 'hi';
    await writeFile(join(dir, 'unknown.json'), JSON.stringify(o));
    const unknown = await at('verify', 'unknown.json', '--board-fingerprint', fp, '--json');
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({
      ok: false,
      code: 'schema-violation',
      where: '/signed',
    });

    const rollback = await at(
      'verify',
      'list.json',
      '--board-fingerprint',
      fp,
      '--last-seen-version',
      '5',
    );
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toMatch(/rollback/);

    const expired = await cli(
      dir,
      'verify',
      'list.json',
      '--board-fingerprint',
      fp,
      '--now',
      '2030-01-01T00:00:00Z',
    );
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(/refused \(expired\): trust list version 1 expired at/);
  });

  test('suspend, rotate the board, diff; a rotation needs the old and the new keys', async () => {
    await writeFile(join(dir, 'v1.json'), await readFile(join(dir, 'list.json')));
    expect(
      (await at('suspend', 'list.json', '--provider', 'acme', '--reason', 'audit pending')).code,
    ).toBe(0);
    expect(
      (
        await at(
          'set-board',
          'list.json',
          '--board-key',
          'carol.pub',
          '--board-key',
          'dave.pub',
          '--threshold',
          '2',
        )
      ).code,
    ).toBe(0);
    for (const k of ['carol', 'dave'])
      expect((await at('sign', 'list.json', '--key', `${k}.key`)).code).toBe(0);

    const onlyNew = await at('verify', 'list.json', '--previous', 'v1.json');
    expect(onlyNew.code).toBe(1);
    expect(onlyNew.stderr).toMatch(/rotation-not-authorised/);

    const bobSigns = await at('sign', 'list.json', '--key', 'bob.key');
    expect(bobSigns.stdout).toMatch(/not on the list’s board/);
    expect((await at('sign', 'list.json', '--key', 'alice.key')).code).toBe(0);
    const verified = await at('verify', 'list.json', '--previous', 'v1.json');
    expect(verified.code).toBe(0);

    const diff = await at('diff', 'v1.json', 'list.json');
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain('~ version: 1 -> 2');
    expect(diff.stdout).toContain('~ provider acme status: active -> suspended');
    expect(diff.stdout).toMatch(/\+ board key "dave"/);
    expect(diff.stdout).toMatch(/- board key "alice"/);
  });

  test('revocation is final', async () => {
    expect(
      (await at('revoke', 'list.json', '--provider', 'acme', '--reason', 'kept message logs')).code,
    ).toBe(0);
    const back = await at('reinstate', 'list.json', '--provider', 'acme');
    expect(back.code).toBe(1);
    expect(back.stderr).toMatch(/revocation is final/);
  });

  test('usage and I/O errors have their own exit codes', async () => {
    expect((await at('frobnicate')).code).toBe(2);
    expect((await at('verify', 'list.json')).code).toBe(2);
    expect((await at('add-provider', 'list.json', '--id', 'x')).code).toBe(2);
    expect((await at('renew', 'list.json', '--expires-in', 'soon')).code).toBe(2);
    const tooLong = await at('renew', 'list.json', '--expires-in', '365d');
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/at most 90 days/);
    expect((await at('--no-such-option')).code).toBe(2);
    expect((await at('show', 'missing.json')).code).toBe(3);
    const help = await at('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes: 0 ok; 1 refused/);
  });

  test('a key file readable by others is refused', async () => {
    const { chmod } = await import('node:fs/promises');
    await chmod(join(dir, 'dave.key'), 0o644);
    const r = await at('sign', 'list.json', '--key', 'dave.key');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/chmod 600/);
    await chmod(join(dir, 'dave.key'), 0o600);
  });

  test('dev-init makes a development board and list once', async () => {
    const first = await at('dev-init', '--dir', 'dev', '--json');
    expect(first.code).toBe(0);
    const made = JSON.parse(first.stdout) as {
      created: boolean;
      boardFingerprint: string;
      listPath: string;
    };
    expect(made.created).toBe(true);
    const again = JSON.parse(
      (await at('dev-init', '--dir', 'dev', '--json')).stdout,
    ) as typeof made;
    expect(again).toMatchObject({ created: false, boardFingerprint: made.boardFingerprint });
    expect(
      (
        await at(
          'verify',
          join('dev', 'trust-list.json'),
          '--board-fingerprint',
          made.boardFingerprint,
        )
      ).code,
    ).toBe(0);
  });

  test('schema prints the JSON Schema, and the checked-in copy is current', async () => {
    const r = await at('schema');
    expect(JSON.parse(r.stdout)).toEqual(trustListSchema);
    const file = fileURLToPath(new URL('../../trust-list.schema.json', import.meta.url));
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(trustListSchema);
  });
});
