import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import type { VerifyRequestInput } from '../src/index.js';
import { HttpSignatureError, MemoryReplayCache, signRequest, verifyRequest } from '../src/index.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const NOW = 1_800_000_000;
const body = JSON.stringify({ methods: [{ service: 'sip', uri: 'sip:alice@example.net' }] });
const url = 'https://dir.example/v1/numbers/%2B15551234567?x=1';

function request(
  overrides: Partial<VerifyRequestInput> = {},
  signed = signRequest({ method: 'PUT', url, body, keyId: 'p1', privateKey, now: NOW }),
) {
  return {
    method: 'PUT',
    url: '/v1/numbers/%2B15551234567?x=1',
    headers: { ...signed } as Record<string, string>,
    body: Buffer.from(body),
    now: NOW + 10,
    resolveKey: (id: string) => (id === 'p1' ? publicKey : undefined),
    replayCache: new MemoryReplayCache({ now: () => (NOW + 10) * 1000 }),
    ...overrides,
  };
}

async function refusal(input: VerifyRequestInput): Promise<string> {
  try {
    await verifyRequest(input);
  } catch (err) {
    if (HttpSignatureError.is(err)) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('signed requests', () => {
  it('accepts a fresh, well-signed request once, then refuses the replay', async () => {
    const input = request();
    await expect(verifyRequest(input)).resolves.toEqual({ keyId: 'p1' });
    expect(await refusal(input)).toBe('replayed');
  });

  it.each([
    ['a changed body', { body: Buffer.from(body.replace('alice', 'mallory')) }, 'digest-mismatch'],
    ['a changed method', { method: 'DELETE' }, 'bad-signature'],
    ['a changed path', { url: '/v1/numbers/%2B15551234568?x=1' }, 'bad-signature'],
    ['a changed query', { url: '/v1/numbers/%2B15551234567?x=2' }, 'bad-signature'],
    ['a clock 301 s ahead', { now: NOW + 301 }, 'stale'],
    ['a clock 301 s behind', { now: NOW - 301 }, 'stale'],
    ['an unknown key id', { resolveKey: () => undefined }, 'unknown-key'],
    ['the wrong key', { resolveKey: () => other.publicKey }, 'bad-signature'],
  ])('refuses %s', async (_what, overrides, code) => {
    expect(await refusal(request(overrides as Partial<VerifyRequestInput>))).toBe(code);
  });

  it('refuses missing and malformed headers with specific codes', async () => {
    const good = request();
    const without = { ...good.headers };
    delete without['signature'];
    expect(await refusal({ ...good, headers: without })).toBe('missing');
    expect(await refusal({ ...good, headers: { ...good.headers, signature: 'sb=:!!!:' } })).toBe(
      'malformed',
    );
    expect(
      await refusal({ ...good, headers: { ...good.headers, signature: 'other=:AAAA:' } }),
    ).toBe('malformed');
    const fewer = String(good.headers['signature-input']).replace(' "content-digest"', '');
    expect(await refusal({ ...good, headers: { ...good.headers, 'signature-input': fewer } })).toBe(
      'unsupported',
    );
  });

  it('verifies its signature among others added by intermediaries (RFC 9421 section 4.3)', async () => {
    const good = request();
    const headers = {
      ...good.headers,
      'signature-input': `proxy=("@method");created=1;keyid="edge", ${good.headers['signature-input']}`,
      signature: `${good.headers['signature']},  proxy=:AAAA:`,
    };
    expect(await refusal({ ...good, headers })).toBe('accepted');
  });

  it('does not let a forged request burn the nonce of a real one', async () => {
    const signed = signRequest({
      method: 'PUT',
      url,
      body,
      keyId: 'p1',
      privateKey,
      now: NOW,
      nonce: 'nonce-0001',
    });
    const cache = new MemoryReplayCache({ now: () => NOW * 1000 });
    const forged = request({ replayCache: cache, resolveKey: () => other.publicKey }, signed);
    expect(await refusal(forged)).toBe('bad-signature');
    expect(await refusal(request({ replayCache: cache }, signed))).toBe('accepted');
  });

  it('never throws anything but HttpSignatureError for arbitrary header values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.string({ maxLength: 300 }),
        async (si, s) => {
          const good = request();
          const code = await refusal({
            ...good,
            headers: { ...good.headers, 'signature-input': si, signature: s },
          });
          expect(code).not.toBe('accepted');
        },
      ),
      { numRuns: 300 },
    );
  });
});
