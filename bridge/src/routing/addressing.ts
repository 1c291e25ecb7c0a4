import { BridgeError } from '../model/errors.js';
import type { Address, Network, Target } from '../model/model.js';

/**
 * Remote users appear on every network as a "remote key": `<tag>_<escaped id>` where tag is
 * `sip`, `xmpp`, `mx` or `tel` (phone number, digits only). Escaping keeps `[a-z0-9.-]` and
 * writes every other UTF-8 byte as `=xx` (lowercase hex), so the key is a valid Matrix
 * localpart, JID localpart (RFC 7622 §3.3, after nodeprep lowercasing) and SIP user part
 * (RFC 3261 §25.1) at once, and survives servers that case-fold.
 *
 * @example
 * remoteKeyFor({ kind: 'address', address: { network: 'sip', id: 'Alice@sip.test' } })
 * // 'sip_=41lice=40sip.test'
 */
export function remoteKeyFor(target: Target): string {
  if (target.kind === 'phone') return `tel_${target.e164.slice(1)}`;
  return `${TAGS[target.address.network]}_${escapeId(target.address.id)}`;
}

/** Parses a remote key (or a bare `+E.164` number, which users type by hand) into a target. */
export function parseRemoteKey(key: string): Target {
  if (/^\+[1-9]\d{6,14}$/.test(key)) return { kind: 'phone', e164: key };
  const sep = key.indexOf('_');
  if (sep < 0) throw new BridgeError('invalid-address', 'remote address has no network tag');
  const tag = key.slice(0, sep).toLowerCase();
  const rest = key.slice(sep + 1);
  if (tag === 'tel') {
    const e164 = `+${rest}`;
    if (!/^\+[1-9]\d{6,14}$/.test(e164)) {
      throw new BridgeError('invalid-address', 'tel_ address must be 7 to 15 digits (E.164)');
    }
    return { kind: 'phone', e164 };
  }
  const network = NETWORK_BY_TAG[tag];
  if (!network) throw new BridgeError('invalid-address', 'unknown network tag in remote address');
  return { kind: 'address', address: validateAddress({ network, id: unescapeId(rest) }) };
}

const TAGS: Readonly<Record<Network, string>> = { sip: 'sip', xmpp: 'xmpp', matrix: 'mx' };
const NETWORK_BY_TAG: Readonly<Record<string, Network>> = {
  sip: 'sip',
  xmpp: 'xmpp',
  mx: 'matrix',
};

const SAFE = /^[a-z0-9.-]$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Escapes an id into the `[a-z0-9.-=]` alphabet (see {@link remoteKeyFor}). */
export function escapeId(id: string): string {
  let out = '';
  for (const ch of id) {
    if (SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of encoder.encode(ch)) out += `=${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Reverses {@link escapeId}; refuses anything outside the alphabet or invalid UTF-8. */
export function unescapeId(escaped: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const ch = escaped[i]!;
    if (ch === '=') {
      const hex = escaped.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new BridgeError('invalid-address', 'bad escape in remote address');
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (SAFE.test(ch.toLowerCase())) {
      bytes.push(ch.toLowerCase().charCodeAt(0));
    } else {
      throw new BridgeError('invalid-address', 'character not allowed in remote address');
    }
  }
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch (err) {
    throw new BridgeError('invalid-address', 'remote address is not valid UTF-8', { cause: err });
  }
}

const MATRIX_USER = /^@[a-z0-9._=\-/+]{1,255}:[A-Za-z0-9.-]+(:\d{1,5})?$/;
const JID_BARE = /^[^@/\s"&'<>:]{1,1023}@[A-Za-z0-9.-]{1,1023}$/;
const SIP_USER = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]{1,255}@[A-Za-z0-9.-]+(:\d{1,5})?$/;

/** Checks an address has its network's canonical shape; returns it unchanged. */
export function validateAddress(address: Address): Address {
  const ok =
    address.network === 'matrix'
      ? MATRIX_USER.test(address.id) && address.id.length <= 255
      : address.network === 'xmpp'
        ? JID_BARE.test(address.id)
        : SIP_USER.test(address.id);
  if (!ok) throw new BridgeError('invalid-address', `not a valid ${address.network} address`);
  return address;
}

/**
 * Turns a contact URI from the directory (NAPTR order) into an address:
 * `sip:alice@host`, `xmpp:alice@host`, `matrix:u/alice:host` (the registered matrix: scheme).
 */
export function addressFromUri(uri: string): Address {
  const m = /^([a-z]+):(.*)$/i.exec(uri.trim());
  if (!m) throw new BridgeError('invalid-address', 'contact URI has no scheme');
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!.split(/[?;]/)[0]!;
  if (scheme === 'sip' || scheme === 'sips') return validateAddress({ network: 'sip', id: rest });
  if (scheme === 'xmpp') {
    return validateAddress({ network: 'xmpp', id: decodeURIComponent(rest.replace(/^\/\//, '')) });
  }
  if (scheme === 'matrix') {
    const u = /^u\/([^/]+)$/.exec(rest);
    if (!u) throw new BridgeError('invalid-address', 'matrix: URI does not name a user (u/...)');
    return validateAddress({ network: 'matrix', id: `@${decodeURIComponent(u[1]!)}` });
  }
  throw new BridgeError('unsupported-network', 'contact URI scheme is not bridged');
}

/** The domain part of an address (after `@`, or after `:` for Matrix). */
export function domainOf(address: Address): string {
  return address.network === 'matrix'
    ? address.id.slice(address.id.indexOf(':') + 1)
    : address.id.slice(address.id.indexOf('@') + 1);
}
