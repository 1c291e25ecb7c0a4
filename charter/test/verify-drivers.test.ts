// One verification logic, two drivers: verifyTrustList (node:crypto, synchronous) and
// verifyTrustListWith(webCryptoCharter()) (what browsers run) must accept the same lists and
// refuse the same ones with the same error. Also: the schema validator compiled ahead of time is
// the one the current schema produces.
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { SignedTrustList, TrustListInput, VerifyOptions } from '../src/index.js';
import {
  boardFingerprint,
  boardFingerprintWith,
  createDevelopmentTrustList,
  draftNextVersion,
  generateEd25519KeyPair,
  nodeCharterCrypto,
  serializeTrustList,
  signTrustList,
  signWithAll,
  trustListSchema,
  verifyTrustList,
  verifyTrustListChain,
  verifyTrustListChainWith,
  verifyTrustListWith,
  webCryptoCharter,
} from '../src/index.js';
import type { CharterCrypto } from '../src/index.js';
import { DAY, NOW, directory, provider, seed } from './fixtures.js';

const dev = createDevelopmentTrustList({
  now: NOW,
  seedLabel: 'drivers-test',
  directories: [directory('dir-a')],
  providers: [provider('acme')],
});
const board = dev.devBoard.board;
const [alice, bob] = dev.devBoard.members;
if (alice === undefined || bob === undefined) throw new Error('fixture');
const text = serializeTrustList(dev.envelope);
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const mutate = (f: (o: Json) => void): string => {
  const o = JSON.parse(text) as Json;
  f(o);
  return JSON.stringify(o);
};
const signedBy = (signers: { privateKey: KeyObject }[]): SignedTrustList => ({
  signed: dev.envelope.signed,
  signatures: signers.map((s) => signTrustList(dev.envelope.signed, s.privateKey)),
});

function outcome(run: () => unknown): unknown {
  try {
    return { ok: run() };
  } catch (err) {
    return { error: err };
  }
}

async function outcomeAsync(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await run() };
  } catch (err) {
    return { error: err };
  }
}

const DRIVERS: [string, CharterCrypto][] = [
  ['webcrypto', webCryptoCharter()],
  ['node async', nodeCharterCrypto],
];

const options: VerifyOptions = { now: NOW, boardKeys: board };
const CASES: [string, TrustListInput, VerifyOptions, 'ok' | string][] = [
  ['signed by the whole board', text, options, 'ok'],
  ['pinned fingerprint', text, { now: NOW, boardFingerprint: boardFingerprint(board) }, 'ok'],
  ['a threshold of signatures', signedBy([alice, bob]), options, 'ok'],
  ['one signature twice', signedBy([alice, alice]), options, 'duplicate-signature'],
  [
    'an unknown signer',
    signedBy([alice, bob, generateEd25519KeyPair(seed('mallory'))]),
    options,
    'unknown-signing-key',
  ],
  ['below the threshold', signedBy([alice]), options, 'threshold-not-met'],
  [
    'a changed body',
    mutate((o) => (o.signed.providers[0].name = 'Evil')),
    options,
    'invalid-signature',
  ],
  [
    'a flipped signature bit',
    mutate((o) => {
      const s = o.signatures[0].sig as string;
      o.signatures[0].sig = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    }),
    options,
    'invalid-signature',
  ],
  [
    'a keyid that is not its key’s hash',
    mutate((o) => (o.signed.board.keys[0].keyid = 'ab'.repeat(32))),
    options,
    'keyid-mismatch',
  ],
  [
    'a public key of the wrong size',
    mutate((o) => (o.signed.board.keys[0].publicKey = 'AAAA'.repeat(11))),
    options,
    'invalid-key',
  ],
  [
    'another board’s fingerprint',
    text,
    { now: NOW, boardFingerprint: 'ab'.repeat(32) },
    'board-mismatch',
  ],
  ['expired', text, { ...options, now: new Date(NOW.getTime() + 400 * DAY) }, 'expired'],
  ['a rollback', text, { ...options, lastSeenVersion: 2 }, 'rollback'],
  ['an unknown field', mutate((o) => (o.signed.extra = 1)), options, 'schema-violation'],
  ['not JSON', '{"signed":', options, 'malformed-json'],
];

describe('synchronous and WebCrypto verification agree', () => {
  it.each(CASES)('%s', async (_name, input, opts, expected) => {
    const sync = outcome(() => verifyTrustList(input, opts)) as Json;
    if (expected === 'ok') expect(sync.ok).toBeDefined();
    else expect(sync.error?.code).toBe(expected);
    for (const [, crypto] of DRIVERS) {
      const got = (await outcomeAsync(() => verifyTrustListWith(crypto, input, opts))) as Json;
      expect(got).toEqual(sync);
      if (got.error) {
        expect(got.error.message).toBe(sync.error.message);
        expect(got.error.where).toBe(sync.error.where);
      }
    }
  });

  it('a chain of two versions, and the board fingerprint', async () => {
    const next = signWithAll(draftNextVersion(dev.envelope, NOW), dev.devBoard.members);
    const chain = [text, serializeTrustList(next)];
    const sync = verifyTrustListChain(chain, options);
    expect(sync.version).toBe(2);
    for (const [, crypto] of DRIVERS) {
      expect(await verifyTrustListChainWith(crypto, chain, options)).toEqual(sync);
      expect(await boardFingerprintWith(crypto, board)).toBe(boardFingerprint(board));
    }
  });
});

describe('the schema validator compiled ahead of time', () => {
  it('is what scripts/generate-schema-validator.mjs makes of the current schema', async () => {
    const script = new URL('../../scripts/generate-schema-validator.mjs', import.meta.url).href;
    const { generateSchemaValidator } = (await import(script)) as {
      generateSchemaValidator: (schema: unknown) => string;
    };
    const committed = readFileSync(
      new URL('../../src/trust-list/schema-validator.generated.ts', import.meta.url),
      'utf8',
    );
    // Stale? Run: npx tsc -b && node charter/scripts/generate-schema-validator.mjs
    expect(generateSchemaValidator(trustListSchema)).toBe(committed);
    expect(committed).not.toMatch(/new Function|\beval\(|require\(/);
  });
});
