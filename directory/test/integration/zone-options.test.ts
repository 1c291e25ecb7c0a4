import { createSocket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeMessage, encodeMessage, RRType } from '@switchboard/dns-wire';
import { enumNameFor } from '@switchboard/e164';
import { identity, query } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { run, waitFor } from './tools.js';

const NUMBER = '+442079460958';
const NAME = enumNameFor(NUMBER, APEX);

describe('Ed25519 (algorithm 15) zone', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;
  beforeAll(async () => {
    t = await startTestDirectory({ providers: [acme], extra: { algorithm: 15 } });
    await t.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('delv validates answers and denials signed with Ed25519', async () => {
    expect(t.dir.trustAnchor).toContain('static-key 257 3 15');
    const anchor = join(t.dataDir, 'anchor.conf');
    await writeFile(anchor, `${t.dir.trustAnchor}\n`);
    const port = String(t.dir.dns.port);
    const yes = await run('delv', [
      '-a',
      anchor,
      `+root=${APEX}`,
      '-p',
      port,
      '@127.0.0.1',
      NAME,
      'NAPTR',
    ]);
    expect(yes.stdout).toContain('; fully validated');
    const no = await run('delv', [
      '-a',
      anchor,
      `+root=${APEX}`,
      '-p',
      port,
      '@127.0.0.1',
      enumNameFor('+14155552671', APEX),
      'TXT',
    ]);
    expect(no.stdout).toContain('; negative response, fully validated');
  });
});

describe('response rate limiting on the wire', () => {
  const frozen = Date.now();
  let t: TestDirectory;
  beforeAll(async () => {
    // A stopped clock: no tokens come back during the test, so the outcome does not depend on speed.
    t = await startTestDirectory({
      now: () => frozen,
      extra: { rrl: { responsesPerSecond: 5, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56 } },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 5 identical queries, then slips every second one truncated and drops the rest; TCP is not limited', async () => {
    const socket = createSocket('udp4');
    const replies: Buffer[] = [];
    socket.on('message', (m) => replies.push(m));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const packet = encodeMessage(query(NAME, RRType.NAPTR));
    for (let i = 0; i < 15; i += 1) {
      await new Promise<void>((resolve) =>
        socket.send(packet, t.dir.dns.port, '127.0.0.1', () => resolve()),
      );
    }
    await waitFor(async () => replies.length >= 10, 2000);
    await new Promise((r) => setTimeout(r, 200));
    socket.close();
    const decoded = replies.map((r) => decodeMessage(r));
    const full = decoded.filter((m) => !m.tc);
    const slipped = decoded.filter((m) => m.tc);
    expect(full).toHaveLength(5);
    expect(slipped).toHaveLength(5);
    expect(slipped.every((m) => m.answers.length === 0 && m.authorities.length === 0)).toBe(true);
    const tcp = await run('kdig', [
      '+tcp',
      '-p',
      String(t.dir.dns.port),
      '@127.0.0.1',
      NAME,
      'NAPTR',
    ]);
    expect(tcp.stdout).toMatch(/status: NOERROR/);
  });
});

describe('zone transfer access', () => {
  let t: TestDirectory;
  beforeAll(async () => {
    t = await startTestDirectory({ extra: { transferAllowFrom: ['127.0.0.1'] } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('allows AXFR from a listed address without TSIG, and answers a wrong key with NOTAUTH and BADKEY', async () => {
    const port = String(t.dir.dns.port);
    const open = await run('kdig', ['-p', port, '@127.0.0.1', APEX, 'AXFR']);
    expect(open.stdout).toMatch(/\tSOA\t/);
    expect(open.stdout).toMatch(/\tDNSKEY\t257 3 13 /);
    const withWrongKey = (tool: 'kdig' | 'dig'): ReturnType<typeof run> =>
      run(tool, [
        '-y',
        `hmac-sha256:wrong.key:${Buffer.alloc(32, 1).toString('base64')}`,
        '-p',
        port,
        '@127.0.0.1',
        APEX,
        'AXFR',
      ]);
    const wrong = await withWrongKey('kdig');
    // NOTAUTH with the TSIG error in the reply's TSIG record (RFC 8945 5.2.1): kdig and dig
    // both report BADKEY from it.
    expect(wrong.stdout + wrong.stderr).toMatch(/BADKEY/);
    expect(wrong.stdout).not.toMatch(/\tDNSKEY\t/);
    const digWrong = await withWrongKey('dig');
    expect(digWrong.stdout + digWrong.stderr).toMatch(/BADKEY/);
  });
});
