import { fromBase64, fromUtf8 } from '../bytes.js';
import { SwitchboardError } from '../errors.js';

/** Services the directory publishes (docs/directory-records.md). */
export type ContactService = 'sip' | 'xmpp' | 'matrix';

export interface ContactMethod {
  readonly service: ContactService;
  readonly uri: string;
  readonly order: number;
  readonly preference: number;
}

export interface IdentityRecord {
  /** libsignal serialized identity public key (33 bytes). */
  readonly identityKey: Uint8Array;
  /** Provider id as listed in the trust list. */
  readonly providerId: string;
}

interface NaptrLike {
  readonly order: number;
  readonly preference: number;
  readonly flags: string;
  readonly services: string;
  readonly regexp: string;
  readonly replacement: string;
}

const SERVICES: Record<string, ContactService> = {
  'e2u+sip': 'sip',
  'e2u+xmpp': 'xmpp',
  'e2u+matrix': 'matrix',
};

const URI_SCHEMES: Record<ContactService, RegExp> = {
  sip: /^sips?:[^\s!\\]+$/,
  xmpp: /^xmpp:[^\s!\\]+$/,
  matrix: /^matrix:[^\s!\\]+$/,
};

/**
 * Contact methods from a number's NAPTR RRset in RFC 3403 order (order, then preference).
 * Records with services or flags this client does not know are ignored (RFC 3403 §4.1);
 * a known service with an unusable regexp is ignored too rather than guessed at.
 */
export function contactMethodsFromNaptr(records: ReadonlyArray<NaptrLike>): ContactMethod[] {
  const out: ContactMethod[] = [];
  for (const r of records) {
    const service = SERVICES[r.services.toLowerCase()];
    if (!service || r.flags.toLowerCase() !== 'u') continue;
    // docs/directory-records.md: regexp is `!^.*$!<URI>!`, no escapes in URIs.
    const m = /^!\^\.\*\$!([^!]+)!$/.exec(r.regexp);
    if (!m) continue;
    const uri = m[1]!;
    if (!URI_SCHEMES[service].test(uri)) continue;
    out.push({ service, uri, order: r.order, preference: r.preference });
  }
  return out.sort((a, b) => a.order - b.order || a.preference - b.preference);
}

/**
 * Parses the `sbkey1` TXT record (docs/directory-records.md). Several character-strings of one
 * record are concatenated; exactly one `v=sbkey1` record must be present.
 */
export function identityFromTxt(
  records: ReadonlyArray<{ readonly texts: ReadonlyArray<Uint8Array> }>,
): IdentityRecord {
  const candidates: string[] = [];
  for (const r of records) {
    const text = fromUtf8(Uint8Array.from(r.texts.flatMap((t) => [...t])));
    if (text !== undefined && /^v=sbkey1(;|$)/.test(text)) candidates.push(text);
  }
  if (candidates.length !== 1) {
    throw new SwitchboardError(
      'not-found',
      candidates.length === 0
        ? 'the directory entry has no identity key record (sbkey1)'
        : 'the directory entry has more than one identity key record',
    );
  }
  const tags = new Map<string, string>();
  for (const part of candidates[0]!.split(';').slice(1)) {
    const t = part.replace(/^ +/, '');
    const eq = t.indexOf('=');
    if (eq <= 0)
      throw new SwitchboardError(
        'directory-record-invalid',
        'the identity key record is malformed',
      );
    const name = t.slice(0, eq);
    if (tags.has(name)) {
      throw new SwitchboardError(
        'directory-record-invalid',
        'the identity key record repeats a tag',
      );
    }
    tags.set(name, t.slice(eq + 1));
  }
  const key = fromBase64(tags.get('k') ?? '');
  const providerId = tags.get('p') ?? '';
  if (!key || key.length !== 33 || key[0] !== 0x05 || !/^[a-z0-9.-]{1,64}$/.test(providerId)) {
    throw new SwitchboardError(
      'directory-record-invalid',
      'the identity key record lacks a valid key (k=) or provider (p=)',
    );
  }
  return { identityKey: key, providerId };
}
