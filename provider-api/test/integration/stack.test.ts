import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RunningService, ServiceContext } from '@switchboard/service-kit';
import { startService } from '../../src/service.js';
import { call, makeClientKeys } from '../helpers.js';

// End to end against the real directory of this repository (its built service, as `npm start`
// runs it): verification through the webhook sender, libsignal registration, publishing signed by
// the provider's accredited key from the development trust list, and the answer checked with dig.

interface DirectoryService extends RunningService {
  readonly publishUrl: string;
  readonly dnsAddress: { host: string; port: number };
}

const root = resolve(import.meta.dirname, '..', '..', '..', '..');

// Asynchronous: the directory answers from this very process.
async function dig(port: number, name: string, type: string): Promise<string> {
  const args = ['@127.0.0.1', '-p', String(port), '+tcp', '+norec', '+dnssec', name, type];
  const { stdout } = await promisify(execFile)('dig', args, { encoding: 'utf8', timeout: 10_000 });
  return stdout;
}

describe('provider API with the real directory', () => {
  let dataDir: string;
  let directory: DirectoryService;
  let provider: RunningService | null;
  let providerUrl: string;
  let providerB: RunningService | null;
  let providerBUrl: string;
  let hook: Server;
  const codes: { to: string; code: string }[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stack-'));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        codes.push(JSON.parse(body) as { to: string; code: string });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const dirModule = (await import(
      pathToFileURL(join(root, 'directory/dist/src/service.js')).href
    )) as {
      startService(ctx: ServiceContext): Promise<DirectoryService>;
    };
    const dnsPort = 20000 + Math.floor(Math.random() * 20000);
    directory = await dirModule.startService({
      dataDir,
      env: { DIRECTORY_DNS_PORT: String(dnsPort), DIRECTORY_API_PORT: '0', LOG_LEVEL: 'silent' },
      started: [],
    });
    provider = await startService({
      dataDir,
      env: {
        PROVIDER_API_PORT: '0',
        LOG_LEVEL: 'silent',
        SWITCHBOARD_DIRECTORY_URL: directory.publishUrl,
        PROVIDER_CODE_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/codes`,
      },
      started: [directory],
    });
    providerUrl = /HTTP (http:\/\/\S+)/.exec(provider?.listening[0] ?? '')?.[1] ?? '';
    providerB = await startService({
      dataDir,
      env: {
        PROVIDER_API_PORT: '0',
        PROVIDER_ID: 'provider-b',
        PROVIDER_STATE_DIR: join(dataDir, 'provider-b'),
        LOG_LEVEL: 'silent',
        SWITCHBOARD_DIRECTORY_URL: directory.publishUrl,
        PROVIDER_CODE_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/codes`,
      },
      started: [directory],
    });
    providerBUrl = /HTTP (http:\/\/\S+)/.exec(providerB?.listening[0] ?? '')?.[1] ?? '';
  });

  afterAll(async () => {
    await providerB?.stop();
    await provider?.stop();
    await directory?.stop();
    await new Promise((r) => hook.close(r));
    await rm(dataDir, { recursive: true, force: true });
  });

  async function onboard(url: string, number: string, extra: Record<string, unknown> = {}) {
    const p = { url, clock: { now: Date.now() } };
    const session = await call(p, 'POST', '/v1/verification/sessions', { number });
    const id = session.json.sessionId as string;
    await call(p, 'POST', `/v1/verification/sessions/${id}/code`, { transport: 'sms' });
    await call(p, 'PUT', `/v1/verification/sessions/${id}/code`, { code: codes.at(-1)?.code });
    const keys = makeClientKeys(1, 0);
    const account = await call(p, 'POST', '/v1/accounts', {
      sessionId: id,
      ...keys.registration,
      ...extra,
    });
    if (account.status !== 201) throw new Error(JSON.stringify(account.json));
    return {
      p,
      signer: { keyId: account.json.accountId as string, privateKey: keys.device.privateKey },
    };
  }

  it('moves a number to another provider with a release the directory accepts', async () => {
    const number = '+442079460959';
    const owner = '9.5.9.0.6.4.9.7.0.2.4.4.e164.switchboard.test.';
    const a = await onboard(providerUrl, number);
    const xmpp = [{ service: 'xmpp', uri: 'xmpp:carol@a.example.net' }];
    expect(
      (
        await call(
          a.p,
          'PUT',
          '/v1/account/discoverability',
          { discoverable: true, contacts: xmpp },
          { signer: a.signer },
        )
      ).status,
    ).toBe(200);
    expect(await dig(directory.dnsAddress.port, owner, 'NAPTR')).toContain(
      'xmpp:carol@a.example.net',
    );

    // Without proof provider b cannot take the number over.
    const squatter = await onboard(providerBUrl, number);
    const refused = await call(
      squatter.p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts: xmpp },
      { signer: squatter.signer },
    );
    expect([refused.status, refused.json.code]).toEqual([502, 'directory.publish-failed']);

    a.p.clock.now = Date.now();
    const out = await call(
      a.p,
      'POST',
      '/v1/account/port-out',
      { toProvider: 'provider-b' },
      { signer: a.signer },
    );
    expect(out.status).toBe(201);
    const { from, expiresAt, signature } = out.json.release as {
      from: string;
      expiresAt: number;
      signature: string;
    };
    const b = await onboard(providerBUrl, number, {
      portIn: { kind: 'release', from, expiresAt, signature, portOutId: out.json.portOutId },
    });
    const sip = [{ service: 'sip', uri: 'sip:carol@b.example.net' }];
    const moved = await call(
      b.p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts: sip },
      { signer: b.signer },
    );
    expect([moved.status, moved.json.code]).toEqual([200, undefined]);
    const answer = await dig(directory.dnsAddress.port, owner, 'NAPTR');
    expect(answer).toContain('sip:carol@b.example.net');
    expect(answer).not.toContain('xmpp:carol@a.example.net');
    // Provider b told provider a, which removed the account and its keys.
    a.p.clock.now = Date.now();
    const gone = await call(a.p, 'GET', '/v1/account', undefined, { signer: a.signer });
    expect([gone.status, gone.json.code]).toEqual([401, 'auth.invalid']);
  });

  it('completing a port-out the gaining provider never published withdraws the entry from DNS', async () => {
    const number = '+442079460960';
    const owner = '0.6.9.0.6.4.9.7.0.2.4.4.e164.switchboard.test.';
    const a = await onboard(providerUrl, number);
    const xmpp = [{ service: 'xmpp', uri: 'xmpp:dave@a.example.net' }];
    const pub = await call(
      a.p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts: xmpp },
      { signer: a.signer },
    );
    expect(pub.status).toBe(200);
    expect(await dig(directory.dnsAddress.port, owner, 'NAPTR')).toContain(
      'xmpp:dave@a.example.net',
    );
    a.p.clock.now = Date.now();
    const out = await call(
      a.p,
      'POST',
      '/v1/account/port-out',
      { toProvider: 'provider-b' },
      { signer: a.signer },
    );
    // Whoever holds the release completes it before the gaining provider published anything.
    const done = await call(a.p, 'POST', '/v1/port-outs/complete', {
      portOutId: out.json.portOutId,
      signature: out.json.release.signature,
    });
    expect(done.status).toBe(204);
    a.p.clock.now = Date.now();
    const gone = await call(a.p, 'GET', '/v1/account', undefined, { signer: a.signer });
    expect(gone.status).toBe(401);
    const answer = await dig(directory.dnsAddress.port, owner, 'NAPTR');
    // The directory denies with "black lies" (NOERROR, no answer, minimal NSEC).
    expect(answer).toMatch(/ANSWER: 0,/);
    expect(answer).not.toContain('xmpp:dave@a.example.net');
  });

  it('onboards a number and publishes it; the directory answers it in DNS; deleting withdraws it', async () => {
    const p = { url: providerUrl, clock: { now: Date.now() } };
    const number = '+442079460958';
    const session = await call(p, 'POST', '/v1/verification/sessions', {
      number: '+44 20 7946 0958',
    });
    expect(session.status).toBe(201);
    const id = session.json.sessionId as string;
    expect(
      (await call(p, 'POST', `/v1/verification/sessions/${id}/code`, { transport: 'sms' })).status,
    ).toBe(200);
    expect(codes.at(-1)?.to).toBe(number);
    const verified = await call(p, 'PUT', `/v1/verification/sessions/${id}/code`, {
      code: codes.at(-1)?.code,
    });
    expect(verified.json.verified).toBe(true);
    const keys = makeClientKeys(3, 1);
    const account = await call(p, 'POST', '/v1/accounts', { sessionId: id, ...keys.registration });
    expect(account.status).toBe(201);
    const signer = { keyId: account.json.accountId as string, privateKey: keys.device.privateKey };

    p.clock.now = Date.now();
    const contacts = [
      { service: 'sip', uri: 'sip:alice@sip.example.net' },
      { service: 'matrix', uri: 'matrix:u/alice:example.net' },
    ];
    const published = await call(
      p,
      'PUT',
      '/v1/account/discoverability',
      { discoverable: true, contacts },
      { signer },
    );
    expect([published.status, published.json.code]).toEqual([200, undefined]);

    const owner = '8.5.9.0.6.4.9.7.0.2.4.4.e164.switchboard.test.';
    const naptr = await dig(directory.dnsAddress.port, owner, 'NAPTR');
    expect(naptr).toMatch(/status: NOERROR/);
    expect(naptr).toContain('!^.*$!sip:alice@sip.example.net!');
    expect(naptr).toContain('"E2U+matrix"');
    expect(naptr).toMatch(/RRSIG\s+NAPTR/);

    p.clock.now = Date.now();
    expect((await call(p, 'DELETE', '/v1/account', undefined, { signer })).status).toBe(204);
    const after = await dig(directory.dnsAddress.port, owner, 'NAPTR');
    expect(after).not.toContain('sip:alice@sip.example.net');
  });
});
