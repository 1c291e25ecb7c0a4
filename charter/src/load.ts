import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject } from 'ajv/dist/2020.js';
import { createHash } from 'node:crypto';
import { CharterError } from './errors.js';
import { canonicalBytes, canonicalize } from './jcs.js';
import { keyIdFor, publicKeyFromBase64 } from './keys.js';
import { trustListSchema } from './schema.js';
import { parseStrictJson } from './strict-json.js';
import type {
  Board,
  DirectoryEntry,
  ProviderEntry,
  SignedTrustList,
  TrustAnchor,
  TrustListBody,
} from './types.js';

/** Refuse anything bigger: a list for thousands of providers is far below this. */
export const MAX_TRUST_LIST_BYTES = 4 * 1024 * 1024;

/** What {@link loadTrustList} accepts: file bytes, their text, or an already-parsed value. */
export type TrustListInput =
  Uint8Array | string | SignedTrustList | Readonly<Record<string, unknown>>;

const validateEnvelope = new Ajv2020({
  allErrors: false,
  strict: true,
  discriminator: true,
}).compile<SignedTrustList>(trustListSchema);

/**
 * Parses and checks the form of a trust list, WITHOUT checking its signatures: strict JSON (no
 * duplicate names, integers only), the JSON Schema (unknown fields refused), then the rules a
 * schema cannot say (keyids are SHA-256 of their keys, ids are unique, thresholds reachable,
 * https outside loopback, dates in order). Use {@link verifyTrustList} before trusting anything.
 *
 * @example const envelope = loadTrustList(await readFile('trust-list.json'));
 */
export function loadTrustList(
  input: TrustListInput,
  maxBytes = MAX_TRUST_LIST_BYTES,
): SignedTrustList {
  let value: unknown;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
    if (size > maxBytes) {
      throw new CharterError('too-large', `trust list is ${size} bytes; the limit is ${maxBytes}`);
    }
    if (size === 0) {
      throw new CharterError(
        'malformed-json',
        'trust list is empty (0 bytes); the file is incomplete',
        '0',
      );
    }
    value = parseStrictJson(typeof input === 'string' ? input : decodeUtf8(input));
  } else {
    // Already-parsed values go through the same integer and Unicode rules via canonicalisation.
    canonicalize(input);
    value = input;
  }
  if (!validateEnvelope(value)) {
    throw schemaError(validateEnvelope.errors ?? []);
  }
  checkBody(value.signed);
  return value;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new CharterError('malformed-json', 'trust list is not valid UTF-8');
  }
}

function schemaError(errors: readonly ErrorObject[]): CharterError {
  const first = errors[0];
  if (first === undefined)
    return new CharterError('schema-violation', 'trust list does not match the schema');
  const at = first.instancePath === '' ? '/' : first.instancePath;
  if (first.keyword === 'additionalProperties') {
    const name = String((first.params as { additionalProperty?: unknown }).additionalProperty);
    return new CharterError(
      'schema-violation',
      `unknown field "${name}" at ${at}: this format refuses fields it does not define`,
      first.instancePath,
    );
  }
  if (first.keyword === 'required') {
    const name = String((first.params as { missingProperty?: unknown }).missingProperty);
    return new CharterError(
      'schema-violation',
      `missing field "${name}" at ${at}`,
      first.instancePath,
    );
  }
  return new CharterError(
    'schema-violation',
    `trust list does not match the schema at ${at}: ${first.message ?? first.keyword}`,
    first.instancePath,
  );
}

/** Lower-case hex SHA-256 of the canonical body: the identity of one list version. */
export function trustListDigest(body: TrustListBody): string {
  return createHash('sha256').update(canonicalBytes(body)).digest('hex');
}

/**
 * A short stable name for a board: SHA-256 over its threshold and sorted keyids (names and order
 * do not matter). Clients may pin it in configuration as their root of trust.
 */
export function boardFingerprint(board: Board): string {
  const keys = board.keys.map((k) => k.keyid).sort();
  return createHash('sha256')
    .update(canonicalBytes({ threshold: board.threshold, keys }))
    .digest('hex');
}

/** Checks a board on its own (also used for a board pinned in configuration). */
export function checkBoard(board: Board, where: string): void {
  const seen = new Set<string>();
  board.keys.forEach((key, i) => {
    checkKeyRecord(key.keyid, key.publicKey, `${where}/keys/${i}`);
    if (seen.has(key.keyid)) {
      throw new CharterError(
        'duplicate-board-key',
        `board key ${i} at ${where} repeats an earlier key; each key may appear once`,
        `${where}/keys/${i}`,
      );
    }
    seen.add(key.keyid);
  });
  if (
    !Number.isSafeInteger(board.threshold) ||
    board.threshold < 1 ||
    board.threshold > board.keys.length
  ) {
    throw new CharterError(
      'invalid-threshold',
      `board threshold ${board.threshold} at ${where} must be between 1 and its ${board.keys.length} key(s)`,
      `${where}/threshold`,
    );
  }
}

function checkKeyRecord(keyid: string, publicKey: string, where: string): void {
  publicKeyFromBase64WithPlace(publicKey, where);
  if (keyIdFor(Buffer.from(publicKey, 'base64')) !== keyid) {
    throw new CharterError(
      'keyid-mismatch',
      `keyid at ${where} is not the SHA-256 of its public key`,
      `${where}/keyid`,
    );
  }
}

function publicKeyFromBase64WithPlace(publicKey: string, where: string): void {
  try {
    publicKeyFromBase64(publicKey);
  } catch (err) {
    if (CharterError.is(err))
      throw new CharterError(err.code, `${err.message} (at ${where})`, where);
    throw err;
  }
}

function parseTime(value: string, where: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || new Date(ms).toISOString().replace('.000Z', 'Z') !== value) {
    throw new CharterError(
      'schema-violation',
      `timestamp at ${where} is not a real UTC instant`,
      where,
    );
  }
  return ms;
}

const DS_DIGEST_HEX: Readonly<Record<number, number>> = { 1: 40, 2: 64, 4: 96 };

function checkAnchor(anchor: TrustAnchor, where: string): void {
  if (anchor.type === 'DS') {
    const expected = DS_DIGEST_HEX[anchor.digestType];
    if (expected !== undefined && anchor.digest.length !== expected) {
      throw new CharterError(
        'schema-violation',
        `DS digest at ${where} has ${anchor.digest.length} hex digits; digest type ${anchor.digestType} needs ${expected}`,
        `${where}/digest`,
      );
    }
  }
}

function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/** https only, except to loopback (the embedded development stack). No credentials, no fragment. */
function checkUrl(value: string, where: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CharterError('schema-violation', `URL at ${where} does not parse`, where);
  }
  if (url.username !== '' || url.password !== '' || url.hash !== '' || url.search !== '') {
    throw new CharterError(
      'policy-violation',
      `URL at ${where} must not carry credentials, a query or a fragment`,
      where,
    );
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new CharterError(
      'policy-violation',
      `URL at ${where} must use https (plain http is allowed only to a loopback host)`,
      where,
    );
  }
}

function checkDirectory(dir: DirectoryEntry, where: string): void {
  dir.trustAnchors.forEach((a, i) => checkAnchor(a, `${where}/trustAnchors/${i}`));
  checkUrl(dir.publishEndpoint, `${where}/publishEndpoint`);
  dir.nameservers.forEach((ns, i) => {
    const port = Number(ns.slice(ns.lastIndexOf(':') + 1));
    if (port < 1 || port > 65535) {
      throw new CharterError(
        'schema-violation',
        `nameserver port at ${where}/nameservers/${i} is out of range`,
        `${where}/nameservers/${i}`,
      );
    }
  });
}

function checkProvider(p: ProviderEntry, where: string, keyOwners: Map<string, string>): void {
  checkUrl(p.apiBaseUrl, `${where}/apiBaseUrl`);
  const from = parseTime(p.accreditation.notBefore, `${where}/accreditation/notBefore`);
  const to = parseTime(p.accreditation.notAfter, `${where}/accreditation/notAfter`);
  if (to <= from) {
    throw new CharterError(
      'schema-violation',
      `accreditation at ${where} ends before it starts`,
      `${where}/accreditation`,
    );
  }
  p.publishingKeys.forEach((k, i) => {
    const at = `${where}/publishingKeys/${i}`;
    checkKeyRecord(k.keyid, k.publicKey, at);
    const owner = keyOwners.get(k.keyid);
    if (owner !== undefined) {
      throw new CharterError(
        'duplicate-entry',
        `publishing key at ${at} is already listed for provider "${owner}"; a key names one provider`,
        at,
      );
    }
    keyOwners.set(k.keyid, p.id);
  });
}

/** The rules the schema cannot express. Exported for the edit functions. */
export function checkBody(body: TrustListBody): void {
  checkBoard(body.board, '/signed/board');
  const issued = parseTime(body.issuedAt, '/signed/issuedAt');
  const expires = parseTime(body.expires, '/signed/expires');
  if (expires <= issued) {
    throw new CharterError(
      'schema-violation',
      'the list expires before it is issued',
      '/signed/expires',
    );
  }
  const dirIds = new Set<string>();
  const apexes = new Set<string>();
  body.directories.forEach((dir, i) => {
    const where = `/signed/directories/${i}`;
    if (dirIds.has(dir.id)) {
      throw new CharterError('duplicate-entry', `directory id "${dir.id}" appears twice`, where);
    }
    if (apexes.has(dir.apex)) {
      throw new CharterError('duplicate-entry', `two directories claim apex "${dir.apex}"`, where);
    }
    dirIds.add(dir.id);
    apexes.add(dir.apex);
    checkDirectory(dir, where);
  });
  const providerIds = new Set<string>();
  const keyOwners = new Map<string, string>();
  body.providers.forEach((p, i) => {
    const where = `/signed/providers/${i}`;
    if (providerIds.has(p.id)) {
      throw new CharterError('duplicate-entry', `provider id "${p.id}" appears twice`, where);
    }
    providerIds.add(p.id);
    checkProvider(p, where, keyOwners);
  });
}

/** The envelope as written to disk: 2-space JSON and a final newline (signatures do not depend on it). */
export function serializeTrustList(envelope: SignedTrustList): string {
  return `${JSON.stringify(envelope, null, 2)}\n`;
}
