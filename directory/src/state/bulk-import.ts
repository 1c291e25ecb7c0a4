// Bulk import of published entries from a JSON Lines file, for operators loading a numbering
// population. Every line is checked by the same code as a publish (E.164, identity key,
// contacts, and the records they make); refused lines are reported by line number, never by
// content. Progress is committed in the same transaction as each batch, so an interrupted
// import resumes exactly where its last batch ended.
import { createReadStream } from 'node:fs';
import { open, stat, truncate } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { E164Number } from '@switchboard/e164';
import { isE164Error, parseE164 } from '@switchboard/e164';
import type { Contact } from '../zone/records.js';
import { checkContacts, checkIdentityKey, RecordInputError } from '../zone/records.js';
import type { DirectoryStore, ImportProgress, ImportRow } from './store.js';

/** Longest line accepted, in octets (an entry is well under 2 KiB). */
export const MAX_IMPORT_LINE = 16 * 1024;
/** Stands for a line over {@link MAX_IMPORT_LINE} octets (no JSON text can be this). */
const TOO_LONG = '\u0000too-long';
const PROVIDER_ID = /^[a-z0-9][a-z0-9.-]{0,62}$/;

export interface BulkImportOptions {
  /** The JSON Lines file: one `{"number","provider","identityKey","contacts"}` per line. */
  readonly file: string;
  /** Where refused lines are reported (JSON Lines: line, code, message). */
  readonly refusedFile: string;
  /** Lines per transaction. */
  readonly batchLines?: number;
  /** Start again from the first line instead of resuming. */
  readonly restart?: boolean;
  /** Whether a provider id may publish; unknown providers' lines are refused. */
  readonly knownProvider?: (id: string) => boolean;
  /** Seconds since the epoch, stored as the entries' update time. */
  readonly now: number;
  readonly onBatch?: (progress: ImportProgress) => void;
}

export interface BulkImportReport extends ImportProgress {
  /** The line the run started from (1 when not resumed). */
  readonly startedAtLine: number;
}

/** A line that was refused, and why (the code a publish would have answered). */
export class ImportLineError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Checks one line as a publish would; returns the row to store. */
export function parseImportLine(line: string, knownProvider?: (id: string) => boolean): ImportRow {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ImportLineError('malformed-json', 'the line is not one JSON value');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ImportLineError('malformed-json', 'the line must be a JSON object');
  }
  const { number, provider, identityKey, contacts, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) {
    throw new ImportLineError('unknown-field', 'only number, provider, identityKey and contacts');
  }
  if (typeof provider !== 'string' || !PROVIDER_ID.test(provider)) {
    throw new ImportLineError('invalid-provider', 'provider must be a provider id');
  }
  if (knownProvider && !knownProvider(provider)) {
    throw new ImportLineError('unknown-provider', 'provider is not one that may publish');
  }
  try {
    const entry = {
      number: parseE164(number),
      provider,
      identityKey: checkIdentityKey(identityKey),
      contacts: checkContacts(contacts),
    };
    return entry;
  } catch (err) {
    if (err instanceof RecordInputError || isE164Error(err)) {
      throw new ImportLineError(err.code, err.message);
    }
    throw err;
  }
}

interface Line {
  readonly text: string;
  /** Octet offset just after the line's newline. */
  readonly end: number;
}

/** Lines of `file` from octet `start` on, with the offset after each; over-long ones as TOO_LONG. */
async function* readLines(file: string, start: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let length = 0;
  const keep = (part: Buffer): void => {
    length += part.length;
    if (length <= MAX_IMPORT_LINE) parts.push(part);
  };
  const take = (): string => {
    const text = length > MAX_IMPORT_LINE ? TOO_LONG : Buffer.concat(parts, length).toString();
    parts = [];
    length = 0;
    return text;
  };
  let chunkStart = start;
  for await (const chunk of createReadStream(file, { start, highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    let from = 0;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, from)) {
      keep(buf.subarray(from, nl));
      yield { text: take(), end: chunkStart + nl + 1 };
      from = nl + 1;
    }
    keep(buf.subarray(from));
    chunkStart += buf.length;
  }
  if (length > 0) yield { text: take(), end: chunkStart };
}

type Checked = { readonly row: ImportRow } | { readonly refused: string } | undefined;

/** A line's row, or its refusal as a report line; undefined for a blank line. */
function checkLine(lineNumber: number, text: string, known?: (id: string) => boolean): Checked {
  if (text.trim() === '') return undefined;
  try {
    if (text === TOO_LONG) {
      throw new ImportLineError('line-too-long', `a line may hold ${MAX_IMPORT_LINE} octets`);
    }
    return { row: parseImportLine(text, known) };
  } catch (err) {
    if (!(err instanceof ImportLineError)) throw err;
    return { refused: JSON.stringify({ line: lineNumber, code: err.code, message: err.message }) };
  }
}

/**
 * Imports `options.file` into `store`, `batchLines` lines per transaction, resuming from the
 * progress stored for that file unless `restart`. A later line for the same number replaces
 * an earlier one, as a publish would.
 */
export async function bulkImport(
  store: DirectoryStore,
  options: BulkImportOptions,
): Promise<BulkImportReport> {
  const source = resolve(options.file);
  const size = (await stat(source)).size;
  let progress = options.restart ? undefined : await store.importProgress(source);
  if (progress && progress.size !== size) {
    throw new Error('the file changed since the import began; run again with --restart');
  }
  progress ??= { source, size, offset: 0, line: 0, imported: 0, refused: 0, refusedBytes: 0 };
  await truncateOrCreate(options.refusedFile, progress.refusedBytes);
  const report = await open(options.refusedFile, 'a', 0o600);
  const startedAtLine = progress.line + 1;
  try {
    const batchLines = options.batchLines ?? 5000;
    let rows: ImportRow[] = [];
    let refused: string[] = [];
    let line = progress.line;
    const flush = async (end: number): Promise<void> => {
      const text = refused.length > 0 ? `${refused.join('\n')}\n` : '';
      if (text) await report.write(text);
      progress = {
        ...progress!,
        offset: end,
        line,
        imported: progress!.imported + rows.length,
        refused: progress!.refused + refused.length,
        refusedBytes: progress!.refusedBytes + Buffer.byteLength(text),
      };
      await store.importBatch(dedupe(rows), progress, options.now);
      options.onBatch?.(progress);
      rows = [];
      refused = [];
    };
    let end = progress.offset;
    for await (const next of readLines(source, progress.offset)) {
      line += 1;
      end = next.end;
      const checked = checkLine(line, next.text, options.knownProvider);
      if (checked && 'row' in checked) rows.push(checked.row);
      else if (checked) refused.push(checked.refused);
      if (rows.length + refused.length >= batchLines) await flush(end);
    }
    if (rows.length + refused.length > 0 || end !== progress.offset) await flush(end);
    return { ...progress, startedAtLine };
  } finally {
    await report.close();
  }
}

/** The last row for each number (a file may repeat one; the later line wins). */
function dedupe(rows: readonly ImportRow[]): ImportRow[] {
  const byNumber = new Map<E164Number, ImportRow>();
  for (const row of rows) byNumber.set(row.number, row);
  return [...byNumber.values()];
}

async function truncateOrCreate(file: string, length: number): Promise<void> {
  const handle = await open(file, 'a', 0o600);
  await handle.close();
  await truncate(file, length);
}

/** Every published entry as JSON Lines, in number order, read in pages (bounded memory). */
export async function* exportEntries(
  store: DirectoryStore,
  pageSize = 10_000,
): AsyncGenerator<string> {
  let after = '';
  for (;;) {
    const page = await store.page(after, pageSize);
    for (const e of page) {
      const contacts: readonly Contact[] = e.contacts;
      yield JSON.stringify({
        number: e.number,
        provider: e.provider,
        identityKey: e.identityKey,
        contacts,
      });
    }
    if (page.length < pageSize) return;
    after = (page[page.length - 1] as { number: string }).number;
  }
}
