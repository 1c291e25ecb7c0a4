// End to end, in one process with real peers: the directory (DNS over UDP/TCP + publish API)
// and two provider APIs started through their own entry points on port 0.
//
// Issue 6: two users register at providers, are published, look each other up over real DNS,
// check keys and exchange messages both ways; tampering is refused with the right error.
// Issue 8: two key-only identities exchange messages through mailboxes at two providers; a
// forwarded card is useless, replayed receive requests and tampered cards are refused.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityKeyPair } from '@signalapp/libsignal-client';
import { RRType, decodeMessage, encodeMessage } from '@switchboard/dns-wire';
import type { ResourceRecord } from '@switchboard/dns-wire';
import type { VerifiedTrustList } from '@switchboard/charter';
import { boardFingerprint, createDevelopmentBoard } from '@switchboard/charter';
import {
  MailboxMessenger,
  MemoryStorage,
  PhoneClient,
  ProviderClient,
  ProviderError,
  Rendezvous,
  SwitchboardError,
  cardFromText,
  cardToText,
  IdentityKeyChangedError,
  createMemoryProtocolStores,
  encodeEnvelope,
  generateRegistrationKeys,
  MessageType,
  SignalSessions,
  decodeEnvelope,
  fetchHttpClient,
  fromBase64,
  fromUtf8,
  toBase64,
  utf8,
} from '../../src/index.js';
import type {
  DnsTransport,
  HttpClient,
  HttpRequest,
  MailboxReceiveResult,
} from '../../src/index.js';
import { NodeDnsTransport, NodeEd25519, nodePushConnector } from '../../src/node/index.js';
import type { TestDirectory } from './fixtures.js';
import {
  directoryEntry,
  providerEntry,
  startTestDirectory,
  waitForDns,
  writeTrustList,
} from './fixtures.js';
import type { RunningProvider } from './services.js';
import { CodeInbox, prepareProvider, startProvider } from './services.js';

const ALICE = '+442079460958';
const BOB = '+14155552671';
const MALLORY = '+33142685344';

let dir: TestDirectory;
let providerA: RunningProvider;
let providerB: RunningProvider;
let inbox: CodeInbox;
let list: VerifiedTrustList;
let listDir: string | undefined;
const ed25519 = new NodeEd25519();

beforeAll(async () => {
  inbox = new CodeInbox();
  await inbox.start();
  const a = await prepareProvider('provider-a');
  const b = await prepareProvider('provider-b');
  dir = await startTestDirectory([a.provider, b.provider]);
  listDir = await mkdtemp(join(tmpdir(), 'sb-sdk-trust-'));
  const listPath = join(listDir, 'trust-list.json');
  const board = createDevelopmentBoard();
  const pinned = boardFingerprint(board.board);
  providerA = await startProvider(a, dir.directory.apiUrl, inbox.url, listPath, pinned);
  providerB = await startProvider(b, dir.directory.apiUrl, inbox.url, listPath, pinned);
  const now = new Date();
  list = await writeTrustList(
    listPath,
    [directoryEntry(dir)],
    [providerEntry(providerA.provider, now), providerEntry(providerB.provider, now)],
    now,
    board,
  );
});

afterAll(async () => {
  await providerA?.stop();
  await providerB?.stop();
  await dir?.stop();
  await inbox?.stop();
  if (listDir) await rm(listDir, { recursive: true, force: true });
});

function phoneClient(overrides: { dns?: DnsTransport; http?: HttpClient } = {}): PhoneClient {
  return new PhoneClient({
    storage: new MemoryStorage(),
    trustList: list,
    dns: overrides.dns ?? new NodeDnsTransport(),
    http: overrides.http ?? fetchHttpClient(),
    ed25519,
  });
}

async function errorOf(p: Promise<unknown>): Promise<SwitchboardError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SwitchboardError);
  return err as SwitchboardError;
}

describe('issue 6: phone-number users', () => {
  let alice: PhoneClient;
  let bob: PhoneClient;

  beforeAll(async () => {
    alice = phoneClient();
    bob = phoneClient();
    await alice.register({
      number: ALICE,
      providerId: 'provider-a',
      getCode: () => inbox.codeFor(ALICE),
      publishContacts: [{ service: 'sip', uri: 'sip:alice@a.example' }],
      oneTimePreKeys: 10,
    });
    await bob.register({
      number: BOB,
      providerId: 'provider-b',
      getCode: () => inbox.codeFor(BOB),
      publishContacts: [
        { service: 'xmpp', uri: 'xmpp:bob@b.example' },
        { service: 'matrix', uri: 'matrix:u/bob:b.example' },
      ],
      oneTimePreKeys: 10,
    });
    await waitForDns(dir.server, ALICE);
    await waitForDns(dir.server, BOB);
  });

  it('finds each user through the directory with the key they registered', async () => {
    const found = await alice.lookup(BOB);
    expect(found.provider.id).toBe('provider-b');
    expect(found.contacts.map((c) => c.uri)).toEqual([
      'xmpp:bob@b.example',
      'matrix:u/bob:b.example',
    ]);
    const bobKey = (await bob.stores.identity.getIdentityKeyPair()).publicKey.serialize();
    expect(toBase64(found.identityKey)).toBe(toBase64(bobKey));
    expect(found.dnssec.status).toBe('secure');
  });

  it('establishes a session checked against the directory and exchanges messages both ways', async () => {
    const first = await alice.encrypt(BOB, utf8('hello Bob, this is Alice'));
    const got = await bob.decrypt(first);
    expect(got.from).toBe(ALICE);
    expect(fromUtf8(got.plaintext)).toBe('hello Bob, this is Alice');
    const reply = await bob.encrypt(ALICE, utf8('hi Alice'));
    expect(fromUtf8((await alice.decrypt(reply)).plaintext)).toBe('hi Alice');
    for (let i = 0; i < 3; i++) {
      expect(fromUtf8((await bob.decrypt(await alice.encrypt(BOB, utf8(`a${i}`)))).plaintext)).toBe(
        `a${i}`,
      );
      expect(
        fromUtf8((await alice.decrypt(await bob.encrypt(ALICE, utf8(`b${i}`)))).plaintext),
      ).toBe(`b${i}`);
    }
    expect((await alice.safetyNumber(BOB)).display).toBe((await bob.safetyNumber(ALICE)).display);
  });

  it('refuses a session-start message that claims a number whose directory key it lacks', async () => {
    // Mallory has her own keys and Bob's public bundle, and claims to be Alice.
    const mallory = createMemoryProtocolStores();
    await generateRegistrationKeys(mallory, { oneTimePreKeyCount: 0 });
    const sessions = new SignalSessions(mallory, { name: ALICE, deviceId: 1 });
    // Bundles are served to askers with an account (issue 14): Mallory has one of her own.
    const malloryPhone = phoneClient();
    await malloryPhone.register({
      number: MALLORY,
      providerId: 'provider-b',
      getCode: () => inbox.codeFor(MALLORY),
    });
    const m = (await malloryPhone.account())!;
    const asker = { creds: { accountId: m.accountId, deviceSeed: fromBase64(m.deviceSeed)! } };
    const bundle = await new ProviderClient({
      baseUrl: providerB.url,
      http: fetchHttpClient(),
      ed25519,
    }).getPrekeyBundle(BOB, asker);
    await sessions.establish({ name: BOB, deviceId: bundle.deviceId }, bundle);
    const ct = await sessions.encrypt(
      { name: BOB, deviceId: bundle.deviceId },
      utf8('send me money'),
    );
    const forged = encodeEnvelope({
      type: MessageType.SignalPreKey,
      sender: `tel:${ALICE}`,
      senderDevice: 1,
      ciphertext: ct.body,
    });
    const fresh = phoneClient();
    await fresh.register({
      number: '+33142685300',
      providerId: 'provider-b',
      getCode: () => inbox.codeFor('+33142685300'),
      // Discoverable, so that Mallory (a stranger) is served its bundle at all.
      publishContacts: [{ service: 'sip', uri: 'sip:fresh@b.example' }],
    });
    // Bob (already talking to Alice) and a fresh user (who must ask the directory) both refuse.
    expect((await errorOf(bob.decrypt(forged))).code).toBe('identity-key-changed');
    const freshBundle = await new ProviderClient({
      baseUrl: providerB.url,
      http: fetchHttpClient(),
      ed25519,
    }).getPrekeyBundle((await fresh.account())!.accountId, asker);
    const m2 = createMemoryProtocolStores();
    await generateRegistrationKeys(m2, { oneTimePreKeyCount: 0 });
    const s2 = new SignalSessions(m2, { name: ALICE, deviceId: 1 });
    await s2.establish({ name: '+33142685300', deviceId: freshBundle.deviceId }, freshBundle);
    const ct2 = await s2.encrypt(
      { name: '+33142685300', deviceId: freshBundle.deviceId },
      utf8('hi'),
    );
    const forged2 = encodeEnvelope({
      type: MessageType.SignalPreKey,
      sender: `tel:${ALICE}`,
      senderDevice: 1,
      ciphertext: ct2.body,
    });
    expect((await errorOf(fresh.decrypt(forged2))).code).toBe('identity-key-changed');
  });

  it('leaves nothing half-made when registration is refused, so a retry works', async () => {
    const DAN = '+33142685322';
    const dan = phoneClient();
    const wrong = async (): Promise<string> =>
      (await inbox.codeFor(DAN)) === '000000' ? '111111' : '000000';
    const err = await errorOf(
      dan.register({ number: DAN, providerId: 'provider-a', getCode: wrong }),
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).problemCode).toBe('verification.code-incorrect');
    expect(await dan.account()).toBeUndefined();
    expect(await dan.stores.identity.hasLocalIdentity()).toBe(false);
    const account = await dan.register({
      number: DAN,
      providerId: 'provider-a',
      getCode: () => inbox.codeFor(DAN),
    });
    expect(account.number).toBe(DAN);
    expect(await dan.stores.identity.hasLocalIdentity()).toBe(true);
  });

  it('tops up one-time prekeys when the provider runs low', async () => {
    // Bob's provider handed out one of his 10 prekeys; ask for at least 50.
    expect(await bob.topUpPrekeys({ minimum: 50, batch: 40 })).toBe(40);
    expect(await bob.topUpPrekeys({ minimum: 20 })).toBe(0);
  });

  it('surfaces a changed identity key end to end and continues only after approval', async () => {
    const carol = phoneClient();
    const CAROL = '+33142685311';
    await carol.register({
      number: CAROL,
      providerId: 'provider-a',
      getCode: () => inbox.codeFor(CAROL),
      publishContacts: [{ service: 'sip', uri: 'sip:carol@a.example' }],
    });
    await waitForDns(dir.server, CAROL);
    expect(fromUtf8((await carol.decrypt(await alice.encrypt(CAROL, utf8('one')))).plaintext)).toBe(
      'one',
    );
    // Carol reinstalls: new keys, same number, republished by her provider.
    const carol2 = phoneClient();
    await carol2.register({
      number: CAROL,
      providerId: 'provider-a',
      getCode: () => inbox.codeFor(CAROL),
      publishContacts: [{ service: 'sip', uri: 'sip:carol@a.example' }],
    });
    const carol2Key = (await carol2.stores.identity.getIdentityKeyPair()).publicKey.serialize();
    await waitForDns(dir.server, CAROL, toBase64(carol2Key));
    const err = await errorOf(alice.startSession(CAROL));
    expect(err).toBeInstanceOf(IdentityKeyChangedError);
    expect(err.code).toBe('identity-key-changed');
    await alice.approveNewIdentity(CAROL);
    expect(
      fromUtf8((await carol2.decrypt(await alice.encrypt(CAROL, utf8('two')))).plaintext),
    ).toBe('two');
  });

  it('refuses a provider bundle whose identity key differs from the directory', async () => {
    const mallory = IdentityKeyForTest();
    const swapping: HttpClient = {
      async request(req: HttpRequest) {
        const res = await fetchHttpClient().request(req);
        if (!req.url.includes('/v1/keys/bundles/')) return res;
        const json = JSON.parse(fromUtf8(res.body)!) as { identityKey: string };
        json.identityKey = mallory;
        return { ...res, body: utf8(JSON.stringify(json)) };
      },
    };
    const carol = phoneClient({ http: swapping });
    // Only registered users fetch bundles (issue 14); Carol's provider certifies her to Bob's.
    await carol.register({
      number: '+33142685355',
      providerId: 'provider-a',
      getCode: () => inbox.codeFor('+33142685355'),
    });
    const err = await errorOf(carol.startSession(BOB));
    expect(err.code).toBe('provider-key-mismatch');
  });

  it('refuses tampered DNS answers on the way to a session', async () => {
    const inner = new NodeDnsTransport();
    const forge = (edit: (rrs: readonly ResourceRecord[]) => ResourceRecord[]): DnsTransport => ({
      async exchange(server, query, protocol) {
        const m = decodeMessage(await inner.exchange(server, query, protocol));
        if (m.questions[0]?.type !== RRType.TXT) return encodeMessage(m);
        return encodeMessage({ ...m, answers: edit(m.answers) });
      },
    });
    const forgedRrsig = forge((rrs) =>
      rrs.map((rr) => {
        if (rr.type !== RRType.RRSIG) return rr;
        const signature = (rr.data as { signature: Uint8Array }).signature.slice();
        signature[0] = signature[0]! ^ 1;
        return { ...rr, data: { ...rr.data, signature } } as ResourceRecord;
      }),
    );
    expect((await errorOf(phoneClient({ dns: forgedRrsig }).startSession(BOB))).code).toBe(
      'bogus-signature',
    );
    const stripped = forge((rrs) => rrs.filter((rr) => rr.type !== RRType.RRSIG));
    expect((await errorOf(phoneClient({ dns: stripped }).startSession(BOB))).code).toBe(
      'bogus-signature',
    );
  });
});

function IdentityKeyForTest(): string {
  // A valid libsignal public key that is not Bob's.
  return toBase64(IdentityKeyPair.generate().publicKey.serialize());
}

/** Records every request it sends, so a test can replay one byte for byte. */
class RecordingHttp implements HttpClient {
  readonly sent: HttpRequest[] = [];
  readonly #inner = fetchHttpClient();
  request(req: HttpRequest) {
    this.sent.push(req);
    return this.#inner.request(req);
  }
  /** Envelope types of the messages delivered to mailboxes through this client, in order. */
  deliveredTypes(): number[] {
    return this.sent
      .filter((r) => r.method === 'POST' && /\/v1\/mailboxes\/[^/]+\/messages$/.test(r.url))
      .map((r) => {
        const body = JSON.parse(fromUtf8(r.body!)!) as { ciphertext: string };
        return decodeEnvelope(fromBase64(body.ciphertext)!).type;
      });
  }
}

describe('issue 8: unregulated identities through mailboxes at two providers', () => {
  function party(http: HttpClient = fetchHttpClient()) {
    const rendezvous = new Rendezvous({ storage: new MemoryStorage(), ed25519 });
    return { rendezvous, messenger: new MailboxMessenger({ rendezvous, http, ed25519 }) };
  }

  it('connects by card, exchanges messages both ways, and defeats forwarding, replay and tampering', async () => {
    const carolHttp = new RecordingHttp();
    const carol = party(carolHttp);
    const daveHttp = new RecordingHttp();
    const dave = party(daveHttp);
    const eve = party();

    const offer = await carol.rendezvous.createOffer({
      mailboxProviders: [providerA.url],
      label: 'Carol',
    });

    // A tampered card is refused before anything is created.
    const bytes = cardFromText(offer.text);
    bytes[bytes.length - 70] = bytes[bytes.length - 70]! ^ 0x20;
    const tamperErr = await errorOf(
      dave.rendezvous.acceptOffer(cardToText(bytes), 'remote', {
        mailboxProviders: [providerB.url],
      }),
    );
    expect(['card-signature-invalid', 'invalid-card']).toContain(tamperErr.code);

    // Dave accepts (received remotely) and his reply card travels to Carol's mailbox at A.
    const accepted = await dave.rendezvous.acceptOffer(offer.text, 'remote', {
      mailboxProviders: [providerB.url],
      label: 'Dave',
    });
    expect(await dave.messenger.sendReply(offer.text, accepted.reply, accepted.connection)).toBe(
      providerA.url,
    );
    const collected = await carol.messenger.collectReplies(offer.text);
    expect(collected.completed).toHaveLength(1);
    const carolsDave = collected.completed[0]!;
    expect(carolsDave.label).toBe('Dave');
    expect(carolsDave.theirReach[0]).toMatchObject({ kind: 'mailbox', provider: providerB.url });

    // Both ways, each through the other's provider.
    expect(await carol.messenger.send(carolsDave.contactId, utf8('hello Dave'))).toBe(
      providerB.url,
    );
    expect(await dave.messenger.send(accepted.connection.contactId, utf8('hello Carol'))).toBe(
      providerA.url,
    );
    const atDave = await dave.messenger.receive();
    expect(atDave.messages.map((m) => fromUtf8(m.plaintext))).toEqual(['hello Dave']);
    const atCarol = await carol.messenger.receive();
    expect(atCarol.messages.map((m) => fromUtf8(m.plaintext))).toEqual(['hello Carol']);
    // Dave's reply card came with his prekey bundle, so Carol wrote over libsignal at once;
    // Dave wrote before hearing from her, over the card channel (carrying his bundle again).
    expect(carolHttp.deliveredTypes()).toEqual([MessageType.SignalPreKey]);
    expect(daveHttp.deliveredTypes()).toEqual([
      MessageType.CardReply,
      MessageType.CardMessage,
      MessageType.CardMessage,
    ]);
    // Acknowledged messages are gone.
    expect((await dave.messenger.receive()).messages).toHaveLength(0);

    // Eve got Carol's card forwarded: her reply is refused and her messages are discarded.
    const evesTry = await eve.rendezvous.acceptOffer(offer.text, 'remote', {
      mailboxProviders: [providerB.url],
    });
    await eve.messenger.sendReply(offer.text, evesTry.reply, evesTry.connection);
    await eve.messenger.send(evesTry.connection.contactId, utf8('it is me, Dave'));
    const afterEve = await carol.messenger.receive();
    expect(afterEve.messages).toHaveLength(0);
    expect(afterEve.completed).toHaveLength(0);
    // Her reply card, her prekey bundle and her message.
    expect(afterEve.discarded).toBe(3);
    expect(await carol.rendezvous.connections()).toHaveLength(1);

    // Eve cannot read Carol's mailbox: the address is public but the key is not.
    const mailbox = (await carol.rendezvous.connection(carolsDave.contactId)).ownReach[0]!;
    if (mailbox.kind !== 'mailbox') throw new Error('expected a mailbox');
    const evesKey = ed25519.generate();
    const eveClient = new ProviderClient({
      baseUrl: providerA.url,
      http: fetchHttpClient(),
      ed25519,
    });
    const readErr = await errorOf(eveClient.receive(evesKey, mailbox.address));
    expect(readErr).toBeInstanceOf(ProviderError);
    expect([401, 403]).toContain((readErr as ProviderError).status);
    expect((readErr as ProviderError).problemCode).toMatch(/^(auth|mailbox)\./);

    // A captured signed receive request, replayed verbatim, is refused.
    const receiveReq = [...carolHttp.sent]
      .reverse()
      .find((r) => r.method === 'GET' && r.url.includes('/v1/mailboxes/'));
    expect(receiveReq).toBeDefined();
    const replayed = await fetchHttpClient().request(receiveReq!);
    expect(replayed.status).toBe(401);
    expect(fromUtf8(replayed.body)).toContain('auth.replayed');

    // A message replayed into the mailbox (same envelope twice) is opened once only.
    await dave.messenger.send(accepted.connection.contactId, utf8('once'));
    const captured = await carol.messenger.receive();
    expect(captured.messages.map((m) => fromUtf8(m.plaintext))).toEqual(['once']);
    // Dave has Carol's session now: a plain libsignal SignalMessage.
    expect(daveHttp.deliveredTypes().at(-1)).toBe(MessageType.SignalMessage);
    // Someone who captured it delivers the same envelope again: libsignal refuses the replay.
    const onceReq = [...daveHttp.sent].reverse().find((r) => r.method === 'POST')!;
    const onceEnvelope = fromBase64(
      (JSON.parse(fromUtf8(onceReq.body!)!) as { ciphertext: string }).ciphertext,
    )!;
    await eveClient.deliver(mailbox.address, onceEnvelope);
    const replayedMessage = await carol.messenger.receive();
    expect(replayedMessage.messages).toHaveLength(0);
    expect(replayedMessage.discarded).toBe(1);
  });

  it('pushes delivered messages to a watching party without polling', async () => {
    const carolHttp = new RecordingHttp();
    const carol = party(carolHttp);
    const dave = party();
    const offer = await carol.rendezvous.createOffer({ mailboxProviders: [providerA.url] });
    const accepted = await dave.rendezvous.acceptOffer(offer.text, 'remote', {
      mailboxProviders: [providerB.url],
    });
    const pulls = (): number =>
      carolHttp.sent.filter((r) => r.method === 'GET' && r.url.includes('/messages?')).length;

    // Carol watches her offer's mailbox: Dave's reply card arrives by push.
    const results: MailboxReceiveResult[] = [];
    const watch = await carol.messenger.watch(nodePushConnector(), (r) => results.push(r));
    await waitUntil(() => pulls() === 1); // the first pull, for what came before
    await dave.messenger.sendReply(offer.text, accepted.reply, accepted.connection);
    await waitUntil(() => results.some((r) => r.completed.length === 1));
    const contactId = results.flatMap((r) => r.completed)[0]!.contactId;
    watch.close();
    expect(await watch.closed).toBeUndefined();

    // A new watch covers the new connection; a message arrives without Carol asking.
    const got: string[] = [];
    const again = await carol.messenger.watch(nodePushConnector(), (r) =>
      got.push(...r.messages.map((m) => fromUtf8(m.plaintext)!)),
    );
    await dave.messenger.send(accepted.connection.contactId, utf8('pushed to you'));
    await waitUntil(() => got.length === 1);
    expect(got).toEqual(['pushed to you']);
    const before = pulls();
    await new Promise((r) => setTimeout(r, 300));
    expect(pulls()).toBe(before); // nothing polls in between
    again.close();
    expect(contactId).toBe((await carol.rendezvous.connections())[0]!.contactId);
  });

  it('refuses push to a key that does not own the mailbox, and ends on a frame that is not a message', async () => {
    const carol = party();
    const offer = await carol.rendezvous.createOffer({ mailboxProviders: [providerA.url] });
    const reach = offer.card.reach[0]!;
    if (reach.kind !== 'mailbox') throw new Error('expected a mailbox');
    const client = new ProviderClient({ baseUrl: providerA.url, http: fetchHttpClient(), ed25519 });
    const err = await errorOf(
      client.subscribe(nodePushConnector(), ed25519.generate(), reach.address, () => undefined),
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(401);

    // A provider (here a stand-in socket) pushing garbage ends the subscription with an error.
    let push: (text: string) => void = () => undefined;
    let closeListener: (error?: Error) => void = () => undefined;
    const fake = () =>
      Promise.resolve({
        onText: (l: (text: string) => void) => (push = l),
        onClose: (l: (error?: Error) => void) => (closeListener = l),
        close: () => closeListener(),
      });
    const seen: string[] = [];
    const sub = await client.subscribe(fake, ed25519.generate(), reach.address, (m) =>
      seen.push(m.messageId),
    );
    push(JSON.stringify({ messageId: 'm1', ciphertext: toBase64(utf8('x')) }));
    push('{"messageId": 7}');
    push(JSON.stringify({ messageId: 'm2', ciphertext: toBase64(utf8('y')) }));
    const reason = await sub.closed;
    expect(seen).toEqual(['m1']);
    expect(SwitchboardError.is(reason, 'provider-error')).toBe(true);
  });
});

describe('registration lock', () => {
  it('a locked number cannot be taken over with an SMS code alone; the PIN opens it', async () => {
    const number = '+442079460962';
    const carol = phoneClient();
    await carol.register({
      number,
      providerId: 'provider-a',
      getCode: () => inbox.codeFor(number),
      oneTimePreKeys: 1,
    });
    await carol.setRegistrationLock('1357-lake');
    const thief = await errorOf(
      phoneClient().register({
        number,
        providerId: 'provider-a',
        getCode: () => inbox.codeFor(number),
        oneTimePreKeys: 1,
      }),
    );
    expect(thief).toBeInstanceOf(ProviderError);
    expect([(thief as ProviderError).status, (thief as ProviderError).problemCode]).toEqual([
      423,
      'account.registration-locked',
    ]);
    const owner = await phoneClient().register({
      number,
      providerId: 'provider-a',
      getCode: () => inbox.codeFor(number),
      oneTimePreKeys: 1,
      registrationLockPin: '1357-lake',
    });
    expect(owner.number).toBe(number);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
