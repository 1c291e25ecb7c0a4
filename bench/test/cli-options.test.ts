import { flagName, parseBenchOptions } from '../src/cli-options.js';

const spec = {
  count: { kind: 'integer', default: 1000, min: 10, max: 10_000_000 },
  seconds: { kind: 'number', default: 10, min: 0.1 },
  peers: { kind: 'list' },
  sizes: { kind: 'number-list', min: 10 },
  noSign: { kind: 'flag' },
  inputs: { kind: 'string' },
} as const;

describe('bench options', () => {
  it('fills defaults, the common options included', () => {
    expect(parseBenchOptions([], spec, 2)).toEqual({
      count: 1000,
      seconds: 10,
      noSign: false,
      rounds: 2,
      keep: false,
      noSave: false,
    });
  });

  it('reads every kind of option by its kebab-case flag', () => {
    const args = parseBenchOptions(
      [
        '--count',
        '500',
        '--seconds',
        '2.5',
        '--peers',
        'knot,nsd',
        '--sizes',
        '100,2000',
        '--no-sign',
        '--inputs',
        '/tmp/x',
        '--rounds',
        '3',
        '--keep',
        '--no-save',
      ],
      spec,
    );
    expect(args).toEqual({
      count: 500,
      seconds: 2.5,
      peers: ['knot', 'nsd'],
      sizes: [100, 2000],
      noSign: true,
      inputs: '/tmp/x',
      rounds: 3,
      keep: true,
      noSave: true,
    });
  });

  it('refuses unknown options, missing values and values out of range, naming the option', () => {
    expect(() => parseBenchOptions(['--counts', '5'], spec)).toThrow(/unknown option --counts/);
    expect(() => parseBenchOptions(['--count'], spec)).toThrow('--count needs a value');
    expect(() => parseBenchOptions(['--inputs', ''], spec)).toThrow('--inputs needs a value');
    expect(() => parseBenchOptions(['--count', '5'], spec)).toThrow(
      '--count must be a number >= 10',
    );
    expect(() => parseBenchOptions(['--count', '12.5'], spec)).toThrow('--count must be a whole');
    expect(() => parseBenchOptions(['--count', 'x'], spec)).toThrow('--count must be a number');
    expect(() => parseBenchOptions(['--count', '1e9'], spec)).toThrow(
      '--count must be <= 10000000',
    );
    expect(() => parseBenchOptions(['--sizes', '100,5'], spec)).toThrow('--sizes must be');
    expect(() => parseBenchOptions(['--rounds', '0'], spec)).toThrow(
      '--rounds must be a number >= 1',
    );
  });

  it('names flags in kebab case', () => {
    expect(flagName('maxRate')).toBe('--max-rate');
    expect(flagName('noSave')).toBe('--no-save');
    expect(flagName('keep')).toBe('--keep');
  });
});
