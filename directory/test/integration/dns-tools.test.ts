import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { enumNameFor } from '@switchboard/e164';
import { identity } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { run } from './tools.js';

// Real DNS software from Debian against the running directory: delv validates with the
// directory's key as the only trust anchor; kdig checks the wire over UDP and TCP;
// ldns-verify-zone checks the NSEC3-signed export.

const NUMBER = '+442079460958';
const NAME = enumNameFor(NUMBER, APEX);
const MISSING = enumNameFor('+14155552671', APEX);

describe('directory against delv, kdig and ldns-verify-zone', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  let anchor: string;
  let port: string;

  beforeAll(async () => {
    t = await startTestDirectory({ providers: [acme] });
    port = String(t.dir.dns.port);
    anchor = join(t.dataDir, 'anchor.conf');
    await writeFile(anchor, `${t.dir.trustAnchor}\n`);
    const res = await t.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await t.close();
  });

  const delv = (name: string, type: string): ReturnType<typeof run> =>
    run('delv', ['-a', anchor, `+root=${APEX}`, '-p', port, '@127.0.0.1', name, type]);

  it('delv fully validates the NAPTR answer and the sbkey1 TXT', async () => {
    const naptr = await delv(NAME, 'NAPTR');
    expect(naptr.stdout).toContain('; fully validated');
    expect(naptr.stdout).toContain('"E2U+matrix" "!^.*$!matrix:u/alice:example.net!"');
    const txt = await delv(NAME, 'TXT');
    expect(txt.stdout).toContain('; fully validated');
    expect(txt.stdout).toContain('v=sbkey1; k=');
  });

  it('delv validates the denial for a number that is not published, and for a name outside the digit tree', async () => {
    const missing = await delv(MISSING, 'NAPTR');
    expect(missing.stdout).toContain('; negative response, fully validated');
    const other = await delv(`www.${APEX}`, 'A');
    expect(other.stdout).toContain('; negative response, fully validated');
    // RFC 9824: NXNAME (TYPE128) in the NSEC bitmap.
    expect(other.stdout).toMatch(/NSEC\s+\\000\.www\.e164\.switchboard\.test\. RRSIG NSEC TYPE128/);
    // Asked for the NSEC type itself, the same names answer with their NSEC record.
    const nsec = await delv(MISSING, 'NSEC');
    expect(nsec.stdout).toContain('; fully validated');
    expect(nsec.stdout).toMatch(/\sNSEC\s+\\000\.\S+ RRSIG NSEC\n/);
  });

  it('delv rejects the answers under a different trust anchor', async () => {
    const wrong = join(t.dataDir, 'wrong-anchor.conf');
    const otherKey = t.dir.trustAnchor.replace(
      /"[A-Za-z0-9+/=]+"; };$/,
      '"mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="; };',
    );
    await writeFile(wrong, `${otherKey}\n`);
    const res = await run('delv', [
      '-a',
      wrong,
      `+root=${APEX}`,
      '-p',
      port,
      '@127.0.0.1',
      NAME,
      'NAPTR',
    ]);
    expect(res.stdout).not.toContain('fully validated');
  });

  it('kdig gets authoritative, signed answers over UDP and TCP', async () => {
    for (const transport of ['+notcp', '+tcp']) {
      const res = await run('kdig', [
        '+dnssec',
        '+nordflag',
        transport,
        '-p',
        port,
        '@127.0.0.1',
        NAME,
        'NAPTR',
      ]);
      expect(res.stdout).toMatch(/status: NOERROR/);
      expect(res.stdout).toMatch(/Flags: qr aa;/);
      expect(res.stdout).toMatch(/RRSIG\s+NAPTR 13 15 300/);
      expect(res.stdout).toContain(transport === '+tcp' ? '(TCP)' : '(UDP)');
    }
  });

  it('a reply too large for the client buffer comes back truncated, and kdig retries over TCP', async () => {
    const res = await run('kdig', [
      '+dnssec',
      '+nordflag',
      '+bufsize=512',
      '-p',
      port,
      '@127.0.0.1',
      NAME,
      'ANY',
    ]);
    expect(res.stderr).toContain('truncated reply');
    expect(res.stdout).toContain('(TCP)');
    expect(res.stdout).toMatch(/ANSWER: 6;/);
    // Without retry, the truncated reply itself is well-formed: TC set, empty sections.
    const raw = await run('kdig', [
      '+dnssec',
      '+nordflag',
      '+bufsize=512',
      '+ignore',
      '-p',
      port,
      '@127.0.0.1',
      NAME,
      'ANY',
    ]);
    expect(raw.stdout).toMatch(/Flags: qr aa tc;/);
    expect(raw.stdout).toMatch(/ANSWER: 0;/);
  });

  it('kdig sees REFUSED outside the zone, NOTIMP for other opcodes and SOA/DNSKEY at the apex', async () => {
    const refused = await run('kdig', ['-p', port, '@127.0.0.1', 'example.com.', 'A']);
    expect(refused.stdout).toMatch(/status: REFUSED/);
    const notify = await run('dig', ['+opcode=5', '-p', port, '@127.0.0.1', APEX, 'SOA']);
    expect(notify.stdout).toMatch(/status: NOTIMP/);
    const dnskey = await run('kdig', ['+dnssec', '-p', port, '@127.0.0.1', APEX, 'DNSKEY']);
    expect(dnskey.stdout).toMatch(/DNSKEY\s+257 3 13/);
  });

  it('ldns-verify-zone accepts the exported NSEC3-signed zone', async () => {
    const file = join(t.dataDir, 'export.zone');
    await writeFile(file, await t.dir.exportZone('presigned-nsec3'));
    const res = await run('ldns-verify-zone', [file]);
    expect(res.stdout + res.stderr).toContain('Zone is verified and complete');
    expect(res.code).toBe(0);
  });

  it('a change made through the API is answered at once with a bumped serial', async () => {
    const soaBefore = await run('kdig', ['+short', '-p', port, '@127.0.0.1', APEX, 'SOA']);
    const other = '+33142685300';
    const res = await t.request(acme, 'PUT', `/v1/numbers/${other}`, {
      identityKey: identity().publicBase64,
      contacts: [CONTACTS[1]],
    });
    expect(res.status).toBe(201);
    const answer = await run('kdig', [
      '+short',
      '-p',
      port,
      '@127.0.0.1',
      enumNameFor(other, APEX),
      'NAPTR',
    ]);
    expect(answer.stdout).toContain('xmpp:alice@xmpp.example.net');
    const soaAfter = await run('kdig', ['+short', '-p', port, '@127.0.0.1', APEX, 'SOA']);
    const serial = (s: string): number => Number(s.trim().split(/\s+/)[2]);
    expect(serial(soaAfter.stdout)).toBeGreaterThan(serial(soaBefore.stdout));
  });
});
