// Runs `npm run demo` (the README's demo: the embedded stack, Prosody, Kamailio, the bridge and
// two scripted users) to the end and checks its transcript step by step.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { jest } from '@jest/globals';

jest.setTimeout(400_000);

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

function runIn(
  command: string,
  args: string[],
  path = process.env['PATH'] ?? '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { PATH: path, HOME: process.env['HOME'] ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('npm run demo', () => {
  it('carries an end-to-end encrypted message each way between an XMPP and a SIP user', async () => {
    const run = await runIn('npm', ['run', '--silent', 'demo']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n').filter((l) => l.startsWith('demo: ['));
    const expected = [
      /directory: DNS udp\+tcp 127\.0\.0\.1:\d+ \(zone e164\.switchboard\.test\./,
      /Prosody \(XMPP xmpp\.demo\) on 127\.0\.0\.1:\d+, Kamailio \(SIP sip\.demo\)/,
      /bridge connected to both networks/,
      /alice registered \+442079460100 .* published xmpp:alice@xmpp\.demo$/,
      /bob registered \+14155550100 .* published sip:bob@sip\.demo$/,
      /alice is online on XMPP .* bob's SIP phone registered/,
      /alice looks up \+14155550100: DNSSEC secure \(validated by the SDK .*contacts sip:bob@sip\.demo/,
      /bob looks up \+442079460100: DNSSEC secure .*contacts xmpp:alice@xmpp\.demo/,
      /alice opened a Signal session with \+14155550100 .* sealed \d+ envelope bytes/,
      /sent the envelope to \+14155550100@bridge\.xmpp\.demo/,
      /bob's SIP phone got a MESSAGE from .*xmpp_alice.* \(application\/vnd\.switchboard\.envelope\), \d+ envelope bytes, identical to what alice sealed/,
      /bob decrypted it: from \+442079460100: "Hello Bob, this is Alice on XMPP\. Only you can read this\."/,
      /bob's SIP phone sent \d+ envelope bytes to sip:\+442079460100@sip\.demo: SIP\/2\.0 200/,
      /alice's XMPP client got the envelope from sip_bob=40sip\.demo@bridge\.xmpp\.demo, identical to what bob sealed/,
      /alice decrypted it: from \+14155550100: "Hi Alice, Bob here on SIP\. Got it, end to end\."/,
      /operator view .*: 2 accounts, 2 published; zone serial \d+, signing secure; bridge ok: (xmpp connected, queue 0; sip connected, queue 0|sip connected, queue 0; xmpp connected, queue 0)$/,
    ];
    expect(lines).toHaveLength(expected.length);
    expected.forEach((re, i) => expect(lines[i]).toMatch(re));
    expect(run.stdout).toContain('demo: done: both messages crossed XMPP <-> SIP');
  });

  it('says what to install when Prosody is not there', async () => {
    // No PATH: Prosody (in /usr/bin) is not found; the demo stops before starting anything.
    const run = await runIn(process.execPath, ['scripts/demo.js'], '/nonexistent');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^demo: the demo needs prosody, prosodyctl: install them with: sudo apt-get install prosody kamailio kamailio-websocket-modules/,
    );
  });
});
