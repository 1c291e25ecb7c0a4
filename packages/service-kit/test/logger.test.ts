import { Writable } from 'node:stream';
import { createLogger } from '../src/index.js';

function capture(): { stream: Writable; lines: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('') };
}

describe('createLogger', () => {
  it('never writes numbers, keys, codes or bodies', () => {
    const out = capture();
    const log = createLogger({ service: 't', destination: out.stream as never });
    log.info(
      { number: '+15551234567', req: { identityKey: 'BQabc', code: '123456' }, body: 'hi' },
      'x',
    );
    log.warn('lookup of +15551234567 failed');
    log.error({ err: new Error('no account for 15551234567') }, 'failed');
    log.error(
      { err: new URIError("Failed to decode param '%2B44%2020%207946%200958%E0%A4%A'") },
      'x',
    );
    log.warn({ detail: 'no answer for 8.5.9.0.6.4.9.7.0.2.4.4.e164.switchboard.test.' }, 'x');
    log.warn({ detail: 'retry +44 (20) 7946-0958 later' }, 'x');
    const text = out.lines();
    expect(text).not.toMatch(/7946|0958|8\.5\.9\.0/);
    // Error messages stay readable: only the number inside them is masked.
    expect(text).toContain('no account for [number]');
    expect(text).not.toMatch(/5551234567|BQabc|123456|"hi"/);
    expect(text).toContain('[redacted]');
    expect(text).toContain('"service":"t"');
  });
});
