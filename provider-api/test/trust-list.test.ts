import { sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProviderEntry, SignedTrustList } from '@switchboard/charter';
import {
  boardFingerprint,
  createDevelopmentBoard,
  createDevelopmentTrustList,
  generateEd25519KeyPair,
  publicKeyRecord,
  serializeTrustList,
} from '@switchboard/charter';
import type { RunningService } from '@switchboard/service-kit';
import { startService } from '../src/service.js';
import { releaseMessage } from '../src/accounts/porting.js';
import type { Answer } from './helpers.js';
import { NUMBERS, call, makeClientKeys } from './helpers.js';

// The provider verifies the trust list against the pinned board (as the directory and the SDK
// do) before it accepts a release signed by a key the list names; without a verified list number
// moves are refused. Each case runs the real service (SQLite) with its own list file.

const losing = generateEd25519KeyPair();
const entry: ProviderEntry = {
  id: 'provider-a',
  name: 'Losing provider',
  apiBaseUrl: 'http://127.0.0.1:9/',
  publishingKeys: [publicKeyRecord({ publicKey: losing.publicKey })],
  networks: ['sip'],
  accreditation: { notBefore: '2020-01-01T00:00:00Z', notAfter: '2100-01-01T00:00:00Z' },
  status: 'active',
};
const pinned = createDevelopmentBoard();

function listBy(board = pinned, providers: ProviderEntry[] = [entry]): SignedTrustList {
  return createDevelopmentTrustList({ now: new Date(), devBoard: board, providers }).envelope;
}

describe('trust list verification before accepting a release', () => {
  let hook: Server;
  const codes: { to: string; code: string }[] = [];
  const dirs: string[] = [];
  const services: RunningService[] = [];

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        codes.push(JSON.parse(body) as { to: string; code: string });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const s of services) await s.stop();
    await new Promise((r) => hook.close(r));
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** Starts provider-b with `list` (undefined: no file) pinned to the board; ports a number in. */
  async function portInWith(list: string | undefined, fingerprint?: string): Promise<Answer> {
    const dataDir = await mkdtemp(join(tmpdir(), 'provider-trust-'));
    dirs.push(dataDir);
    const listPath = join(dataDir, 'trust-list.json');
    if (list !== undefined) await writeFile(listPath, list);
    const service = await startService({
      dataDir,
      env: {
        PROVIDER_API_PORT: '0',
        PROVIDER_ID: 'provider-b',
        LOG_LEVEL: 'silent',
        SWITCHBOARD_TRUST_LIST: listPath,
        SWITCHBOARD_BOARD_FINGERPRINT: fingerprint ?? boardFingerprint(pinned.board),
        PROVIDER_CODE_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/c`,
      },
      started: [],
    });
    if (service) services.push(service);
    const url = /HTTP (http:\/\/\S+)/.exec(service?.listening[0] ?? '')?.[1] ?? '';
    const p = { url, clock: { now: Date.now() } };
    const number = NUMBERS[0]!;
    const session = await call(p, 'POST', '/v1/verification/sessions', { number });
    const id = session.json.sessionId as string;
    await call(p, 'POST', `/v1/verification/sessions/${id}/code`, { transport: 'sms' });
    await call(p, 'PUT', `/v1/verification/sessions/${id}/code`, { code: codes.at(-1)?.code });
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    const message = releaseMessage(number, 'provider-a', 'provider-b', expiresAt);
    const signature = sign(null, message, losing.privateKey).toString('base64');
    return call(p, 'POST', '/v1/accounts', {
      sessionId: id,
      ...makeClientKeys(0, 0).registration,
      portIn: { kind: 'release', from: 'provider-a', expiresAt, signature },
    });
  }

  it('accepts a release under a list signed by the pinned board', async () => {
    const res = await portInWith(serializeTrustList(listBy()));
    expect([res.status, res.json.code]).toEqual([201, undefined]);
  });

  it('refuses releases under a list signed by another board', async () => {
    const res = await portInWith(serializeTrustList(listBy(createDevelopmentBoard())));
    expect([res.status, res.json.code]).toEqual([503, 'service.unavailable']);
  });

  it('refuses releases under a tampered list', async () => {
    // Signed by the pinned board without the losing provider, which is added afterwards.
    const signed = listBy(pinned, []);
    const tampered = { ...signed, signed: { ...signed.signed, providers: [entry] } };
    const res = await portInWith(serializeTrustList(tampered));
    expect([res.status, res.json.code]).toEqual([503, 'service.unavailable']);
  });

  it('refuses releases with no list at all', async () => {
    const res = await portInWith(undefined);
    expect([res.status, res.json.code]).toEqual([503, 'service.unavailable']);
  });

  it('does not start with a list but no pinned board', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'provider-trust-'));
    dirs.push(dataDir);
    await expect(
      startService({
        dataDir,
        env: {
          PROVIDER_API_PORT: '0',
          LOG_LEVEL: 'silent',
          SWITCHBOARD_TRUST_LIST: join(dataDir, 'trust-list.json'),
        },
        started: [],
      }),
    ).rejects.toThrow(/SWITCHBOARD_BOARD_FINGERPRINT/);
  });
});
