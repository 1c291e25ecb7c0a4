import { createPublicKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDevelopmentTrustList,
  generateEd25519KeyPair,
  publicKeyRecord,
} from '@switchboard/charter';
import { lookup } from '@switchboard/client-sdk';
import { NodeDnsTransport } from '@switchboard/client-sdk/node';
import { openDatabase } from '@switchboard/db';
import type { Database } from '@switchboard/db';
import { StaticProviderKeys, startDirectory } from '@switchboard/directory';
import type { RunningDirectory } from '@switchboard/directory';
import { signRequest } from '@switchboard/http-signature';
import { createLogger } from '@switchboard/service-kit';
import type { SwitchboardBridge } from '../../src/bridge.js';
import { DirectoryResolver } from '../../src/routing/directory-resolver.js';
import { b64, makeBridge, randomEnvelope } from '../support/bridge.js';
import { waitFor } from '../support/processes.js';
import { ProsodyServer } from '../support/prosody.js';
import { XmppTestClient } from '../support/xmpp-client.js';

const APEX = 'e164.switchboard.test.';
const NUMBER = '+442079460958';

// The whole lookup path: a real Switchboard directory (DNSSEC-signed ENUM over UDP/TCP on
// loopback), the client SDK validating it against a development trust list, and the bridge
// routing an XMPP user's message for a phone number to the contact the directory lists.
describe('routing a phone number through the real directory and client SDK', () => {
  const prosody = new ProsodyServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-bridge-dir-'));
  const provider = { id: 'acme-telecom', key: generateEd25519KeyPair() };
  let directory: RunningDirectory;
  let database: Database<unknown>;
  let bridge: SwitchboardBridge;
  let alice: XmppTestClient;
  let bob: XmppTestClient;

  beforeAll(async () => {
    directory = await startDirectory({
      dataDir: dir,
      apex: APEX,
      algorithm: 13,
      databaseUrl: `sqlite:${join(dir, 'directory.db')}`,
      dnsHost: '127.0.0.1',
      dnsPort: 0,
      apiHost: '127.0.0.1',
      apiPort: 0,
      providers: new StaticProviderKeys([
        [provider.id, { key: createPublicKey(provider.key.privateKey), active: true }] as const,
      ]),
      logger: createLogger({ service: 'directory-test', level: 'silent' }),
      rrl: { responsesPerSecond: 0, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56 },
    });
    const server = `127.0.0.1:${directory.dns.port}`;
    // Bob's number lists a network this bridge does not carry first, then his XMPP address.
    const identityKey = Buffer.concat([Buffer.from([5]), randomBytes(32)]).toString('base64');
    const path = `/v1/numbers/${encodeURIComponent(NUMBER)}`;
    const body = JSON.stringify({
      identityKey,
      contacts: [
        { service: 'matrix', uri: 'matrix:u/bob:hs.elsewhere.test' },
        { service: 'xmpp', uri: 'xmpp:bob@xmpp.test' },
      ],
    });
    const headers = signRequest({
      method: 'PUT',
      url: path,
      body,
      keyId: provider.id,
      privateKey: provider.key.privateKey as KeyObject,
      now: Date.now() / 1000,
    });
    const res = await fetch(directory.apiUrl + path, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
    });
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`publish failed: ${res.status} ${await res.text()}`);
    }

    const now = new Date();
    const ds = directory.keys.ds;
    const trustList = createDevelopmentTrustList({
      now,
      validDays: 30,
      directories: [
        {
          id: 'dir-test',
          operator: 'Test directory',
          apex: APEX,
          trustAnchors: [
            {
              type: 'DS',
              keyTag: ds.keyTag,
              algorithm: ds.algorithm,
              digestType: ds.digestType,
              digest: Buffer.from(ds.digest).toString('hex'),
            },
          ],
          nameservers: [server],
          publishEndpoint: directory.apiUrl,
          status: 'active',
        },
      ],
      providers: [
        {
          id: provider.id,
          name: provider.id,
          apiBaseUrl: 'http://127.0.0.1:9',
          publishingKeys: [publicKeyRecord(provider.key)],
          networks: ['sip', 'xmpp', 'matrix', 'mailbox'],
          accreditation: {
            notBefore: new Date(now.getTime() - 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            notAfter: new Date(now.getTime() + 86_400_000 * 30)
              .toISOString()
              .replace(/\.\d{3}Z$/, 'Z'),
          },
          status: 'active',
        },
      ],
    }).verified;
    const resolver = new DirectoryResolver((e164) =>
      lookup(e164, { trustList, dns: new NodeDnsTransport({ timeoutMs: 2000 }) }),
    );
    // The directory applies a publish within about a second: wait until the SDK sees it.
    await waitFor(
      async () => ((await resolver.lookup(NUMBER).catch(() => null)) ? true : undefined),
      'number published',
      30000,
    );

    await prosody.init();
    prosody.register('alice', 'alice-pw');
    prosody.register('bob', 'bob-pw');
    await prosody.start();
    database = await openDatabase<unknown>({ url: 'sqlite::memory:' });
    bridge = await makeBridge(
      {
        xmpp: {
          service: `xmpp://127.0.0.1:${prosody.componentPort}`,
          domain: prosody.componentDomain,
          secret: prosody.componentSecret,
          reconnectDelayMs: 300,
        },
      },
      database,
      resolver,
    );
    await bridge.start();
    await waitFor(() => (bridge.xmpp?.isUp() ? true : undefined), 'component online');
    alice = new XmppTestClient('alice@xmpp.test', 'alice-pw', prosody.c2sPort);
    bob = new XmppTestClient('bob@xmpp.test', 'bob-pw', prosody.c2sPort);
    await Promise.all([alice.ready(), bob.ready()]);
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close()]);
    await bridge?.stop();
    await database?.close();
    await prosody.dispose();
    await directory?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers to the first contact method on a bridged network, envelope unchanged', async () => {
    const envelope = randomEnvelope(256);
    alice.send({
      to: `${NUMBER}@${prosody.componentDomain}`,
      envelope: b64(envelope),
      id: 'by-number',
    });
    const got = await bob.next((e) => e.envelope === b64(envelope), 'envelope at bob');
    expect(got.from).toBe(`xmpp_alice=40xmpp.test@${prosody.componentDomain}`);
    expect(Buffer.from(got.envelope!, 'base64')).toEqual(Buffer.from(envelope));
  });

  it('answers a number the directory does not list with item-not-found', async () => {
    alice.send({
      to: `+33142685300@${prosody.componentDomain}`,
      envelope: b64(randomEnvelope(8)),
      id: 'unknown',
    });
    const err = await alice.next(
      (e) => e.event === 'error' && e.id === 'unknown',
      'error at alice',
    );
    expect(err.condition).toBe('item-not-found');
  });
});
