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
    const text = out.lines();
    expect(text).not.toMatch(/5551234567|BQabc|123456|"hi"/);
    expect(text).toContain('[redacted]');
    expect(text).toContain('"service":"t"');
  });
});
