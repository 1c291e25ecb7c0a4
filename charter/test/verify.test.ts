import type { KeyObject } from 'node:crypto';
import type {
  CharterErrorCode,
  SignedTrustList,
  TrustListInput,
  VerifyOptions,
} from '../src/index.js';
import {
  CharterError,
  boardFingerprint,
  combineSignatures,
  createDevelopmentBoard,
  createDevelopmentTrustList,
  draftNextVersion,
  generateEd25519KeyPair,
  isCharterError,
  serializeTrustList,
  setBoard,
  setExpiry,
  setProviderStatus,
  signTrustList,
  signWithAll,
  trustListDigest,
  verifyTrustList,
  verifyTrustListChain,
} from '../src/index.js';
import { DAY, NOW, directory, provider, seed } from './fixtures.js';

const dev = createDevelopmentTrustList({
  now: NOW,
  seedLabel: 'verify-test',
  directories: [directory('dir-a')],
  providers: [provider('acme'), provider('beta')],
});
const board = dev.devBoard.board;
const [alice, bob, carol] = dev.devBoard.members;
if (alice === undefined || bob === undefined || carol === undefined) throw new Error('fixture');
const text = serializeTrustList(dev.envelope);

function codeOf(input: TrustListInput, options: Partial<VerifyOptions> = {}): CharterErrorCode {
  try {
    verifyTrustList(input, { now: NOW, boardKeys: board, ...options });
  } catch (err) {
    if (isCharterError(err)) return err.code;
    throw err;
  }
  throw new Error('expected verification to fail');
}

function errorOf(input: TrustListInput, options: Partial<VerifyOptions> = {}): CharterError {
  try {
    verifyTrustList(input, { now: NOW, boardKeys: board, ...options });
  } catch (err) {
    if (CharterError.is(err)) return err;
    throw err;
  }
  throw new Error('expected verification to fail');
}

/** A copy of the envelope with the given signatures. */
function withSignatures(
  envelope: SignedTrustList,
  signers: ReadonlyArray<{ privateKey: KeyObject }>,
): SignedTrustList {
  return {
    signed: envelope.signed,
    signatures: signers.map((s) => signTrustList(envelope.signed, s.privateKey)),
  };
}

// Test-only loose view of parsed JSON, to mutate it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

describe('verifyTrustList: the happy path', () => {
  test('a list signed by the whole board verifies against the pinned board', () => {
    const list = verifyTrustList(text, { now: NOW, boardKeys: board });
    expect(list.version).toBe(1);
    expect(list.signedBy).toHaveLength(3);
    expect(list.digest).toBe(trustListDigest(dev.envelope.signed));
  });

  test('a threshold (2 of 3) is enough; any two members will do', () => {
    for (const pair of [
      [alice, bob],
      [bob, carol],
      [carol, alice],
    ] as const) {
      expect(
        verifyTrustList(withSignatures(dev.envelope, pair), { now: NOW, boardKeys: board })
          .signedBy,
      ).toHaveLength(2);
    }
  });

  test('verifies against a pinned board fingerprint', () => {
    expect(
      verifyTrustList(text, { now: NOW, boardFingerprint: boardFingerprint(board) }).version,
    ).toBe(1);
  });

  test('accepts bytes, text and a parsed object alike', () => {
    const bytes = new TextEncoder().encode(text);
    const parsed = JSON.parse(text) as SignedTrustList;
    for (const input of [bytes, text, parsed]) {
      expect(verifyTrustList(input, { now: NOW, boardKeys: board }).version).toBe(1);
    }
  });
});

describe('verifyTrustList: failure modes real signed-metadata systems have shipped', () => {
  test('one key signing twice does not count twice towards the threshold', () => {
    const doubled = withSignatures(dev.envelope, [alice, alice]);
    const err = errorOf(doubled);
    expect(err.code).toBe('duplicate-signature');
    expect(err.message).toMatch(/each key counts once/);
  });

  test('one key listed twice on the board (under two names) is refused', () => {
    const o = JSON.parse(text) as { signed: { board: { keys: Array<Record<string, string>> } } };
    const first = o.signed.board.keys[0];
    if (first === undefined) throw new Error('fixture');
    o.signed.board.keys.push({ ...first, name: 'alias' });
    const err = errorOf(JSON.stringify(o));
    expect(err.code).toBe('duplicate-board-key');
    expect(err.where).toBe('/signed/board/keys/3');
  });

  test('a keyid that is not the hash of its key is refused', () => {
    const parsed = JSON.parse(text) as { signed: { board: { keys: Array<{ keyid: string }> } } };
    const first = parsed.signed.board.keys[0];
    if (first === undefined) throw new Error('fixture');
    first.keyid = 'ab'.repeat(32);
    expect(codeOf(JSON.stringify(parsed))).toBe('keyid-mismatch');
  });

  test('a signature by a key that is not on the board is refused', () => {
    const mallory = generateEd25519KeyPair(seed('mallory'));
    const err = errorOf(withSignatures(dev.envelope, [alice, bob, mallory]));
    expect(err.code).toBe('unknown-signing-key');
    expect(err.where).toBe('/signatures/2');
  });

  test('outsiders cannot make up the threshold', () => {
    const m1 = generateEd25519KeyPair(seed('m1'));
    expect(codeOf(withSignatures(dev.envelope, [alice, m1]))).toBe('unknown-signing-key');
  });

  test('fewer signatures than the threshold', () => {
    const err = errorOf(withSignatures(dev.envelope, [alice]));
    expect(err.code).toBe('threshold-not-met');
    expect(err.message).toMatch(/only 1 valid signature.*threshold is 2/);
    expect(codeOf(withSignatures(dev.envelope, []))).toBe('threshold-not-met');
  });

  test('a list changed after signing is refused', () => {
    const tampered: SignedTrustList = {
      signed: { ...dev.envelope.signed, version: 2 },
      signatures: dev.envelope.signatures,
    };
    expect(codeOf(tampered)).toBe('invalid-signature');
    const suspended = {
      signed: draftNextVersion(
        { ...dev.envelope, signatures: [] },
        NOW,
        setProviderStatus('acme', 'revoked'),
      ).signed,
      signatures: dev.envelope.signatures,
    };
    expect(codeOf(suspended)).toBe('invalid-signature');
  });

  test('rollback to an older version than one already seen', () => {
    const err = errorOf(text, { lastSeenVersion: 2 });
    expect(err.code).toBe('rollback');
    expect(err.message).toMatch(/version 1 is older than version 2/);

    const v1 = verifyTrustList(text, { now: NOW, boardKeys: board });
    const v2 = verifyTrustList(
      signWithAll(draftNextVersion(dev.envelope, NOW), dev.devBoard.members),
      {
        now: NOW,
        previous: v1,
      },
    );
    expect(v2.version).toBe(2);
    expect(codeOf(text, { boardKeys: undefined, previous: v2 })).toBe('rollback');
  });

  test('the same version with other contents is a conflict, the same contents are fine', () => {
    const v1 = verifyTrustList(text, { now: NOW, boardKeys: board });
    expect(verifyTrustList(text, { now: NOW, previous: v1 }).version).toBe(1);
    const other = signWithAll(
      { signed: { ...dev.envelope.signed, expires: '2027-01-01T00:00:00Z' }, signatures: [] },
      dev.devBoard.members,
    );
    expect(codeOf(other, { boardKeys: undefined, previous: v1 })).toBe('version-conflict');
  });

  test('an expired list is refused with its expiry in the message', () => {
    const later = new Date(NOW.getTime() + 100 * DAY);
    const err = errorOf(text, { now: later });
    expect(err.code).toBe('expired');
    expect(err.message).toContain(dev.envelope.signed.expires);
    expect(err.message).toMatch(/must not be used/);
    // exactly at the expiry instant it is already expired
    expect(codeOf(text, { now: new Date(dev.envelope.signed.expires) })).toBe('expired');
  });

  test('re-serialised with other key order and whitespace, it still verifies', () => {
    const reorder = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(reorder);
      if (v !== null && typeof v === 'object') {
        return Object.fromEntries(
          Object.entries(v)
            .reverse()
            .map(([k, x]) => [k, reorder(x)]),
        );
      }
      return v;
    };
    const reserialised = JSON.stringify(reorder(JSON.parse(text)), null, '\t').replaceAll(
      '": ',
      '"  :\n  ',
    );
    expect(reserialised).not.toBe(text);
    const list = verifyTrustList(reserialised, { now: NOW, boardKeys: board });
    expect(list.digest).toBe(trustListDigest(dev.envelope.signed));
    expect(
      verifyTrustList(JSON.stringify(JSON.parse(text)), { now: NOW, boardKeys: board }).version,
    ).toBe(1);
  });

  test('an unknown field is refused, in the body, an entry or the envelope', () => {
    const cases: Array<[(o: Json) => void, string, string]> = [
      [(o) => (o.signed.note = 'x'), 'note', '/signed'],
      [(o) => (o.signed.providers[0].trusted = true), 'trusted', '/signed/providers/0'],
      [(o) => (o.extra = 1), 'extra', '/'],
      [(o) => (o.signatures[0].weight = 2), 'weight', '/signatures/0'],
    ];
    for (const [mutate, field, at] of cases) {
      const o = JSON.parse(text) as Json;
      mutate(o);
      const err = errorOf(JSON.stringify(o));
      expect(err.code).toBe('schema-violation');
      expect(err.message).toContain(`unknown field "${field}" at ${at}`);
    }
  });

  test('every truncation of the file is refused as malformed JSON', () => {
    const cut = text.trimEnd();
    for (let n = 0; n < cut.length; n += 1) {
      const err = errorOf(cut.slice(0, n));
      expect(err.code).toBe('malformed-json');
      expect(err.message).toMatch(/truncated|incomplete/);
    }
  });

  test('a rotation signed only by the new keys is refused', () => {
    const fresh = createDevelopmentBoard({ seedLabel: 'new-board' });
    const v1 = verifyTrustList(text, { now: NOW, boardKeys: board });
    const draft = draftNextVersion(dev.envelope, NOW, setBoard(fresh.board));
    const onlyNew = signWithAll(draft, fresh.members);
    const err = errorOf(onlyNew, { boardKeys: undefined, previous: v1 });
    expect(err.code).toBe('rotation-not-authorised');
    expect(err.message).toMatch(/old keys as well as the new/);
    // the same with a pinned board instead of the previous list
    expect(codeOf(onlyNew)).toBe('rotation-not-authorised');
    // signed only by the old board: the new board has not accepted it
    expect(codeOf(signWithAll(draft, [alice, bob]), { boardKeys: undefined, previous: v1 })).toBe(
      'threshold-not-met',
    );
    // both: accepted
    const both = combineSignatures(signWithAll(draft, [alice, bob]), [
      signWithAll(draft, fresh.members),
    ]);
    expect(verifyTrustList(both, { now: NOW, previous: v1 }).body.board).toEqual(fresh.board);
  });

  test('a client offline across two rotations catches up through the chain', () => {
    const b2 = createDevelopmentBoard({ seedLabel: 'b2' });
    const b3 = createDevelopmentBoard({ seedLabel: 'b3' });
    const d2 = draftNextVersion(dev.envelope, NOW, setBoard(b2.board));
    const v2 = signWithAll(d2, [...dev.devBoard.members, ...b2.members]);
    const d3 = draftNextVersion(v2, NOW, setBoard(b3.board));
    const v3 = signWithAll(d3, [...b2.members, ...b3.members]);
    expect(verifyTrustListChain([text, v2, v3], { now: NOW, boardKeys: board }).version).toBe(3);
    // skipping v2 fails: v3 carries no signatures of the board the client trusts
    expect(codeOf(v3)).toBe('unknown-signing-key');
  });

  test('a board other than the pinned fingerprint is refused', () => {
    const other = createDevelopmentTrustList({ now: NOW, seedLabel: 'other' });
    expect(
      codeOf(other.envelope, { boardKeys: undefined, boardFingerprint: boardFingerprint(board) }),
    ).toBe('board-mismatch');
  });

  test('no root of trust, or two, is a usage error', () => {
    expect(codeOf(text, { boardKeys: undefined })).toBe('no-root-of-trust');
    expect(codeOf(text, { boardFingerprint: boardFingerprint(board) })).toBe('no-root-of-trust');
  });

  test('floats, exponents and duplicate member names are refused before anything else', () => {
    expect(codeOf(text.replace('"version": 1', '"version": 1.0'))).toBe('non-integer-number');
    expect(codeOf(text.replace('"version": 1', '"version": 1e0'))).toBe('non-integer-number');
    expect(codeOf(text.replace('"version": 1,', '"version": 1, "version": 9,'))).toBe(
      'malformed-json',
    );
    expect(codeOf({ ...dev.envelope, signed: { ...dev.envelope.signed, version: 1.5 } })).toBe(
      'non-integer-number',
    );
  });

  test('a wrong type or a missing field names the place', () => {
    const o = JSON.parse(text) as Json;
    delete o.signed.expires;
    const err = errorOf(JSON.stringify(o));
    expect(err.code).toBe('schema-violation');
    expect(err.message).toContain('missing field "expires"');
    const p = JSON.parse(text) as Json;
    p.signed.providers[0].status = 'trusted';
    expect(errorOf(JSON.stringify(p)).where).toBe('/signed/providers/0/status');
  });

  test('plain http to a public host is refused by policy', () => {
    const bad = createDevelopmentBoard({ seedLabel: 'verify-test' });
    expect(() =>
      createDevelopmentTrustList({
        now: NOW,
        devBoard: bad,
        providers: [provider('acme', { apiBaseUrl: 'http://acme.example' })],
      }),
    ).toThrow(expect.objectContaining({ code: 'policy-violation' }) as Error);
  });

  test('oversized and empty input', () => {
    expect(codeOf(text, { maxBytes: 100 })).toBe('too-large');
    expect(codeOf('')).toBe('malformed-json');
    expect(codeOf(new Uint8Array([0xff, 0xfe, 0x7b]))).toBe('malformed-json');
  });

  test('an expired list fails even when every signature is good; renewal fixes it', () => {
    const later = new Date(NOW.getTime() + 100 * DAY);
    const renewed = signWithAll(
      draftNextVersion(dev.envelope, later, setExpiry(new Date(later.getTime() + 30 * DAY))),
      [alice, carol],
    );
    expect(
      verifyTrustList(renewed, { now: later, boardKeys: board, lastSeenVersion: 1 }).version,
    ).toBe(2);
  });
});
