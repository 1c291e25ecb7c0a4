import { createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { ProviderSchema } from '@switchboard/openapi';
import { ProviderApiError } from '@switchboard/openapi';
import type { ProviderDeps } from './deps.js';
import { loadAccount } from './accounts.js';
import { ed25519PublicKey, isoTime } from './encoding.js';
import { fail } from './errors.js';

const CONTEXT = 'switchboard-sender-cert-v1';

/** Longest lifetime a certificate from any provider is accepted with (seconds). */
const MAX_LIFETIME_SECONDS = 7 * 24 * 3600;

/** What a verified sender certificate says: who the asker is, and its device key. */
export interface SenderCertificate {
  readonly issuer: string;
  readonly accountId: string;
  readonly deviceKey: KeyObject;
  readonly expiresAt: number;
}

/** The bytes a sender certificate signs. */
export function senderCertificateMessage(
  issuer: string,
  accountId: string,
  deviceKey: Uint8Array,
  expiresAt: number,
): Buffer {
  const key = Buffer.from(deviceKey).toString('base64url');
  return Buffer.from(`${CONTEXT}\n${issuer}\n${accountId}\n${key}\n${expiresAt}`);
}

/**
 * Issues a certificate of the account's device key, signed by this provider's accredited key:
 * the asker's credential for bundle fetches at other providers of the trust list.
 */
export async function issueSenderCertificate(
  deps: ProviderDeps,
  accountId: string,
): Promise<ProviderSchema<'SenderCertificate'>> {
  if (!deps.providerKey) {
    throw fail('service.unavailable', 'this provider has no accredited key to certify with');
  }
  const account = await loadAccount(deps.db, accountId);
  const expiresAt = Math.floor(deps.now() / 1000) + deps.config.prekeys.senderCertificateTtlSeconds;
  const message = senderCertificateMessage(
    deps.config.providerId,
    account.id,
    account.device_key,
    expiresAt,
  );
  const signature = sign(null, message, deps.providerKey);
  return {
    certificate: `${message.toString('base64url')}.${signature.toString('base64url')}`,
    expiresAt: isoTime(expiresAt * 1000),
  };
}

const invalid = (why: string): Error =>
  fail('auth.invalid', `the sender certificate ${why}; ask your provider for a new one`);

/**
 * Checks a sender certificate: its form, its lifetime and the signature of the provider it
 * names, with that provider's publishing keys from the trust list (or this provider's own key).
 */
export async function verifySenderCertificate(
  deps: ProviderDeps,
  token: string,
): Promise<SenderCertificate> {
  const [body, sig] = token.split('.');
  const message = Buffer.from(body ?? '', 'base64url');
  const fields = message.toString('utf8').split('\n');
  const [context, issuer, accountId, key, expires] = fields;
  const deviceKey = ed25519PublicKey(Buffer.from(key ?? '', 'base64url'));
  const expiresAt = Number(expires);
  if (
    fields.length !== 5 ||
    context !== CONTEXT ||
    !issuer ||
    !accountId ||
    !deviceKey ||
    !/^\d{1,12}$/.test(expires ?? '')
  ) {
    throw invalid('is malformed');
  }
  const nowSeconds = deps.now() / 1000;
  if (expiresAt <= nowSeconds) throw invalid('expired');
  if (expiresAt > nowSeconds + MAX_LIFETIME_SECONDS) throw invalid('lives too long');
  const keys = await issuerKeys(deps, issuer);
  const signature = Buffer.from(sig ?? '', 'base64url');
  if (!keys.some((k) => verify(null, message, k, signature))) {
    throw invalid('is not signed by a provider of the trust list');
  }
  return { issuer, accountId, deviceKey, expiresAt };
}

/** The keys `issuer` signs with; 503 when the trust list cannot be read (fails closed). */
async function issuerKeys(deps: ProviderDeps, issuer: string): Promise<readonly KeyObject[]> {
  if (issuer === deps.config.providerId) {
    return deps.providerKey ? [createPublicKey(deps.providerKey)] : [];
  }
  try {
    return (await deps.providerKeys?.(issuer)) ?? [];
  } catch (err) {
    if (err instanceof ProviderApiError) throw err;
    deps.logger.warn({ err }, 'trust list unreadable: sender certificate not checked');
    throw fail('service.unavailable', 'the trust list cannot be read here; retry later');
  }
}
