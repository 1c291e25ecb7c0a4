// Validation of one response for one question against a trust anchor, never trusting the AD bit
// (RFC 4035 5, RFC 5155 8, RFC 4470, RFC 9824). Written once as crypto-requesting computations
// (core/crypto-ops.ts): validate.ts runs them on node:crypto, validate-async.ts on injected crypto.
// No Node built-ins.
import {
  DnsWireError,
  RRType,
  Rcode,
  base32hexDecode,
  compareCanonicalNames,
  isRecordType,
  isSubdomainOf,
  nameLabels,
  namesEqual,
  normalizeName,
} from '@switchboard/dns-wire';
import type { DnskeyData, DomainName, RecordOf, ResourceRecord } from '@switchboard/dns-wire';
import type {
  BogusReason,
  DenialProof,
  DnskeyValidation,
  RrsigRecord,
  TrustAnchor,
  ValidateResponseInput,
  ValidationResult,
  VerifyFailure,
} from '../core/constants.js';
import { DnskeyFlag } from '../core/constants.js';
import type { Op } from '../core/crypto-ops.js';
import { DnssecError } from '../core/errors.js';
import { computeKeyTag, dsMatchesDnskeyOp } from '../keys/key-data.js';
import { nsec3HashOp } from '../nsec3/nsec3-op.js';
import { compareUint8 } from '../core/rrsig-data.js';
import { verifyRrsigOp } from './verify-core.js';

type Nsec = RecordOf<typeof RRType.NSEC>;
type Nsec3 = RecordOf<typeof RRType.NSEC3>;

const DEFAULT_MAX_ITERATIONS = 150;

const FAILURE_PRIORITY: readonly BogusReason[] = [
  'signature-expired',
  'signature-not-yet-valid',
  'labels-invalid',
  'algorithm-unsupported',
  'signature-invalid',
  'key-tag-mismatch',
  'wrong-signer',
];

function toBogus(f: VerifyFailure): BogusReason {
  switch (f) {
    case 'signature-expired':
    case 'signature-not-yet-valid':
    case 'labels-invalid':
    case 'algorithm-unsupported':
    case 'signature-invalid':
    case 'key-tag-mismatch':
    case 'wrong-signer':
      return f;
    case 'algorithm-mismatch':
      return 'key-tag-mismatch';
    default:
      return 'signature-invalid';
  }
}

function worst(reasons: readonly BogusReason[]): BogusReason {
  for (const r of FAILURE_PRIORITY) if (reasons.includes(r)) return r;
  return reasons[0] ?? 'no-signature';
}

type RrsetCheck =
  | { readonly ok: true; readonly rrsigs: RrsigRecord[]; readonly wildcard?: DomainName }
  | { readonly ok: false; readonly reason: BogusReason };

/** Verifies an RRset with any RRSIG made by `signer` with one of `keys`. */
function* checkRrset(
  rrset: readonly ResourceRecord[],
  candidates: readonly ResourceRecord[],
  keys: readonly DnskeyData[],
  signer: DomainName,
  now: Date,
): Op<RrsetCheck> {
  const first = rrset[0];
  if (!first) return { ok: false, reason: 'answer-missing' };
  const rrsigs = candidates.filter(
    (r): r is RrsigRecord =>
      isRecordType(r, RRType.RRSIG) &&
      r.data.typeCovered === first.type &&
      namesEqual(r.name, first.name),
  );
  if (rrsigs.length === 0) return { ok: false, reason: 'no-signature' };
  const failures: BogusReason[] = [];
  for (const sig of rrsigs) {
    if (!namesEqual(sig.data.signerName, signer)) {
      failures.push('wrong-signer');
      continue;
    }
    const matching = keys.filter(
      (k) => k.algorithm === sig.data.algorithm && computeKeyTag(k) === sig.data.keyTag,
    );
    if (matching.length === 0) {
      failures.push('key-tag-mismatch');
      continue;
    }
    for (const key of matching) {
      const r = yield* verifyRrsigOp(rrset, sig, key, now);
      if (r.ok)
        return r.wildcard
          ? { ok: true, rrsigs: [sig], wildcard: r.wildcard }
          : { ok: true, rrsigs: [sig] };
      failures.push(toBogus(r.reason));
    }
  }
  return { ok: false, reason: worst(failures) };
}

/** Hostile or hand-made input (bad names, absurd NSEC3 parameters) is bogus, never a crash. */
export function isMalformedInput(err: unknown): boolean {
  return DnsWireError.is(err) || DnssecError.is(err);
}

export function bogus(reason: BogusReason, detail?: string): ValidationResult {
  return detail ? { status: 'bogus', reason, detail } : { status: 'bogus', reason };
}

/**
 * Validates the apex DNSKEY RRset against a trust anchor: some DNSKEY must match the anchor (DS
 * digest or identical DNSKEY) and must have signed the DNSKEY RRset. Throws `DnsWireError` or
 * `DnssecError` on malformed input (the drivers turn those into `malformed-input`).
 */
export function* validateDnskeyOp(
  anchor: TrustAnchor,
  dnskeyRrset: readonly ResourceRecord[],
  now: Date,
): Op<DnskeyValidation> {
  const zone = anchor.zone;
  const anchors = 'ds' in anchor ? anchor.ds : anchor.dnskeys;
  if (!Array.isArray(anchors) || anchors.length === 0)
    return { status: 'bogus', reason: 'trust-anchor-invalid' };
  const dnskeys = dnskeyRrset.filter(
    (r): r is RecordOf<typeof RRType.DNSKEY> =>
      isRecordType(r, RRType.DNSKEY) && namesEqual(r.name, zone),
  );
  if (dnskeys.length === 0) return { status: 'bogus', reason: 'dnskey-missing' };
  const keys = dnskeys.map((r) => r.data);
  let trusted: DnskeyData[];
  if ('ds' in anchor) {
    trusted = [];
    for (const k of keys)
      for (const ds of anchor.ds)
        if (yield* dsMatchesDnskeyOp(zone, ds, k)) {
          trusted.push(k);
          break;
        }
    if (trusted.length === 0) return { status: 'bogus', reason: 'ds-mismatch' };
  } else {
    trusted = keys.filter((k) => anchor.dnskeys.some((a) => sameKey(a, k)));
    if (trusted.length === 0) return { status: 'bogus', reason: 'dnskey-not-trusted' };
  }
  trusted = trusted.filter((k) => (k.flags & DnskeyFlag.REVOKE) === 0);
  if (trusted.length === 0) return { status: 'bogus', reason: 'dnskey-not-trusted' };
  const rrsigs = dnskeyRrset.filter(
    (r) => isRecordType(r, RRType.RRSIG) && r.data.typeCovered === RRType.DNSKEY,
  );
  if (rrsigs.length === 0) return { status: 'bogus', reason: 'no-signature' };
  const trustedTags = new Set(trusted.map(computeKeyTag));
  const bySigner = rrsigs.filter(
    (r) => isRecordType(r, RRType.RRSIG) && trustedTags.has(r.data.keyTag),
  );
  if (bySigner.length === 0) return { status: 'bogus', reason: 'dnskey-not-trusted' };
  const check = yield* checkRrset(dnskeys, bySigner, trusted, zone, now);
  if (!check.ok) return { status: 'bogus', reason: check.reason };
  return { status: 'secure', keys: keys.filter((k) => (k.flags & DnskeyFlag.ZONE) !== 0) };
}

function sameKey(a: DnskeyData, b: DnskeyData): boolean {
  return (
    a.algorithm === b.algorithm &&
    a.protocol === b.protocol &&
    (a.flags & ~DnskeyFlag.REVOKE) === (b.flags & ~DnskeyFlag.REVOKE) &&
    compareUint8(a.publicKey, b.publicKey) === 0
  );
}

/** Groups records by (owner, type). */
function rrsetsOf(records: readonly ResourceRecord[], type: number): ResourceRecord[][] {
  const map = new Map<string, ResourceRecord[]>();
  for (const r of records) {
    if (r.type !== type) continue;
    const key = normalizeName(r.name).toLowerCase();
    const list = map.get(key);
    if (list) list.push(r);
    else map.set(key, [r]);
  }
  return [...map.values()];
}

/** NSEC covers `name` (owner < name < next), with wrap-around at the end of the zone. */
function nsecCovers(nsec: Nsec, name: DomainName): boolean {
  const afterOwner = compareCanonicalNames(nsec.name, name) < 0;
  const beforeNext = compareCanonicalNames(name, nsec.data.nextDomainName) < 0;
  const wraps = compareCanonicalNames(nsec.data.nextDomainName, nsec.name) <= 0;
  return wraps ? afterOwner || beforeNext : afterOwner && beforeNext;
}

function commonAncestor(a: DomainName, b: DomainName): DomainName {
  const la = nameLabels(a).map((l) => l.toLowerCase());
  const lb = nameLabels(b).map((l) => l.toLowerCase());
  const out: string[] = [];
  for (let i = 1; i <= Math.min(la.length, lb.length); i++) {
    if (la[la.length - i] !== lb[lb.length - i]) break;
    out.unshift(la[la.length - i] as string);
  }
  return out.length ? out.join('.') + '.' : '.';
}

function parentsUpTo(name: DomainName, apex: DomainName): DomainName[] {
  // name itself first, then each ancestor down to (and including) the apex.
  const labels = nameLabels(name);
  const apexCount = nameLabels(apex).length;
  const out: DomainName[] = [];
  for (let i = 0; i <= labels.length - apexCount; i++) out.push(labels.slice(i).join('.') + '.');
  return out;
}

interface ValidatedDenial {
  readonly nsecs: Nsec[];
  readonly nsec3s: Nsec3[];
}

function* validateDenialRecords(
  authorities: readonly ResourceRecord[],
  keys: readonly DnskeyData[],
  apex: DomainName,
  now: Date,
): Op<ValidatedDenial | BogusReason> {
  const nsecs: Nsec[] = [];
  const nsec3s: Nsec3[] = [];
  for (const type of [RRType.NSEC, RRType.NSEC3]) {
    for (const rrset of rrsetsOf(authorities, type)) {
      const first = rrset[0] as ResourceRecord;
      if (!isSubdomainOf(first.name, apex)) return 'denial-wrong-zone';
      const check = yield* checkRrset(rrset, authorities, keys, apex, now);
      if (!check.ok) return check.reason;
      if (check.wildcard) return 'labels-invalid';
      for (const r of rrset) {
        if (isRecordType(r, RRType.NSEC)) nsecs.push(r);
        else if (isRecordType(r, RRType.NSEC3)) nsec3s.push(r);
      }
    }
  }
  return { nsecs, nsec3s };
}

function nsecDenial(
  nsecs: readonly Nsec[],
  qname: DomainName,
  qtype: number,
  rcode: number,
  apex: DomainName,
): ValidationResult {
  const matching = nsecs.find((n) => namesEqual(n.name, qname));
  if (matching) {
    const types = matching.data.types;
    // RFC 9824: NXNAME in the bitmap means the name does not exist (answer may be NOERROR).
    if (types.includes(RRType.NXNAME)) {
      if (qtype === RRType.NXNAME) return bogus('denial-type-present');
      return {
        status: 'secure-denial',
        kind: 'nxdomain',
        proof: { method: 'nsec-compact', records: [matching] },
      };
    }
    if (rcode === Rcode.NXDOMAIN)
      return bogus('denial-does-not-cover-name', 'NSEC proves the name exists');
    if (types.includes(qtype) || (types.includes(RRType.CNAME) && qtype !== RRType.CNAME))
      return bogus('denial-type-present');
    return {
      status: 'secure-denial',
      kind: 'nodata',
      proof: { method: 'nsec', records: [matching] },
    };
  }
  const covering = nsecs.find((n) => nsecCovers(n, qname));
  if (!covering) return bogus('denial-does-not-cover-name');
  // An NSEC owned by a delegation point or DNAME above qname says nothing about names below it
  // (RFC 4035 5.4, RFC 6672 5.3.4.1).
  const ownerTypes = covering.data.types;
  if (
    isSubdomainOf(qname, covering.name) &&
    ((ownerTypes.includes(RRType.NS) && !ownerTypes.includes(RRType.SOA)) ||
      ownerTypes.includes(RRType.DNAME))
  )
    return bogus('denial-does-not-cover-name', 'NSEC from a delegation or DNAME owner');
  // A next name below qname means qname is an empty non-terminal (NODATA). RFC 4470 white lies
  // also use next = \000.qname with NXDOMAIN, so the rcode decides which proof is meant.
  const entBelow =
    isSubdomainOf(covering.data.nextDomainName, qname) &&
    !namesEqual(covering.data.nextDomainName, qname);
  if (entBelow && rcode === Rcode.NOERROR)
    return {
      status: 'secure-denial',
      kind: 'nodata',
      proof: { method: 'nsec', records: [covering] },
    };
  // Closest encloser: the deeper common ancestor of qname with the NSEC owner or next name.
  const a = commonAncestor(qname, covering.name);
  const b = commonAncestor(qname, covering.data.nextDomainName);
  let ce = nameLabels(a).length >= nameLabels(b).length ? a : b;
  // The closest encloser is a proper ancestor of qname (a next name below qname would make
  // qname an empty non-terminal, handled above).
  const qLabels = nameLabels(qname);
  if (nameLabels(ce).length >= qLabels.length) ce = qLabels.slice(1).join('.') + '.';
  if (!isSubdomainOf(ce, apex)) ce = apex;
  const wildcard = `*.${ce === '.' ? '' : ce}`;
  if (rcode !== Rcode.NXDOMAIN) {
    // RFC 4035 3.1.3.4: wildcard NODATA = NSEC covering qname + NSEC matching the wildcard
    // without the type.
    const wm = nsecs.find((n) => namesEqual(n.name, wildcard));
    if (!wm) return bogus('denial-does-not-cover-name', 'NOERROR without a matching NSEC');
    const wt = wm.data.types;
    if (wt.includes(qtype) || (wt.includes(RRType.CNAME) && qtype !== RRType.CNAME))
      return bogus('denial-type-present');
    return {
      status: 'secure-denial',
      kind: 'nodata',
      proof: { method: 'nsec', records: [covering, wm] },
    };
  }
  const wildcardProof = nsecs.find((n) => nsecCovers(n, wildcard));
  if (!wildcardProof) return bogus('denial-wildcard-not-covered');
  const records = wildcardProof === covering ? [covering] : [covering, wildcardProof];
  return { status: 'secure-denial', kind: 'nxdomain', proof: { method: 'nsec', records } };
}

interface Nsec3Params {
  readonly salt: Uint8Array;
  readonly iterations: number;
}

function nsec3Label(n: Nsec3): Uint8Array | undefined {
  const first = nameLabels(n.name)[0];
  if (!first) return undefined;
  try {
    return base32hexDecode(first);
  } catch {
    return undefined;
  }
}

function nsec3Covers(n: Nsec3, hash: Uint8Array): boolean {
  const owner = nsec3Label(n);
  if (!owner) return false;
  const next = n.data.nextHashedOwner;
  const afterOwner = compareUint8(owner, hash) < 0;
  const beforeNext = compareUint8(hash, next) < 0;
  return compareUint8(next, owner) <= 0 ? afterOwner || beforeNext : afterOwner && beforeNext;
}

function nsec3Matches(n: Nsec3, hash: Uint8Array): boolean {
  const owner = nsec3Label(n);
  return owner !== undefined && compareUint8(owner, hash) === 0;
}

function* nsec3Denial(
  nsec3s: readonly Nsec3[],
  qname: DomainName,
  qtype: number,
  rcode: number,
  apex: DomainName,
  maxIterations: number,
): Op<ValidationResult> {
  const params = nsec3ParamsOf(nsec3s, apex, maxIterations);
  if ('status' in params) return params;
  const h = (name: DomainName): Op<Uint8Array> => nsec3HashOp(name, params.salt, params.iterations);
  const qhash = yield* h(qname);
  const matching = nsec3s.find((n) => nsec3Matches(n, qhash));
  if (matching) {
    if (rcode === Rcode.NXDOMAIN)
      return bogus('denial-does-not-cover-name', 'NSEC3 proves the name exists');
    if (typeProven(matching.data.types, qtype)) return bogus('denial-type-present');
    return {
      status: 'secure-denial',
      kind: 'nodata',
      proof: { method: 'nsec3', records: [matching] },
    };
  }
  const encloser = yield* closestEncloser(nsec3s, qname, apex, h);
  if ('status' in encloser) return encloser;
  const { ce, ceRecord, nextCloser } = encloser;
  const nextCloserHash = yield* h(nextCloser);
  const ncProof = nsec3s.find((n) => nsec3Covers(n, nextCloserHash));
  if (!ncProof) return bogus('denial-does-not-cover-name');
  const wildcardHash = yield* h(`*.${ce === '.' ? '' : ce}`);
  if (rcode !== Rcode.NXDOMAIN) {
    // RFC 5155 8.7: wildcard NODATA = closest encloser proof + NSEC3 matching the wildcard
    // without the type.
    const wm = nsec3s.find((n) => nsec3Matches(n, wildcardHash));
    if (!wm) return bogus('denial-does-not-cover-name', 'NOERROR without a matching NSEC3');
    if (typeProven(wm.data.types, qtype)) return bogus('denial-type-present');
    const records = [...new Set([ceRecord, ncProof, wm])];
    return {
      status: 'secure-denial',
      kind: 'nodata',
      proof: { method: 'nsec3', records, closestEncloser: ce },
    };
  }
  const wc = nsec3s.find((n) => nsec3Covers(n, wildcardHash));
  if (!wc) return bogus('denial-wildcard-not-covered');
  const records = [...new Set([ceRecord, ncProof, wc])];
  const proof: DenialProof = { method: 'nsec3', records, closestEncloser: ce };
  return { status: 'secure-denial', kind: 'nxdomain', proof };
}

/** True if a bitmap shows the type, or a CNAME standing for it, present. */
function typeProven(types: readonly number[], qtype: number): boolean {
  return types.includes(qtype) || (types.includes(RRType.CNAME) && qtype !== RRType.CNAME);
}

/** The NSEC3 parameters every record shares, or why the records cannot prove anything. */
function nsec3ParamsOf(
  nsec3s: readonly Nsec3[],
  apex: DomainName,
  maxIterations: number,
): Nsec3Params | ValidationResult {
  const first = nsec3s[0] as Nsec3;
  for (const n of nsec3s) {
    if (n.data.hashAlgorithm !== 1) return bogus('nsec3-unsupported');
    if (!namesEqual(nameLabels(n.name).slice(1).join('.') + '.', apex))
      return bogus('denial-wrong-zone');
  }
  // RFC 5155 8.2: ignore NSEC3 with parameters unlike the first? We require them to agree.
  const params: Nsec3Params = { salt: first.data.salt, iterations: first.data.iterations };
  if (
    nsec3s.some(
      (n) =>
        n.data.iterations !== params.iterations || compareUint8(n.data.salt, params.salt) !== 0,
    )
  )
    return bogus('nsec3-unsupported', 'NSEC3 records disagree on parameters');
  if (params.iterations > maxIterations) return bogus('nsec3-iterations-too-high');
  return params;
}

/** RFC 5155 8.3: the closest encloser, its NSEC3 and the next closer name, or why not. */
function* closestEncloser(
  nsec3s: readonly Nsec3[],
  qname: DomainName,
  apex: DomainName,
  h: (name: DomainName) => Op<Uint8Array>,
): Op<{ ce: DomainName; ceRecord: Nsec3; nextCloser: DomainName } | ValidationResult> {
  const chain = parentsUpTo(qname, apex);
  let ce: DomainName | undefined;
  let nextCloser: DomainName | undefined;
  let ceRecord: Nsec3 | undefined;
  for (let i = 1; i < chain.length; i++) {
    const candidate = chain[i] as DomainName;
    const candidateHash = yield* h(candidate);
    const m = nsec3s.find((n) => nsec3Matches(n, candidateHash));
    if (m) {
      ce = candidate;
      ceRecord = m;
      nextCloser = chain[i - 1];
      break;
    }
  }
  if (!ce || !ceRecord || !nextCloser) return bogus('nsec3-closest-encloser-missing');
  // A closest encloser with NS but no SOA (a delegation) or with DNAME cannot prove anything.
  const ceTypes = ceRecord.data.types;
  if (
    (ceTypes.includes(RRType.NS) && !ceTypes.includes(RRType.SOA)) ||
    ceTypes.includes(RRType.DNAME)
  )
    return bogus('nsec3-closest-encloser-missing', 'closest encloser is a delegation or DNAME');
  return { ce, ceRecord, nextCloser };
}

/** Proof, for a wildcard-expanded answer, that `qname` itself does not exist. */
function* wildcardProofOk(
  denial: ValidatedDenial,
  qname: DomainName,
  wildcard: DomainName,
  apex: DomainName,
  maxIterations: number,
): Op<boolean> {
  if (denial.nsecs.some((n) => nsecCovers(n, qname))) return true;
  const first = denial.nsec3s[0];
  if (!first || first.data.iterations > maxIterations) return false;
  const ce = nameLabels(wildcard).slice(1).join('.') + '.';
  const chain = parentsUpTo(qname, apex);
  const idx = chain.findIndex((n) => namesEqual(n, ce));
  if (idx < 1) return false;
  const nc = chain[idx - 1] as DomainName;
  const hash = yield* nsec3HashOp(nc, first.data.salt, first.data.iterations);
  return denial.nsec3s.some((n) => nsec3Covers(n, hash));
}

/**
 * Validates a response to (qname, qtype) from the trust anchor down, ignoring the AD bit. Throws
 * `DnsWireError` or `DnssecError` on malformed input (the drivers turn those into
 * `malformed-input`).
 */
export function* validateResponseOp(input: ValidateResponseInput): Op<ValidationResult> {
  const { trustAnchor, response, qtype, now } = input;
  const apex = normalizeName(trustAnchor.zone);
  const qname = normalizeName(input.qname);
  const maxIterations = input.maxNsec3Iterations ?? DEFAULT_MAX_ITERATIONS;
  if (!isSubdomainOf(qname, apex)) return bogus('out-of-zone');
  const q = response.questions[0];
  if (response.questions.length !== 1 || !q || !namesEqual(q.name, qname) || q.type !== qtype)
    return bogus('question-mismatch');
  const keyCheck = yield* validateDnskeyOp(trustAnchor, input.dnskeyRrset, now);
  if (keyCheck.status === 'bogus') return bogus(keyCheck.reason);
  const keys = keyCheck.keys;
  if (response.rcode !== Rcode.NOERROR && response.rcode !== Rcode.NXDOMAIN)
    return bogus('unexpected-rcode');

  const answer = response.answers.filter(
    (r) => r.type === qtype && namesEqual(r.name, qname) && r.type !== RRType.RRSIG,
  );
  if (response.rcode === Rcode.NOERROR && answer.length > 0) {
    const check = yield* checkRrset(answer, response.answers, keys, apex, now);
    if (!check.ok) return bogus(check.reason);
    if (check.wildcard) {
      const denial = yield* validateDenialRecords(response.authorities, keys, apex, now);
      if (typeof denial === 'string') return bogus(denial);
      if (!(yield* wildcardProofOk(denial, qname, check.wildcard, apex, maxIterations)))
        return bogus('wildcard-proof-missing');
      return { status: 'secure', rrset: answer, rrsigs: check.rrsigs, wildcard: check.wildcard };
    }
    return { status: 'secure', rrset: answer, rrsigs: check.rrsigs };
  }
  const denial = yield* validateDenialRecords(response.authorities, keys, apex, now);
  if (typeof denial === 'string') return bogus(denial);
  if (denial.nsecs.length > 0) return nsecDenial(denial.nsecs, qname, qtype, response.rcode, apex);
  if (denial.nsec3s.length > 0)
    return yield* nsec3Denial(denial.nsec3s, qname, qtype, response.rcode, apex, maxIterations);
  return bogus(
    response.rcode === Rcode.NOERROR && response.answers.length > 0
      ? 'answer-missing'
      : 'denial-missing',
  );
}
