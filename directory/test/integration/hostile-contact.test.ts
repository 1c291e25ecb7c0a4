import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { openDatabase } from '@switchboard/db';
import type { E164Number } from '@switchboard/e164';
import { enumNameFor } from '@switchboard/e164';
import { createLogger } from '@switchboard/service-kit';
import { DirectoryStore } from '../../src/state/store.js';
import type { NumberEntry } from '../../src/zone/records.js';
import { identity } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';
import { run, waitFor } from './tools.js';

// Issue 14 item 1: `sip:` + 185 x U+20AC + `@a.example` is 199 UTF-16 units but 576 octets in a
// NAPTR regexp, over the 255 a character-string holds. It used to be accepted at publish, and
// the first NAPTR query for the number threw on the UDP fast path and killed the process.

const HOSTILE = `sip:${'€'.repeat(185)}@a.example`;
const GOOD = '+442079460958';
const BAD = '+442079460959';
const BAD_LATER = '+442079460957';
const GOOD_NAME = enumNameFor(GOOD, APEX);
const BAD_NAME = enumNameFor(BAD, APEX);

/** A logger writing into `lines`. */
function capturingLogger(lines: string[]): ReturnType<typeof createLogger> {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return createLogger({ service: 'directory', level: 'info', destination: sink });
}

/** The status kdig reports for one query (UDP unless `tcp`), or the whole output if none. */
async function status(port: number, name: string, type: string, tcp = false): Promise<string> {
  const args = ['-p', String(port), '@127.0.0.1', '+dnssec', ...(tcp ? ['+tcp'] : []), name, type];
  const res = await run('kdig', args);
  return /status: ([A-Z]+)/.exec(res.stdout)?.[1] ?? res.stdout + res.stderr;
}

/** kdig's AXFR output. */
async function axfr(port: number): Promise<string> {
  return (await run('kdig', ['-p', String(port), '@127.0.0.1', APEX, 'AXFR'])).stdout;
}

describe('a contact the DNS wire cannot carry (issue 14 item 1)', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('is refused at publish with a problem naming the field; the number stays unpublished and DNS and AXFR keep working', async () => {
    t = await startTestDirectory({
      providers: [acme],
      extra: { transferAllowFrom: ['127.0.0.1'] },
    });
    const port = t.dir.dns.port;
    const identityKey = identity().publicBase64;
    const good = await t.request(acme, 'PUT', `/v1/numbers/${GOOD}`, {
      identityKey,
      contacts: CONTACTS,
    });
    expect(good.status).toBe(201);
    const res = await t.request(acme, 'PUT', `/v1/numbers/${BAD}`, {
      identityKey,
      contacts: [{ service: 'sip', uri: HOSTILE }],
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body?.['code']).toBe('invalid-contact');
    expect(String(res.body?.['detail'])).toMatch(/^body\/contacts\/0\/uri: /);
    expect(String(res.body?.['detail'])).not.toContain('€');

    for (const tcp of [false, true]) {
      // Not published: the number's NAPTR is a (signed) denial, the other number is served.
      expect(await status(port, BAD_NAME, 'NAPTR', tcp)).toBe('NOERROR');
      expect(await status(port, GOOD_NAME, 'NAPTR', tcp)).toBe('NOERROR');
    }
    const zone = await axfr(port);
    expect(zone).toContain(`${GOOD_NAME}`);
    expect(zone).not.toContain(BAD_NAME);
    expect(zone.match(/\tSOA\t/g)?.length).toBe(2);
  });

  it('stored before the fix: that name answers SERVFAIL over UDP and TCP and is logged without personal data; every other name is served, the zone warms and transfers without it, across a restart and a reload', async () => {
    const first = await startTestDirectory({ providers: [acme] });
    const { dataDir } = first;
    const identityKey = identity().publicBase64;
    expect(
      (await first.request(acme, 'PUT', `/v1/numbers/${GOOD}`, { identityKey, contacts: CONTACTS }))
        .status,
    ).toBe(201);
    await first.dir.stop();
    // The row an earlier version accepted, written straight into the SQLite store.
    const url = `sqlite:${join(dataDir, 'directory.db')}`;
    const database = await openDatabase<unknown>({ url });
    try {
      const store = await DirectoryStore.open(database);
      const hostile: NumberEntry['contacts'] = [{ service: 'sip', uri: HOSTILE }];
      await store.put(
        { number: BAD as E164Number, provider: acme.id, identityKey, contacts: hostile },
        undefined,
        Math.floor(Date.now() / 1000),
      );
    } finally {
      await database.close();
    }

    const lines: string[] = [];
    t = await startTestDirectory({
      providers: [acme],
      dataDir,
      extra: { transferAllowFrom: ['127.0.0.1'], logger: capturingLogger(lines) },
    });
    const port = t.dir.dns.port;
    for (const tcp of [false, true]) {
      expect(await status(port, BAD_NAME, 'NAPTR', tcp)).toBe('SERVFAIL');
      expect(await status(port, BAD_NAME, 'TXT', tcp)).toBe('SERVFAIL');
      expect(await status(port, GOOD_NAME, 'NAPTR', tcp)).toBe('NOERROR');
    }
    const noDnssec = await run('kdig', ['-p', String(port), '@127.0.0.1', BAD_NAME, 'NAPTR']);
    expect(noDnssec.stdout).toContain('status: SERVFAIL');

    const anchor = join(dataDir, 'anchor.conf');
    await writeFile(anchor, `${t.dir.trustAnchor}\n`);
    const delv = await run('delv', [
      '-a',
      anchor,
      `+root=${APEX}`,
      '-p',
      String(port),
      '@127.0.0.1',
      GOOD_NAME,
      'NAPTR',
    ]);
    expect(delv.stdout).toContain('; fully validated');

    const zone = await axfr(port);
    expect(zone).toContain(GOOD_NAME);
    expect(zone).not.toContain(BAD_NAME);
    expect(zone.match(/\tSOA\t/g)?.length).toBe(2);

    const api = t.dir.apiUrl;
    const warm = await waitFor(async () => {
      const health = (await (await fetch(`${api}/healthz`)).json()) as { warm: boolean };
      return health.warm;
    });
    expect(warm).toBe(true);

    // A reload that brings in another such entry (written by another replica, say).
    await t.dir.store.put(
      {
        number: BAD_LATER as E164Number,
        provider: acme.id,
        identityKey,
        contacts: [{ service: 'xmpp', uri: `xmpp:${'ü'.repeat(150)}@a.example` }],
      },
      undefined,
      Math.floor(Date.now() / 1000),
    );
    await t.dir.zone.refresh();
    expect(await status(port, enumNameFor(BAD_LATER, APEX), 'NAPTR')).toBe('SERVFAIL');
    expect(await status(port, GOOD_NAME, 'NAPTR')).toBe('NOERROR');
    expect(await axfr(port)).toContain(GOOD_NAME);

    const logged = lines.filter((l) => l.includes('cannot be served'));
    expect(logged.length).toBe(2);
    const all = lines.join('\n');
    for (const secret of [BAD, BAD.slice(1), BAD_NAME, BAD_LATER.slice(1), '€', 'ü']) {
      expect(all).not.toContain(secret);
    }
    expect(logged[0]).toMatch(/"field":"contacts\/0\/uri"/);
  });

  it('any other fault in the answer path answers SERVFAIL over UDP and TCP (logged once, without the name), and the server keeps serving', async () => {
    const lines: string[] = [];
    t = await startTestDirectory({
      providers: [acme],
      extra: { logger: capturingLogger(lines) },
    });
    const port = t.dir.dns.port;
    const published = await t.request(acme, 'PUT', `/v1/numbers/${GOOD}`, {
      identityKey: identity().publicBase64,
      contacts: CONTACTS,
    });
    expect(published.status).toBe(201);
    const missing = enumNameFor('+14155552671', APEX);
    const signer = t.dir.zone.signer;
    // A denial is signed per query on the fast path; make that signing fail.
    signer.signData = (): Uint8Array => {
      throw new Error('the signing key is unavailable');
    };
    try {
      for (const tcp of [false, true]) {
        expect(await status(port, missing, 'NAPTR', tcp)).toBe('SERVFAIL');
        expect(await status(port, GOOD_NAME, 'NAPTR', tcp)).toBe('NOERROR');
      }
    } finally {
      delete (signer as Partial<typeof signer>).signData;
    }
    expect(await status(port, missing, 'NAPTR')).toBe('NOERROR');
    const failures = lines.filter((l) => l.includes('dns answer failed'));
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(lines.join('\n')).not.toContain(missing);
  });
});
