#!/usr/bin/env node
// The `switchboard` command. Exit codes are documented in USAGE below and in the README.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { isCharterError, verifyTrustList } from '@switchboard/charter';
import type { VerifiedTrustList } from '@switchboard/charter';
import {
  DohTransport,
  IdentityKeyChangedError,
  MailboxMessenger,
  PhoneClient,
  Rendezvous,
  SwitchboardError,
  cardFromText,
  cardQr,
  encodeEnvelope,
  envelopeFromText,
  envelopeToText,
  decodeEnvelope,
  fetchHttpClient,
  fromUtf8,
  keyFingerprint,
  openCard,
  toBase64,
  utf8,
} from '../index.js';
import type { CardChannel, Contact, Connection, SwitchboardErrorCode } from '../index.js';
import {
  FileStorage,
  NodeDnsTransport,
  NodeEd25519,
  cardQrPng,
  nodeDnssecCrypto,
} from '../node/index.js';
import type { ParsedArgs } from './args.js';
import { UsageError, all, one, parseArgs } from './args.js';

const USAGE = `switchboard - end-to-end encrypted reachability by phone number or by key

Usage: switchboard [global options] <command> [arguments]

Phone-number mode (needs a trust list):
  lookup <+E164>                         find a number in the DNSSEC-signed directory
  register <+E164> --provider <id|url>   verify the number, create keys, register
           [--code <code>] [--publish <uri>]... [--prekeys <n>]
  register --provider <id|url> --session <id>   finish a number verified in the provider's
                                         web page: create keys here and register
  register <switchboard://register?...>  the same, from the page's link or QR code (its
                                         provider, session and chosen contacts)
  keys [--top-up] [--minimum <n>]        show identity key and prekey counts; top up prekeys
  send <+E164> <message>                 print an envelope (base64) for any transport
  receive --envelope <base64|->          decrypt an envelope (- reads stdin)
  fingerprint <+E164|contact-id>         safety number with a contact
  approve <+E164>                        accept a contact's changed identity key (after
                                         comparing safety numbers) and start a new session

Unregulated mode (no number, no directory):
  card create [--mailbox <provider-url>]... [--address <uri>]... [--label <name>]
              [--ttl <seconds>] [--qr terminal|svg|png] [--out <file>]
  card accept <SBC1:...|@file> [--in-person] [--mailbox <url>]... [--address <uri>]...
              [--label <name>] [--no-send] [--qr terminal]
  card complete <SBC1:...|@file> [--in-person]   finish an exchange with a reply card
  contacts                               list card contacts
  send <contact-id> <message>            seal and deliver to the contact's mailbox
  receive [--contact <id>]               fetch, verify and decrypt mailbox messages

Global options:
  --data-dir <dir>        keys and state (default $SWITCHBOARD_HOME or ~/.switchboard), 0700
  --trust-list <file>     signed trust list (default $SWITCHBOARD_TRUST_LIST)
  --board-fingerprint <hex>  pinned board fingerprint ($SWITCHBOARD_BOARD_FINGERPRINT);
                          development only: board-fingerprint.txt next to the list
  --directory <id>        directory from the trust list (default: every active one)
  --nameserver <host:port>  ask this server instead of the listed ones (repeatable)
  --doh <url>             send directory queries by DNS over HTTPS (RFC 8484) to this URL
  --json                  machine-readable output on stdout
  --help                  this text

Exit codes:
  0 success              1 unexpected failure       2 usage error
  3 not found            4 security check failed (bad DNSSEC signature, expired signature,
                           changed identity key, key mismatch, tampered or expired card,
                           rejected message)
  5 not trusted (directory/provider not in the trust list, trust list expired or invalid)
  6 network, DNS or provider failure
`;

const OPTIONS = [
  'data-dir',
  'trust-list',
  'board-fingerprint',
  'directory',
  'nameserver',
  'provider',
  'session',
  'code',
  'publish',
  'prekeys',
  'minimum',
  'envelope',
  'mailbox',
  'address',
  'label',
  'ttl',
  'qr',
  'out',
  'contact',
  'doh',
];
const FLAGS = ['json', 'help', 'top-up', 'in-person', 'no-send'];

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  security: 4,
  untrusted: 5,
  network: 6,
} as const;

const EXIT_BY_CODE: Record<SwitchboardErrorCode, number> = {
  'invalid-input': EXIT.usage,
  'invalid-envelope': EXIT.security,
  'unsupported-version': EXIT.failure,
  'invalid-card': EXIT.security,
  'card-signature-invalid': EXIT.security,
  'card-expired': EXIT.security,
  'card-not-yet-valid': EXIT.security,
  'card-already-used': EXIT.security,
  'card-unknown': EXIT.security,
  'identity-key-changed': EXIT.security,
  'no-session': EXIT.notFound,
  'decrypt-failed': EXIT.security,
  'message-rejected': EXIT.security,
  'replayed-message': EXIT.security,
  'storage-failed': EXIT.failure,
  'not-found': EXIT.notFound,
  'bogus-signature': EXIT.security,
  expired: EXIT.security,
  'directory-record-invalid': EXIT.security,
  'unlisted-directory': EXIT.untrusted,
  'unlisted-provider': EXIT.untrusted,
  'trust-list-expired': EXIT.untrusted,
  'dns-failed': EXIT.network,
  'provider-key-mismatch': EXIT.security,
  'provider-error': EXIT.network,
  'network-failed': EXIT.network,
};

interface Io {
  json: boolean;
  out(human: string, data: unknown): void;
}

function makeIo(json: boolean): Io {
  return {
    json,
    out(human, data) {
      process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${human}\n`);
    },
  };
}

function dataDir(args: ParsedArgs): string {
  return resolve(
    one(args, 'data-dir') ?? process.env['SWITCHBOARD_HOME'] ?? join(homedir(), '.switchboard'),
  );
}

async function loadTrustList(args: ParsedArgs, dir: string): Promise<VerifiedTrustList> {
  const path = one(args, 'trust-list') ?? process.env['SWITCHBOARD_TRUST_LIST'];
  if (!path) throw new UsageError('give --trust-list <file> (or set SWITCHBOARD_TRUST_LIST)');
  let fingerprint = one(args, 'board-fingerprint') ?? process.env['SWITCHBOARD_BOARD_FINGERPRINT'];
  if (!fingerprint) {
    const dev = join(dirname(resolve(path)), 'board-fingerprint.txt');
    if (!existsSync(dev)) {
      throw new UsageError('give --board-fingerprint <hex> (or set SWITCHBOARD_BOARD_FINGERPRINT)');
    }
    process.stderr.write(
      'warning: using the development board fingerprint next to the trust list\n',
    );
    fingerprint = (await readFile(dev, 'utf8')).trim();
  }
  const statePath = join(dir, 'trust-state.json');
  let lastSeenVersion: number | undefined;
  try {
    lastSeenVersion = (JSON.parse(await readFile(statePath, 'utf8')) as { version: number })
      .version;
  } catch {
    lastSeenVersion = undefined;
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    throw new UsageError('cannot read the trust list file');
  }
  const list = verifyTrustList(bytes, {
    boardFingerprint: fingerprint,
    now: new Date(),
    ...(lastSeenVersion === undefined ? {} : { lastSeenVersion }),
  });
  if (lastSeenVersion === undefined || list.version > lastSeenVersion) {
    // Rollback protection: remember the highest version ever accepted.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(statePath, JSON.stringify({ version: list.version }), { mode: 0o600 });
  }
  return list;
}

async function phone(args: ParsedArgs): Promise<PhoneClient> {
  const dir = dataDir(args);
  const storage = new FileStorage(join(dir, 'store'));
  const trustList = await loadTrustList(args, dir);
  const nameservers = all(args, 'nameserver');
  const directoryId = one(args, 'directory');
  const doh = one(args, 'doh');
  return new PhoneClient({
    storage,
    trustList,
    dns: doh ? new DohTransport({ url: doh, http: fetchHttpClient() }) : new NodeDnsTransport(),
    http: fetchHttpClient(),
    ed25519: new NodeEd25519(),
    dnssecCrypto: nodeDnssecCrypto,
    ...(nameservers.length ? { nameservers } : {}),
    ...(directoryId ? { directoryId } : {}),
  });
}

function rendezvous(args: ParsedArgs): Rendezvous {
  return new Rendezvous({
    storage: new FileStorage(join(dataDir(args), 'store')),
    ed25519: new NodeEd25519(),
  });
}

function messenger(args: ParsedArgs, rv: Rendezvous): MailboxMessenger {
  return new MailboxMessenger({
    rendezvous: rv,
    http: fetchHttpClient(),
    ed25519: new NodeEd25519(),
  });
}

async function readCardArg(value: string | undefined): Promise<string> {
  if (!value) throw new UsageError('give the card as SBC1:... text or @file');
  if (value.startsWith('@')) {
    try {
      return (await readFile(value.slice(1), 'utf8')).trim();
    } catch {
      throw new UsageError('cannot read the card file');
    }
  }
  if (value === '-') return (await readStdin()).trim();
  return value;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function prompt(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  process.stderr.write(question);
  try {
    for await (const line of rl) return line;
    throw new UsageError('no code given on standard input');
  } finally {
    rl.close();
  }
}

function isPhone(target: string): boolean {
  return target.startsWith('+');
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number`);
  return n;
}

function contactsFromUris(uris: string[]): Contact[] {
  return uris.map((uri): Contact => {
    const scheme = uri.slice(0, uri.indexOf(':')).toLowerCase();
    const service = scheme === 'sips' ? 'sip' : scheme;
    if (service !== 'sip' && service !== 'xmpp' && service !== 'matrix') {
      throw new UsageError('--publish takes sip:, sips:, xmpp: or matrix: URIs');
    }
    return { service, uri };
  });
}

function describeConnection(c: Connection): Record<string, unknown> {
  return {
    contactId: c.contactId,
    label: c.label,
    channel: c.channel,
    establishedAt: new Date(c.establishedAt * 1000).toISOString(),
    reach: c.theirReach.map((r) =>
      r.kind === 'mailbox' ? { mailbox: r.provider } : { address: r.uri },
    ),
  };
}

async function run(argv: ReadonlyArray<string>): Promise<number> {
  const args = parseArgs(argv, { options: OPTIONS, flags: FLAGS });
  const io = makeIo(args.flags.has('json'));
  const [command, ...rest] = args.positionals;
  if (args.flags.has('help') || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !args.flags.has('help') ? EXIT.usage : EXIT.ok;
  }
  switch (command) {
    case 'lookup':
      return lookupCommand(args, rest, io);
    case 'register':
      return register(args, rest, io);
    case 'keys':
      return keysCommand(args, io);
    case 'send':
      return sendCommand(args, rest, io);
    case 'receive':
      return receiveCommand(args, io);
    case 'fingerprint':
      return fingerprintCommand(args, rest, io);
    case 'approve':
      return approveCommand(args, rest, io);
    case 'contacts':
      return contactsCommand(args, io);
    case 'card':
      return card(args, rest, io);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** `lookup <+E164>`: the number's directory entry, validated. */
async function lookupCommand(args: ParsedArgs, rest: string[], io: Io): Promise<number> {
  const number = rest[0];
  if (!number || rest.length > 1) throw new UsageError('usage: switchboard lookup <+E164>');
  const r = await (await phone(args)).lookup(number);
  const fp = await keyFingerprint(r.identityKey);
  io.out(
    [
      `number:      ${r.number}`,
      `enum name:   ${r.enumName}`,
      `dnssec:      ${r.dnssec.status} (validated here up to the trust anchor of "${r.dnssec.directoryId}", trust list v${r.dnssec.trustListVersion})`,
      `identity:    ${fp}`,
      `provider:    ${r.provider.name} (${r.provider.id})`,
      'contacts:',
      ...r.contacts.map((c, i) => `  ${i + 1}. ${c.service.padEnd(6)} ${c.uri}`),
    ].join('\n'),
    {
      number: r.number,
      enumName: r.enumName,
      dnssec: r.dnssec,
      identityKey: toBase64(r.identityKey),
      identityKeyFingerprint: fp,
      provider: { id: r.provider.id, name: r.provider.name, apiBaseUrl: r.provider.apiBaseUrl },
      contacts: r.contacts,
    },
  );
  return EXIT.ok;
}

/** `keys [--top-up]`: this device's identity and one-time prekeys. */
async function keysCommand(args: ParsedArgs, io: Io): Promise<number> {
  const client = await phone(args);
  const me = (await client.stores.identity.getIdentityKeyPair()).publicKey.serialize();
  const uploaded = args.flags.has('top-up')
    ? await client.topUpPrekeys({ minimum: positiveInt(one(args, 'minimum'), 'minimum', 20) })
    : 0;
  const local = await client.stores.countPreKeys();
  const fp = await keyFingerprint(me);
  io.out(
    [
      `identity:          ${fp}`,
      `one-time prekeys:  ${local} on this device`,
      ...(args.flags.has('top-up') ? [`uploaded now:      ${uploaded}`] : []),
    ].join('\n'),
    {
      identityKey: toBase64(me),
      identityKeyFingerprint: fp,
      localOneTimePreKeys: local,
      uploaded,
    },
  );
  return EXIT.ok;
}

/** `send <+E164|contact-id> <message>`: an envelope for a number, or a mailbox message. */
async function sendCommand(args: ParsedArgs, rest: string[], io: Io): Promise<number> {
  const [target, ...words] = rest;
  if (!target || words.length === 0)
    throw new UsageError('usage: switchboard send <+E164|contact-id> <message>');
  const message = utf8(words.join(' '));
  if (isPhone(target)) {
    const envelope = await (await phone(args)).encrypt(target, message);
    const text = envelopeToText(decodeEnvelope(envelope));
    io.out(text, { to: target, envelope: text });
  } else {
    const rv = rendezvous(args);
    const provider = await messenger(args, rv).send(target, message);
    io.out(`sent to ${target} via ${provider}`, { to: target, provider });
  }
  return EXIT.ok;
}

/** `receive --envelope <text|->` decrypts one envelope; `receive` reads the mailboxes. */
async function receiveCommand(args: ParsedArgs, io: Io): Promise<number> {
  const envArg = one(args, 'envelope');
  if (envArg !== undefined) {
    const text = envArg === '-' ? await readStdin() : envArg;
    const env = envelopeFromText(text);
    const client = await phone(args);
    const m = await client.decrypt(encodeEnvelope(env));
    const body = fromUtf8(m.plaintext) ?? toBase64(m.plaintext);
    io.out(`from ${m.from}: ${body}`, { from: m.from, message: body });
    return EXIT.ok;
  }
  const rv = rendezvous(args);
  const contact = one(args, 'contact');
  const result = await messenger(args, rv).receive(contact ? { contactId: contact } : {});
  const lines = result.messages.map(
    (m) => `from ${m.contactId}: ${fromUtf8(m.plaintext) ?? '(binary)'}`,
  );
  for (const c of result.completed)
    lines.push(`connected with ${c.contactId}${c.label ? ` (${c.label})` : ''}`);
  if (result.discarded > 0)
    lines.push(`discarded ${result.discarded} message(s) that failed verification`);
  io.out(lines.length ? lines.join('\n') : 'no new messages', {
    messages: result.messages.map((m) => ({
      from: m.contactId,
      message: fromUtf8(m.plaintext) ?? toBase64(m.plaintext),
    })),
    completed: result.completed.map(describeConnection),
    discarded: result.discarded,
  });
  return EXIT.ok;
}

/** `fingerprint <+E164|contact-id>`: the safety number, or the contact's key fingerprint. */
async function fingerprintCommand(args: ParsedArgs, rest: string[], io: Io): Promise<number> {
  const target = rest[0];
  if (!target) throw new UsageError('usage: switchboard fingerprint <+E164|contact-id>');
  if (isPhone(target)) {
    const sn = await (await phone(args)).safetyNumber(target);
    io.out(`safety number with ${target}:\n${sn.display}`, {
      contact: target,
      safetyNumber: sn.display,
    });
  } else {
    const c = await rendezvous(args).connection(target);
    const fp = await keyFingerprint(c.theirContactKey);
    io.out(
      `key of ${target}: ${fp} (card ${c.channel === 'in-person' ? 'scanned in person' : 'received remotely'})`,
      {
        contact: target,
        keyFingerprint: fp,
        channel: c.channel,
      },
    );
  }
  return EXIT.ok;
}

/** `approve <+E164>`: accepts the number's new identity key. */
async function approveCommand(args: ParsedArgs, rest: string[], io: Io): Promise<number> {
  const number = rest[0];
  if (!number || !isPhone(number)) throw new UsageError('usage: switchboard approve <+E164>');
  const client = await phone(args);
  const r = await client.approveNewIdentity(number);
  const sn = await client.safetyNumber(r.number);
  io.out(`accepted the new key of ${r.number}; new safety number:\n${sn.display}`, {
    contact: r.number,
    safetyNumber: sn.display,
  });
  return EXIT.ok;
}

/** `contacts`: the connections made by card exchange. */
async function contactsCommand(args: ParsedArgs, io: Io): Promise<number> {
  const list = await rendezvous(args).connections();
  io.out(
    list.length
      ? list.map((c) => `${c.contactId}  ${c.label || '-'}  ${c.channel}`).join('\n')
      : 'no contacts yet',
    list.map(describeConnection),
  );
  return EXIT.ok;
}

interface RegisterTarget {
  readonly number?: string;
  readonly provider: string;
  readonly session?: string;
  readonly token?: string;
  readonly publish: string[];
}

/** `register <+E164>`, `register --session <id>` or `register <switchboard://register?...>`. */
function registerTarget(args: ParsedArgs, rest: string[]): RegisterTarget {
  const usage =
    'usage: switchboard register <+E164> --provider <id|url>, register --provider <id|url> --session <id>, or register <switchboard://register?...>';
  if (rest.length > 1) throw new UsageError(usage);
  const first = rest[0];
  const fromLink = first?.toLowerCase().startsWith('switchboard:') ? parseLink(first) : undefined;
  const provider = one(args, 'provider') ?? fromLink?.provider;
  const session = one(args, 'session') ?? fromLink?.session;
  const token = fromLink?.token;
  const number = fromLink ? undefined : first;
  if (!provider || (!number && !session && !token)) throw new UsageError(usage);
  if (number && session) throw new UsageError('give either a number or --session, not both');
  if (fromLink && one(args, 'provider') && one(args, 'provider') !== fromLink.provider) {
    throw new UsageError('--provider differs from the provider in the link');
  }
  return {
    provider,
    publish: [...(fromLink?.publish ?? []), ...all(args, 'publish')],
    ...(number ? { number } : {}),
    ...(session ? { session } : {}),
    ...(token ? { token } : {}),
  };
}

/**
 * A registration link from the provider's page: switchboard://register?provider=&token=
 * (single-use hand-over token) or &session= (a verified session id), and &publish= contacts.
 */
function parseLink(text: string): {
  provider: string;
  session?: string;
  token?: string;
  publish: string[];
} {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError('the registration link is not a valid switchboard:// link');
  }
  const provider = url.searchParams.get('provider');
  const session = url.searchParams.get('session');
  const token = url.searchParams.get('token');
  const ok = url.protocol === 'switchboard:' && url.hostname === 'register' && provider;
  if (!ok || (session === null) === (token === null)) {
    throw new UsageError(
      'the registration link must look like switchboard://register?provider=...&token=... (or &session=...)',
    );
  }
  return {
    provider,
    publish: url.searchParams.getAll('publish'),
    ...(session === null ? {} : { session }),
    ...(token === null ? {} : { token }),
  };
}

async function register(args: ParsedArgs, rest: string[], io: Io): Promise<number> {
  const target = registerTarget(args, rest);
  const client = await phone(args);
  const providerId = client.providerId(target.provider);
  const code = one(args, 'code');
  const account = await client.register({
    providerId,
    ...(target.number ? { number: target.number } : {}),
    ...(target.session ? { sessionId: target.session } : {}),
    ...(target.token ? { handoverToken: target.token } : {}),
    getCode: async () => code ?? (await prompt('Enter the code you received: ')),
    publishContacts: contactsFromUris(target.publish),
    oneTimePreKeys: positiveInt(one(args, 'prekeys'), 'prekeys', 100),
  });
  const me = (await client.stores.identity.getIdentityKeyPair()).publicKey.serialize();
  const fp = await keyFingerprint(me);
  io.out(
    `registered ${account.number} at ${providerId}${account.discoverable ? ', published in the directory' : ''}\nidentity:    ${fp}`,
    {
      number: account.number,
      provider: providerId,
      accountId: account.accountId,
      discoverable: account.discoverable,
      identityKeyFingerprint: fp,
    },
  );
  return EXIT.ok;
}

/** The reach options `card create` and `card accept` share. */
type ReachOptions = {
  mailboxProviders: string[];
  networkAddresses: string[];
  label?: string;
};

async function card(args: ParsedArgs, rest: string[], io: Io): Promise<number> {
  const [sub, value] = rest;
  const rv = rendezvous(args);
  const channel: CardChannel = args.flags.has('in-person') ? 'in-person' : 'remote';
  const reachOptions: ReachOptions = {
    mailboxProviders: all(args, 'mailbox'),
    networkAddresses: all(args, 'address'),
    ...(one(args, 'label') === undefined ? {} : { label: one(args, 'label')! }),
  };
  switch (sub) {
    case 'create':
      return cardCreate(args, rv, reachOptions, io);
    case 'accept':
      return cardAccept(args, rv, await readCardArg(value), channel, reachOptions, io);
    case 'complete': {
      const c = await rv.completeExchange(await readCardArg(value), channel);
      io.out(
        `connected with ${c.contactId}${c.label ? ` (${c.label})` : ''}`,
        describeConnection(c),
      );
      return EXIT.ok;
    }
    default:
      throw new UsageError('usage: switchboard card create|accept|complete ...');
  }
}

/** `card create`: a new offer card, printed, as a QR code, or written to --out. */
async function cardCreate(
  args: ParsedArgs,
  rv: Rendezvous,
  reachOptions: ReachOptions,
  io: Io,
): Promise<number> {
  const ttl = one(args, 'ttl');
  const offer = await rv.createOffer({
    ...reachOptions,
    ...(ttl ? { ttlSeconds: positiveInt(ttl, 'ttl', 0) } : {}),
  });
  const qr = one(args, 'qr');
  const out = one(args, 'out');
  if (qr === 'png' || qr === 'svg') {
    if (!out) throw new UsageError(`--qr ${qr} needs --out <file>`);
    await writeFile(
      out,
      qr === 'png' ? await cardQrPng(offer.text) : await cardQr(offer.text, 'svg'),
    );
  } else if (qr !== undefined && qr !== 'terminal') {
    throw new UsageError('--qr takes terminal, svg or png');
  } else if (out) {
    await writeFile(out, `${offer.text}\n`);
  }
  const terminal = qr === 'terminal' && !io.json ? `${await cardQr(offer.text, 'terminal')}\n` : '';
  io.out(`${terminal}${offer.text}`, {
    card: offer.text,
    bytes: offer.bytes.length,
    expiresAt: new Date(offer.card.expiresAt * 1000).toISOString(),
  });
  return EXIT.ok;
}

/** `card accept`: answers an offer card, delivering the reply to their mailbox when it can. */
async function cardAccept(
  args: ParsedArgs,
  rv: Rendezvous,
  text: string,
  channel: CardChannel,
  reachOptions: ReachOptions,
  io: Io,
): Promise<number> {
  const accepted = await rv.acceptOffer(text, channel, reachOptions);
  const offer = openCard(cardFromText(text), Math.floor(Date.now() / 1000));
  let deliveredTo: string | undefined;
  if (!args.flags.has('no-send') && offer.card.reach.some((r) => r.kind === 'mailbox')) {
    deliveredTo = await messenger(args, rv).sendReply(text, accepted.reply, accepted.connection);
  }
  const replyQr =
    one(args, 'qr') === 'terminal' && !deliveredTo && !io.json
      ? [await cardQr(accepted.reply.text, 'terminal')]
      : [];
  io.out(
    [
      `connected with ${accepted.connection.contactId}${accepted.connection.label ? ` (${accepted.connection.label})` : ''}`,
      ...replyQr,
      deliveredTo
        ? `reply card delivered to their mailbox at ${deliveredTo}`
        : 'show them this reply card:',
      ...(deliveredTo ? [] : [accepted.reply.text]),
    ].join('\n'),
    {
      contact: describeConnection(accepted.connection),
      reply: accepted.reply.text,
      deliveredTo: deliveredTo ?? null,
    },
  );
  return EXIT.ok;
}

function fail(err: unknown, json: boolean): number {
  let code: number;
  let kind: string;
  let message: string;
  if (err instanceof UsageError) {
    code = EXIT.usage;
    kind = 'usage';
    message = `${err.message}\n(see switchboard --help)`;
  } else if (err instanceof SwitchboardError) {
    code = EXIT_BY_CODE[err.code] ?? EXIT.failure;
    kind = err.code;
    message = err.message;
    if (err instanceof IdentityKeyChangedError) {
      message +=
        '\nrun `switchboard fingerprint` with the contact and compare the safety numbers in person';
    }
  } else if (isCharterError(err)) {
    code = EXIT.untrusted;
    kind = `trust-list-${err.code}`;
    message = `the trust list was refused: ${err.message}`;
  } else {
    code = EXIT.failure;
    kind = 'internal';
    message =
      'unexpected failure; run again or report it (no details are printed, to avoid leaking data)';
  }
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: kind, message } })}\n`);
  process.stderr.write(`switchboard: ${message}\n`);
  return code;
}

const jsonMode = process.argv.includes('--json');
run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = fail(err, jsonMode);
  },
);
