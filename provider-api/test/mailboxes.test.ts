import { generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import type { KeyObject } from 'node:crypto';
import WebSocket from 'ws';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import { signRequest } from '@switchboard/http-signature';
import type { ProviderConfig } from '../src/core/config.js';
import type { Answer, TestProvider } from './helpers.js';
import { call, startTestProvider } from './helpers.js';
import { mailboxAddressFor } from '../src/mailboxes/mailboxes.js';
import { defaultProviderConfig } from '../src/core/config.js';

function mailboxKey(): { address: string; signer: { keyId: string; privateKey: KeyObject } } {
  const pair = generateKeyPairSync('ed25519');
  const raw = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    address: mailboxAddressFor(raw),
    signer: { keyId: raw.toString('base64url'), privateKey: pair.privateKey },
  };
}

/** Opens the push socket of `box` at `provider`, signed by the mailbox key. */
async function openPushSocket(
  provider: Pick<TestProvider, 'url' | 'clock'>,
  box: ReturnType<typeof mailboxKey>,
): Promise<WebSocket> {
  const socketPath = `/v1/mailboxes/${box.address}/socket`;
  const headers = signRequest({
    method: 'GET',
    url: socketPath,
    body: '',
    keyId: box.signer.keyId,
    privateKey: box.signer.privateKey,
    now: provider.clock.now / 1000,
  });
  const ws = new WebSocket(`${provider.url.replace('http', 'ws')}${socketPath}`, { headers });
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  return ws;
}

describe.each(ALL_DIALECTS)('mailboxes (%s)', (dialect) => {
  let p: TestProvider;
  beforeEach(async () => {
    p = await startTestProvider(dialect, {
      mailboxes: {
        ...defaultProviderConfig().mailboxes,
        maxSocketsPerMailbox: 2,
        maxMessageBytes: 1024,
        maxMessagesPerMailbox: 3,
        ttlSeconds: 3600,
        deliverPerClientAddress: { capacity: 100, perSeconds: 60 },
      },
    });
  });
  afterEach(async () => {
    await p.close();
  });

  it('anyone delivers; only the key holder receives and deletes; replays are refused', async () => {
    const box = mailboxKey();
    const ciphertext = Buffer.from('opaque bytes').toString('base64');
    const d = await call(p, 'POST', `/v1/mailboxes/${box.address}/messages`, { ciphertext });
    expect(d.status).toBe(202);
    const path = `/v1/mailboxes/${box.address}/messages`;
    expect((await call(p, 'GET', path)).json.code).toBe('auth.missing');
    const other = mailboxKey();
    const foreign = await call(p, 'GET', path, undefined, { signer: other.signer });
    expect([foreign.status, foreign.json.code]).toEqual([403, 'mailbox.key-mismatch']);
    const forged = await call(p, 'GET', path, undefined, {
      signer: { keyId: box.signer.keyId, privateKey: other.signer.privateKey },
    });
    expect([forged.status, forged.json.code]).toEqual([401, 'auth.invalid']);
    const got = await call(p, 'GET', path, undefined, { signer: box.signer });
    expect(got.json.messages).toHaveLength(1);
    expect(got.json.messages[0]).toMatchObject({ messageId: d.json.messageId, ciphertext });

    const headers = signRequest({
      method: 'DELETE',
      url: `${path}/${d.json.messageId}`,
      body: '',
      keyId: box.signer.keyId,
      privateKey: box.signer.privateKey,
      now: p.clock.now / 1000,
    });
    expect(
      (await fetch(`${p.url}${path}/${d.json.messageId}`, { method: 'DELETE', headers })).status,
    ).toBe(204);
    const replay = await fetch(`${p.url}${path}/${d.json.messageId}`, {
      method: 'DELETE',
      headers,
    });
    expect(((await replay.json()) as { code: string }).code).toBe('auth.replayed');
    expect(
      (await call(p, 'GET', path, undefined, { signer: box.signer })).json.messages,
    ).toHaveLength(0);
    const gone = await call(p, 'DELETE', `${path}/${d.json.messageId}`, undefined, {
      signer: box.signer,
    });
    expect([gone.status, gone.json.code]).toEqual([404, 'mailbox.message-not-found']);
  });

  it('caps size and count, and expires messages', async () => {
    const box = mailboxKey();
    const path = `/v1/mailboxes/${box.address}/messages`;
    const big = await call(p, 'POST', path, { ciphertext: Buffer.alloc(1025).toString('base64') });
    expect([big.status, big.json.code]).toEqual([413, 'mailbox.message-too-large']);
    for (let i = 0; i < 3; i++)
      expect((await call(p, 'POST', path, { ciphertext: 'AAAA' })).status).toBe(202);
    const full = await call(p, 'POST', path, { ciphertext: 'AAAA' });
    expect([full.status, full.json.code]).toEqual([409, 'mailbox.full']);
    p.clock.now += 3600_000;
    expect(
      (await call(p, 'GET', path, undefined, { signer: box.signer })).json.messages,
    ).toHaveLength(0);
    expect((await call(p, 'POST', path, { ciphertext: 'AAAA' })).status).toBe(202);
  });

  it('pushes new messages over a signed WebSocket', async () => {
    const box = mailboxKey();
    const socketPath = `/v1/mailboxes/${box.address}/socket`;
    const unsigned = new WebSocket(`${p.url.replace('http', 'ws')}${socketPath}`);
    const refused = await new Promise<number>((resolve) =>
      unsigned.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(refused).toBe(401);
    const ws = await openPushSocket(p, box);
    const received = new Promise<string>((resolve) =>
      ws.on('message', (data) => resolve(String(data))),
    );
    const ciphertext = Buffer.from('pushed').toString('base64');
    const d = await call(p, 'POST', `/v1/mailboxes/${box.address}/messages`, { ciphertext });
    const pushed = JSON.parse(await received) as { messageId: string; ciphertext: string };
    expect(pushed).toMatchObject({ messageId: d.json.messageId, ciphertext });
    ws.close();
  });

  it('pushes a message delivered through another replica (PostgreSQL)', async () => {
    if (dialect !== 'postgres') return; // one SQLite file has one serving process
    const replica = await startTestProvider(dialect, {}, p);
    try {
      replica.clock.now = p.clock.now;
      const box = mailboxKey();
      // Subscribed on the replica, delivered through the first instance.
      const ws = await openPushSocket(replica, box);
      const received: string[] = [];
      ws.on('message', (data) => received.push(String(data)));
      const ciphertexts = ['one', 'two'].map((t) => Buffer.from(t).toString('base64'));
      const ids: string[] = [];
      for (const ciphertext of ciphertexts) {
        const d = await call(p, 'POST', `/v1/mailboxes/${box.address}/messages`, { ciphertext });
        expect(d.status).toBe(202);
        ids.push(d.json.messageId as string);
      }
      const deadline = Date.now() + 5000;
      while (received.length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const pushed = received.map(
        (m) => JSON.parse(m) as { messageId: string; ciphertext: string },
      );
      expect(pushed.map((m) => m.messageId)).toEqual(ids);
      expect(pushed.map((m) => m.ciphertext)).toEqual(ciphertexts);
      ws.close();
    } finally {
      await replica.close();
    }
  });

  it('survives clients resetting during a refused upgrade', async () => {
    const box = mailboxKey();
    const { port } = new URL(p.url);
    for (let i = 0; i < 40; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(
            `GET /v1/mailboxes/${box.address}/socket HTTP/1.1\r\nHost: x\r\n` +
              'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
              `Signature-Input: sig1=("@method");created=${Math.floor(p.clock.now / 1000)};keyid="${box.signer.keyId}";alg="ed25519"\r\n` +
              'Signature: sig1=:AAAA:\r\n\r\n',
            () => {
              socket.resetAndDestroy();
              resolve();
            },
          );
        });
        socket.on('error', () => resolve());
      });
    }
    await new Promise((r) => setTimeout(r, 200));
    const health = await call(p, 'GET', '/healthz');
    expect([health.status, health.json.status]).toEqual([200, 'ok']);
  });

  it('caps open push sockets per mailbox', async () => {
    const box = mailboxKey();
    const socketPath = `/v1/mailboxes/${box.address}/socket`;
    const open = async (): Promise<WebSocket | number> => {
      p.clock.now += 1000; // a fresh signature each time (the replay cache refuses repeats)
      const headers = signRequest({
        method: 'GET',
        url: socketPath,
        body: '',
        keyId: box.signer.keyId,
        privateKey: box.signer.privateKey,
        now: p.clock.now / 1000,
      });
      const ws = new WebSocket(`${p.url.replace('http', 'ws')}${socketPath}`, { headers });
      return new Promise((resolve, reject) => {
        ws.on('open', () => resolve(ws));
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', reject);
      });
    };
    const first = await open();
    const second = await open();
    expect(await open()).toBe(429);
    (first as WebSocket).close();
    await new Promise((r) => setTimeout(r, 100));
    const again = await open();
    expect(again).toBeInstanceOf(WebSocket);
    (second as WebSocket).close();
    (again as WebSocket).close();
  });

  it('caps the count atomically under concurrent deliveries', async () => {
    const box = mailboxKey();
    const path = `/v1/mailboxes/${box.address}/messages`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => call(p, 'POST', path, { ciphertext: 'AAAA' })),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(3);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(17);
    const stored = await p.deps.db
      .selectFrom('mailbox_messages')
      .select('id')
      .where('mailbox', '=', box.address)
      .execute();
    expect(stored).toHaveLength(3);
  });

  it('bounds stored bytes per mailbox, per sender and overall; unfetched mailboxes expire sooner', async () => {
    const q = await startTestProvider(dialect, {
      mailboxes: {
        ...defaultProviderConfig().mailboxes,
        maxMessageBytes: 1000,
        maxMessagesPerMailbox: 100,
        maxBytesPerMailbox: 2500,
        deliverBytesPerSenderPrefix: { capacity: 6000, perSeconds: 3600 },
        maxStoredBytes: 9000,
        ttlSeconds: 7 * 24 * 3600,
        unfetchedTtlSeconds: 24 * 3600,
      },
    });
    try {
      const kib = Buffer.alloc(1000, 1).toString('base64');
      const send = (box: string, ip: string) =>
        call(
          q,
          'POST',
          `/v1/mailboxes/${box}/messages`,
          { ciphertext: kib },
          {
            headers: { 'x-forwarded-for': ip },
          },
        );
      const a = mailboxKey();
      const first = await send(a.address, '10.1.0.1');
      expect(first.status).toBe(202);
      expect(Date.parse(first.json.expiresAt)).toBe(q.clock.now + 24 * 3600_000);
      expect((await send(a.address, '10.1.0.1')).status).toBe(202);
      const full = await send(a.address, '10.1.0.2');
      expect([full.status, full.json.code]).toEqual([409, 'mailbox.full']);

      // The owner fetched: new messages keep the full lifetime.
      await call(q, 'GET', `/v1/mailboxes/${a.address}/messages`, undefined, { signer: a.signer });
      const b = mailboxKey();
      await call(q, 'GET', `/v1/mailboxes/${b.address}/messages`, undefined, { signer: b.signer });
      const fetched = await send(b.address, '10.1.0.1');
      expect(Date.parse(fetched.json.expiresAt)).toBe(q.clock.now + 7 * 24 * 3600_000);

      // 6000 bytes an hour from one sender prefix (3000 used so far, 1000 refused above).
      for (let i = 0; i < 3; i++)
        expect((await send(mailboxKey().address, '10.1.0.1')).status).toBe(202);
      const bySender = await send(mailboxKey().address, '10.1.0.1');
      expect([bySender.status, bySender.json.code]).toEqual([429, 'rate.limited']);

      // 9000 bytes stored in all: 6000 now; a second sender fills it to 9000, then 429.
      for (let i = 0; i < 3; i++)
        expect((await send(mailboxKey().address, '10.2.0.1')).status).toBe(202);
      const overall = await send(mailboxKey().address, '10.3.0.1');
      expect([overall.status, overall.json.code]).toEqual([507, 'mailbox.storage-full']);
      expect(overall.headers.get('retry-after')).toBe('10');
    } finally {
      await q.close();
    }
  });

  it('rate limits upgrades per forwarded client prefix', async () => {
    const q = await startTestProvider(dialect, {
      mailboxes: {
        ...defaultProviderConfig().mailboxes,
        socketUpgradesPerClientPrefix: { capacity: 1, perSeconds: 3600 },
      },
    });
    try {
      const box = mailboxKey();
      const upgrade = (ip: string): Promise<number> => {
        const ws = new WebSocket(
          `${q.url.replace('http', 'ws')}/v1/mailboxes/${box.address}/socket`,
          {
            headers: { 'x-forwarded-for': ip },
          },
        );
        return new Promise((resolve) => {
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.on('error', () => resolve(-1));
        });
      };
      expect(await upgrade('2001:db8:5:6::1')).toBe(401);
      expect(await upgrade('2001:db8:5:6::2')).toBe(429);
      expect(await upgrade('2001:db8:5:7::1')).toBe(401);
    } finally {
      await q.close();
    }
  });
});

describe.each(ALL_DIALECTS)('mailbox budgets against one flooding sender (%s)', (dialect) => {
  let p: TestProvider;
  afterEach(async () => {
    await p.close();
  });

  const start = async (overrides: Partial<ProviderConfig['mailboxes']>): Promise<void> => {
    p = await startTestProvider(dialect, {
      mailboxes: { ...defaultProviderConfig().mailboxes, ...overrides },
    });
  };
  const deliver = (box: string, ip: string, bytes = 3): Promise<Answer> =>
    call(
      p,
      'POST',
      `/v1/mailboxes/${box}/messages`,
      { ciphertext: Buffer.alloc(bytes, 7).toString('base64') },
      { headers: { 'x-forwarded-for': ip } },
    );
  const pull = (box: ReturnType<typeof mailboxKey>, ip: string): Promise<Answer> =>
    call(p, 'GET', `/v1/mailboxes/${box.address}/messages`, undefined, {
      signer: box.signer,
      headers: { 'x-forwarded-for': ip },
    });

  it('one sender floods a mailbox; a second sender still delivers', async () => {
    await start({ maxMessagesPerMailbox: 10, maxMessagesPerSenderPerMailbox: 4 });
    const box = mailboxKey();
    // The flooder rotates through addresses of its /48: one sender all the same.
    const codes = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const r = await deliver(box.address, `2001:db8:77:${i.toString(16)}::1`);
      const key = r.status === 202 ? '202' : `${r.status} ${r.json.code}`;
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
    expect(Object.fromEntries(codes)).toEqual({ '202': 4, '409 mailbox.sender-limit': 16 });
    expect((await deliver(box.address, '2001:db8:78::1')).status).toBe(202);
    expect((await deliver(box.address, '192.0.2.10')).status).toBe(202);
    // Once the owner fetched and acknowledged, the flooder may deliver again.
    const got = await pull(box, '198.51.100.1');
    expect(got.json.messages).toHaveLength(6);
    const ids = (got.json.messages as Array<{ messageId: string }>).map((m) => m.messageId);
    const acked = await call(
      p,
      'POST',
      `/v1/mailboxes/${box.address}/acknowledgements`,
      { messageIds: ids },
      { signer: box.signer },
    );
    expect([acked.status, acked.json]).toEqual([200, { deleted: 6 }]);
    expect((await deliver(box.address, '2001:db8:77::1')).status).toBe(202);
  });

  it('bounds the bytes one sender keeps waiting in all mailboxes', async () => {
    await start({ maxStoredBytesPerSenderPrefix: 2500 });
    expect((await deliver(mailboxKey().address, '10.4.0.1', 1000)).status).toBe(202);
    expect((await deliver(mailboxKey().address, '10.4.0.1', 1000)).status).toBe(202);
    const third = await deliver(mailboxKey().address, '10.4.0.1', 1000);
    expect([third.status, third.json.code]).toEqual([409, 'mailbox.sender-limit']);
    expect((await deliver(mailboxKey().address, '10.4.0.2', 1000)).status).toBe(202);
  });

  it("a receive from the sender's own network neither extends retention nor lifts the unclaimed caps", async () => {
    await start({
      ttlSeconds: 7 * 24 * 3600,
      unfetchedTtlSeconds: 24 * 3600,
      maxMessagesPerMailbox: 5,
      maxMessagesPerUnclaimedMailbox: 2,
    });
    const own = mailboxKey();
    expect((await pull(own, '10.5.0.1')).status).toBe(200);
    const first = await deliver(own.address, '10.5.0.1');
    expect(Date.parse(first.json.expiresAt)).toBe(p.clock.now + 24 * 3600_000);
    expect((await deliver(own.address, '10.5.0.1')).status).toBe(202);
    const capped = await deliver(own.address, '10.5.0.1');
    expect([capped.status, capped.json.code]).toEqual([409, 'mailbox.full']);
    // Claimed from another network: the full lifetime and caps for this sender.
    expect((await pull(own, '10.6.0.1')).status).toBe(200);
    const claimed = await deliver(own.address, '10.5.0.1');
    expect(claimed.status).toBe(202);
    expect(Date.parse(claimed.json.expiresAt)).toBe(p.clock.now + 7 * 24 * 3600_000);
  });

  it('acknowledges a batch: only the mailbox key, only its own messages, retries harmless', async () => {
    await start({});
    const box = mailboxKey();
    const other = mailboxKey();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await deliver(box.address, '10.7.0.1')).json.messageId);
    const foreignId = (await deliver(other.address, '10.7.0.1')).json.messageId as string;
    const path = `/v1/mailboxes/${box.address}/acknowledgements`;
    const unsigned = await call(p, 'POST', path, { messageIds: ids });
    expect([unsigned.status, unsigned.json.code]).toEqual([401, 'auth.missing']);
    const wrongKey = await call(p, 'POST', path, { messageIds: ids }, { signer: other.signer });
    expect([wrongKey.status, wrongKey.json.code]).toEqual([403, 'mailbox.key-mismatch']);
    const batch = { messageIds: [ids[0], ids[1], foreignId] };
    const acked = await call(p, 'POST', path, batch, { signer: box.signer });
    expect([acked.status, acked.json]).toEqual([200, { deleted: 2 }]);
    expect((await call(p, 'POST', path, batch, { signer: box.signer })).json).toEqual({
      deleted: 0,
    });
    const left = await pull(box, '10.8.0.1');
    expect(left.json.messages.map((m: { messageId: string }) => m.messageId)).toEqual([ids[2]]);
    expect((await pull(other, '10.8.0.1')).json.messages).toHaveLength(1);
    const tooMany = Array.from(
      { length: 101 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    const big = await call(p, 'POST', path, { messageIds: tooMany }, { signer: box.signer });
    expect([big.status, big.json.code]).toEqual([400, 'request.invalid']);
  });
});
