import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  boardFingerprint,
  createDevelopmentTrustList,
  draftNextVersion,
  setProviderStatus,
  signWithAll,
  generateEd25519KeyPair,
  mayTrustDirectory,
  mayTrustProvider,
  verifyTrustList,
} from '../src/index.js';
import {
  TrustListSource,
  writeTrustListFile,
  ensureDevelopmentTrustList,
  readPrivateKeyFile,
  upsertDevelopmentEntries,
  writePrivateKeyFile,
} from '../src/node.js';
import { DAY, NOW, directory, provider, seed } from './fixtures.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'charter-node-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('private key files', () => {
  test('round-trip with mode 0600, never overwritten, refused when readable by others', async () => {
    const path = join(dir, 'k.key');
    const key = { ...generateEd25519KeyPair(seed('k')), name: 'k' };
    await writePrivateKeyFile(path, key);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const back = await readPrivateKeyFile(path);
    expect(back.keyid).toBe(key.keyid);
    await expect(writePrivateKeyFile(path, key)).rejects.toMatchObject({ code: 'invalid-edit' });
    await chmod(path, 0o640);
    await expect(readPrivateKeyFile(path)).rejects.toMatchObject({ code: 'invalid-key' });
  });

  test('a key file whose public key does not match its seed is refused', async () => {
    const path = join(dir, 'k.key');
    await writePrivateKeyFile(path, { ...generateEd25519KeyPair(seed('a')), name: 'a' });
    const file = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
    file['publicKey'] = generateEd25519KeyPair(seed('b')).publicKey;
    await writeFile(path, JSON.stringify(file), { mode: 0o600 });
    await expect(readPrivateKeyFile(path)).rejects.toMatchObject({ code: 'keyid-mismatch' });
  });
});

describe('development trust list (npm start, first run)', () => {
  test('created once, loaded after, verifiable by the pinned fingerprint', async () => {
    const first = await ensureDevelopmentTrustList({ dir, now: NOW });
    expect(first.created).toBe(true);
    expect(first.boardKeyPaths).toHaveLength(3);
    for (const p of first.boardKeyPaths) expect((await stat(p)).mode & 0o777).toBe(0o600);
    const fp = (await readFile(first.fingerprintPath, 'utf8')).trim();
    expect(fp).toBe(boardFingerprint(first.devBoard.board));

    const second = await ensureDevelopmentTrustList({ dir, now: NOW });
    expect(second.created).toBe(false);
    expect(second.envelope).toEqual(first.envelope);
    const bytes = await readFile(second.listPath);
    expect(verifyTrustList(bytes, { now: NOW, boardFingerprint: fp }).version).toBe(1);
  });

  test('the embedded directory and provider register themselves; unchanged entries make no new version', async () => {
    const d = directory('dev-directory', { apex: 'e164.switchboard.test.' });
    const p = provider('dev-provider', { apiBaseUrl: 'http://127.0.0.1:8080' });
    const a = await upsertDevelopmentEntries({ dir, now: NOW }, { directories: [d] });
    expect(a.envelope.signed.version).toBe(2);
    const b = await upsertDevelopmentEntries({ dir, now: NOW }, { providers: [p] });
    expect(b.envelope.signed.version).toBe(3);
    const c = await upsertDevelopmentEntries(
      { dir, now: NOW },
      { directories: [d], providers: [p] },
    );
    expect(c.envelope.signed.version).toBe(3);
    const moved = await upsertDevelopmentEntries(
      { dir, now: NOW },
      { providers: [{ ...p, apiBaseUrl: 'http://127.0.0.1:8081' }] },
    );
    expect(moved.envelope.signed.version).toBe(4);

    const fp = (await readFile(moved.fingerprintPath, 'utf8')).trim();
    const list = verifyTrustList(await readFile(moved.listPath), {
      now: NOW,
      boardFingerprint: fp,
      lastSeenVersion: 3,
    });
    expect(mayTrustDirectory(list, 'dev-directory', NOW).trusted).toBe(true);
    const pd = mayTrustProvider(list, 'dev-provider', NOW);
    expect(pd.trusted && pd.entry.apiBaseUrl).toBe('http://127.0.0.1:8081');
  });

  test('an expired development list is re-issued on start', async () => {
    await ensureDevelopmentTrustList({ dir, now: NOW, validDays: 1 });
    const later = new Date(NOW.getTime() + 5 * DAY);
    const again = await ensureDevelopmentTrustList({ dir, now: later, validDays: 1 });
    expect(again.envelope.signed.version).toBe(2);
    expect(again.verified.expires.getTime()).toBeGreaterThan(later.getTime());
  });
});

describe('TrustListSource (services keep the list on disk)', () => {
  const dev = createDevelopmentTrustList({
    now: NOW,
    seedLabel: 'source',
    providers: [provider('acme')],
  });
  const v2 = signWithAll(
    draftNextVersion(dev.envelope, NOW, setProviderStatus('acme', 'suspended')),
    dev.devBoard.members,
  );
  const fp = boardFingerprint(dev.devBoard.board);

  test('follows new versions and keeps the last good list when a file is refused', async () => {
    const path = join(dir, 'list.json');
    await writeTrustListFile(path, dev.envelope);
    const source = new TrustListSource({ path, boardFingerprint: fp });
    expect((await source.load(NOW)).version).toBe(1);
    await writeTrustListFile(path, v2);
    const second = await source.load(NOW);
    expect(second.version).toBe(2);
    expect(mayTrustProvider(second, 'acme', NOW).trusted).toBe(false);

    await writeTrustListFile(path, dev.envelope); // an attacker replays version 1
    expect((await source.load(NOW)).version).toBe(2);
    expect(source.lastError?.code).toBe('rollback');

    await writeTrustListFile(path, v2);
    expect((await source.load(NOW)).version).toBe(2);
    await writeFile(path, (await readFile(path, 'utf8')).replace('"acme"', '"acne"'));
    expect((await source.load(NOW)).version).toBe(2);
    expect(source.lastError?.code).toBe('invalid-signature');
  });

  test('rollback protection survives a restart through the state file', async () => {
    const path = join(dir, 'list.json');
    const stateFile = join(dir, 'state.json');
    await writeTrustListFile(path, v2);
    expect(
      (await new TrustListSource({ path, boardFingerprint: fp, stateFile }).load(NOW)).version,
    ).toBe(2);
    await writeTrustListFile(path, dev.envelope);
    const restarted = new TrustListSource({ path, boardFingerprint: fp, stateFile });
    await expect(restarted.load(NOW)).rejects.toMatchObject({ code: 'rollback' });
  });

  test('an expired list is refused, not used', async () => {
    const path = join(dir, 'list.json');
    await writeTrustListFile(path, dev.envelope);
    const source = new TrustListSource({ path, boardFingerprint: fp });
    await source.load(NOW);
    await expect(source.load(new Date(NOW.getTime() + 200 * DAY))).rejects.toMatchObject({
      code: 'expired',
    });
  });
});
