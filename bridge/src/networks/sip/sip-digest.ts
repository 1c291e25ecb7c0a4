import { createHash, randomBytes } from 'node:crypto';

/**
 * HTTP Digest authentication for SIP requests (RFC 3261 §22.4, RFC 2617, RFC 8760 for
 * SHA-256): reads a `WWW-Authenticate`/`Proxy-Authenticate` challenge and writes the matching
 * `Authorization`/`Proxy-Authorization` value. `qop=auth` when offered, else the RFC 2069 form.
 */
export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque: string | undefined;
  readonly algorithm: 'MD5' | 'SHA-256';
  /** Whether the challenge offers `qop=auth`. */
  readonly qopAuth: boolean;
}

/** The challenge in a header value, or undefined when it is not a Digest one we can answer. */
export function parseDigestChallenge(value: string): DigestChallenge | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return undefined;
  const params = new Map<string, string>();
  const re = /([A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let p = re.exec(m[1]!); p; p = re.exec(m[1]!)) {
    params.set(p[1]!.toLowerCase(), p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!);
  }
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const algorithm = (params.get('algorithm') ?? 'MD5').toUpperCase();
  if (realm === undefined || !nonce || (algorithm !== 'MD5' && algorithm !== 'SHA-256')) {
    return undefined;
  }
  const qop = params.get('qop');
  return {
    realm,
    nonce,
    opaque: params.get('opaque'),
    algorithm,
    qopAuth: qop === undefined ? false : qop.split(',').some((q) => q.trim() === 'auth'),
  };
}

export interface DigestInput {
  readonly username: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
  /** Nonce count (1 for the first use of a nonce). */
  readonly nc: number;
  /** Client nonce; random when not given (tests give one). */
  readonly cnonce?: string;
}

/** The credentials answering `challenge` (the value of an Authorization header). */
export function digestAuthorization(challenge: DigestChallenge, input: DigestInput): string {
  const hash = (s: string): string =>
    createHash(challenge.algorithm === 'MD5' ? 'md5' : 'sha256')
      .update(s, 'utf8')
      .digest('hex');
  const ha1 = hash(`${input.username}:${challenge.realm}:${input.password}`);
  const ha2 = hash(`${input.method}:${input.uri}`);
  const nc = input.nc.toString(16).padStart(8, '0');
  const cnonce = input.cnonce ?? randomBytes(8).toString('hex');
  const response = challenge.qopAuth
    ? hash(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`)
    : hash(`${ha1}:${challenge.nonce}:${ha2}`);
  const fields = [
    `username="${quote(input.username)}"`,
    `realm="${quote(challenge.realm)}"`,
    `nonce="${quote(challenge.nonce)}"`,
    `uri="${quote(input.uri)}"`,
    `response="${response}"`,
    `algorithm=${challenge.algorithm}`,
  ];
  if (challenge.qopAuth) fields.push('qop=auth', `nc=${nc}`, `cnonce="${cnonce}"`);
  if (challenge.opaque !== undefined) fields.push(`opaque="${quote(challenge.opaque)}"`);
  return `Digest ${fields.join(', ')}`;
}

function quote(s: string): string {
  return s.replace(/[\\"]/g, (c) => `\\${c}`);
}
