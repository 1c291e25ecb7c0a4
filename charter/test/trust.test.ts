import {
  assertMayTrustDirectory,
  assertMayTrustProvider,
  activeDirectories,
  createDevelopmentTrustList,
  draftNextVersion,
  isCharterError,
  mayTrustDirectory,
  mayTrustProvider,
  mayTrustPublisher,
  setDirectoryStatus,
  setProviderStatus,
  signWithAll,
  verifyTrustList,
} from '../src/index.js';
import { DAY, NOW, directory, provider, providerKey } from './fixtures.js';

const dev = createDevelopmentTrustList({
  now: NOW,
  seedLabel: 'trust-test',
  directories: [
    directory('dir-a'),
    directory('dir-b', { status: 'suspended', statusReason: 'DNSSEC outage' }),
  ],
  providers: [
    provider('acme'),
    provider('gone', { status: 'revoked', statusReason: 'logged message metadata' }),
    provider('paused', { status: 'suspended' }),
    provider('future', {
      accreditation: { notBefore: '2027-01-01T00:00:00Z', notAfter: '2028-01-01T00:00:00Z' },
    }),
    provider('past', {
      accreditation: { notBefore: '2025-01-01T00:00:00Z', notAfter: '2026-01-01T00:00:00Z' },
    }),
  ],
});
const list = verifyTrustList(dev.envelope, { now: NOW, boardKeys: dev.devBoard.board });

describe('mayTrustProvider', () => {
  test('an active provider inside its window is trusted', () => {
    const d = mayTrustProvider(list, 'acme', NOW);
    expect(d.trusted).toBe(true);
    if (d.trusted) expect(d.entry.apiBaseUrl).toBe('https://acme.example');
  });

  test.each([
    ['nobody', 'not-listed'],
    ['gone', 'revoked'],
    ['paused', 'suspended'],
    ['future', 'not-yet-accredited'],
    ['past', 'accreditation-ended'],
  ])('%s is refused: %s', (id, reason) => {
    const d = mayTrustProvider(list, id, NOW);
    expect(d.trusted).toBe(false);
    if (!d.trusted) {
      expect(d.reason).toBe(reason);
      expect(d.message).toContain(id);
    }
  });

  test('nothing is trusted from an expired list', () => {
    const later = new Date(list.expires.getTime() + 1);
    const d = mayTrustProvider(list, 'acme', later);
    expect(d.trusted ? 'trusted' : d.reason).toBe('list-expired');
    expect(() => assertMayTrustProvider(list, 'acme', later)).toThrow(
      expect.objectContaining({ code: 'expired' }) as Error,
    );
  });

  test('assertMayTrustProvider throws not-trusted with the reason', () => {
    expect(assertMayTrustProvider(list, 'acme', NOW).id).toBe('acme');
    try {
      assertMayTrustProvider(list, 'gone', NOW);
      throw new Error('should have thrown');
    } catch (err) {
      expect(isCharterError(err, 'not-trusted')).toBe(true);
      expect((err as Error).message).toMatch(/revoked/);
    }
  });

  test('a suspension published in a new version takes effect', () => {
    const v2 = verifyTrustList(
      signWithAll(
        draftNextVersion(dev.envelope, NOW, setProviderStatus('acme', 'suspended', 'audit')),
        dev.devBoard.members,
      ),
      { now: NOW, previous: list },
    );
    const d = mayTrustProvider(v2, 'acme', NOW);
    expect(d.trusted ? 'trusted' : d.reason).toBe('suspended');
  });
});

describe('mayTrustDirectory', () => {
  test('active, suspended, unknown', () => {
    expect(assertMayTrustDirectory(list, 'dir-a', NOW).apex).toBe('dir-a.e164.switchboard.test.');
    const b = mayTrustDirectory(list, 'dir-b', NOW);
    expect(b.trusted ? 'trusted' : b.reason).toBe('suspended');
    const c = mayTrustDirectory(list, 'dir-c', NOW);
    expect(c.trusted ? 'trusted' : c.reason).toBe('not-listed');
    expect(activeDirectories(list, NOW).map((d) => d.id)).toEqual(['dir-a']);
    expect(activeDirectories(list, new Date(NOW.getTime() + 365 * DAY))).toEqual([]);
  });

  test('a revoked directory is refused', () => {
    const v2 = verifyTrustList(
      signWithAll(
        draftNextVersion(dev.envelope, NOW, setDirectoryStatus('dir-a', 'revoked')),
        dev.devBoard.members,
      ),
      { now: NOW, previous: list },
    );
    expect(() => assertMayTrustDirectory(v2, 'dir-a', NOW)).toThrow(/revoked/);
  });
});

describe('mayTrustPublisher (the directory refuses publishes from providers not active)', () => {
  test('finds the provider by its publishing keyid and hands back the key', () => {
    const d = mayTrustPublisher(list, providerKey('acme').keyid, NOW);
    expect(d.trusted).toBe(true);
    if (d.trusted) {
      expect(d.entry.provider.id).toBe('acme');
      expect(d.entry.publicKey.asymmetricKeyType).toBe('ed25519');
    }
  });

  test.each([
    ['gone', 'revoked'],
    ['paused', 'suspended'],
    ['past', 'accreditation-ended'],
  ])('a publish signed by %s is refused (%s)', (id, reason) => {
    const d = mayTrustPublisher(list, providerKey(id).keyid, NOW);
    expect(d.trusted ? 'trusted' : d.reason).toBe(reason);
  });

  test('the keyid may also be the provider id (openapi/directory.yaml)', () => {
    const d = mayTrustPublisher(list, 'acme', NOW);
    expect(d.trusted).toBe(true);
    if (d.trusted) {
      expect(d.entry.publicKeys.map((k) => k.keyid)).toEqual([providerKey('acme').keyid]);
    }
    const gone = mayTrustPublisher(list, 'gone', NOW);
    expect(gone.trusted ? 'trusted' : gone.reason).toBe('revoked');
  });

  test('an unknown key is refused', () => {
    const d = mayTrustPublisher(list, providerKey('stranger').keyid, NOW);
    expect(d.trusted ? 'trusted' : d.reason).toBe('not-listed');
  });
});
