import type { SignedTrustList } from '../src/index.js';
import {
  CharterError,
  addDirectory,
  addProvider,
  combineSignatures,
  createDevelopmentTrustList,
  createTrustList,
  detachedSignature,
  draftNextVersion,
  setDirectoryStatus,
  setProviderStatus,
  signTrustList,
  updateProvider,
} from '../src/index.js';
import { diffTrustLists, formatTrustListDiff } from '../src/governance/diff.js';
import { DAY, NOW, directory, provider, providerKey } from './fixtures.js';

const dev = createDevelopmentTrustList({
  now: NOW,
  seedLabel: 'edit-test',
  providers: [provider('acme')],
});
const [alice, bob] = dev.devBoard.members;
if (alice === undefined || bob === undefined) throw new Error('fixture');

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (CharterError.is(err)) return err.code;
    throw err;
  }
  return 'ok';
};

describe('editing a list', () => {
  test('a signed list gets version + 1; further edits of the draft keep it', () => {
    const d1 = draftNextVersion(dev.envelope, NOW, addProvider(provider('beta')));
    expect(d1.signed.version).toBe(2);
    expect(d1.signatures).toEqual([]);
    const d2 = draftNextVersion(d1, NOW, setProviderStatus('beta', 'suspended', 'audit'));
    expect(d2.signed.version).toBe(2);
    expect(d2.signed.providers.find((p) => p.id === 'beta')).toMatchObject({
      status: 'suspended',
      statusReason: 'audit',
    });
  });

  test('a reinstatement drops the old reason', () => {
    const s = draftNextVersion(dev.envelope, NOW, setProviderStatus('acme', 'suspended', 'audit'));
    const back = draftNextVersion(s, NOW, setProviderStatus('acme', 'active'));
    expect(back.signed.providers[0]).not.toHaveProperty('statusReason');
  });

  test.each([
    [
      'the same provider id twice',
      () => draftNextVersion(dev.envelope, NOW, addProvider(provider('acme'))),
      'invalid-edit',
    ],
    [
      'an unknown id',
      () => draftNextVersion(dev.envelope, NOW, setDirectoryStatus('nope', 'revoked')),
      'invalid-edit',
    ],
    [
      'reinstating a revoked provider',
      () =>
        draftNextVersion(
          draftNextVersion(dev.envelope, NOW, setProviderStatus('acme', 'revoked')),
          NOW,
          setProviderStatus('acme', 'active'),
        ),
      'invalid-edit',
    ],
    [
      'changing a revoked provider',
      () =>
        draftNextVersion(
          draftNextVersion(dev.envelope, NOW, setProviderStatus('acme', 'revoked')),
          NOW,
          updateProvider(provider('acme', { name: 'Acme 2' })),
        ),
      'invalid-edit',
    ],
    [
      'one publishing key for two providers',
      () =>
        draftNextVersion(
          dev.envelope,
          NOW,
          addProvider(
            provider('beta', {
              publishingKeys: [
                { keyid: providerKey('acme').keyid, publicKey: providerKey('acme').publicKey },
              ],
            }),
          ),
        ),
      'duplicate-entry',
    ],
    [
      'two directories with one apex',
      () =>
        draftNextVersion(
          dev.envelope,
          NOW,
          addDirectory(directory('a', { apex: 'e164.switchboard.test.' })),
          addDirectory(directory('b', { apex: 'e164.switchboard.test.' })),
        ),
      'duplicate-entry',
    ],
    [
      'an accreditation that ends before it starts',
      () =>
        draftNextVersion(
          dev.envelope,
          NOW,
          addProvider(
            provider('late', {
              accreditation: {
                notBefore: '2027-01-01T00:00:00Z',
                notAfter: '2026-01-01T00:00:00Z',
              },
            }),
          ),
        ),
      'schema-violation',
    ],
    [
      'a SHA-256 DS digest of the wrong length',
      () =>
        draftNextVersion(
          dev.envelope,
          NOW,
          addDirectory(
            directory('d', {
              trustAnchors: [
                { type: 'DS', keyTag: 1, algorithm: 13, digestType: 2, digest: 'ab'.repeat(20) },
              ],
            }),
          ),
        ),
      'schema-violation',
    ],
    [
      'a February 30th',
      () =>
        draftNextVersion(
          { ...dev.envelope, signed: { ...dev.envelope.signed, expires: '2027-02-30T00:00:00Z' } },
          NOW,
        ),
      'schema-violation',
    ],
    [
      'a threshold above the board size',
      () =>
        createTrustList({
          board: { ...dev.devBoard.board, threshold: 4 },
          now: NOW,
          expires: new Date(NOW.getTime() + DAY),
        }),
      'invalid-threshold',
    ],
  ])('refuses %s', (_what, edit, code) => {
    expect(codeOf(edit)).toBe(code);
  });
});

describe('combining signatures', () => {
  const draft = draftNextVersion(dev.envelope, NOW, setProviderStatus('acme', 'suspended'));

  test('detached signatures and signed copies merge, repeats count once', () => {
    const a: SignedTrustList = {
      signed: draft.signed,
      signatures: [signTrustList(draft.signed, alice.privateKey)],
    };
    const combined = combineSignatures(draft, [
      a,
      a,
      detachedSignature(draft.signed, bob.privateKey),
    ]);
    expect(combined.signatures.map((s) => s.keyid).sort()).toEqual([alice.keyid, bob.keyid].sort());
  });

  test('a signature over other contents is refused before it can confuse anyone', () => {
    const other = draftNextVersion(dev.envelope, NOW, setProviderStatus('acme', 'revoked'));
    expect(
      codeOf(() => combineSignatures(draft, [detachedSignature(other.signed, bob.privateKey)])),
    ).toBe('body-mismatch');
    expect(
      codeOf(() =>
        combineSignatures(draft, [
          { signed: other.signed, signatures: [signTrustList(other.signed, bob.privateKey)] },
        ]),
      ),
    ).toBe('body-mismatch');
  });

  test('two different signatures from one key are refused', () => {
    const forged = {
      ...signTrustList(draft.signed, alice.privateKey),
      sig: signTrustList(dev.envelope.signed, alice.privateKey).sig,
    };
    const withA = {
      signed: draft.signed,
      signatures: [signTrustList(draft.signed, alice.privateKey)],
    };
    expect(
      codeOf(() => combineSignatures(withA, [{ signed: draft.signed, signatures: [forged] }])),
    ).toBe('duplicate-signature');
  });
});

describe('diff', () => {
  test('lists what a reviewer must see, status first', () => {
    const next = draftNextVersion(
      dev.envelope,
      new Date(NOW.getTime() + DAY),
      setProviderStatus('acme', 'suspended', 'audit pending'),
      addDirectory(directory('dir-x')),
    );
    expect(formatTrustListDiff(diffTrustLists(dev.envelope.signed, next.signed))).toEqual([
      '~ version: 1 -> 2',
      '~ issuedAt: 2026-11-22T00:00:00Z -> 2026-11-23T00:00:00Z',
      '+ directory dir-x: dir-x.e164.switchboard.test. run by dir-x Foundation e.V., active',
      '~ provider acme status: active -> suspended',
      '~ provider acme statusReason: (none) -> audit pending',
    ]);
    expect(diffTrustLists(dev.envelope.signed, dev.envelope.signed)).toEqual([]);
  });
});
