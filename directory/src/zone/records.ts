import type { ResourceRecord } from '@switchboard/dns-wire';
import { DnsWireError, encodeMessage, encodeRdata, RRClass, RRType } from '@switchboard/dns-wire';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';

/** The contact methods a number can publish, in NAPTR service form `E2U+<service>`. */
export type ContactService = 'sip' | 'xmpp' | 'matrix';

/** One contact method of a number. */
export interface Contact {
  readonly service: ContactService;
  readonly uri: string;
}

/** What the directory holds for one published number. */
export interface NumberEntry {
  readonly number: E164Number;
  readonly provider: string;
  /** libsignal identity public key, standard base64 (33 bytes serialised). */
  readonly identityKey: string;
  readonly contacts: readonly Contact[];
  /** The zone serial that first contained this version. */
  readonly serial: number;
  /** Seconds since the epoch. */
  readonly updatedAt: number;
}

/** A refused publish input; `code` matches the problem codes of openapi/directory.yaml. */
export class RecordInputError extends Error {
  override readonly name = 'RecordInputError';
  constructor(
    readonly code: 'invalid-identity-key' | 'invalid-contact' | 'invalid-body',
    message: string,
  ) {
    super(message);
  }
}

export const PROVIDER_ID = /^[a-z0-9][a-z0-9.-]{0,63}$/;
const IDENTITY_KEY = /^[A-Za-z0-9+/]{44}$/;
/**
 * RFC 3986 2: unreserved, reserved and percent-encoded octets only, so non-ASCII is
 * percent-encoded UTF-8 (as SIP, RFC 3261 25.1, and XMPP, RFC 5122 2.7, URIs are anyway) and a
 * URI's octets are its characters. `!` (a sub-delim) is left out so the NAPTR regexp
 * `!^.*$!<uri>!` never needs escaping (docs/directory-records.md). openapi/*.yaml say the same.
 */
const URI_CHARACTERS = /^(?:[A-Za-z0-9._~:/?#[\]@$&'()*+,;=-]|%[0-9A-Fa-f]{2})+$/;
/** Most octets in a contact URI (openapi/*.yaml `maxLength`; the URI is ASCII, see above). */
export const MAX_URI_OCTETS = 200;
const URI_SHAPES: Readonly<Record<ContactService, RegExp>> = {
  sip: /^sips?:[^@:/]+@[a-z0-9.-]+(:[0-9]{1,5})?(;[^;]+)*$/i,
  xmpp: /^xmpp:[^@/]+@[a-z0-9.-]+(\/.+)?$/i,
  // Matrix spec appendix "Matrix URI scheme": matrix:u/<localpart>:<server name>.
  matrix: /^matrix:u\/[a-z0-9._=\-/+]+:[a-z0-9.-]+(:[0-9]{1,5})?$/,
};

/** Checks a libsignal identity key: base64 of 33 bytes whose first byte is the type 0x05. */
export function checkIdentityKey(value: unknown): string {
  if (typeof value !== 'string' || !IDENTITY_KEY.test(value)) {
    throw new RecordInputError(
      'invalid-identity-key',
      'identityKey must be a libsignal public key (33 bytes) in standard base64',
    );
  }
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== 33 || bytes[0] !== 0x05) {
    throw new RecordInputError(
      'invalid-identity-key',
      'identityKey must be a Curve25519 key serialised by libsignal (first byte 0x05)',
    );
  }
  return value;
}

/** Checks the ordered contact list: 1 to 3 entries, one per service, well-formed URIs. */
export function checkContacts(value: unknown): Contact[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > 3) {
    throw new RecordInputError(
      'invalid-contact',
      'body/contacts: must be a list of 1 to 3 entries',
    );
  }
  const seen = new Set<string>();
  return value.map((item: unknown, index): Contact => {
    if (typeof item !== 'object' || item === null) {
      throw new RecordInputError('invalid-contact', `body/contacts/${index}: must be an object`);
    }
    const { service, uri, ...rest } = item as Record<string, unknown>;
    if (Object.keys(rest).length > 0) {
      throw new RecordInputError(
        'invalid-contact',
        `body/contacts/${index}: may only have service and uri`,
      );
    }
    if (service !== 'sip' && service !== 'xmpp' && service !== 'matrix') {
      throw new RecordInputError(
        'invalid-contact',
        `body/contacts/${index}/service: must be sip, xmpp or matrix`,
      );
    }
    if (seen.has(service)) {
      throw new RecordInputError(
        'invalid-contact',
        `body/contacts/${index}/service: ${service} is listed more than once`,
      );
    }
    seen.add(service);
    if (
      typeof uri !== 'string' ||
      uri.length < 5 ||
      uri.length > MAX_URI_OCTETS ||
      !URI_CHARACTERS.test(uri) ||
      !URI_SHAPES[service].test(uri)
    ) {
      throw new RecordInputError(
        'invalid-contact',
        `body/contacts/${index}/uri: must be a ${service === 'matrix' ? 'matrix:u/<localpart>:<server>' : `${service}:user@host`} URI of 5 to ${MAX_URI_OCTETS} RFC 3986 characters (non-ASCII percent-encoded), without "!"`,
      );
    }
    return { service, uri };
  });
}

/** NAPTR services per contact service (one string each, shared by every record). */
const SERVICES: Readonly<Record<ContactService, string>> = {
  sip: 'E2U+sip',
  xmpp: 'E2U+xmpp',
  matrix: 'E2U+matrix',
};

/** RFC 6116 3.2.3 regexp form: every query becomes the URI. */
const regexpFor = (uri: string): string => `!^.*$!${uri}!`;

/** Default TTL of a number's records (docs/directory-records.md). */
export const RECORD_TTL = 300;

/** The `sbkey1` TXT text for an entry (docs/directory-records.md). */
export function sbkeyText(identityKey: string, provider: string): string {
  return `v=sbkey1; k=${identityKey}; p=${provider}`;
}

/**
 * The unsigned records published for a number: one NAPTR per contact (order 100, preference 10,
 * 20, 30 in the provider's order; RFC 6116 3.2.3 regexp form) and the `sbkey1` TXT.
 */
export function recordsForEntry(
  entry: Pick<NumberEntry, 'number' | 'provider' | 'identityKey' | 'contacts'>,
  apex: string,
  ttl: number = RECORD_TTL,
  /** The entry's ENUM name under `apex`, when the caller has it already. */
  name: string = enumNameFor(entry.number, apex),
): ResourceRecord[] {
  const naptrs: ResourceRecord[] = entry.contacts.map((c, i) => ({
    name,
    type: RRType.NAPTR,
    class: RRClass.IN,
    ttl,
    data: {
      order: 100,
      preference: 10 * (i + 1),
      flags: 'u',
      services: SERVICES[c.service],
      regexp: regexpFor(c.uri),
      replacement: '.',
    },
  }));
  const txt: ResourceRecord = {
    name,
    type: RRType.TXT,
    class: RRClass.IN,
    ttl,
    data: { texts: [new TextEncoder().encode(sbkeyText(entry.identityKey, entry.provider))] },
  };
  return [...naptrs, txt];
}

/** The largest answer sent over UDP (RFC 6891 payload; DNS flag day 2020), as dns/answer.ts offers. */
export const UDP_ANSWER_OCTETS = 1232;
/** The largest DNS message over TCP (RFC 7766 8: a two-octet length). */
export const TCP_MESSAGE_OCTETS = 65_535;
/** RRSIG signature octets of the zone's algorithms: 13 (ECDSA P-256) and 15 (Ed25519). */
const SIGNATURE_OCTETS = 64;

/** Why an entry's records cannot be served: the publish input at fault, as a JSON pointer. */
export interface Unservable {
  /** `contacts/<i>/uri`, `contacts` or `identityKey` (relative to the publish body). */
  readonly field: string;
  readonly reason: string;
}

/**
 * Why the records of `entry` could not be served within `limit` octets, or undefined if they
 * can: {@link unencodable}, then each RRset's largest answer (its question, the RRset, one
 * RRSIG, OPT) encoded against `limit`. The publish API asks for {@link UDP_ANSWER_OCTETS}, so
 * every answer fits a UDP reply with its signature (docs/directory-records.md).
 */
export function unservable(
  entry: Pick<NumberEntry, 'number' | 'provider' | 'identityKey' | 'contacts'>,
  apex: string,
  ttl: number,
  limit: number,
  name: string = enumNameFor(entry.number, apex),
): Unservable | undefined {
  const records = recordsForEntry(entry, apex, ttl, name);
  const bad = unencodable(records, entry.contacts);
  if (bad) return bad;
  for (const rrset of [records.slice(0, -1), records.slice(-1)]) {
    const first = rrset[0];
    if (!first) continue;
    let octets: number;
    try {
      octets = answerOctets(first.name, rrset, apex);
    } catch (err) {
      if (!(err instanceof DnsWireError)) throw err;
      octets = TCP_MESSAGE_OCTETS + 1; // `too-large`: over what any message holds
    }
    if (octets > limit) {
      return {
        field: first.type === RRType.NAPTR ? 'contacts' : 'identityKey',
        reason: `the signed ${rrType(first)} answer would be ${octets} octets, over ${limit}`,
      };
    }
  }
  return undefined;
}

/**
 * Why `records` (of {@link recordsForEntry}, for `contacts`) cannot be encoded, or undefined:
 * each is encoded by the codec that answers with it (RFC 1035 3.3: a character-string holds 255
 * octets, a name 255 and a label 63; UTF-8 on the wire). What the zone checks stored entries
 * with (an answer over 65,535 octets, which no published entry comes near, would get SERVFAIL).
 */
export function unencodable(
  records: readonly ResourceRecord[],
  contacts: readonly Contact[],
): Unservable | undefined {
  for (const [i, rr] of records.entries()) {
    try {
      encodedRdata.set(rr, encodeRdata(rr));
    } catch (err) {
      if (!(err instanceof DnsWireError)) throw err;
      const contact = i < contacts.length ? contacts[i] : undefined;
      if (!contact) return { field: 'identityKey', reason: `the TXT record: ${err.message}` };
      const octets = Buffer.byteLength(regexpFor(contact.uri));
      return {
        field: `contacts/${i}/uri`,
        reason: `its NAPTR regexp would be ${octets} octets of UTF-8: ${err.message}`,
      };
    }
  }
  return undefined;
}

/**
 * The RDATA of each record {@link unencodable} encoded, kept with the record (they are
 * immutable), so answering does not encode it again (dns/fast-path.ts).
 */
const encodedRdata = new WeakMap<ResourceRecord, Uint8Array>();

/** The RDATA of `rr` encoded (uncompressed, as given): kept from {@link unencodable}, or now. */
export function rdataOf(rr: ResourceRecord): Uint8Array {
  return encodedRdata.get(rr) ?? encodeRdata(rr);
}

/** Throws the publish API's `invalid-contact` (or key) problem when {@link unservable} says so. */
export function checkServable(
  entry: Pick<NumberEntry, 'number' | 'provider' | 'identityKey' | 'contacts'>,
  apex: string,
  ttl: number,
): void {
  const why = unservable(entry, apex, ttl, UDP_ANSWER_OCTETS);
  if (!why) return;
  const code = why.field === 'identityKey' ? 'invalid-identity-key' : 'invalid-contact';
  throw new RecordInputError(code, `body/${why.field}: ${why.reason}`);
}

const rrType = (rr: ResourceRecord): string => (rr.type === RRType.NAPTR ? 'NAPTR' : 'TXT');

/** Octets of a DNSSEC answer holding `rrset` with one RRSIG and an OPT. */
function answerOctets(name: string, rrset: readonly ResourceRecord[], apex: string): number {
  const first = rrset[0] as ResourceRecord;
  const rrsig: ResourceRecord = {
    name,
    type: RRType.RRSIG,
    class: RRClass.IN,
    ttl: first.ttl,
    data: {
      typeCovered: first.type,
      algorithm: 13,
      labels: 0,
      originalTtl: first.ttl,
      expiration: 0,
      inception: 0,
      keyTag: 0,
      signerName: apex,
      signature: new Uint8Array(SIGNATURE_OCTETS),
    },
  };
  return encodeMessage({
    id: 0,
    qr: true,
    opcode: 0,
    aa: true,
    tc: false,
    rd: false,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name, type: first.type, class: RRClass.IN }],
    answers: [...rrset, rrsig],
    authorities: [],
    additionals: [],
    edns: { udpPayloadSize: UDP_ANSWER_OCTETS, version: 0, dnssecOk: true, options: [] },
  }).length;
}
