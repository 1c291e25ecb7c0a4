import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { MemoryReplayCache, verifyRequest } from '@switchboard/http-signature';
import type { BenchAsker } from '../src/fixtures/signed-requests.js';
import { SignedBundleRequests, askerIndex, bundlePath } from '../src/fixtures/signed-requests.js';

function askers(n: number): { askers: BenchAsker[]; keys: Map<string, KeyObject> } {
  const list: BenchAsker[] = [];
  const keys = new Map<string, KeyObject>();
  for (let i = 0; i < n; i++) {
    const pair = generateKeyPairSync('ed25519');
    const accountId = `00000000-0000-4000-8000-00000000000${i}`;
    const der = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    list.push({ accountId, devicePrivateKey: der.toString('base64') });
    keys.set(accountId, createPublicKey(pair.privateKey));
  }
  return { askers: list, keys };
}

describe('askerIndex', () => {
  it('never picks the target and cycles over every other account', () => {
    const count = 5;
    for (let t = 0; t < count; t++) {
      const seen = new Set<number>();
      for (let round = 0; round < count - 1; round++) {
        const a = askerIndex(round * count + t, t, count);
        expect(a).not.toBe(t);
        seen.add(a);
      }
      expect(seen.size).toBe(count - 1);
    }
  });
});

describe('SignedBundleRequests', () => {
  it('signs each fetch as another asker with a fresh nonce, accepted once by a verifier', async () => {
    const { askers: list, keys } = askers(4);
    const targets = list.map((a) => a.accountId);
    const requests = new SignedBundleRequests(list, targets, 8);
    const cache = new MemoryReplayCache();
    const verify = (i: number): Promise<{ keyId: string }> => {
      const r = requests.at(i);
      return verifyRequest({
        method: 'GET',
        url: r.path,
        headers: r.headers,
        body: undefined,
        now: Date.now() / 1000,
        resolveKey: (keyId) => keys.get(keyId),
        replayCache: cache,
      });
    };
    for (let i = 0; i < 8; i++) {
      const { keyId } = await verify(i);
      expect(requests.at(i).path).toBe(bundlePath(targets[i % 4] as string));
      expect(keyId).not.toBe(targets[i % 4]);
    }
    // The replay cache refuses a signature it has seen: the pool must never repeat one.
    await expect(verify(3)).rejects.toThrow(/already used/);
    expect(requests.signedLate).toBe(0);
  });

  it('signs on demand beyond the pool and counts it', async () => {
    const { askers: list, keys } = askers(2);
    const targets = list.map((a) => a.accountId);
    const requests = new SignedBundleRequests(list, targets, 1);
    const late = requests.at(5);
    expect(requests.signedLate).toBe(1);
    expect(late.path).toBe(bundlePath(targets[1] as string));
    await expect(
      verifyRequest({
        method: 'GET',
        url: late.path,
        headers: late.headers,
        body: undefined,
        now: Date.now() / 1000,
        resolveKey: (keyId) => keys.get(keyId),
        replayCache: new MemoryReplayCache(),
      }),
    ).resolves.toEqual({ keyId: targets[0] });
  });
});
