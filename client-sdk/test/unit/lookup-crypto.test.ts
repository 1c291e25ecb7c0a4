// lookup() without injected DNSSEC crypto uses WebCrypto; where the runtime has none (a browser
// page on plain http to another host) it says so instead of failing with a TypeError.
import { createDevelopmentTrustList } from '@switchboard/charter';
import { LookupError, lookup } from '../../src/index.js';

const NOW = new Date('2026-11-22T00:00:00Z');
const list = createDevelopmentTrustList({
  now: NOW,
  directories: [
    {
      id: 'dir-a',
      operator: 'A',
      apex: 'e164.switchboard.test.',
      trustAnchors: [
        { type: 'DS', keyTag: 1, algorithm: 13, digestType: 2, digest: 'ab'.repeat(32) },
      ],
      nameservers: ['127.0.0.1:53'],
      publishEndpoint: 'http://127.0.0.1:9',
      status: 'active',
    },
  ],
  providers: [],
}).verified;

describe('lookup without WebCrypto', () => {
  it('refuses with invalid-input and a way out, before asking DNS', async () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
    Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true });
    let asked = 0;
    try {
      const err = await lookup('+442079460958', {
        trustList: list,
        now: () => NOW,
        randomId: () => 1,
        dns: {
          exchange: () => {
            asked++;
            return Promise.reject(new Error('not reached'));
          },
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LookupError);
      expect(err).toMatchObject({ code: 'invalid-input' });
      expect((err as Error).message).toMatch(/pass dnssecCrypto/);
      expect(asked).toBe(0);
    } finally {
      if (saved) Object.defineProperty(globalThis, 'crypto', saved);
    }
  });
});
