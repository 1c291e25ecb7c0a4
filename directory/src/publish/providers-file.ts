import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ProviderKeyResolver, ProviderStatus } from './providers.js';
import { PROVIDER_ID } from '../zone/records.js';

/**
 * Provider keys from a JSON file, `{ "<provider id>": { "publicKey": "<Ed25519 SPKI PEM or
 * 32-byte raw base64>", "active": true } }`, re-read when it changes. A stand-in for the charter
 * trust list in development; a malformed file means no provider is known (fail closed).
 */
export class FileProviderKeys implements ProviderKeyResolver {
  readonly #path: string;
  #mtime = -1;
  #providers = new Map<string, { key: KeyObject; active: boolean }>();

  constructor(path: string) {
    this.#path = path;
  }

  resolve(providerId: string): ProviderStatus {
    this.#reload();
    const p = this.#providers.get(providerId);
    if (!p) return { status: 'unknown' };
    return p.active ? { status: 'active', key: p.key } : { status: 'inactive', key: p.key };
  }

  #reload(): void {
    let mtime: number;
    try {
      mtime = statSync(this.#path).mtimeMs;
    } catch {
      this.#providers = new Map();
      this.#mtime = -1;
      return;
    }
    if (mtime === this.#mtime) return;
    this.#mtime = mtime;
    const next = new Map<string, { key: KeyObject; active: boolean }>();
    try {
      const parsed = JSON.parse(readFileSync(this.#path, 'utf8')) as Record<string, unknown>;
      for (const [id, value] of Object.entries(parsed)) {
        if (!PROVIDER_ID.test(id) || typeof value !== 'object' || value === null) continue;
        const { publicKey, active } = value as { publicKey?: unknown; active?: unknown };
        if (typeof publicKey !== 'string') continue;
        next.set(id, { key: ed25519Key(publicKey), active: active !== false });
      }
    } catch {
      next.clear();
    }
    this.#providers = next;
  }
}

/** An Ed25519 public key from SPKI PEM or raw 32-byte base64. */
export function ed25519Key(text: string): KeyObject {
  const key = text.includes('BEGIN')
    ? createPublicKey(text)
    : createPublicKey({
        key: Buffer.concat([
          Buffer.from('302a300506032b6570032100', 'hex'),
          Buffer.from(text, 'base64'),
        ]),
        format: 'der',
        type: 'spki',
      });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('provider key must be Ed25519');
  return key;
}
