// `npm run demo`: the whole network on 127.0.0.1 in one go. Starts the embedded directory and
// provider, Prosody and Kamailio with generated configs, and the bridge; then two scripted
// users, Alice on XMPP and Bob on SIP, register by number, look each other up in the signed
// directory and exchange end-to-end encrypted messages through the bridge. Prints a transcript
// of every step; exits 0 when the whole exchange worked, 1 (saying where) when not.
// Everything lives in a temporary folder (removed at the end; SWITCHBOARD_DEMO_KEEP=1 keeps it).
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PhoneClient, fetchHttpClient, fromUtf8, utf8 } from '@switchboard/client-sdk';
import { FileStorage, NodeDnsTransport, NodeEd25519 } from '@switchboard/client-sdk/node';
import { TrustListSource } from '@switchboard/charter/node';
import { freePort, missingPeers, startKamailio, startProsody } from './demo/peers.js';
import { SipPhone } from './demo/sip-phone.js';
import { XmppChat } from './demo/xmpp-chat.js';
import { Buffer } from 'node:buffer';
import { clearTimeout, setTimeout } from 'node:timers';

const { fetch } = globalThis;

const root = resolve(import.meta.dirname, '..');
const ALICE = { number: '+442079460100', jid: 'alice@xmpp.demo', password: 'alice-demo-pw' };
const BOB = { number: '+14155550100', sip: 'bob' };
const stopAll = [];
let step = 0;

const say = (text) => console.log(`demo: [${++step}] ${text}`);
const note = (text) => console.log(`demo:      ${text}`);
/** As the CLI and the onboarding page print it: the first 16 bytes of SHA-256 of the key. */
const fingerprint = (key) =>
  createHash('sha256').update(key).digest('hex').slice(0, 32).match(/.{4}/g).join(':');

/** Receives verification codes as an SMS gateway would (the provider's webhook sender). */
async function codeInbox() {
  const codes = new Map();
  const waiters = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const { to, code } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (waiters.has(to)) waiters.get(to)(code);
      else codes.set(to, code);
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  stopAll.push(() => new Promise((r) => server.close(r)));
  return {
    url: `http://127.0.0.1:${server.address().port}/codes`,
    codeFor: (number) =>
      codes.has(number)
        ? Promise.resolve(codes.get(number))
        : new Promise((r) => waiters.set(number, r)),
  };
}

/** Starts one part of the embedded stack through its `startService` (as `npm start` does). */
async function startPart(part, dataDir, env, started) {
  const entry = resolve(root, part, 'dist/src/service.js');
  const { startService } = await import(pathToFileURL(entry).href);
  const service = await startService({ dataDir, env, started: [...started] });
  if (!service) throw new Error(`${part} did not start`);
  stopAll.push(() => service.stop());
  return service;
}

async function bridgeConfig(dataDir, prosody, kamailio, trust, httpPort) {
  const path = join(dataDir, 'bridge.json');
  const config = {
    databaseUrl: `sqlite:${join(dataDir, 'bridge.db')}`,
    http: { host: '127.0.0.1', port: httpPort },
    metrics: { host: '127.0.0.1', port: 0 },
    xmpp: {
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: prosody.componentDomain,
      secret: prosody.componentSecret,
    },
    sip: { server: kamailio.wsUrl, domain: kamailio.domain, user: kamailio.bridgeUser },
    directory: { trustListPath: trust.listPath, boardFingerprint: trust.fingerprint },
  };
  await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  return path;
}

/** Polls `check` every 200 ms until it returns a value, for at most `timeoutMs`. */
async function until(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen in time${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Directory, provider, Prosody, Kamailio, bridge: everything on 127.0.0.1, free ports. */
async function startStack(dataDir) {
  const inbox = await codeInbox();
  const bridgeHttpPort = await freePort();
  const env = {
    PATH: process.env.PATH,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    DIRECTORY_DNS_PORT: '0',
    DIRECTORY_API_PORT: '0',
    PROVIDER_API_PORT: '0',
    PROVIDER_CODE_WEBHOOK_URL: inbox.url,
    PROVIDER_BRIDGE_HEALTH_URL: `http://127.0.0.1:${bridgeHttpPort}/health`,
  };
  const directory = await startPart('directory', dataDir, env, []);
  const provider = await startPart('provider-api', dataDir, env, [directory]);
  const providerUrl = /HTTP (http:\/\/\S+)/.exec(provider.listening[0])[1];
  say(`directory: ${directory.listening[0]}; provider: ${providerUrl}`);
  const charter = join(dataDir, 'charter');
  const trust = {
    listPath: join(charter, 'trust-list.json'),
    fingerprint: (await readFile(join(charter, 'board-fingerprint.txt'), 'utf8')).trim(),
  };
  const prosody = await startProsody(join(dataDir, 'prosody'), { alice: ALICE.password });
  stopAll.push(() => prosody.stop());
  const kamailio = await startKamailio(join(dataDir, 'kamailio'));
  stopAll.push(() => kamailio.stop());
  say(
    `Prosody (XMPP ${prosody.domain}) on 127.0.0.1:${prosody.c2sPort}, ` +
      `Kamailio (SIP ${kamailio.domain}) on udp 127.0.0.1:${kamailio.udpPort}, generated configs`,
  );
  const path = await bridgeConfig(dataDir, prosody, kamailio, trust, bridgeHttpPort);
  await startPart('bridge', dataDir, { ...env, SWITCHBOARD_BRIDGE_CONFIG: path }, [
    directory,
    provider,
  ]);
  const health = `http://127.0.0.1:${bridgeHttpPort}/health`;
  await until('the bridge connecting to Prosody and Kamailio', async () => {
    const res = await fetch(health);
    return res.ok ? true : undefined;
  });
  say(
    `bridge connected to both networks (XMPP component ${prosody.componentDomain}, SIP user ${kamailio.bridgeUser}); ${health}`,
  );
  return { inbox, providerUrl, trust, prosody, kamailio, health };
}

/** A phone-number user of the SDK, keys in `dir`. */
async function phone(dir, trust) {
  const source = new TrustListSource({ path: trust.listPath, boardFingerprint: trust.fingerprint });
  return new PhoneClient({
    storage: new FileStorage(dir),
    trustList: await source.load(new Date()),
    dns: new NodeDnsTransport({ timeoutMs: 3000 }),
    http: fetchHttpClient(),
    ed25519: new NodeEd25519(),
  });
}

async function registerUser(name, client, stack, number, contact) {
  const account = await client.register({
    number,
    providerId: stack.providerUrl,
    getCode: () => stack.inbox.codeFor(number),
    publishContacts: [contact],
    oneTimePreKeys: 5,
  });
  say(
    `${name} registered ${account.number} at ${stack.providerUrl} (verification code by the SMS ` +
      `webhook), keys made on the device, published ${account.contacts.map((c) => c.uri).join(', ')}`,
  );
}

async function lookUp(name, client, number) {
  const found = await until(`${number} appearing in the signed zone`, () =>
    client.lookup(number).catch((err) => {
      if (err.code === 'not-found') return undefined;
      throw err;
    }),
  );
  say(
    `${name} looks up ${number}: DNSSEC ${found.dnssec.status} (validated by the SDK from the trust ` +
      `list anchor, directory ${found.dnssec.directoryId}, zone ${found.dnssec.apex}), ` +
      `contacts ${found.contacts.map((c) => c.uri).join(', ')}, identity key ${fingerprint(found.identityKey)}`,
  );
  return found;
}

/** Alice (XMPP) writes to Bob's number; Bob (SIP) receives, decrypts and answers. */
async function exchange(alice, bob, xmpp, sip, stack) {
  const hello = 'Hello Bob, this is Alice on XMPP. Only you can read this.';
  const sealed = Buffer.from(await alice.encrypt(BOB.number, utf8(hello)));
  say(
    `alice opened a Signal session with ${BOB.number} (prekey bundle from the provider, key checked against the directory) and sealed ${sealed.length} envelope bytes`,
  );
  xmpp.sendEnvelope(
    `${BOB.number}@${stack.prosody.componentDomain}`,
    sealed.toString('base64'),
    'm1',
  );
  say(
    `alice's XMPP client sent the envelope to ${BOB.number}@${stack.prosody.componentDomain}; the bridge looks the number up and routes to SIP`,
  );
  const atBob = await sip.next();
  const carried = Buffer.from(atBob.body, 'base64');
  say(
    `bob's SIP phone got a MESSAGE from ${atBob.from} (${atBob.contentType}), ${carried.length} envelope bytes, ${carried.equals(sealed) ? 'identical to what alice sealed' : 'CHANGED IN TRANSIT'}`,
  );
  if (!carried.equals(sealed)) throw new Error('the bridge changed the envelope');
  const opened = await bob.decrypt(carried);
  say(`bob decrypted it: from ${opened.from}: "${fromUtf8(opened.plaintext)}"`);
  if (fromUtf8(opened.plaintext) !== hello) throw new Error('bob read something else');

  const reply = 'Hi Alice, Bob here on SIP. Got it, end to end.';
  const back = Buffer.from(await bob.encrypt(opened.from, utf8(reply)));
  const status = await sip.message(
    `sip:${opened.from}@${stack.kamailio.domain}`,
    'application/vnd.switchboard.envelope',
    back.toString('base64'),
  );
  say(
    `bob's SIP phone sent ${back.length} envelope bytes to sip:${opened.from}@${stack.kamailio.domain}: ${status}`,
  );
  const atAlice = await xmpp.next();
  if (atAlice.error) throw new Error(`alice got an XMPP error: ${atAlice.error}`);
  const carriedBack = Buffer.from(atAlice.envelope, 'base64');
  say(
    `alice's XMPP client got the envelope from ${atAlice.from}, ${carriedBack.equals(back) ? 'identical to what bob sealed' : 'CHANGED IN TRANSIT'}`,
  );
  const read = await alice.decrypt(carriedBack);
  say(`alice decrypted it: from ${read.from}: "${fromUtf8(read.plaintext)}"`);
  if (fromUtf8(read.plaintext) !== reply || !carriedBack.equals(back)) {
    throw new Error('alice read something else');
  }
}

/** What the operator page shows now (its JSON, with the operator key the provider made). */
async function operatorView(dataDir, stack) {
  const key = (await readFile(join(dataDir, 'provider-api', 'operator-api-key'), 'utf8')).trim();
  const overview = async () => {
    const res = await fetch(`${stack.providerUrl}/v1/operator/overview`, {
      headers: { authorization: `Bearer ${key}` },
    });
    if (!res.ok) throw new Error(`the operator overview answered ${res.status}`);
    return res.json();
  };
  // A delivery leaves the bridge's queue once the network acknowledged it, just after the
  // recipient already has it: wait (bounded) for the queues to drain.
  const o = await until(
    'the bridge queues draining',
    async () => {
      const now = await overview();
      return now.bridge.networks.every((n) => n.queueDepth === 0) ? now : undefined;
    },
    30_000,
  ).catch(() => overview());
  const queues = o.bridge.networks
    .map((n) => `${n.network} ${n.connected ? 'connected' : 'down'}, queue ${n.queueDepth}`)
    .join('; ');
  say(
    `operator view (${stack.providerUrl}/operator): ${o.accounts.total} accounts, ` +
      `${o.accounts.published} published; zone serial ${o.zone.serial}, signing ${o.zone.signing}; ` +
      `bridge ${o.bridge.status}: ${queues}`,
  );
}

async function main() {
  const missing = missingPeers();
  if (missing) {
    console.error(`demo: ${missing}`);
    return 1;
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-demo-'));
  stopAll.push(() =>
    process.env.SWITCHBOARD_DEMO_KEEP
      ? note(`kept ${dataDir}`)
      : rm(dataDir, { recursive: true, force: true }),
  );
  const stack = await startStack(dataDir);
  const alice = await phone(join(dataDir, 'alice'), stack.trust);
  const bob = await phone(join(dataDir, 'bob'), stack.trust);
  await registerUser('alice', alice, stack, ALICE.number, {
    service: 'xmpp',
    uri: `xmpp:${ALICE.jid}`,
  });
  await registerUser('bob', bob, stack, BOB.number, {
    service: 'sip',
    uri: `sip:${BOB.sip}@sip.demo`,
  });
  const xmpp = new XmppChat(ALICE.jid, ALICE.password, stack.prosody.c2sPort);
  await xmpp.connect();
  stopAll.push(() => xmpp.close());
  const sip = new SipPhone(BOB.sip, stack.kamailio.domain, stack.kamailio.udpPort);
  await sip.register();
  stopAll.push(() => sip.close());
  say(
    `alice is online on XMPP as ${ALICE.jid}; bob's SIP phone registered as sip:${BOB.sip}@${stack.kamailio.domain}`,
  );
  await lookUp('alice', alice, BOB.number);
  await lookUp('bob', bob, ALICE.number);
  await exchange(alice, bob, xmpp, sip, stack);
  await operatorView(dataDir, stack);
  return 0;
}

async function shutdown() {
  for (const stop of stopAll.reverse()) {
    try {
      await stop();
    } catch (err) {
      console.error(`demo: stopping failed: ${err?.message ?? err}`);
    }
  }
}

let code = 1;
const overall = setTimeout(() => {
  console.error('demo: FAILED: the demo took longer than 5 minutes');
  void shutdown().then(() => process.exit(1));
}, 300_000);
try {
  code = await main();
  if (code === 0)
    console.log('demo: done: both messages crossed XMPP <-> SIP end-to-end encrypted');
} catch (err) {
  console.error(`demo: FAILED after step ${step}: ${err?.message ?? err}`);
} finally {
  clearTimeout(overall);
  await shutdown();
}
process.exit(code);
