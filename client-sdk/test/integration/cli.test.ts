// The `switchboard` CLI as a child process, against a real directory and provider API.
import { spawn } from 'node:child_process';
import { jest } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  boardFingerprint,
  createDevelopmentTrustList,
  reissueDevelopmentTrustList,
} from '@switchboard/charter';
import type { DevelopmentTrustList } from '@switchboard/charter';
import { serializeTrustList } from '@switchboard/charter';
import { cardFromText, cardToText } from '../../src/index.js';
import type { TestDirectory } from './fixtures.js';
import { directoryEntry, providerEntry, startTestDirectory, waitForDns } from './fixtures.js';
import type { RunningProvider } from './services.js';
import { CodeInbox, prepareProvider, startProvider } from './services.js';

// Each CLI run starts Node and loads libsignal (~1 s); the longest test runs a dozen of them.
jest.setTimeout(180_000);

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ALICE = '+442079460958';
const BOB = '+14155552671';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let work: string;
let dir: TestDirectory;
let provider: RunningProvider;
let inbox: CodeInbox;
let listPath: string;
let fingerprint: string;
let made: DevelopmentTrustList;

function cli(home: string, args: string[], stdin?: () => Promise<string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--data-dir', join(work, home), ...args], {
      env: {
        PATH: process.env['PATH'] ?? '',
        SWITCHBOARD_TRUST_LIST: listPath,
        SWITCHBOARD_BOARD_FINGERPRINT: fingerprint,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (stdin) {
      stdin().then(
        (text) => child.stdin.end(text),
        (err: unknown) => reject(err as Error),
      );
    } else {
      child.stdin.end();
    }
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sb-cli-'));
  inbox = new CodeInbox();
  await inbox.start();
  const prepared = await prepareProvider('provider-a');
  dir = await startTestDirectory([prepared.provider]);
  provider = await startProvider(prepared, dir.directory.apiUrl, inbox.url);
  const now = new Date();
  made = createDevelopmentTrustList({
    now,
    directories: [directoryEntry(dir)],
    providers: [providerEntry(provider.provider, now)],
  });
  listPath = join(work, 'trust-list.json');
  await writeFile(listPath, serializeTrustList(made.envelope));
  fingerprint = boardFingerprint(made.devBoard.board);
});

afterAll(async () => {
  await provider?.stop();
  await dir?.stop();
  await inbox?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('switchboard CLI', () => {
  it('prints help and refuses unknown commands with exit code 2', async () => {
    const help = await cli('x', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
    const bad = await cli('x', ['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown command');
  });

  it('reports a number that is not in the directory with exit code 3', async () => {
    const r = await cli('x', ['--json', 'lookup', '+33142685300']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'not-found' } });
    expect((await cli('x', ['lookup', 'not-a-number'])).code).toBe(2);
  });

  it('refuses a trust list that does not match the pinned board (exit 5)', async () => {
    const r = await cli('x', ['--board-fingerprint', 'ab'.repeat(32), 'lookup', ALICE]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('trust list was refused');
  });

  it('remembers the highest trust list version and refuses an older one (rollback)', async () => {
    const v2Path = join(work, 'trust-list-v2.json');
    await writeFile(
      v2Path,
      serializeTrustList(reissueDevelopmentTrustList(made.envelope, made.devBoard, new Date())),
    );
    expect((await cli('rollback', ['--trust-list', v2Path, 'lookup', '+33142685300'])).code).toBe(
      3,
    );
    const old = await cli('rollback', [
      '--json',
      '--trust-list',
      listPath,
      'lookup',
      '+33142685300',
    ]);
    expect(old.code).toBe(5);
    expect(JSON.parse(old.stdout)).toMatchObject({ error: { code: 'trust-list-rollback' } });
  });

  it('registers two users, looks up, sends and receives, and shows matching safety numbers', async () => {
    const reg = (home: string, number: string, uri: string): Promise<Run> =>
      cli(
        home,
        [
          '--json',
          'register',
          number,
          '--provider',
          'provider-a',
          '--publish',
          uri,
          '--prekeys',
          '5',
        ],
        async () => `${await inbox.codeFor(number)}\n`,
      );
    const a = await reg('alice', ALICE, 'sip:alice@a.example');
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ number: ALICE, discoverable: true });
    expect((await reg('bob', BOB, 'xmpp:bob@a.example')).code).toBe(0);
    await waitForDns(dir.server, ALICE);
    await waitForDns(dir.server, BOB);

    const human = await cli('alice', ['lookup', BOB]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/dnssec: +secure/);
    expect(human.stdout).toContain('xmpp:bob@a.example');
    const json = JSON.parse((await cli('alice', ['--json', 'lookup', BOB])).stdout) as {
      identityKeyFingerprint: string;
      provider: { id: string };
    };
    expect(json.provider.id).toBe('provider-a');
    const bobKeys = JSON.parse((await cli('bob', ['--json', 'keys'])).stdout) as {
      identityKeyFingerprint: string;
    };
    expect(json.identityKeyFingerprint).toBe(bobKeys.identityKeyFingerprint);

    const sent = await cli('alice', ['--json', 'send', BOB, 'hello', 'Bob']);
    expect(sent.code).toBe(0);
    const envelope = (JSON.parse(sent.stdout) as { envelope: string }).envelope;
    const got = await cli('bob', ['receive', '--envelope', envelope]);
    expect(got.code).toBe(0);
    expect(got.stdout.trim()).toBe(`from ${ALICE}: hello Bob`);
    // The same envelope again is a replay: security failure, exit 4.
    expect((await cli('bob', ['receive', '--envelope', envelope])).code).toBe(4);

    const reply = JSON.parse((await cli('bob', ['--json', 'send', ALICE, 'hi'])).stdout) as {
      envelope: string;
    };
    const back = await cli('alice', ['receive', '--envelope', '-'], () =>
      Promise.resolve(reply.envelope),
    );
    expect(back.stdout.trim()).toBe(`from ${BOB}: hi`);

    const fa = JSON.parse((await cli('alice', ['--json', 'fingerprint', BOB])).stdout) as {
      safetyNumber: string;
    };
    const fb = JSON.parse((await cli('bob', ['--json', 'fingerprint', ALICE])).stdout) as {
      safetyNumber: string;
    };
    expect(fa.safetyNumber).toBe(fb.safetyNumber);

    const top = JSON.parse(
      (await cli('bob', ['--json', 'keys', '--top-up', '--minimum', '50'])).stdout,
    ) as { uploaded: number };
    expect(top.uploaded).toBeGreaterThan(0);
  });

  it('connects two key-only identities by card and messages through a mailbox', async () => {
    const created = await cli('carol', [
      '--json',
      'card',
      'create',
      '--mailbox',
      provider.url,
      '--label',
      'Carol',
    ]);
    expect(created.code).toBe(0);
    const card = (JSON.parse(created.stdout) as { card: string }).card;

    const tampered = cardFromText(card);
    tampered[20] = tampered[20]! ^ 1;
    const refused = await cli('dave', [
      'card',
      'accept',
      cardToText(tampered),
      '--mailbox',
      provider.url,
    ]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/card/);

    const accepted = await cli('dave', [
      '--json',
      'card',
      'accept',
      card,
      '--mailbox',
      provider.url,
      '--label',
      'Dave',
    ]);
    expect(accepted.code).toBe(0);
    const daveView = JSON.parse(accepted.stdout) as {
      contact: { contactId: string };
      deliveredTo: string;
    };
    expect(daveView.deliveredTo).toBe(provider.url);

    const completed = await cli('carol', ['--json', 'receive']);
    expect(completed.code).toBe(0);
    const carolGot = JSON.parse(completed.stdout) as {
      completed: Array<{ contactId: string; label: string }>;
    };
    expect(carolGot.completed).toHaveLength(1);
    expect(carolGot.completed[0]!.label).toBe('Dave');
    const daveId = carolGot.completed[0]!.contactId;

    const contacts = JSON.parse((await cli('carol', ['--json', 'contacts'])).stdout) as Array<{
      contactId: string;
      channel: string;
    }>;
    expect(contacts).toEqual([expect.objectContaining({ contactId: daveId, channel: 'remote' })]);

    expect((await cli('carol', ['send', daveId, 'hello', 'Dave'])).code).toBe(0);
    const atDave = await cli('dave', ['receive']);
    expect(atDave.code).toBe(0);
    expect(atDave.stdout.trim()).toBe(`from ${daveView.contact.contactId}: hello Dave`);
    expect((await cli('dave', ['send', daveView.contact.contactId, 'hi', 'Carol'])).code).toBe(0);
    const atCarol = await cli('carol', ['--json', 'receive']);
    expect(JSON.parse(atCarol.stdout)).toMatchObject({
      messages: [{ from: daveId, message: 'hi Carol' }],
      discarded: 0,
    });
    const fp = JSON.parse((await cli('carol', ['--json', 'fingerprint', daveId])).stdout) as {
      channel: string;
    };
    expect(fp.channel).toBe('remote');
  });

  it('writes QR codes as SVG and PNG files', async () => {
    const svg = join(work, 'card.svg');
    const png = join(work, 'card.png');
    expect(
      (
        await cli('erin', [
          'card',
          'create',
          '--address',
          'xmpp:erin@e.example',
          '--qr',
          'svg',
          '--out',
          svg,
        ])
      ).code,
    ).toBe(0);
    expect(await readFile(svg, 'utf8')).toContain('<svg');
    expect(
      (
        await cli('erin', [
          'card',
          'create',
          '--address',
          'xmpp:erin@e.example',
          '--qr',
          'png',
          '--out',
          png,
        ])
      ).code,
    ).toBe(0);
    expect((await readFile(png)).subarray(1, 4).toString()).toBe('PNG');
  });

  it('finishes a number verified elsewhere from the page link or --session, once', async () => {
    const number = '+33142685301';
    const verified = async (): Promise<string> => {
      const post = (path: string, body: unknown, method = 'POST'): Promise<Response> =>
        fetch(`${provider.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const { sessionId } = (await (
        await post('/v1/verification/sessions', { number })
      ).json()) as { sessionId: string };
      expect(
        (await post(`/v1/verification/sessions/${sessionId}/code`, { transport: 'sms' })).status,
      ).toBe(200);
      const code = await inbox.codeFor(number);
      expect(
        (await post(`/v1/verification/sessions/${sessionId}/code`, { code }, 'PUT')).status,
      ).toBe(200);
      return sessionId;
    };
    const session = await verified();
    const link = `switchboard://register?provider=${encodeURIComponent(`${provider.url}/`)}&session=${session}&publish=${encodeURIComponent('sip:carol@a.example')}`;
    const r = await cli('carol', ['--json', 'register', link, '--prekeys', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ number, provider: 'provider-a', discoverable: true });
    const keys = JSON.parse((await cli('carol', ['--json', 'keys'])).stdout) as {
      identityKeyFingerprint: string;
    };
    expect(out['identityKeyFingerprint']).toBe(keys.identityKeyFingerprint);
    // Single use: the same session cannot register a second device.
    const again = await cli('carol2', [
      'register',
      '--provider',
      provider.url,
      '--session',
      session,
    ]);
    expect(again.code).toBe(6);
    expect(again.stderr).toContain('verification session');
    // A URL that no listed provider has is refused before anything is sent.
    const other = await cli('carol3', [
      'register',
      '--provider',
      'http://127.0.0.1:9/',
      '--session',
      session,
    ]);
    expect(other.code).toBe(5);
    const bad = await cli('carol4', ['register', 'switchboard://register?session=x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('switchboard://register?provider=...&token=');
  });
});
