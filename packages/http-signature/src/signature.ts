import type { KeyObject } from 'node:crypto';
import { createHash, randomBytes, sign, timingSafeEqual, verify } from 'node:crypto';
import { HttpSignatureError } from './errors.js';
import type { ReplayCache } from './replay-cache.js';
import type { Member } from './structured-fields.js';
import { StructuredFieldError, parseDictionary, serializeInnerList } from './structured-fields.js';

// RFC 9421 HTTP Message Signatures, profile used by every Switchboard API:
// - covered components: "@method" "@path" "@query" "content-digest" (RFC 9530, sha-256), in that
//   order, so the body, the target and the verb are all bound;
// - parameters: created, keyid, nonce, alg="ed25519" (RFC 9421 section 3.3.6);
// - one signature, labelled "sb".
// @target-uri is deliberately not covered: scheme and authority change behind TLS terminators
// and load balancers, while path and query do not.

const LABEL = 'sb';
const COMPONENTS = ['@method', '@path', '@query', 'content-digest'] as const;
const ALG = 'ed25519';
const MAX_KEY_ID = 512;
const MAX_NONCE = 128;

/** Header names are lower-case, as Node presents them. */
export type SignedHeaders = Readonly<
  Record<'signature-input' | 'signature' | 'content-digest', string>
>;

/** What {@link signRequest} needs. */
export interface SignRequestInput {
  readonly method: string;
  /** Absolute URL or origin-form (`/v1/x?y=1`); only path and query are signed. */
  readonly url: string;
  /** The exact body bytes that will be sent (empty for none). */
  readonly body?: Uint8Array | string;
  readonly keyId: string;
  /** An Ed25519 private key. */
  readonly privateKey: KeyObject;
  /** Seconds since the epoch. */
  readonly now: number;
  /** Defaults to 16 random bytes, base64url. */
  readonly nonce?: string;
}

/**
 * Signs a request: returns the `content-digest`, `signature-input` and `signature` headers to add.
 *
 * @example
 * const headers = signRequest({ method: 'PUT', url, body, keyId: 'provider-a', privateKey, now: Date.now() / 1000 });
 */
export function signRequest(input: SignRequestInput): SignedHeaders {
  if (input.privateKey.asymmetricKeyType !== 'ed25519') {
    throw new HttpSignatureError('unsupported', 'request signing key must be Ed25519');
  }
  const contentDigest = contentDigestFor(toBytes(input.body));
  const params: Array<readonly [string, string | number]> = [
    ['created', Math.floor(input.now)],
    ['keyid', input.keyId],
    ['nonce', input.nonce ?? randomBytes(16).toString('base64url')],
    ['alg', ALG],
  ];
  const signatureParams = serializeInnerList(COMPONENTS, params);
  const base = signatureBase(input.method, input.url, contentDigest, signatureParams);
  const signature = sign(null, Buffer.from(base), input.privateKey);
  return {
    'content-digest': contentDigest,
    'signature-input': `${LABEL}=${signatureParams}`,
    signature: `${LABEL}=:${signature.toString('base64')}:`,
  };
}

/** What {@link verifyRequest} needs. */
export interface VerifyRequestInput {
  readonly method: string;
  /** Origin-form target as received (`req.originalUrl` in express) or an absolute URL. */
  readonly url: string;
  /** Request headers, lower-case names (Node's `req.headers`). */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Uint8Array | string | undefined;
  /** Seconds since the epoch. */
  readonly now: number;
  /** The Ed25519 public key for a key id, or undefined if unknown/not allowed. */
  resolveKey(keyId: string): KeyObject | undefined | Promise<KeyObject | undefined>;
  readonly replayCache: ReplayCache;
  /** How far `created` may be from `now`, either way (default 300 s). */
  readonly maxSkewSeconds?: number;
}

/**
 * Verifies a signed request. Checks, in order: headers present and well-formed, the profile's
 * components covered, body digest, freshness, key known, signature valid, nonce unused.
 * The nonce is only recorded once the signature is valid, so forgeries cannot burn nonces.
 */
export async function verifyRequest(
  input: VerifyRequestInput,
): Promise<{ readonly keyId: string }> {
  const signatureInput = singleHeader(input.headers, 'signature-input');
  const signatureHeader = singleHeader(input.headers, 'signature');
  const digestHeader = singleHeader(input.headers, 'content-digest');

  const sigInput = parseMember(signatureInput, 'Signature-Input');
  const sig = parseMember(signatureHeader, 'Signature');
  if (sigInput.kind !== 'inner-list' || sig.kind !== 'bytes') {
    throw new HttpSignatureError(
      'malformed',
      `Signature-Input and Signature must both carry label "${LABEL}"`,
    );
  }
  if (
    sigInput.items.length !== COMPONENTS.length ||
    sigInput.items.some((c, i) => c !== COMPONENTS[i])
  ) {
    throw new HttpSignatureError(
      'unsupported',
      `signature must cover exactly ${COMPONENTS.join(' ')}`,
    );
  }
  const created = sigInput.params.get('created');
  const keyId = sigInput.params.get('keyid');
  const nonce = sigInput.params.get('nonce');
  const alg = sigInput.params.get('alg');
  if (typeof created !== 'number' || typeof keyId !== 'string' || typeof nonce !== 'string') {
    throw new HttpSignatureError(
      'malformed',
      'signature parameters created, keyid and nonce are required',
    );
  }
  if (alg !== ALG) throw new HttpSignatureError('unsupported', 'signature alg must be "ed25519"');
  if (
    keyId.length === 0 ||
    keyId.length > MAX_KEY_ID ||
    nonce.length < 8 ||
    nonce.length > MAX_NONCE
  ) {
    throw new HttpSignatureError('malformed', 'keyid or nonce has an invalid length');
  }

  const expected = contentDigestFor(toBytes(input.body));
  if (!digestMatches(digestHeader, expected)) {
    throw new HttpSignatureError(
      'digest-mismatch',
      'Content-Digest does not match the body (sha-256 required)',
    );
  }

  const maxSkew = input.maxSkewSeconds ?? 300;
  if (Math.abs(input.now - created) > maxSkew) {
    throw new HttpSignatureError(
      'stale',
      `signature created time is more than ${maxSkew} s from the server clock`,
    );
  }

  const key = await input.resolveKey(keyId);
  if (!key)
    throw new HttpSignatureError('unknown-key', 'the signing key is not known or not allowed here');
  if (key.asymmetricKeyType !== 'ed25519')
    throw new HttpSignatureError('unsupported', 'key is not Ed25519');

  // RFC 9421 section 2.3: the base carries the serialisation of the parsed parameters, so other
  // signatures in the same header (section 4.3) or non-canonical whitespace do not matter.
  const paramsText = serializeInnerList(sigInput.items, [...sigInput.params]);
  const base = signatureBase(input.method, input.url, digestHeader, paramsText);
  if (!verify(null, Buffer.from(base), key, sig.value)) {
    throw new HttpSignatureError('bad-signature', 'the request signature does not verify');
  }

  const remembered = await input.replayCache.remember(keyId, nonce, (created + maxSkew) * 1000);
  if (!remembered) throw new HttpSignatureError('replayed', 'this signed request was already used');
  return { keyId };
}

/** RFC 9530 Content-Digest header value for a body (sha-256). */
export function contentDigestFor(body: Uint8Array): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

// RFC 9421 section 2.5: one line per covered component, then @signature-params.
function signatureBase(
  method: string,
  url: string,
  contentDigest: string,
  signatureParams: string,
): string {
  const target = new URL(url, 'http://switchboard.invalid');
  const lines = [
    `"@method": ${method.toUpperCase()}`,
    `"@path": ${target.pathname}`,
    `"@query": ${target.search === '' ? '?' : target.search}`,
    `"content-digest": ${contentDigest.trim()}`,
    `"@signature-params": ${signatureParams}`,
  ];
  return lines.join('\n');
}

function digestMatches(header: string, expected: string): boolean {
  let members: ReadonlyMap<string, Member>;
  try {
    members = parseDictionary(header);
  } catch {
    return false;
  }
  const ours = parseDictionary(expected).get('sha-256');
  const theirs = members.get('sha-256');
  if (
    ours?.kind !== 'bytes' ||
    theirs?.kind !== 'bytes' ||
    theirs.value.length !== ours.value.length
  )
    return false;
  return timingSafeEqual(theirs.value, ours.value);
}

function parseMember(header: string, what: string): Member {
  let dict: ReadonlyMap<string, Member>;
  try {
    dict = parseDictionary(header);
  } catch (err) {
    const detail = err instanceof StructuredFieldError ? `: ${err.message}` : '';
    throw new HttpSignatureError(
      'malformed',
      `${what} header is not a valid structured field${detail}`,
    );
  }
  const member = dict.get(LABEL);
  if (!member)
    throw new HttpSignatureError('malformed', `${what} header has no "${LABEL}" signature`);
  return member;
}

function singleHeader(headers: VerifyRequestInput['headers'], name: string): string {
  const value = headers[name];
  if (value === undefined)
    throw new HttpSignatureError('missing', `the ${name} header is required`);
  if (typeof value !== 'string')
    throw new HttpSignatureError('malformed', `the ${name} header must appear once`);
  return value;
}

function toBytes(body: Uint8Array | string | undefined): Uint8Array {
  if (body === undefined) return new Uint8Array(0);
  return typeof body === 'string' ? Buffer.from(body) : body;
}
