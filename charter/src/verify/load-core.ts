// Loading a trust list: strict JSON, the schema (compiled ahead of time), and the rules a schema
// cannot say, written as computations that ask for SHA-256 (crypto.ts) so they run on node:crypto
// (load.ts) or WebCrypto (verify-async.ts). No Node built-ins.
import { fromBase64Strict, utf8Length } from '../trust-list/bytes.js';
import type { CryptoOp } from './crypto.js';
import { sha256HexOp } from './crypto.js';
import { CharterError } from '../trust-list/errors.js';
import { canonicalBytes, canonicalize } from '../trust-list/jcs.js';
import { validate as generatedValidate } from '../trust-list/schema-validator.generated.js';
import { parseStrictJson } from '../trust-list/strict-json.js';
import type {
  Board,
  DirectoryEntry,
  ProviderEntry,
  SignedTrustList,
  TrustAnchor,
  TrustListBody,
} from '../trust-list/types.js';

/** Refuse anything bigger: a list for thousands of providers is far below this. */
export const MAX_TRUST_LIST_BYTES = 4 * 1024 * 1024;

/** What {@link loadTrustList} accepts: file bytes, their text, or an already-parsed value. */
export type TrustListInput =
  Uint8Array | string | SignedTrustList | Readonly<Record<string, unknown>>;

/** The part of an ajv error object the messages use. */
interface SchemaError {
  readonly instancePath: string;
  readonly keyword: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
}

/** ajv's standalone validator for `trustListSchema` (scripts/generate-schema-validator.mjs). */
const validateEnvelope = generatedValidate as unknown as {
  (value: unknown): value is SignedTrustList;
  errors?: SchemaError[] | null;
};

/**
 * Parses and checks the form of a trust list, WITHOUT checking its signatures: strict JSON (no
 * duplicate names, integers only), the JSON Schema (unknown fields refused), then the rules a
 * schema cannot say (keyids are SHA-256 of their keys, ids are unique, thresholds reachable,
 * https outside loopback, dates in order). Use {@link verifyTrustList} before trusting anything.
 *
 * @example const envelope = loadTrustList(await readFile('trust-list.json'));
 */
export function* loadTrustListOp(
  input: TrustListInput,
  maxBytes = MAX_TRUST_LIST_BYTES,
): CryptoOp<SignedTrustList> {
  let value: unknown;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const size = typeof input === 'string' ? utf8Length(input) : input.byteLength;
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
  yield* checkBodyOp(value.signed);
  return value;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new CharterError('malformed-json', 'trust list is not valid UTF-8');
  }
}

function schemaError(errors: readonly SchemaError[]): CharterError {
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
export function trustListDigestOp(body: TrustListBody): CryptoOp<string> {
  return sha256HexOp(canonicalBytes(body));
}

/**
 * A short stable name for a board: SHA-256 over its threshold and sorted keyids (names and order
 * do not matter). Clients may pin it in configuration as their root of trust.
 */
export function boardFingerprintOp(board: Board): CryptoOp<string> {
  const keys = board.keys.map((k) => k.keyid).sort();
  return sha256HexOp(canonicalBytes({ threshold: board.threshold, keys }));
}

/** Checks a board on its own (also used for a board pinned in configuration). */
export function* checkBoardOp(board: Board, where: string): CryptoOp<void> {
  const seen = new Set<string>();
  for (const [i, key] of board.keys.entries()) {
    yield* checkKeyRecordOp(key.keyid, key.publicKey, `${where}/keys/${i}`);
    if (seen.has(key.keyid)) {
      throw new CharterError(
        'duplicate-board-key',
        `board key ${i} at ${where} repeats an earlier key; each key may appear once`,
        `${where}/keys/${i}`,
      );
    }
    seen.add(key.keyid);
  }
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

function* checkKeyRecordOp(keyid: string, publicKey: string, where: string): CryptoOp<void> {
  const raw = fromBase64Strict(publicKey);
  if (raw === undefined || raw.length !== 32) {
    throw new CharterError(
      'invalid-key',
      `public key is not 32 bytes of standard base64 (at ${where})`,
      where,
    );
  }
  if ((yield* sha256HexOp(raw)) !== keyid) {
    throw new CharterError(
      'keyid-mismatch',
      `keyid at ${where} is not the SHA-256 of its public key`,
      `${where}/keyid`,
    );
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

function* checkProviderOp(
  p: ProviderEntry,
  where: string,
  keyOwners: Map<string, string>,
): CryptoOp<void> {
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
  for (const [i, k] of p.publishingKeys.entries()) {
    const at = `${where}/publishingKeys/${i}`;
    yield* checkKeyRecordOp(k.keyid, k.publicKey, at);
    const owner = keyOwners.get(k.keyid);
    if (owner !== undefined) {
      throw new CharterError(
        'duplicate-entry',
        `publishing key at ${at} is already listed for provider "${owner}"; a key names one provider`,
        at,
      );
    }
    keyOwners.set(k.keyid, p.id);
  }
}

/** The rules the schema cannot express. Exported for the edit functions. */
export function* checkBodyOp(body: TrustListBody): CryptoOp<void> {
  yield* checkBoardOp(body.board, '/signed/board');
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
  for (const [i, p] of body.providers.entries()) {
    const where = `/signed/providers/${i}`;
    if (providerIds.has(p.id)) {
      throw new CharterError('duplicate-entry', `provider id "${p.id}" appears twice`, where);
    }
    providerIds.add(p.id);
    yield* checkProviderOp(p, where, keyOwners);
  }
}

/** The envelope as written to disk: 2-space JSON and a final newline (signatures do not depend on it). */
export function serializeTrustList(envelope: SignedTrustList): string {
  return `${JSON.stringify(envelope, null, 2)}\n`;
}
