import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { VerifiedTrustList } from '@switchboard/charter';
import { TrustListSource, ensureDevelopmentTrustList } from '@switchboard/charter/node';
import type { RunningService, ServiceContext } from '@switchboard/service-kit';
import { startService } from '../../src/service.js';
import { checkPublication } from '../../src/core/publication-check.js';
import type { PublicationCheck } from '../../src/core/publication-check.js';
import { call, makeClientKeys } from '../helpers.js';

// The provider's own check of a published entry (shown in the onboarding page), against the real
// directory of this repository: secure once served with the account's key, pending before and
// for another key, bogus under a wrong trust anchor, unavailable when no nameserver answers.

const root = resolve(import.meta.dirname, '..', '..', '..', '..');
const NUMBER = '+442079460957';

describe('publication check against the real directory', () => {
  let dataDir: string;
  let directory: RunningService;
  let provider: RunningService | null;
  let providerUrl: string;
  let hook: Server;
  let list: VerifiedTrustList;
  const codes: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'publication-'));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        codes.push((JSON.parse(body) as { code: string }).code);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const dirModule = (await import(
      pathToFileURL(join(root, 'directory/dist/src/service.js')).href
    )) as { startService(ctx: ServiceContext): Promise<RunningService & { publishUrl: string }> };
    const started = await dirModule.startService({
      dataDir,
      env: { DIRECTORY_DNS_PORT: '0', DIRECTORY_API_PORT: '0', LOG_LEVEL: 'silent' },
      started: [],
    });
    directory = started;
    provider = await startService({
      dataDir,
      env: {
        PROVIDER_API_PORT: '0',
        LOG_LEVEL: 'silent',
        SWITCHBOARD_DIRECTORY_URL: started.publishUrl,
        PROVIDER_CODE_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/c`,
      },
      started: [directory],
    });
    providerUrl = /HTTP (http:\/\/\S+)/.exec(provider?.listening[0] ?? '')?.[1] ?? '';
    const dev = await ensureDevelopmentTrustList({
      dir: join(dataDir, 'charter'),
      now: new Date(),
    });
    list = await new TrustListSource({ path: dev.listPath, boardKeys: dev.devBoard.board }).load(
      new Date(),
    );
  });

  afterAll(async () => {
    await provider?.stop();
    await directory?.stop();
    await new Promise((r) => hook.close(r));
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Registers `NUMBER` and publishes it; returns its identity key (base64). */
  async function registerAndPublish(): Promise<string> {
    const p = { url: providerUrl, clock: { now: Date.now() } };
    const session = await call(p, 'POST', '/v1/verification/sessions', { number: NUMBER });
    const id = session.json.sessionId as string;
    await call(p, 'POST', `/v1/verification/sessions/${id}/code`, { transport: 'sms' });
    await call(p, 'PUT', `/v1/verification/sessions/${id}/code`, { code: codes.at(-1) });
    const keys = makeClientKeys(1, 0);
    const account = await call(p, 'POST', '/v1/accounts', { sessionId: id, ...keys.registration });
    if (account.status !== 201) throw new Error(JSON.stringify(account.json));
    const signer = { keyId: account.json.accountId as string, privateKey: keys.device.privateKey };
    const contacts = [{ service: 'sip', uri: 'sip:erin@a.example.net' }];
    const published = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts },
      { signer },
    );
    expect(published.status).toBe(200);
    return keys.registration.identityKey as string;
  }

  const check = (identityKey: string, l = list): Promise<PublicationCheck> =>
    checkPublication({ list: l, number: NUMBER, identityKey, now: new Date(), timeoutMs: 5000 });

  it('is pending before publishing, secure once served with the key, pending for another key', async () => {
    const other = Buffer.concat([Buffer.from([5]), Buffer.alloc(32, 7)]).toString('base64');
    expect((await check(other)).status).toBe('pending');
    const key = await registerAndPublish();
    // The directory applies a publish within about a second: wait for the condition.
    let result = await check(key);
    for (let i = 0; i < 300 && result.status === 'pending'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      result = await check(key);
    }
    expect(result).toMatchObject({
      status: 'secure',
      directoryId: 'dev-directory',
      apex: 'e164.switchboard.test.',
      trustListVersion: list.version,
    });
    expect(await check(other)).toMatchObject({
      status: 'pending',
      detail: 'the zone still serves another key',
    });
  });

  it('is bogus when the answers do not chain to the anchor, unavailable when nobody answers', async () => {
    const dir = list.body.directories[0]!;
    const forged = (changes: Partial<typeof dir>): VerifiedTrustList => ({
      ...list,
      body: { ...list.body, directories: [{ ...dir, ...changes }] },
    });
    const wrongAnchor = forged({
      trustAnchors: dir.trustAnchors
        .filter((a) => a.type === 'DS')
        .map((a) => ({ ...a, digest: 'AB'.repeat(32) })),
    });
    const bogus = await check('irrelevant', wrongAnchor);
    expect(bogus.status).toBe('bogus');
    expect(bogus).toMatchObject({ detail: expect.stringMatching(/^zone keys: /) as string });
    const silent = await check('irrelevant', forged({ nameservers: ['127.0.0.1:9'] }));
    expect(silent.status).toBe('unavailable');
  });
});
