import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { ProviderSchema } from '@switchboard/openapi';
import { ProviderApiError } from '@switchboard/openapi';
import type { ProviderDeps } from '../core/deps.js';
import { loadAccount } from '../accounts/accounts.js';
import { ed25519PublicKey, isoTime } from '../core/encoding.js';
import { fail } from '../core/errors.js';

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

/** Most verified certificates remembered per provider (about 300 bytes each). */
const VERIFIED_CACHE_SIZE = 10_000;

/** A certificate whose signature verified, and the issuer's key it verified with. */
interface Verified {
  readonly certificate: SenderCertificate;
  readonly signedBy: KeyObject;
}

const verifiedByDeps = new WeakMap<ProviderDeps, Map<string, Verified>>();

/**
 * Checks a sender certificate: its form, its lifetime and the signature of the provider it
 * names, with that provider's publishing keys from the trust list (or this provider's own key).
 * Certificates that verified are remembered by their SHA-256 (the last
 * {@link VERIFIED_CACHE_SIZE}), so that an asker presenting the same one again costs a hash
 * instead of a signature check; the lifetime is checked again every time, and so is the key
 * it verified with, which must still be one of its issuer's keys in the trust list now.
 */
export async function verifySenderCertificate(
  deps: ProviderDeps,
  token: string,
): Promise<SenderCertificate> {
  let verified = verifiedByDeps.get(deps);
  if (!verified) verifiedByDeps.set(deps, (verified = new Map()));
  const digest = createHash('sha256').update(token).digest('base64');
  const known = verified.get(digest);
  if (known) {
    checkLifetime(deps, known.certificate.expiresAt);
    const keys = await issuerKeys(deps, known.certificate.issuer);
    if (keys.some((k) => k.equals(known.signedBy))) return known.certificate;
    verified.delete(digest);
  }
  const { certificate, signedBy } = await verifyFully(deps, token);
  if (verified.size >= VERIFIED_CACHE_SIZE) {
    const oldest = verified.keys().next().value;
    if (oldest !== undefined) verified.delete(oldest);
  }
  verified.set(digest, { certificate, signedBy });
  return certificate;
}

function checkLifetime(deps: ProviderDeps, expiresAt: number): void {
  const nowSeconds = deps.now() / 1000;
  if (expiresAt <= nowSeconds) throw invalid('expired');
  if (expiresAt > nowSeconds + MAX_LIFETIME_SECONDS) throw invalid('lives too long');
}

async function verifyFully(deps: ProviderDeps, token: string): Promise<Verified> {
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
  checkLifetime(deps, expiresAt);
  const keys = await issuerKeys(deps, issuer);
  const signature = Buffer.from(sig ?? '', 'base64url');
  const signedBy = keys.find((k) => verify(null, message, k, signature));
  if (!signedBy) throw invalid('is not signed by a provider of the trust list');
  return { certificate: { issuer, accountId, deviceKey, expiresAt }, signedBy };
}

const ownPublicKeys = new WeakMap<KeyObject, KeyObject>();

/** The keys `issuer` signs with; 503 when the trust list cannot be read (fails closed). */
async function issuerKeys(deps: ProviderDeps, issuer: string): Promise<readonly KeyObject[]> {
  if (issuer === deps.config.providerId) {
    if (!deps.providerKey) return [];
    let own = ownPublicKeys.get(deps.providerKey);
    if (!own) ownPublicKeys.set(deps.providerKey, (own = createPublicKey(deps.providerKey)));
    return [own];
  }
  try {
    return (await deps.providerKeys?.(issuer)) ?? [];
  } catch (err) {
    if (err instanceof ProviderApiError) throw err;
    deps.logger.warn({ err }, 'trust list unreadable: sender certificate not checked');
    throw fail('service.unavailable', 'the trust list cannot be read here; retry later');
  }
}
