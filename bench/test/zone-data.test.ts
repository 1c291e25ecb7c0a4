import { parseZone, RRType } from '@switchboard/dns-wire';
import { enumName, generateBenchZone, queryFileText, zoneFileText } from '../src/zone-data.js';

describe('benchmark zone', () => {
  const zone = generateBenchZone({ count: 300 });

  it('is the same on every run and different with another seed', () => {
    expect(generateBenchZone({ count: 300 })).toEqual(zone);
    expect(generateBenchZone({ count: 300, seed: 1 }).entries[0]).not.toEqual(zone.entries[0]);
  });

  it('has distinct numbers, none of the missing ones published', () => {
    const published = new Set(zone.entries.map((e) => e.number));
    expect(published.size).toBe(300);
    expect(zone.missing).toHaveLength(300);
    for (const n of zone.missing) expect(published.has(n)).toBe(false);
    for (const n of [...published, ...zone.missing]) expect(n).toMatch(/^\+1[2-9]\d\d555\d{4}$/);
  });

  it('writes a zone file with 2-3 NAPTR and one sbkey1 TXT per number', () => {
    const records = parseZone(zoneFileText(zone), { origin: zone.apex });
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

  it('mixes published and unpublished numbers half and half', () => {
    const lines = queryFileText(zone, 'mixed').trim().split('\n');
    const published = new Set(zone.entries.map((e) => `${enumName(e.number, zone.apex)} NAPTR`));
    expect(lines).toHaveLength(600);
    expect(lines.filter((l) => published.has(l))).toHaveLength(300);
    expect(
      queryFileText(zone, 'existing')
        .trim()
        .split('\n')
        .every((l) => published.has(l)),
    ).toBe(true);
  });

  it('refuses a count that does not fit the number space', () => {
    expect(() => generateBenchZone({ count: 0 })).toThrow(RangeError);
    expect(() => generateBenchZone({ count: 600_000 })).toThrow(RangeError);
  });
});
