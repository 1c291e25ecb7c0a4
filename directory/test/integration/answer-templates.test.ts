import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { enumNameFor } from '@switchboard/e164';
import { identity } from '../helpers.js';
import type { TestDirectory } from '../support.js';
import { APEX, CONTACTS, makeProvider, startTestDirectory } from '../support.js';

// Encoded answers are kept in the answer cache (directory/src/zone/answer-cache.ts); a client repeating the exact
// same query (same flags, same EDNS) must still see every change the moment it is made.
const NUMBER = '+442079460958';
const NAME = enumNameFor(NUMBER, APEX);

const run = promisify(execFile);

// Asynchronous: the directory answers from this same process.
async function dig(t: TestDirectory, type: string, name = NAME): Promise<string> {
  const { stdout } = await run('dig', [
    '+dnssec',
    '+norec',
    '+noall',
    '+answer',
    '+authority',
    '-p',
    String(t.dir.dns.port),
    '@127.0.0.1',
    name,
    type,
  ]);
  return stdout;
}

describe('answers served from kept templates', () => {
  const acme = makeProvider('acme-telecom');
  let t: TestDirectory;

  beforeAll(async () => {
    t = await startTestDirectory({ providers: [acme] });
  });
  afterAll(async () => {
    await t.close();
  });

  it('follow a publish, an update and a withdrawal of the same name immediately', async () => {
    // The apex SOA, asked before and after: its serial moves with every change.
    const serial = async (): Promise<number> =>
      Number(/\sSOA\s+\S+\s+\S+\s+(\d+)/.exec(await dig(t, 'SOA', APEX))?.[1]);
    const before = await serial();
    expect(before).toBeGreaterThan(0);
    expect(await serial()).toBe(before);
    // Unpublished: a signed denial, asked twice.
    expect(await dig(t, 'NAPTR')).not.toMatch(/NAPTR\s+100/);
    expect(await dig(t, 'NAPTR')).toMatch(/\sNSEC\s/);

    const key = identity().publicBase64;
    expect(
      (
        await t.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
          identityKey: key,
          contacts: CONTACTS,
        })
      ).status,
    ).toBe(201);
    // Asked twice: the second answer comes from the template the first one left.
    await dig(t, 'NAPTR');
    expect((await dig(t, 'NAPTR')).match(/NAPTR\s+100/g)).toHaveLength(3);
    expect(await serial()).toBeGreaterThan(before);

    expect(
      (
        await t.request(acme, 'PUT', `/v1/numbers/${NUMBER}`, {
          identityKey: key,
          contacts: [CONTACTS[0]],
        })
      ).status,
    ).toBe(200);
    expect((await dig(t, 'NAPTR')).match(/NAPTR\s+100/g)).toHaveLength(1);

    expect((await t.request(acme, 'DELETE', `/v1/numbers/${NUMBER}`)).status).toBe(204);
    const after = await dig(t, 'NAPTR');
    expect(after).not.toMatch(/NAPTR\s+100/);
    expect(after).toMatch(/\sNSEC\s/);
  });
});
