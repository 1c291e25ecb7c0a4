import { PrivateKey } from '@signalapp/libsignal-client';
import type { SwitchboardError } from '../../src/index.js';
import {
  IdentityKeyChangedError,
  MemoryStorage,
  MessageType,
  Rendezvous,
  SignalSessions,
  createMemoryProtocolStores,
  fromBase64,
  generateRegistrationKeys,
  toBase64,
  cardFromText,
  cardHash,
  cardQr,
  cardToText,
  decodeEnvelope,
  encodeEnvelope,
  fromUtf8,
  openCard,
  signCard,
  utf8,
} from '../../src/index.js';
import { NodeEd25519, cardQrPng } from '../../src/node/index.js';
import { decodeContactBundle } from '../../src/rendezvous/contact-session.js';

const P1 = 'https://p1.example';
const P2 = 'https://p2.example';
const NOW = 1_800_000_000;

function party(now = (): number => NOW): Rendezvous {
  return new Rendezvous({
    storage: new MemoryStorage(),
    nowSeconds: now,
    ed25519: new NodeEd25519(),
  });
}

async function connected() {
  const alice = party();
  const bob = party();
  const offer = await alice.createOffer({ mailboxProviders: [P1], label: 'Alice' });
  const accepted = await bob.acceptOffer(offer.text, 'in-person', {
    mailboxProviders: [P2],
    label: 'Bob',
  });
  const aliceView = await alice.completeExchange(accepted.reply.text, 'in-person');
  return { alice, bob, offer, accepted, aliceView };
}

describe('rendez-vous cards', () => {
  it('fits in one QR code and round-trips through text, terminal, SVG and PNG', async () => {
    const alice = party();
    const offer = await alice.createOffer({
      mailboxProviders: [P1, P2],
      networkAddresses: ['xmpp:alice@chat.example'],
      label: 'Alice',
    });
    expect(offer.text.startsWith('SBC1:')).toBe(true);
    expect(offer.text).toMatch(/^SBC1:[A-Za-z0-9_-]+$/);
    expect(offer.bytes.length).toBeLessThan(600);
    // Line breaks from e-mail clients are tolerated.
    const wrapped = offer.text.replace(/(.{60})/g, '$1\n');
    expect(cardFromText(wrapped)).toEqual(offer.bytes);
    const opened = openCard(cardFromText(offer.text), NOW);
    expect(opened.card.label).toBe('Alice');
    expect(opened.card.reach).toHaveLength(3);
    expect(await cardQr(offer.text, 'svg')).toContain('<svg');
    expect((await cardQr(offer.text, 'terminal')).length).toBeGreaterThan(100);
    const png = await cardQrPng(offer.text);
    expect([...png.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
  });

  it('refuses a card with any single byte changed', async () => {
    const offer = await party().createOffer({ mailboxProviders: [P1] });
    for (let i = 0; i < offer.bytes.length; i++) {
      const tampered = offer.bytes.slice();
      tampered[i] = tampered[i]! ^ 0x01;
      let code: string | undefined;
      try {
        openCard(tampered, NOW);
      } catch (err) {
        code = (err as SwitchboardError).code;
      }
      expect([
        'invalid-card',
        'card-signature-invalid',
        'unsupported-version',
        'card-expired',
      ]).toContain(code);
    }
    // Re-signing a changed card with another key while keeping the owner's key is refused.
    const card = openCard(offer.bytes, NOW).card;
    expect(() => signCard({ ...card, label: 'Mallory' }, PrivateKey.generate())).toThrow(
      expect.objectContaining({ code: 'invalid-input' }),
    );
  });

  it('refuses expired and future-dated cards with distinct errors', async () => {
    const offer = await party().createOffer({ mailboxProviders: [P1], ttlSeconds: 600 });
    expect(() => openCard(offer.bytes, NOW + 600)).toThrow(
      expect.objectContaining({ code: 'card-expired' }),
    );
    expect(() => openCard(offer.bytes, NOW - 3600)).toThrow(
      expect.objectContaining({ code: 'card-not-yet-valid' }),
    );
    const bob = party(() => NOW + 601);
    await expect(
      bob.acceptOffer(offer.text, 'remote', { mailboxProviders: [P2] }),
    ).rejects.toMatchObject({
      code: 'card-expired',
    });
  });

  it('refuses garbage text and http providers other than loopback', async () => {
    expect(() => cardFromText('hello')).toThrow(expect.objectContaining({ code: 'invalid-card' }));
    expect(() => cardFromText('SBC1:@@@')).toThrow(
      expect.objectContaining({ code: 'invalid-card' }),
    );
    await expect(
      party().createOffer({ mailboxProviders: ['http://p1.example'] }),
    ).rejects.toMatchObject({
      code: 'invalid-card',
    });
    await expect(party().createOffer({})).rejects.toMatchObject({ code: 'invalid-input' });
    const loopback = await party().createOffer({ mailboxProviders: ['http://127.0.0.1:8080'] });
    expect(openCard(loopback.bytes, NOW).card.reach[0]).toMatchObject({
      provider: 'http://127.0.0.1:8080',
    });
  });
});

describe('rendez-vous connections', () => {
  it('completes the exchange and records the channel on both sides', async () => {
    const { accepted, aliceView } = await connected();
    expect(aliceView.contactId).toBe(accepted.connection.ownContactId);
    expect(accepted.connection.contactId).toBe(aliceView.ownContactId);
    expect(aliceView.channel).toBe('in-person');
    expect(aliceView.label).toBe('Bob');
    expect(accepted.connection.label).toBe('Alice');
    expect(aliceView.theirReach[0]).toMatchObject({ kind: 'mailbox', provider: P2 });
  });

  it('exchanges messages both ways and refuses replays', async () => {
    const { alice, bob, aliceView, accepted } = await connected();
    const toBob = await alice.seal(aliceView.contactId, utf8('hi bob'));
    const got = await bob.open(toBob);
    expect(fromUtf8(got.plaintext)).toBe('hi bob');
    expect(got.contactId).toBe(accepted.connection.contactId);
    await expect(bob.open(toBob)).rejects.toMatchObject({ code: 'replayed-message' });
    const toAlice = await bob.seal(accepted.connection.contactId, utf8('hi alice'));
    expect(fromUtf8((await alice.open(toAlice)).plaintext)).toBe('hi alice');
    // Out of order delivery still works, each message once.
    const m1 = await alice.seal(aliceView.contactId, utf8('1'));
    const m2 = await alice.seal(aliceView.contactId, utf8('2'));
    expect(fromUtf8((await bob.open(m2)).plaintext)).toBe('2');
    expect(fromUtf8((await bob.open(m1)).plaintext)).toBe('1');
    await expect(bob.open(m1)).rejects.toMatchObject({ code: 'replayed-message' });
  });

  it('card channel ratchets: late messages open once from kept keys, used keys leave no trace in storage', async () => {
    const storage = new MemoryStorage();
    const alice = party();
    const bob = new Rendezvous({ storage, nowSeconds: () => NOW, ed25519: new NodeEd25519() });
    const offer = await alice.createOffer({ mailboxProviders: [P1] });
    const { reply, connection } = await bob.acceptOffer(offer.text, 'remote', {
      mailboxProviders: [P2],
    });
    const aliceView = await alice.completeExchange(reply.text, 'remote');
    const sent = [];
    for (let i = 0; i < 4; i++) sent.push(await alice.seal(aliceView.contactId, utf8(`m${i}`)));
    const stored = async () =>
      JSON.parse((await storage.get(`rendezvous/connection/${connection.contactId}`))!) as {
        receiveChain: string;
        receiveNext: number;
        skipped: Record<string, string>;
      };
    const before = await stored();
    expect(fromUtf8((await bob.open(sent[3]!)).plaintext)).toBe('m3');
    const after3 = await stored();
    expect(after3.receiveNext).toBe(4);
    expect(Object.keys(after3.skipped).sort()).toEqual(['0', '1', '2']);
    expect(after3.receiveChain).not.toBe(before.receiveChain);
    for (const i of [1, 0, 2]) expect(fromUtf8((await bob.open(sent[i]!)).plaintext)).toBe(`m${i}`);
    expect((await stored()).skipped).toEqual({});
    for (const m of sent)
      await expect(bob.open(m)).rejects.toMatchObject({ code: 'replayed-message' });
  });

  it('discards messages not signed by the expected per-contact key', async () => {
    const { alice, bob, aliceView } = await connected();
    const real = decodeEnvelope(await alice.seal(aliceView.contactId, utf8('x')));
    const flipped = real.ciphertext.slice();
    flipped[7] = flipped[7]! ^ 1;
    await expect(bob.open(encodeEnvelope({ ...real, ciphertext: flipped }))).rejects.toMatchObject({
      code: 'message-rejected',
    });
    // Someone else's signature over the same bytes.
    const sig = PrivateKey.generate().sign(new Uint8Array(8));
    const resigned = new Uint8Array([...real.ciphertext.subarray(0, -64), ...sig]);
    await expect(bob.open(encodeEnvelope({ ...real, ciphertext: resigned }))).rejects.toMatchObject(
      {
        code: 'message-rejected',
      },
    );
    await expect(
      bob.open(encodeEnvelope({ ...real, sender: 'card:AAAAAAAAAAAAAAAAAAAAAA' })),
    ).rejects.toMatchObject({ code: 'message-rejected' });
  });

  it('makes a forwarded card useless to a third party', async () => {
    const { alice, bob, offer, aliceView } = await connected();
    const eve = party();
    // Eve got Alice's card from Bob and answers it.
    const evesTry = await eve.acceptOffer(offer.text, 'remote', { mailboxProviders: [P2] });
    await expect(alice.completeExchange(evesTry.reply.text, 'remote')).rejects.toMatchObject({
      code: 'card-already-used',
    });
    // Eve's messages are not from anyone Alice is connected to.
    const fromEve = await eve.seal(evesTry.connection.contactId, utf8('let me in'));
    await expect(alice.open(fromEve)).rejects.toMatchObject({ code: 'message-rejected' });
    // Eve cannot read what Alice sends Bob: her keys for "Alice" derive different chains.
    const toBob = await alice.seal(aliceView.contactId, utf8('secret'));
    await expect(eve.open(toBob)).rejects.toMatchObject({ code: 'message-rejected' });
    expect(fromUtf8((await bob.open(toBob)).plaintext)).toBe('secret');
    // Bob cannot accept the same card twice either.
    await expect(
      bob.acceptOffer(offer.text, 'remote', { mailboxProviders: [P2] }),
    ).rejects.toMatchObject({
      code: 'card-already-used',
    });
  });

  it('refuses a reply to an unknown card and an offer used as a reply', async () => {
    const { offer } = await connected();
    const stranger = party();
    const answered = await party().acceptOffer(offer.text, 'remote', { mailboxProviders: [P2] });
    await expect(stranger.completeExchange(answered.reply.text, 'remote')).rejects.toMatchObject({
      code: 'card-unknown',
    });
    await expect(stranger.completeExchange(offer.text, 'remote')).rejects.toMatchObject({
      code: 'invalid-card',
    });
    expect(cardToText(offer.bytes)).toBe(offer.text);
  });
});

describe('card contacts on libsignal sessions', () => {
  async function withSession() {
    const aliceStorage = new MemoryStorage();
    const bobStorage = new MemoryStorage();
    const alice = new Rendezvous({
      storage: aliceStorage,
      nowSeconds: () => NOW,
      ed25519: new NodeEd25519(),
    });
    const bob = new Rendezvous({
      storage: bobStorage,
      nowSeconds: () => NOW,
      ed25519: new NodeEd25519(),
    });
    const offer = await alice.createOffer({ mailboxProviders: [P1], label: 'Alice' });
    const accepted = await bob.acceptOffer(offer.text, 'in-person', { mailboxProviders: [P2] });
    const aliceView = await alice.completeExchange(accepted.reply.text, 'in-person');
    const bobView = accepted.connection;
    // The replier's bootstrap: its bundle over the card channel.
    const bootstrap = await bob.bundleEnvelope(bobView.contactId);
    expect(decodeEnvelope(bootstrap!).type).toBe(MessageType.CardMessage);
    const opened = await alice.open(bootstrap!);
    expect(opened).toMatchObject({ contactId: aliceView.contactId, setup: true });
    expect(opened.plaintext).toHaveLength(0);
    return { alice, bob, aliceView, bobView, bobStorage, offer };
  }

  it('sends libsignal envelopes after the exchange: PreKeySignalMessage, then SignalMessage', async () => {
    const { alice, bob, aliceView, bobView, offer } = await withSession();
    // The offer side never publishes a bundle; the replier stops once the session exists.
    expect(await alice.bundleEnvelope(aliceView.contactId)).toBeUndefined();
    const early = await bob.seal(bobView.contactId, utf8('sent before the session'));
    expect(decodeEnvelope(early).type).toBe(MessageType.CardMessage);

    const a1 = await alice.seal(aliceView.contactId, utf8('hi bob'));
    const env1 = decodeEnvelope(a1);
    expect(env1.type).toBe(MessageType.SignalPreKey);
    expect(env1.sender).toBe(`card:${aliceView.ownContactId}`);
    expect(fromUtf8((await bob.open(a1)).plaintext)).toBe('hi bob');
    await expect(bob.open(a1)).rejects.toMatchObject({ code: 'replayed-message' });
    expect(await bob.bundleEnvelope(bobView.contactId)).toBeUndefined();

    const b1 = await bob.seal(bobView.contactId, utf8('hi alice'));
    expect(decodeEnvelope(b1).type).toBe(MessageType.SignalMessage);
    expect(decodeEnvelope(b1).sender).toBe(`card:${bobView.ownContactId}`);
    expect(fromUtf8((await alice.open(b1)).plaintext)).toBe('hi alice');
    await expect(alice.open(b1)).rejects.toMatchObject({ code: 'replayed-message' });
    // A card-channel message arriving after the switch is a downgrade: discarded.
    await expect(alice.open(early)).rejects.toMatchObject({ code: 'message-rejected' });

    // Someone the card was forwarded to holds Alice's contact id too, not Bob's session keys.
    const eve = party();
    await eve.acceptOffer(offer.text, 'remote', { mailboxProviders: [P2] });
    const toBob = await alice.seal(aliceView.contactId, utf8('for Bob only'));
    await expect(eve.open(toBob)).rejects.toMatchObject({ code: 'decrypt-failed' });
    expect(fromUtf8((await bob.open(toBob)).plaintext)).toBe('for Bob only');

    const a3 = await alice.seal(aliceView.contactId, utf8('again'));
    expect(decodeEnvelope(a3).type).toBe(MessageType.SignalMessage);
    expect(fromUtf8((await bob.open(a3)).plaintext)).toBe('again');
  });

  it('refuses a libsignal message under another identity than the per-contact key', async () => {
    const { alice, bob, aliceView, bobView, bobStorage } = await withSession();
    // Mallory knows Bob's public bundle and Alice's contact id, but not Alice's per-contact key.
    const stored = JSON.parse(
      (await bobStorage.get(`rendezvous/connection/${bobView.contactId}`))!,
    ) as {
      ownBundle: string;
    };
    const bobsKey = aliceView.theirContactKey;
    const mallory = createMemoryProtocolStores();
    await generateRegistrationKeys(mallory, { oneTimePreKeyCount: 0 });
    const sessions = new SignalSessions(mallory, { name: 'mallory', deviceId: 1 });
    const bobPeer = { name: 'bob', deviceId: 1 };
    await sessions.establish(bobPeer, decodeContactBundle(fromBase64(stored.ownBundle)!, bobsKey));
    const forged = await sessions.encrypt(bobPeer, utf8('it is me, Alice'));
    expect(forged.kind).toBe('prekey');
    const envelope = encodeEnvelope({
      type: MessageType.SignalPreKey,
      sender: `card:${aliceView.ownContactId}`,
      senderDevice: 1,
      ciphertext: forged.body,
    });
    const err = await bob.open(envelope).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IdentityKeyChangedError);
    expect(err).toMatchObject({ code: 'identity-key-changed' });
    // The real Alice is unaffected.
    const real = await alice.seal(aliceView.contactId, utf8('the real one'));
    expect(fromUtf8((await bob.open(real)).plaintext)).toBe('the real one');
  });

  it('refuses a bundle not signed by the pinned per-contact key and stays on the card channel', async () => {
    const bobStorage = new MemoryStorage();
    const alice = party();
    const bob = new Rendezvous({
      storage: bobStorage,
      nowSeconds: () => NOW,
      ed25519: new NodeEd25519(),
    });
    const offer = await alice.createOffer({ mailboxProviders: [P1] });
    const accepted = await bob.acceptOffer(offer.text, 'remote', { mailboxProviders: [P2] });
    const aliceView = await alice.completeExchange(accepted.reply.text, 'remote');
    // Corrupt the last byte of the Kyber prekey signature in Bob's stored bundle.
    const key = `rendezvous/connection/${accepted.connection.contactId}`;
    const stored = JSON.parse((await bobStorage.get(key))!) as { ownBundle: string };
    const bundle = fromBase64(stored.ownBundle)!;
    bundle[bundle.length - 1] = bundle[bundle.length - 1]! ^ 1;
    await bobStorage.set(key, JSON.stringify({ ...stored, ownBundle: toBase64(bundle) }));
    const bootstrap = await bob.bundleEnvelope(accepted.connection.contactId);
    await expect(alice.open(bootstrap!)).rejects.toMatchObject({ code: 'message-rejected' });
    const next = await alice.seal(aliceView.contactId, utf8('still card channel'));
    expect(decodeEnvelope(next).type).toBe(MessageType.CardMessage);
    expect(fromUtf8((await bob.open(next)).plaintext)).toBe('still card channel');
  });

  it('refuses a reply that reuses the key of an existing contact, keeping that session', async () => {
    const { alice, bob, aliceView, bobView, bobStorage } = await withSession();
    // Whoever holds Bob's per-contact key answers a second offer of Alice's with it.
    const stored = JSON.parse(
      (await bobStorage.get(`rendezvous/connection/${bobView.contactId}`))!,
    ) as { ownContactPrivate: string };
    const bobsKey = PrivateKey.deserialize(fromBase64(stored.ownContactPrivate)!);
    const second = await alice.createOffer({ mailboxProviders: [P1] });
    const reused = signCard(
      {
        version: 1,
        kind: 'reply',
        cardId: new Uint8Array(16),
        issuedAt: NOW,
        expiresAt: NOW + 600,
        contactKey: aliceView.theirContactKey,
        conversationKey: PrivateKey.generate().getPublicKey().serialize(),
        replyTo: await cardHash(second.bytes),
        label: 'not Bob',
        reach: [{ kind: 'network', uri: 'xmpp:x@example.org' }],
      },
      bobsKey,
    );
    await expect(alice.completeExchange(reused.bytes, 'remote')).rejects.toMatchObject({
      code: 'card-already-used',
    });
    expect(await alice.connection(aliceView.contactId)).toMatchObject({ label: '' });
    const a1 = await alice.seal(aliceView.contactId, utf8('still you'));
    expect(decodeEnvelope(a1).type).toBe(MessageType.SignalPreKey);
    expect(fromUtf8((await bob.open(a1)).plaintext)).toBe('still you');
  });

  it('heals from a copied state once the copied side has sent a fresh ratchet key (DH ratchet)', async () => {
    const { alice, bob, aliceView, bobView, bobStorage } = await withSession();
    const say = async (from: Rendezvous, id: string, text: string) => from.seal(id, utf8(text));
    const read = async (to: Rendezvous, env: Uint8Array) =>
      fromUtf8((await to.open(env)).plaintext);
    expect(await read(bob, await say(alice, aliceView.contactId, 'a1'))).toBe('a1');
    // An attacker copies Bob's whole state now.
    const copy = new MemoryStorage();
    for (const key of await bobStorage.list('')) {
      const text = await bobStorage.get(key);
      if (text === undefined) await copy.setBytes(key, (await bobStorage.getBytes(key))!);
      else await copy.set(key, text);
    }
    const thief = new Rendezvous({
      storage: copy,
      nowSeconds: () => NOW,
      ed25519: new NodeEd25519(),
    });
    // Alice's current chain, and the next one (built on Bob's signed prekey, which is in the
    // copy), are readable: the copy is a real compromise, as with a hash ratchet alone.
    const a2 = await say(alice, aliceView.contactId, 'a2');
    expect(await read(thief, a2)).toBe('a2');
    expect(await read(bob, a2)).toBe('a2');
    expect(await read(alice, await say(bob, bobView.contactId, 'b1'))).toBe('b1');
    const a3 = await say(alice, aliceView.contactId, 'a3');
    expect(await read(thief, a3)).toBe('a3');
    // Receiving a3 makes Bob generate a ratchet key pair the copy never saw; once Alice has
    // answered it, the copy is useless.
    expect(await read(bob, a3)).toBe('a3');
    expect(await read(alice, await say(bob, bobView.contactId, 'b2'))).toBe('b2');
    const a4 = await say(alice, aliceView.contactId, 'a4');
    await expect(thief.open(a4)).rejects.toMatchObject({ code: 'decrypt-failed' });
    expect(await read(bob, a4)).toBe('a4');
  });
});
