import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEd25519KeyPair, publicKeyRecord } from '@switchboard/charter';
import { readTrustListFile, upsertDevelopmentEntries } from '@switchboard/charter/node';
import { signRequest } from '@switchboard/http-signature';
import { startService } from '../src/service.js';
import { identity } from './helpers.js';
import { CONTACTS } from './support.js';

describe('startService (embedded stack)', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sb-directory-service-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const env = {
    DIRECTORY_DNS_PORT: '0',
    DIRECTORY_API_PORT: '0',
    LOG_LEVEL: 'silent',
  };

  it('creates its key 0600 on first run, registers in the dev trust list, keeps the key on restart', async () => {
    const first = await startService({ dataDir, env, started: [] });
    let firstDs: string;
    try {
      expect(first.name).toBe('directory');
      expect(first.listening[0]).toMatch(
        /^DNS udp\+tcp 127\.0\.0\.1:\d+ \(zone e164\.switchboard\.test\., new key\)$/,
      );
      expect(first.listening[1]).toMatch(/^publish API http:\/\/127\.0\.0\.1:\d+$/);
      expect(first.listening[2]).toMatch(
        /^DS e164\.switchboard\.test\. 3600 IN DS \d+ 13 2 [0-9A-F]{64}$/,
      );
      // DIRECTORY_API_PORT 0: the metrics listener takes a free port too.
      expect(first.listening[3]).toBe(`metrics ${first.metricsUrl}`);
      expect(await (await fetch(first.metricsUrl)).text()).toMatch(/^directory_zone_serial /m);
      firstDs = first.dsRecord;
      const keyFile = await stat(join(dataDir, 'directory', 'keys', 'zone-alg13.pem'));
      expect(keyFile.mode & 0o777).toBe(0o600);
      expect((await stat(join(dataDir, 'directory', 'tsig.key'))).mode & 0o777).toBe(0o600);
      const list = await readTrustListFile(join(dataDir, 'charter', 'trust-list.json'));
      const entry = list.signed.directories.find((d) => d.id === 'dev-directory');
      expect(entry?.apex).toBe('e164.switchboard.test.');
      expect(entry?.publishEndpoint).toBe(first.publishUrl);
      expect(entry?.trustAnchors.map((a) => a.type)).toEqual(['DS', 'DNSKEY']);

      // A provider accredited in the dev trust list can publish; an unlisted one cannot.
      const pair = generateEd25519KeyPair();
      await upsertDevelopmentEntries(
        { dir: join(dataDir, 'charter'), now: new Date() },
        {
          providers: [
            {
              id: 'dev-provider',
              name: 'Development provider',
              apiBaseUrl: 'http://127.0.0.1:8080',
              publishingKeys: [publicKeyRecord({ publicKey: pair.publicKey })],
              networks: ['sip', 'xmpp', 'matrix'],
              accreditation: {
                notBefore: '2020-01-01T00:00:00Z',
                notAfter: '2100-01-01T00:00:00Z',
              },
              status: 'active',
            },
          ],
        },
      );
      const path = '/v1/numbers/+442079460958';
      const body = JSON.stringify({ identityKey: identity().publicBase64, contacts: CONTACTS });
      const put = async (keyId: string): Promise<Response> =>
        fetch(first.publishUrl + path, {
          method: 'PUT',
          body,
          headers: {
            ...signRequest({
              method: 'PUT',
              url: path,
              body,
              keyId,
              privateKey: pair.privateKey,
              now: Date.now() / 1000,
            }),
            'content-type': 'application/json',
          },
        });
      expect((await put('dev-provider')).status).toBe(201);
      const unknown = await put('someone-else');
      expect(unknown.status).toBe(401);
    } finally {
      await first.stop();
    }
    const second = await startService({ dataDir, env, started: [] });
    try {
      expect(second.dsRecord).toBe(firstDs);
      expect(second.listening[0]).not.toContain('new key');
    } finally {
      await second.stop();
    }
    expect(await readFile(join(dataDir, 'directory', 'trust-anchor.conf'), 'utf8')).toMatch(
      /^trust-anchors \{ "e164\.switchboard\.test\." static-key 257 3 13 "/,
    );
  });

  it('refuses configuration it cannot use, with the variable named', async () => {
    await expect(
      startService({ dataDir, env: { ...env, DIRECTORY_DNSSEC_ALGORITHM: '8' }, started: [] }),
    ).rejects.toThrow(/DIRECTORY_DNSSEC_ALGORITHM/);
    await expect(
      startService({
        dataDir,
        env: { ...env, SWITCHBOARD_TRUST_LIST: '/nonexistent' },
        started: [],
      }),
    ).rejects.toThrow(/SWITCHBOARD_BOARD_FINGERPRINT/);
    await expect(
      startService({ dataDir, env: { ...env, DIRECTORY_DNS_PORT: 'x' }, started: [] }),
    ).rejects.toThrow(/DIRECTORY_DNS_PORT/);
    await expect(
      startService({ dataDir, env: { ...env, DIRECTORY_TRANSFER: 'nsec' }, started: [] }),
    ).rejects.toThrow(/DIRECTORY_TRANSFER must be one of unsigned, presigned-nsec3/);
    // An operator key file must hold a public key: the zone's own private key is refused.
    const zoneKey = join(dataDir, 'directory', 'keys', 'zone-alg13.pem');
    await expect(
      startService({ dataDir, env: { ...env, DIRECTORY_OPERATOR_KEYS: zoneKey }, started: [] }),
    ).rejects.toThrow(
      /DIRECTORY_OPERATOR_KEYS names keys that cannot be used: operator key .* holds a private key/,
    );
    await expect(
      startService({
        dataDir,
        env: { ...env, DIRECTORY_OPERATOR_KEYS: join(dataDir, 'missing.pem') },
        started: [],
      }),
    ).rejects.toThrow(
      /DIRECTORY_OPERATOR_KEYS names keys that cannot be used: operator key .*missing\.pem cannot be read \(ENOENT\)/,
    );
  });
});
