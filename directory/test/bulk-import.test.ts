// `switchboard-directory import`: JSON Lines checked line by line as a publish is, refused lines
// reported by line number only, batches committed with their progress so that an interrupted
// import resumes where it stopped; `dump` gives back what was imported.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DialectName } from '@switchboard/db';
import { openDatabase } from '@switchboard/db';
import type { TestDatabase } from '@switchboard/db/testing';
import { ALL_DIALECTS, openTestDatabase } from '@switchboard/db/testing';
import type { E164Number } from '@switchboard/e164';
import { bulkImport } from '../src/state/bulk-import.js';
import { DirectoryStore } from '../src/state/store.js';

const key = (i: number): string =>
  Buffer.concat([Buffer.from([5]), Buffer.alloc(32, i % 251)]).toString('base64');

const entry = (i: number, provider = 'acme'): string =>
  JSON.stringify({
    number: `+1201555${String(i).padStart(4, '0')}`,
    provider,
    identityKey: key(i),
    contacts: [{ service: 'sip', uri: `sip:u${i}@sip.example.net` }],
  });

/** 30 good lines and, at known line numbers, the hostile versions a population file may hold. */
function populationFile(): { text: string; refusedLines: number[] } {
  const lines: string[] = [];
  const refusedLines: number[] = [];
  const bad = (text: string): void => {
    lines.push(text);
    refusedLines.push(lines.length);
  };
  for (let i = 0; i < 30; i++) {
    lines.push(entry(i));
    if (i === 3) bad('{"number": "+12015550003", "provider": "acme"'); // cut short
    if (i === 7) bad(entry(7).replace('+1201555', '+999')); // no numbering plan has it
    if (i === 9) bad(entry(9).replace('sip:u9@', `sip:${'€'.repeat(185)}@`));
    if (i === 11) bad(`[${'['.repeat(5000)}${']'.repeat(5000)}]`);
    if (i === 13) bad(JSON.stringify({ ...JSON.parse(entry(13)), extra: 1 }));
    if (i === 15) bad(entry(15).replace(key(15), Buffer.alloc(33, 1).toString('base64')));
    if (i === 17) bad(entry(40).replace('sip.example.net', 'x'.repeat(20_000)));
    if (i === 19) lines.push('');
    if (i === 21) bad(entry(41, 'Not An Id'));
  }
  lines.push(entry(5).replace('u5@', 'again5@')); // a later line for the same number wins
  return { text: `${lines.join('\n')}\n`, refusedLines };
}

describe.each(ALL_DIALECTS)('bulk import on %s', (dialect: DialectName) => {
  let db: TestDatabase<unknown>;
  let store: DirectoryStore;
  let dir: string;
  beforeEach(async () => {
    db = await openTestDatabase(dialect);
    store = await DirectoryStore.open(db);
    dir = await mkdtemp(join(tmpdir(), 'sb-import-'));
  });
  afterEach(async () => {
    await db.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('imports every good line and reports each refused one by number and reason, not content', async () => {
    const { text, refusedLines } = populationFile();
    const file = join(dir, 'population.jsonl');
    await writeFile(file, text);
    const refusedFile = join(dir, 'refused.jsonl');
    const report = await bulkImport(store, { file, refusedFile, batchLines: 7, now: 1 });
    expect(report.refused).toBe(refusedLines.length);
    expect(report.imported).toBe(31);
    const refused = (await readFile(refusedFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; code: string; message: string });
    expect(refused.map((r) => r.line)).toEqual(refusedLines);
    expect(refused.map((r) => r.code)).toContain('line-too-long');
    expect(refused.map((r) => r.code)).toContain('invalid-number');
    const reportText = await readFile(refusedFile, 'utf8');
    expect(reportText).not.toMatch(/\+1201555|€|xxxxxxxx/);
    const five = await store.get('+12015550005' as E164Number);
    expect(five?.contacts[0]?.uri).toBe('sip:again5@sip.example.net');
    expect(await store.get('+12015550029' as E164Number)).toBeDefined();
  });

  it('resumes an interrupted import after its last committed batch, without double reports', async () => {
    const { text, refusedLines } = populationFile();
    const file = join(dir, 'population.jsonl');
    await writeFile(file, text);
    const refusedFile = join(dir, 'refused.jsonl');
    let batches = 0;
    const interrupted = bulkImport(store, {
      file,
      refusedFile,
      batchLines: 5,
      now: 1,
      onBatch: () => {
        if (++batches === 3) throw new Error('killed');
      },
    });
    await expect(interrupted).rejects.toThrow('killed');
    const stopped = await store.importProgress(file);
    expect(stopped?.line).toBe(15);
    const serialBefore = await store.serial();
    const report = await bulkImport(store, { file, refusedFile, batchLines: 5, now: 2 });
    expect(report.startedAtLine).toBe(16);
    expect(report.imported + report.refused).toBe(31 + refusedLines.length);
    expect(await store.serial()).toBeGreaterThan(serialBefore);
    const lines = (await readFile(refusedFile, 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { line: number }).line)).toEqual(refusedLines);
    // The whole file done: another run reads nothing more.
    const again = await bulkImport(store, { file, refusedFile, now: 3 });
    expect(again.startedAtLine).toBe(report.line + 1);
    await writeFile(file, `${text}${entry(99)}\n`);
    await expect(bulkImport(store, { file, refusedFile, now: 4 })).rejects.toThrow(/--restart/);
  });

  it('refuses lines of providers outside the given set', async () => {
    const file = join(dir, 'two.jsonl');
    await writeFile(file, `${entry(1)}\n${entry(2, 'other')}\n`);
    const report = await bulkImport(store, {
      file,
      refusedFile: join(dir, 'r.jsonl'),
      knownProvider: (id) => id === 'acme',
      now: 1,
    });
    expect([report.imported, report.refused]).toEqual([1, 1]);
  });
});

describe('switchboard-directory import and dump', () => {
  const cli = resolve(import.meta.dirname, '../src/cli.js');
  const run = (args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> =>
    new Promise((ok) => {
      execFile(process.execPath, [cli, ...args], { env, maxBuffer: 16 << 20 }, (err, out) =>
        ok({ code: err ? (err.code as number) : 0, out }),
      );
    });

  it('loads a file from the command line and dumps it back in the import format', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-import-cli-'));
    try {
      const { DATABASE_URL: _ignored, ...rest } = process.env;
      const env = { ...rest, DIRECTORY_DATABASE_URL: `sqlite:${join(dir, 'directory.db')}` };
      const lines = Array.from({ length: 25 }, (_, i) => entry(i));
      const file = join(dir, 'in.jsonl');
      await writeFile(file, `${lines.join('\n')}\nnot json\n`);
      const imported = await run(['import', file, '--data', dir], env);
      expect(imported.code).toBe(3); // one line refused
      const dumped = await run(['dump', '--data', dir], env);
      expect(dumped.code).toBe(0);
      expect(dumped.out.trim().split('\n')).toEqual([...lines].sort());
      const database = await openDatabase<unknown>({ url: env.DIRECTORY_DATABASE_URL });
      try {
        const store = await DirectoryStore.open(database);
        expect((await store.importProgress(file))?.refused).toBe(1);
      } finally {
        await database.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
