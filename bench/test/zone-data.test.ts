import { parseZone, RRType } from '@switchboard/dns-wire';
import { parseE164 } from '@switchboard/e164';
import {
  benchSpace,
  enumName,
  generateBenchZone,
  importLines,
  indexOf,
  missingNumber,
  NUMBER_SPACE,
  numberAt,
  publishedNames,
  queryLines,
  zoneFileText,
} from '../src/fixtures/zone-data.js';

describe('benchmark zone', () => {
  const zone = generateBenchZone({ count: 300 });
  const space = benchSpace({ count: 300 });

  it('is the same on every run and different with another seed', () => {
    expect(generateBenchZone({ count: 300 })).toEqual(zone);
    expect(generateBenchZone({ count: 300, seed: 1 }).entries[0]).not.toEqual(zone.entries[0]);
  });

  it('has distinct numbers, none of the missing ones published', () => {
    const published = new Set(zone.entries.map((e) => e.number));
    expect(published.size).toBe(300);
    expect(zone.missing).toHaveLength(300);
    for (const n of zone.missing) expect(published.has(n)).toBe(false);
    for (const n of [...published, ...zone.missing]) {
      expect(n).toMatch(/^\+1[2-9]\d\d[2-9]\d{6}$/);
      expect(parseE164(n)).toBe(n);
    }
  });

  it('writes a zone file with 2-3 NAPTR and one sbkey1 TXT per number', () => {
    const records = parseZone(zoneFileText(space), { origin: zone.apex });
    const byOwner = new Map<string, number[]>();
    for (const r of records) byOwner.set(r.name, [...(byOwner.get(r.name) ?? []), r.type]);
    expect(byOwner.size).toBe(301);
    for (const e of zone.entries) {
      const types = byOwner.get(enumName(e.number, zone.apex)) ?? [];
      const naptr = types.filter((t) => t === RRType.NAPTR).length;
      expect(naptr).toBeGreaterThanOrEqual(2);
      expect(naptr).toBeLessThanOrEqual(3);
      expect(types.filter((t) => t === RRType.TXT)).toHaveLength(1);
    }
    const txt = records.find((r) => r.type === RRType.TXT);
    const text = Buffer.from((txt?.data as { texts: Uint8Array[] }).texts[0] ?? []).toString();
    expect(text).toMatch(/^v=sbkey1; k=[A-Za-z0-9+/]{44}; p=[a-z0-9.-]+$/);
    expect(
      Buffer.from(text.slice(text.indexOf('k=') + 2, text.indexOf(';', 10)), 'base64')[0],
    ).toBe(5);
  });

  it('mixes published and unpublished numbers half and half, never repeating a miss', () => {
    const lines = [...queryLines(space, { mix: 'mixed', lines: 20_000, missingFrom: 5 })];
    const published = new Set(zone.entries.map((e) => `${enumName(e.number, zone.apex)} NAPTR`));
    expect(lines).toHaveLength(20_000);
    expect(lines.filter((l) => published.has(l))).toHaveLength(10_000);
    const misses = lines.filter((l) => !published.has(l));
    expect(new Set(misses).size).toBe(10_000);
    expect(misses[0]).toBe(`${enumName(missingNumber(space, 5), zone.apex)} NAPTR`);
    const existing = [...queryLines(space, { mix: 'existing', lines: 1000 })];
    expect(existing.every((l) => published.has(l))).toBe(true);
  });

  it('tells published names from unpublished ones without a set', () => {
    const names = publishedNames(space);
    for (const e of zone.entries) expect(names.has(enumName(e.number, zone.apex))).toBe(true);
    for (const n of zone.missing) expect(names.has(enumName(n, zone.apex))).toBe(false);
    expect(names.has(enumName('+12025550123', 'other.test.'))).toBe(false);
  });

  it('maps indexes to distinct valid numbers across the whole space and back', () => {
    const big = benchSpace({ count: 10_000_000 });
    const seen = new Set<string>();
    for (const i of [0, 1, 2, 9_999_999, 10_000_000, 60_000_000, NUMBER_SPACE - 1]) {
      const n = numberAt(big, i);
      expect(parseE164(n)).toBe(n);
      expect(indexOf(big, n)).toBe(i);
      seen.add(n);
    }
    expect(seen.size).toBe(7);
    for (let i = 0; i < 20_000; i++) seen.add(numberAt(big, i * 997));
    expect(seen.size).toBe(7 + 20_000 - 1); // 0 was already there
    const areas = new Set([...seen].map((n) => n.slice(2, 5)));
    expect(areas.size).toBeGreaterThan(90);
  });

  it('writes import lines for the directory bulk import, in number order', () => {
    const lines = [...importLines(space)].map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(lines[0] ?? {}).sort()).toEqual([
      'contacts',
      'identityKey',
      'number',
      'provider',
    ]);
    const numbers = lines.map((l) => l['number'] as string);
    expect(numbers).toEqual(zone.entries.map((e) => e.number).sort());
    const byNumber = new Map(zone.entries.map((e) => [e.number, e.identityKey]));
    for (const l of lines) expect(l['identityKey']).toBe(byNumber.get(l['number'] as string));
    const inIndexOrder = [...importLines(space, 'index')].map(
      (l) => JSON.parse(l) as { number: string },
    );
    expect(inIndexOrder.map((l) => l.number)).toEqual(zone.entries.map((e) => e.number));
  });

  it('refuses a count that does not fit the number space', () => {
    expect(() => generateBenchZone({ count: 0 })).toThrow(RangeError);
    expect(() => benchSpace({ count: NUMBER_SPACE })).toThrow(RangeError);
  });
});
