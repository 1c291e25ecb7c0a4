// Cross-checks with real DNSSEC software: ldns-verify-zone and dnssec-verify accept zones we
// sign; zones signed by dnssec-signzone (with keys we export) and ldns-signzone verify with our
// code; BIND named serves our zone and both our validator and delv validate its answers.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RRType,
  decodeMessage,
  encodeMessage,
  formatRecord,
  isRecordType,
  parseZone,
  toHex,
} from '@switchboard/dns-wire';
import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import {
  bindKeyBaseName,
  dsFromDnskey,
  exportBindPrivateKey,
  formatBindPublicKey,
  generateSigningKey,
  importBindPrivateKey,
  signZoneNsec3,
  validateDnskeyRrset,
  validateResponse,
  verifyRrsig,
} from '../../src/index.js';
import type { SigningKey } from '../../src/index.js';

const APEX = 'e164.switchboard.test.';
const NUMBER = `7.6.5.4.3.2.1.5.5.5.1.${APEX}`;
const NOW = new Date();
const INCEPTION = new Date(NOW.getTime() - 3600_000);
const EXPIRATION = new Date(NOW.getTime() + 14 * 86400_000);

const ZONE_TEXT = `$ORIGIN ${APEX}
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 60
  NS ns1
ns1 A 127.0.0.1
7.6.5.4.3.2.1.5.5.5.1 NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:+15551234567@sip.example!" .
  NAPTR 100 20 "u" "E2U+xmpp" "!^.*$!xmpp:alice@xmpp.example!" .
  TXT "v=sbkey1; k=ed25519"
8.6.5.4.3.2.1.5.5.5.1 NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:bob@sip.example!" .
*.wild A 192.0.2.9
`;

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sb-dnssec-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(cmd: string, args: string[], cwd?: string): { code: number; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
}

function signOurs(keys: SigningKey[]): ResourceRecord[] {
  return signZoneNsec3(parseZone(ZONE_TEXT), keys, {
    origin: APEX,
    inception: INCEPTION,
    expiration: EXPIRATION,
  });
}

function writeZone(dir: string, records: readonly ResourceRecord[]): string {
  const file = join(dir, 'zone.signed');
  writeFileSync(file, records.map(formatRecord).join('\n') + '\n');
  return file;
}

describe('zones we sign pass real verifiers', () => {
  // dnssec-verify wants -z (KSK flag ignored) for a single combined signing key (CSK).
  it.each<[string, () => SigningKey[], string[]]>([
    [
      'ECDSA P-256 KSK + ZSK',
      () => [generateSigningKey(13), generateSigningKey(13, { flags: 256 })],
      [],
    ],
    ['Ed25519 single key', () => [generateSigningKey(15)], ['-z']],
  ])(
    '%s: ldns-verify-zone and dnssec-verify accept it; a flipped signature is caught',
    (_name, keys, flags) => {
      const dir = tempDir();
      const signed = signOurs(keys());
      const file = writeZone(dir, signed);
      const ldns = run('ldns-verify-zone', [file]);
      expect(ldns.out).toContain('Zone is verified and complete');
      expect(ldns.code).toBe(0);
      const bind = run('dnssec-verify', [...flags, '-o', APEX, file]);
      expect(bind.out).toContain('Zone fully signed');
      expect(bind.code).toBe(0);

      const naptrSig = signed.findIndex(
        (r) => isRecordType(r, RRType.RRSIG) && r.data.typeCovered === RRType.NAPTR,
      );
      const sig = signed[naptrSig] as ResourceRecord;
      if (!isRecordType(sig, RRType.RRSIG)) throw new Error('no NAPTR RRSIG');
      const flipped = sig.data.signature.slice();
      flipped[10] = (flipped[10] as number) ^ 0xff;
      const tampered = signed.map((r, i) =>
        i === naptrSig ? { ...sig, data: { ...sig.data, signature: flipped } } : r,
      );
      const bad = writeZone(dir, tampered);
      expect(run('ldns-verify-zone', [bad]).code).not.toBe(0);
      expect(run('dnssec-verify', [...flags, '-o', APEX, bad]).code).not.toBe(0);
    },
  );
});

function verifyAll(
  records: readonly ResourceRecord[],
  now: Date,
): { checked: number; failures: string[] } {
  const keys = records.filter((r) => isRecordType(r, RRType.DNSKEY));
  const failures: string[] = [];
  let checked = 0;
  for (const sig of records) {
    if (!isRecordType(sig, RRType.RRSIG)) continue;
    const rrset = records.filter(
      (r) => r.type === sig.data.typeCovered && r.name.toLowerCase() === sig.name.toLowerCase(),
    );
    const key = keys.find(
      (k) =>
        isRecordType(k, RRType.DNSKEY) && dsFromDnskey(APEX, k.data).keyTag === sig.data.keyTag,
    );
    if (!key || !isRecordType(key, RRType.DNSKEY)) {
      failures.push(`${sig.name} no key`);
      continue;
    }
    const r = verifyRrsig(rrset, sig, key.data, now);
    checked++;
    if (!r.ok) failures.push(`${sig.name} ${sig.data.typeCovered} ${r.reason}`);
  }
  return { checked, failures };
}

describe('zones signed by real signers verify with our code', () => {
  it('dnssec-signzone with keys we exported as BIND K* files (NSEC3)', () => {
    const dir = tempDir();
    const ksk = generateSigningKey(13);
    const zsk = generateSigningKey(13, { flags: 256 });
    for (const k of [ksk, zsk]) {
      const base = join(dir, bindKeyBaseName(APEX, k));
      writeFileSync(`${base}.key`, formatBindPublicKey(APEX, k, 300));
      writeFileSync(`${base}.private`, exportBindPrivateKey(k, INCEPTION), { mode: 0o600 });
    }
    writeFileSync(join(dir, 'zone'), ZONE_TEXT);
    const r = run(
      'dnssec-signzone',
      [
        '-S',
        '-K',
        dir,
        '-3',
        '-',
        '-H',
        '0',
        '-o',
        APEX,
        '-f',
        join(dir, 'out'),
        join(dir, 'zone'),
      ],
      dir,
    );
    expect(r.code).toBe(0);
    const records = parseZone(readFileSync(join(dir, 'out'), 'utf8'));
    const { checked, failures } = verifyAll(records, NOW);
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10);
    const tags = new Set(
      records.flatMap((x) => (isRecordType(x, RRType.RRSIG) ? [x.data.keyTag] : [])),
    );
    expect(tags).toEqual(new Set([ksk.keyTag, zsk.keyTag]));
    const dnskeyRrset = records.filter(
      (x) =>
        x.name === APEX &&
        (x.type === RRType.DNSKEY ||
          (isRecordType(x, RRType.RRSIG) && x.data.typeCovered === RRType.DNSKEY)),
    );
    expect(
      validateDnskeyRrset({ zone: APEX, ds: [dsFromDnskey(APEX, ksk.dnskey)] }, dnskeyRrset, NOW)
        .status,
    ).toBe('secure');
  });

  it('ldns-signzone with an ldns-keygen Ed25519 key; we read its private key file', () => {
    const dir = tempDir();
    const gen = run('ldns-keygen', ['-a', 'ED25519', '-k', APEX], dir);
    expect(gen.code).toBe(0);
    const base = gen.out.trim().split('\n')[0] as string;
    writeFileSync(join(dir, 'zone'), ZONE_TEXT);
    const s = run(
      'ldns-signzone',
      ['-n', '-o', APEX, '-f', join(dir, 'out'), join(dir, 'zone'), base],
      dir,
    );
    expect(s.code).toBe(0);
    const records = parseZone(readFileSync(join(dir, 'out'), 'utf8'));
    // ldns-signzone starts validity at the moment it signs.
    const { checked, failures } = verifyAll(records, new Date(Date.now() + 60_000));
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10);
    const imported = importBindPrivateKey(readFileSync(join(dir, `${base}.private`), 'utf8'), {
      flags: 257,
    });
    const published = parseZone(
      readFileSync(join(dir, `${base}.key`), 'utf8'),
    )[0] as ResourceRecord;
    expect(isRecordType(published, RRType.DNSKEY) && toHex(published.data.publicKey)).toBe(
      toHex(imported.dnskey.publicKey),
    );
  });
});

interface Named {
  readonly port: number;
  stop(): void;
  query(qname: string, qtype: number, timeoutMs?: number): Promise<Message>;
}

function query(port: number, qname: string, qtype: number, timeoutMs = 3000): Promise<Message> {
  const q = encodeMessage({
    id: Math.floor(Math.random() * 65535),
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name: qname, type: qtype, class: 1 }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: { udpPayloadSize: 1232, version: 0, dnssecOk: true, options: [] },
  });
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('timeout'));
    }, timeoutMs);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(decodeMessage(new Uint8Array(msg)));
    });
    sock.send(q, port, '127.0.0.1');
  });
}

/** Starts named on 127.0.0.1 and a random high port, serving `zoneFile` for APEX. */
async function startNamed(dir: string, zoneFile: string): Promise<Named> {
  const port = 20000 + Math.floor(Math.random() * 30000);
  writeFileSync(
    join(dir, 'named.conf'),
    `options { directory "${dir}"; listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; pid-file "${dir}/named.pid"; dnssec-validation no; minimal-responses yes; };
controls { };
zone "${APEX}" { type primary; file "${zoneFile}"; };
`,
  );
  const child: ChildProcess = spawn('named', ['-g', '-c', join(dir, 'named.conf')], {
    stdio: 'ignore',
  });
  const named: Named = {
    port,
    stop: () => {
      if (child.pid) process.kill(child.pid);
    },
    query: (qname, qtype, timeoutMs) => query(port, qname, qtype, timeoutMs),
  };
  for (let i = 0; i < 100; i++) {
    try {
      await named.query(APEX, RRType.SOA, 500);
      return named;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  named.stop();
  throw new Error('named did not start');
}

async function validatedBy(
  named: Named,
  anchor: { zone: string; ds: ReturnType<typeof dsFromDnskey>[] },
  qname: string,
  qtype: number,
): Promise<ReturnType<typeof validateResponse>> {
  const keys = await named.query(APEX, RRType.DNSKEY);
  const response = await named.query(qname, qtype);
  return validateResponse({
    trustAnchor: anchor,
    dnskeyRrset: keys.answers,
    response,
    qname,
    qtype,
    now: NOW,
  });
}

describe('BIND named serving a zone we signed', () => {
  let named: Named;
  const ksk = generateSigningKey(13);
  const zsk = generateSigningKey(13, { flags: 256 });
  const dir = tempDir();
  const anchor = { zone: APEX, ds: [dsFromDnskey(APEX, ksk.dnskey)] };

  beforeAll(async () => {
    named = await startNamed(dir, writeZone(dir, signOurs([ksk, zsk])));
  });
  afterAll(() => named.stop());

  it('answers validate as secure, NXDOMAIN and NODATA as secure denials (NSEC3)', async () => {
    expect(await validatedBy(named, anchor, NUMBER, RRType.NAPTR)).toMatchObject({
      status: 'secure',
    });
    expect(await validatedBy(named, anchor, `9.9.9.9.5.5.5.1.${APEX}`, RRType.NAPTR)).toMatchObject(
      {
        status: 'secure-denial',
        kind: 'nxdomain',
        proof: { method: 'nsec3', closestEncloser: `5.5.5.1.${APEX}` },
      },
    );
    expect(await validatedBy(named, anchor, NUMBER, RRType.AAAA)).toMatchObject({
      status: 'secure-denial',
      kind: 'nodata',
    });
    // An empty non-terminal of our NSEC3 chain.
    expect(await validatedBy(named, anchor, `5.5.5.1.${APEX}`, RRType.NAPTR)).toMatchObject({
      status: 'secure-denial',
      kind: 'nodata',
    });
  });

  it('wildcard answers and wildcard NODATA validate (NSEC3)', async () => {
    expect(await validatedBy(named, anchor, `x.wild.${APEX}`, RRType.A)).toMatchObject({
      status: 'secure',
      wildcard: `*.wild.${APEX}`,
    });
    expect(await validatedBy(named, anchor, `x.wild.${APEX}`, RRType.AAAA)).toMatchObject({
      status: 'secure-denial',
      kind: 'nodata',
      proof: { method: 'nsec3', closestEncloser: `wild.${APEX}` },
    });
  });

  it('delv fully validates the answer from our DS', () => {
    const ds = dsFromDnskey(APEX, ksk.dnskey);
    const anchors = join(dir, 'anchors.conf');
    writeFileSync(
      anchors,
      `trust-anchors { ${APEX} static-ds ${ds.keyTag} ${ds.algorithm} ${ds.digestType} "${toHex(ds.digest)}"; };\n`,
    );
    const args = ['@127.0.0.1', '-p', String(named.port), '-a', anchors, `+root=${APEX}`];
    expect(run('delv', [...args, NUMBER, 'NAPTR']).out).toContain('; fully validated');
    expect(run('delv', [...args, `x.wild.${APEX}`, 'A']).out).toContain('; fully validated');
    const nx = run('delv', [...args, `9.${APEX}`, 'NAPTR']);
    expect(nx.out).toMatch(
      /resolution failed: ncache nxdomain|; negative response, fully validated/,
    );
  });
});

describe('BIND named serving a dnssec-signzone NSEC zone (keys we exported)', () => {
  let named: Named;
  const ksk = generateSigningKey(15);
  const dir = tempDir();
  const anchor = { zone: APEX, ds: [dsFromDnskey(APEX, ksk.dnskey)] };

  beforeAll(async () => {
    const base = join(dir, bindKeyBaseName(APEX, ksk));
    writeFileSync(`${base}.key`, formatBindPublicKey(APEX, ksk, 300));
    writeFileSync(`${base}.private`, exportBindPrivateKey(ksk, INCEPTION), { mode: 0o600 });
    writeFileSync(join(dir, 'zone'), ZONE_TEXT);
    const r = run(
      'dnssec-signzone',
      ['-S', '-z', '-K', dir, '-o', APEX, '-f', join(dir, 'out'), join(dir, 'zone')],
      dir,
    );
    expect(r.code).toBe(0);
    named = await startNamed(dir, join(dir, 'out'));
  });
  afterAll(() => named.stop());

  it.each<[string, string, number, object]>([
    ['answer', NUMBER, RRType.NAPTR, { status: 'secure' }],
    [
      'NXDOMAIN',
      `9.9.9.9.5.5.5.1.${APEX}`,
      RRType.NAPTR,
      { status: 'secure-denial', kind: 'nxdomain', proof: { method: 'nsec' } },
    ],
    [
      'NODATA',
      NUMBER,
      RRType.AAAA,
      { status: 'secure-denial', kind: 'nodata', proof: { method: 'nsec' } },
    ],
    [
      'empty non-terminal',
      `5.5.5.1.${APEX}`,
      RRType.NAPTR,
      { status: 'secure-denial', kind: 'nodata' },
    ],
    [
      'wildcard answer',
      `x.wild.${APEX}`,
      RRType.A,
      { status: 'secure', wildcard: `*.wild.${APEX}` },
    ],
    ['wildcard NODATA', `x.wild.${APEX}`, RRType.AAAA, { status: 'secure-denial', kind: 'nodata' }],
  ])('%s validates', async (_what, qname, qtype, expected) => {
    expect(await validatedBy(named, anchor, qname, qtype)).toMatchObject(expected);
  });
});
