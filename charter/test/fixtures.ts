import { createHash } from 'node:crypto';
import type { DirectoryEntry, ProviderEntry } from '../src/index.js';
import { generateEd25519KeyPair, publicKeyRecord } from '../src/index.js';

export const NOW = new Date('2026-11-22T00:00:00Z');
export const DAY = 86_400_000;

export function seed(label: string): Uint8Array {
  return createHash('sha256').update(label).digest();
}

export function directory(id: string, overrides: Partial<DirectoryEntry> = {}): DirectoryEntry {
  return {
    id,
    operator: `${id} Foundation e.V.`,
    apex: `${id}.e164.switchboard.test.`,
    trustAnchors: [
      {
        type: 'DS',
        keyTag: 12345,
        algorithm: 13,
        digestType: 2,
        digest: createHash('sha256').update(id).digest('hex'),
      },
    ],
    nameservers: ['127.0.0.1:5300'],
    publishEndpoint: 'http://127.0.0.1:8053',
    status: 'active',
    ...overrides,
  };
}

export function provider(id: string, overrides: Partial<ProviderEntry> = {}): ProviderEntry {
  const key = generateEd25519KeyPair(seed(`provider/${id}`));
  return {
    id,
    name: `Provider ${id}`,
    apiBaseUrl: `https://${id}.example`,
    publishingKeys: [publicKeyRecord(key)],
    networks: ['sip', 'xmpp'],
    accreditation: { notBefore: '2026-01-01T00:00:00Z', notAfter: '2027-12-31T00:00:00Z' },
    status: 'active',
    ...overrides,
  };
}

export function providerKey(id: string): ReturnType<typeof generateEd25519KeyPair> {
  return generateEd25519KeyPair(seed(`provider/${id}`));
}
