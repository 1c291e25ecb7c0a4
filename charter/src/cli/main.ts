// switchboard-charter: the board's tool. Human output by default, --json for machines.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { diffTrustLists, formatTrustListDiff } from '../governance/diff.js';
import type { TrustListEdit } from '../governance/edit.js';
import {
  addDirectory,
  addProvider,
  createTrustList,
  draftNextVersion,
  setBoard,
  setDirectoryStatus,
  setExpiry,
  setProviderStatus,
} from '../governance/edit.js';
import { CharterError } from '../trust-list/errors.js';
import { boardKeyRecord, generateEd25519KeyPair, publicKeyRecord } from '../trust-list/keys.js';
import {
  boardFingerprint,
  loadTrustList,
  serializeTrustList,
  trustListDigest,
} from '../verify/load.js';
import {
  ensureDevelopmentTrustList,
  readPrivateKeyFile,
  readTrustListFile,
  writeFileAtomic,
  writePrivateKeyFile,
  writeTrustListFile,
} from '../node.js';
import { trustListSchema } from '../trust-list/schema.js';
import type { DetachedSignature } from '../governance/sign.js';
import { combineSignatures, detachedSignature, signTrustList } from '../governance/sign.js';
import { parseStrictJson } from '../trust-list/strict-json.js';
import type {
  Board,
  BoardKey,
  EntryStatus,
  PublicKeyRecord,
  SignedTrustList,
  VerifiedTrustList,
} from '../trust-list/types.js';
import type { VerifyOptions } from '../verify/verify.js';
import { verifyTrustList } from '../verify/verify.js';
import { runAudit } from '../audit/run.js';
import { formatAuditReport } from '../audit/report.js';
import {
  UsageError,
  parseAnchor,
  parseDuration,
  parseInstant,
  parseNetworks,
  parsePositiveInt,
} from './args.js';

/** Exit codes (documented in `--help` and the README). */
export const EXIT = {
  ok: 0,
  /** A check failed: the list does not verify, an edit is refused, an audit found a failure. */
  refused: 1,
  usage: 2,
  /** A file could not be read or written, or a network peer could not be reached. */
  io: 3,
} as const;

/** Where the CLI writes. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** The clock; `--now` overrides it. */
  readonly now: () => Date;
}

export const HELP = `switchboard-charter <command> [options]

Board keys
  keygen --name <name> --out <file.key>       new Ed25519 key: <file.key> (0600) and <file>.pub
  pubkey <file.key|file.pub>                  print a key's public record

Lists (edits write an unsigned draft: version+1 if the input was signed; --out or in place)
  init --board-key <file>... --threshold <k> --out <list.json> [--expires-in 90d]
  add-directory <list> --id <id> --operator <name> --apex <name.> --anchor "<DS|DNSKEY ...>"...
                --nameserver <host:port>... --publish-endpoint <url>
  add-provider <list> --id <id> --name <name> --api-base-url <url> --publishing-key <file|base64>...
                --network <sip|xmpp|matrix|mailbox>... [--not-before <t>] --not-after <t>
  suspend | revoke | reinstate <list> (--directory <id> | --provider <id>) [--reason <text>]
  set-board <list> --board-key <file>... --threshold <k>     rotate the board
  renew <list> (--expires-in <90d> | --expires <t>)
  sign <list> --key <file.key> [--detached <sig.json>] [--out <file>]
  combine <list> <signed-list|sig.json>... [--out <file>]
  verify <list> (--board-fingerprint <hex> | --board-key <file>... --threshold <k> | --previous <list>)
                [--last-seen-version <n>]      (--previous: your trusted copy of the last version)
  show <list>            diff <old> <new>            fingerprint <list>            schema
  dev-init --dir <dir>   development board (3 keys, threshold 2) and a signed list, if absent

Audit (against running services; what each check means: CHARTER.md section 7)
  audit --list <list> (--board-fingerprint <hex> | --board-key <file>... --threshold <k>)
        [--directory <id> [--dns <host:port>] [--probe-name <name>] [--directory-openapi <file>]]
        [--provider <id> [--provider-url <url>] [--openapi <file>] [--rate-limit-path <path>]]
        [--burst <n>] [--timeout-ms <n>]

Common: --json (machine output), --now <t> (judge time), -h/--help
Exit codes: 0 ok; 1 refused (verification failed, edit refused, audit failure);
            2 usage error; 3 I/O error (file or network)`;

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  now: { type: 'string' },
  out: { type: 'string' },
  name: { type: 'string' },
  id: { type: 'string' },
  operator: { type: 'string' },
  apex: { type: 'string' },
  anchor: { type: 'string', multiple: true },
  nameserver: { type: 'string', multiple: true },
  'publish-endpoint': { type: 'string' },
  'api-base-url': { type: 'string' },
  'publishing-key': { type: 'string', multiple: true },
  network: { type: 'string', multiple: true },
  'not-before': { type: 'string' },
  'not-after': { type: 'string' },
  directory: { type: 'string' },
  provider: { type: 'string' },
  reason: { type: 'string' },
  'board-key': { type: 'string', multiple: true },
  threshold: { type: 'string' },
  'expires-in': { type: 'string' },
  expires: { type: 'string' },
  key: { type: 'string' },
  detached: { type: 'string' },
  'board-fingerprint': { type: 'string' },
  previous: { type: 'string' },
  'last-seen-version': { type: 'string' },
  dir: { type: 'string' },
  list: { type: 'string' },
  dns: { type: 'string' },
  'probe-name': { type: 'string' },
  'provider-url': { type: 'string' },
  openapi: { type: 'string' },
  'directory-openapi': { type: 'string' },
  'rate-limit-path': { type: 'string' },
  burst: { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>
>['values'];

interface Ctx {
  readonly values: Values;
  readonly positionals: readonly string[];
  readonly io: CliIo;
  readonly now: Date;
  readonly json: boolean;
}

/** Runs one command; returns the exit code. Never throws. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let ctx: Ctx;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const now = values.now === undefined ? io.now() : parseInstant(values.now, '--now');
    ctx = { values, positionals, io, now, json: values.json === true };
  } catch (err) {
    io.err(`switchboard-charter: ${(err as Error).message}`);
    io.err('run "switchboard-charter --help" for usage');
    return EXIT.usage;
  }
  const [command, ...rest] = ctx.positionals;
  if (ctx.values.help === true || command === undefined || command === 'help') {
    io.out(HELP);
    return command === undefined && ctx.values.help !== true ? EXIT.usage : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    io.err(`switchboard-charter: unknown command "${command}"; run --help`);
    return EXIT.usage;
  }
  try {
    return await run({ ...ctx, positionals: rest });
  } catch (err) {
    return report(err, ctx);
  }
}

function report(err: unknown, ctx: Ctx): number {
  if (err instanceof UsageError) {
    ctx.io.err(`switchboard-charter: ${err.message}`);
    return EXIT.usage;
  }
  if (CharterError.is(err)) {
    if (ctx.json)
      ctx.io.out(
        JSON.stringify({ ok: false, code: err.code, message: err.message, where: err.where }),
      );
    ctx.io.err(`refused (${err.code}): ${err.message}`);
    return EXIT.refused;
  }
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string' && typeof e.syscall === 'string') {
    ctx.io.err(`switchboard-charter: ${e.syscall} ${e.path ?? ''}: ${e.code}`.replace(/\s+:/, ':'));
    return EXIT.io;
  }
  ctx.io.err(`switchboard-charter: unexpected error: ${e.message}`);
  return EXIT.io;
}

type Command = (ctx: Ctx) => Promise<number>;

function need(value: string | undefined, option: string): string {
  if (value === undefined || value === '') throw new UsageError(`${option} is required`);
  return value;
}

function onePositional(ctx: Ctx, what: string): string {
  if (ctx.positionals.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return ctx.positionals[0] as string;
}

function print(ctx: Ctx, human: readonly string[], json: unknown): void {
  if (ctx.json) ctx.io.out(JSON.stringify(json, null, 2));
  else for (const line of human) ctx.io.out(line);
}

function publicPathFor(path: string): string {
  return path.endsWith('.key') ? `${path.slice(0, -4)}.pub` : `${path}.pub`;
}

/** A key's public record from a `.pub` file, a `.key` file, or a bare base64 key. */
async function readPublicKey(spec: string): Promise<PublicKeyRecord & { name: string }> {
  if (/^[A-Za-z0-9+/]{43}=$/.test(spec))
    return { ...publicKeyRecord({ publicKey: spec }), name: 'key' };
  const text = await readFile(spec, 'utf8');
  const value = parseStrictJson(text) as {
    type?: unknown;
    name?: unknown;
    publicKey?: unknown;
  } | null;
  if (
    value !== null &&
    typeof value === 'object' &&
    value.type === 'switchboard-ed25519-private-key'
  ) {
    const key = await readPrivateKeyFile(spec);
    return { keyid: key.keyid, publicKey: key.publicKey, name: key.name };
  }
  if (
    value === null ||
    typeof value !== 'object' ||
    value.type !== 'switchboard-ed25519-public-key' ||
    typeof value.publicKey !== 'string' ||
    typeof value.name !== 'string'
  ) {
    throw new UsageError(`${spec} is not a switchboard key file`);
  }
  return { ...publicKeyRecord({ publicKey: value.publicKey }), name: value.name };
}

async function boardFromOptions(ctx: Ctx): Promise<Board> {
  const files = ctx.values['board-key'] ?? [];
  if (files.length === 0) throw new UsageError('--board-key is required (one per board member)');
  const keys: BoardKey[] = [];
  for (const f of files) {
    const k = await readPublicKey(f);
    keys.push(boardKeyRecord(k, k.name));
  }
  return {
    threshold: parsePositiveInt(need(ctx.values.threshold, '--threshold'), '--threshold'),
    keys,
  };
}

/** CHARTER.md 2.1.6: a list expires no more than 90 days after it is issued. */
const MAX_VALIDITY_MS = 90 * 86_400_000;

function expiryFromOptions(ctx: Ctx, fallback?: string): Date {
  const span = ctx.values['expires-in'] ?? fallback;
  if (ctx.values.expires === undefined && span === undefined) {
    throw new UsageError('--expires-in or --expires is required');
  }
  const expires =
    ctx.values.expires !== undefined
      ? parseInstant(ctx.values.expires, '--expires')
      : new Date(ctx.now.getTime() + parseDuration(span as string, '--expires-in'));
  if (expires.getTime() - ctx.now.getTime() > MAX_VALIDITY_MS) {
    throw new UsageError('a list may be valid for at most 90 days after issue (CHARTER.md 2.1.6)');
  }
  if (expires.getTime() <= ctx.now.getTime())
    throw new UsageError('the expiry must be in the future');
  return expires;
}

async function writeDraft(
  ctx: Ctx,
  listPath: string,
  draft: SignedTrustList,
  what: string,
): Promise<number> {
  const out = ctx.values.out ?? listPath;
  await writeTrustListFile(out, draft);
  print(
    ctx,
    [
      `${what}`,
      `wrote ${out}: version ${draft.signed.version}, unsigned draft (digest ${trustListDigest(draft.signed).slice(0, 16)})`,
      `next: each board member runs "switchboard-charter sign ${out} --key <their.key>", then "combine"`,
    ],
    {
      ok: true,
      path: out,
      version: draft.signed.version,
      digest: trustListDigest(draft.signed),
      signed: false,
    },
  );
  return EXIT.ok;
}

async function editCommand(ctx: Ctx, what: string, ...edits: TrustListEdit[]): Promise<number> {
  const listPath = onePositional(ctx, 'trust list file');
  const current = await readTrustListFile(listPath);
  return writeDraft(ctx, listPath, draftNextVersion(current, ctx.now, ...edits), what);
}

function statusCommand(status: EntryStatus): Command {
  return async (ctx) => {
    const { directory, provider } = ctx.values;
    if ((directory === undefined) === (provider === undefined)) {
      throw new UsageError('give exactly one of --directory <id> or --provider <id>');
    }
    const edit =
      directory !== undefined
        ? setDirectoryStatus(directory, status, ctx.values.reason)
        : setProviderStatus(provider as string, status, ctx.values.reason);
    const label = directory !== undefined ? `directory ${directory}` : `provider ${provider}`;
    return editCommand(ctx, `${label}: status set to ${status}`, edit);
  };
}

/** The root of trust for `verify` and `audit`. */
async function verifyOptions(ctx: Ctx): Promise<VerifyOptions> {
  const lastSeen =
    ctx.values['last-seen-version'] === undefined
      ? {}
      : {
          lastSeenVersion: parsePositiveInt(ctx.values['last-seen-version'], '--last-seen-version'),
        };
  if (ctx.values['board-fingerprint'] !== undefined) {
    return {
      now: ctx.now,
      boardFingerprint: ctx.values['board-fingerprint'].toLowerCase(),
      ...lastSeen,
    };
  }
  if (ctx.values['board-key'] !== undefined) {
    return { now: ctx.now, boardKeys: await boardFromOptions(ctx), ...lastSeen };
  }
  if (ctx.values.previous !== undefined) {
    // The previous list is the operator's own trusted copy: checked against its own board, at
    // the time it was issued (its expiry does not matter, only its board and version).
    const prev = await readTrustListFile(ctx.values.previous);
    const previous = verifyTrustList(prev, {
      now: new Date(prev.signed.issuedAt),
      boardKeys: prev.signed.board,
    });
    return { now: ctx.now, previous, ...lastSeen };
  }
  throw new UsageError(
    'give a root of trust: --board-fingerprint, --board-key with --threshold, or --previous',
  );
}

function describeList(list: SignedTrustList, verified?: VerifiedTrustList): string[] {
  const b = list.signed;
  const lines = [
    `trust list version ${b.version}, issued ${b.issuedAt}, expires ${b.expires}`,
    `digest ${trustListDigest(b)}`,
    `board: ${b.board.threshold} of ${b.board.keys.length}, fingerprint ${boardFingerprint(b.board)}`,
    ...b.board.keys.map(
      (k) =>
        `  ${verified?.signedBy.includes(k.keyid) === true ? 'signed ' : '       '}${k.name} (keyid ${k.keyid.slice(0, 16)})`,
    ),
    `signatures: ${list.signatures.length}`,
    `directories: ${b.directories.length}`,
    ...b.directories.map(
      (d) =>
        `  ${d.id}  ${d.status}  ${d.apex}  ns ${d.nameservers.join(' ')}  publish ${d.publishEndpoint}` +
        (d.statusReason === undefined ? '' : `  (${d.statusReason})`),
    ),
    `providers: ${b.providers.length}`,
    ...b.providers.map(
      (p) =>
        `  ${p.id}  ${p.status}  "${p.name}"  ${p.apiBaseUrl}  ${p.networks.join(',')}  ${p.accreditation.notBefore}..${p.accreditation.notAfter}` +
        (p.statusReason === undefined ? '' : `  (${p.statusReason})`),
    ),
  ];
  return lines;
}

async function readSignatureOrList(path: string): Promise<SignedTrustList | DetachedSignature> {
  const bytes = await readFile(path);
  const value = parseStrictJson(new TextDecoder().decode(bytes)) as { type?: unknown } | null;
  if (
    value !== null &&
    typeof value === 'object' &&
    value.type === 'switchboard-trust-list-signature'
  ) {
    const v = value as Partial<DetachedSignature>;
    if (
      typeof v.keyid !== 'string' ||
      typeof v.sig !== 'string' ||
      typeof v.digest !== 'string' ||
      typeof v.version !== 'number'
    ) {
      throw new CharterError('schema-violation', `${path} is not a valid detached signature`);
    }
    return v as DetachedSignature;
  }
  return loadTrustList(bytes);
}

const COMMANDS: Readonly<Record<string, Command>> = {
  async keygen(ctx) {
    const out = need(ctx.values.out, '--out');
    const name = need(ctx.values.name, '--name');
    const pair = generateEd25519KeyPair();
    await writePrivateKeyFile(out, { ...pair, name });
    const pub = {
      type: 'switchboard-ed25519-public-key',
      name,
      keyid: pair.keyid,
      publicKey: pair.publicKey,
    };
    const pubPath = publicPathFor(out);
    await writeFileAtomic(pubPath, `${JSON.stringify(pub, null, 2)}\n`, 0o644);
    print(
      ctx,
      [
        `private key: ${out} (mode 0600; keep it offline, never share it)`,
        `public key:  ${pubPath} (give this to whoever assembles the board)`,
        `keyid ${pair.keyid}`,
      ],
      {
        ok: true,
        privateKeyPath: out,
        publicKeyPath: pubPath,
        name,
        keyid: pair.keyid,
        publicKey: pair.publicKey,
      },
    );
    return EXIT.ok;
  },

  async pubkey(ctx) {
    const k = await readPublicKey(onePositional(ctx, 'key file'));
    print(ctx, [`${k.name} keyid ${k.keyid}`, `public key ${k.publicKey}`], { ok: true, ...k });
    return EXIT.ok;
  },

  async init(ctx) {
    const out = need(ctx.values.out, '--out');
    const board = await boardFromOptions(ctx);
    const draft = createTrustList({ board, now: ctx.now, expires: expiryFromOptions(ctx, '90d') });
    await writeFile(out, serializeTrustList(draft), { flag: 'wx', mode: 0o644 }).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST')
          throw new UsageError(`${out} already exists; init makes a new list`);
        throw err;
      },
    );
    return writeDraft(
      ctx,
      out,
      draft,
      `new trust list with a board of ${board.keys.length} (threshold ${board.threshold})`,
    );
  },

  async 'add-directory'(ctx) {
    const v = ctx.values;
    const anchors = (v.anchor ?? []).map(parseAnchor);
    if (anchors.length === 0)
      throw new UsageError('--anchor is required (DS or DNSKEY of the apex)');
    const nameservers = v.nameserver ?? [];
    if (nameservers.length === 0) throw new UsageError('--nameserver <host:port> is required');
    const apex = need(v.apex, '--apex').toLowerCase();
    return editCommand(
      ctx,
      `added directory ${need(v.id, '--id')}`,
      addDirectory({
        id: need(v.id, '--id'),
        operator: need(v.operator, '--operator'),
        apex: apex.endsWith('.') ? apex : `${apex}.`,
        trustAnchors: anchors,
        nameservers,
        publishEndpoint: need(v['publish-endpoint'], '--publish-endpoint'),
        status: 'active',
      }),
    );
  },

  async 'add-provider'(ctx) {
    const v = ctx.values;
    const keys: PublicKeyRecord[] = [];
    for (const spec of v['publishing-key'] ?? []) {
      const k = await readPublicKey(spec);
      keys.push({ keyid: k.keyid, publicKey: k.publicKey });
    }
    if (keys.length === 0)
      throw new UsageError('--publishing-key is required (file or base64 Ed25519 key)');
    const notBefore =
      v['not-before'] === undefined ? ctx.now : parseInstant(v['not-before'], '--not-before');
    const notAfter = parseInstant(need(v['not-after'], '--not-after'), '--not-after');
    return editCommand(
      ctx,
      `added provider ${need(v.id, '--id')}`,
      addProvider({
        id: need(v.id, '--id'),
        name: need(v.name, '--name'),
        apiBaseUrl: need(v['api-base-url'], '--api-base-url'),
        publishingKeys: keys,
        networks: parseNetworks(v.network ?? []),
        accreditation: {
          notBefore: `${notBefore.toISOString().slice(0, 19)}Z`,
          notAfter: `${notAfter.toISOString().slice(0, 19)}Z`,
        },
        status: 'active',
      }),
    );
  },

  suspend: statusCommand('suspended'),
  revoke: statusCommand('revoked'),
  reinstate: statusCommand('active'),

  async 'set-board'(ctx) {
    const board = await boardFromOptions(ctx);
    return editCommand(
      ctx,
      `board rotated to ${board.keys.length} key(s), threshold ${board.threshold}: the OLD and the NEW board must both sign`,
      setBoard(board),
    );
  },

  async renew(ctx) {
    const expires = expiryFromOptions(ctx);
    return editCommand(ctx, `expiry set to ${expires.toISOString()}`, setExpiry(expires));
  },

  async sign(ctx) {
    const listPath = onePositional(ctx, 'trust list file');
    const list = await readTrustListFile(listPath);
    const key = await readPrivateKeyFile(need(ctx.values.key, '--key'));
    const onBoard = list.signed.board.keys.some((k) => k.keyid === key.keyid);
    const notes = onBoard
      ? []
      : [
          'note: this key is not on the list’s board; that is right only for an outgoing member signing a rotation',
        ];
    if (ctx.values.detached !== undefined) {
      const sig = detachedSignature(list.signed, key.privateKey);
      await writeFileAtomic(ctx.values.detached, `${JSON.stringify(sig, null, 2)}\n`, 0o644);
      print(
        ctx,
        [
          ...notes,
          `wrote detached signature ${ctx.values.detached} by ${key.name} over version ${sig.version}`,
        ],
        {
          ok: true,
          path: ctx.values.detached,
          keyid: key.keyid,
          version: sig.version,
          digest: sig.digest,
          onBoard,
        },
      );
      return EXIT.ok;
    }
    const signed = combineSignatures(list, [
      { signed: list.signed, signatures: [signTrustList(list.signed, key.privateKey)] },
    ]);
    const out = ctx.values.out ?? listPath;
    await writeTrustListFile(out, signed);
    print(
      ctx,
      [
        ...notes,
        `${key.name} signed version ${list.signed.version}; ${signed.signatures.length} signature(s) in ${out}`,
      ],
      {
        ok: true,
        path: out,
        keyid: key.keyid,
        version: list.signed.version,
        signatures: signed.signatures.length,
        onBoard,
      },
    );
    return EXIT.ok;
  },

  async combine(ctx) {
    const [listPath, ...others] = ctx.positionals;
    if (listPath === undefined || others.length === 0) {
      throw new UsageError('combine <list> <signed-list|sig.json>...');
    }
    const base = await readTrustListFile(listPath);
    const inputs = await Promise.all(others.map(readSignatureOrList));
    const combined = combineSignatures(base, inputs);
    const out = ctx.values.out ?? listPath;
    await writeTrustListFile(out, combined);
    print(
      ctx,
      [
        `${combined.signatures.length} signature(s) on version ${combined.signed.version} in ${out}`,
      ],
      {
        ok: true,
        path: out,
        version: combined.signed.version,
        signatures: combined.signatures.length,
      },
    );
    return EXIT.ok;
  },

  async verify(ctx) {
    const listPath = onePositional(ctx, 'trust list file');
    const bytes = await readFile(listPath);
    const options = await verifyOptions(ctx);
    const verified = verifyTrustList(bytes, options);
    print(ctx, ['OK: the list verifies', ...describeList(verified.envelope, verified)], {
      ok: true,
      version: verified.version,
      expires: verified.body.expires,
      digest: verified.digest,
      signedBy: verified.signedBy,
      boardFingerprint: boardFingerprint(verified.body.board),
    });
    return EXIT.ok;
  },

  async show(ctx) {
    const list = await readTrustListFile(onePositional(ctx, 'trust list file'));
    print(ctx, describeList(list), list);
    return EXIT.ok;
  },

  async diff(ctx) {
    if (ctx.positionals.length !== 2) throw new UsageError('diff <old-list> <new-list>');
    const [a, b] = await Promise.all(ctx.positionals.map((p) => readTrustListFile(p)));
    if (a === undefined || b === undefined) throw new UsageError('diff <old-list> <new-list>');
    const changes = diffTrustLists(a.signed, b.signed);
    const lines = formatTrustListDiff(changes);
    print(ctx, lines.length === 0 ? ['no differences'] : lines, { ok: true, changes });
    return EXIT.ok;
  },

  async fingerprint(ctx) {
    const list = await readTrustListFile(onePositional(ctx, 'trust list file'));
    const fp = boardFingerprint(list.signed.board);
    print(ctx, [fp], { ok: true, boardFingerprint: fp });
    return EXIT.ok;
  },

  async schema(ctx) {
    ctx.io.out(JSON.stringify(trustListSchema, null, 2));
    return EXIT.ok;
  },

  async 'dev-init'(ctx) {
    const dir = need(ctx.values.dir, '--dir');
    const state = await ensureDevelopmentTrustList({ dir, now: ctx.now });
    print(
      ctx,
      [
        `${state.created ? 'created' : 'found'} development trust list ${state.listPath} (version ${state.envelope.signed.version})`,
        `board fingerprint ${boardFingerprint(state.devBoard.board)} (in ${state.fingerprintPath})`,
        `board keys: ${state.boardKeyPaths.join(', ')} (development only)`,
      ],
      {
        ok: true,
        created: state.created,
        listPath: state.listPath,
        version: state.envelope.signed.version,
        boardFingerprint: boardFingerprint(state.devBoard.board),
        boardKeyPaths: state.boardKeyPaths,
      },
    );
    return EXIT.ok;
  },

  async audit(ctx) {
    const v = ctx.values;
    const listPath = need(v.list, '--list');
    const verified = verifyTrustList(await readFile(listPath), await verifyOptions(ctx));
    if (v.directory === undefined && v.provider === undefined) {
      throw new UsageError('audit needs --directory <id> and/or --provider <id>');
    }
    const openapi =
      v.openapi === undefined
        ? undefined
        : { path: v.openapi, text: await readFile(v.openapi, 'utf8') };
    const directoryOpenapi =
      v['directory-openapi'] === undefined
        ? undefined
        : { path: v['directory-openapi'], text: await readFile(v['directory-openapi'], 'utf8') };
    const auditReport = await runAudit({
      list: verified,
      now: ctx.now,
      ...(v.directory === undefined ? {} : { directoryId: v.directory }),
      ...(v.dns === undefined ? {} : { dns: v.dns }),
      ...(v['probe-name'] === undefined ? {} : { probeName: v['probe-name'] }),
      ...(directoryOpenapi === undefined ? {} : { directoryOpenapi }),
      ...(v.provider === undefined ? {} : { providerId: v.provider }),
      ...(v['provider-url'] === undefined ? {} : { providerUrl: v['provider-url'] }),
      ...(openapi === undefined ? {} : { openapi }),
      ...(v['rate-limit-path'] === undefined ? {} : { rateLimitPath: v['rate-limit-path'] }),
      ...(v.burst === undefined ? {} : { burst: parsePositiveInt(v.burst, '--burst') }),
      ...(v['timeout-ms'] === undefined
        ? {}
        : { timeoutMs: parsePositiveInt(v['timeout-ms'], '--timeout-ms') }),
    });
    if (ctx.json) ctx.io.out(JSON.stringify(auditReport, null, 2));
    else for (const line of formatAuditReport(auditReport)) ctx.io.out(line);
    return auditReport.passed ? EXIT.ok : EXIT.refused;
  },
};
