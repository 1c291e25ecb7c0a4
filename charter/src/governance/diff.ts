import { canonicalize } from '../trust-list/jcs.js';
import type {
  BoardKey,
  DirectoryEntry,
  ProviderEntry,
  TrustListBody,
} from '../trust-list/types.js';

/** One difference between two list versions, for people reviewing what they are asked to sign. */
export type TrustListChange =
  | { readonly kind: 'field'; readonly field: string; readonly from: string; readonly to: string }
  | { readonly kind: 'board-key-added' | 'board-key-removed'; readonly key: BoardKey }
  | {
      readonly kind: 'entry-added' | 'entry-removed';
      readonly entry: 'directory' | 'provider';
      readonly id: string;
      readonly summary: string;
    }
  | {
      readonly kind: 'entry-changed';
      readonly entry: 'directory' | 'provider';
      readonly id: string;
      readonly field: string;
      readonly from: string;
      readonly to: string;
    };

const show = (v: unknown): string =>
  v === undefined ? '(none)' : typeof v === 'string' ? v : canonicalize(v);

function summary(kind: 'directory' | 'provider', e: DirectoryEntry | ProviderEntry): string {
  return kind === 'directory'
    ? `${(e as DirectoryEntry).apex} run by ${(e as DirectoryEntry).operator}, ${e.status}`
    : `"${(e as ProviderEntry).name}" at ${(e as ProviderEntry).apiBaseUrl} (${(e as ProviderEntry).networks.join(', ')}), ${e.status}`;
}

function diffEntries<T extends DirectoryEntry | ProviderEntry>(
  kind: 'directory' | 'provider',
  before: readonly T[],
  after: readonly T[],
  out: TrustListChange[],
): void {
  const old = new Map(before.map((e) => [e.id, e]));
  const now = new Map(after.map((e) => [e.id, e]));
  for (const [id, e] of old) {
    if (!now.has(id))
      out.push({ kind: 'entry-removed', entry: kind, id, summary: summary(kind, e) });
  }
  for (const [id, e] of now) {
    const o = old.get(id);
    if (o === undefined) {
      out.push({ kind: 'entry-added', entry: kind, id, summary: summary(kind, e) });
      continue;
    }
    const fields = new Set([...Object.keys(o), ...Object.keys(e)]);
    // status first: it is the change reviewers most need to see
    for (const field of ['status', ...[...fields].filter((f) => f !== 'status').sort()]) {
      const a = (o as unknown as Record<string, unknown>)[field];
      const b = (e as unknown as Record<string, unknown>)[field];
      if (show(a) !== show(b)) {
        out.push({ kind: 'entry-changed', entry: kind, id, field, from: show(a), to: show(b) });
      }
    }
  }
}

/** What changed from `before` to `after`, in a stable order. */
export function diffTrustLists(before: TrustListBody, after: TrustListBody): TrustListChange[] {
  const out: TrustListChange[] = [];
  for (const field of ['version', 'issuedAt', 'expires'] as const) {
    if (before[field] !== after[field]) {
      out.push({ kind: 'field', field, from: String(before[field]), to: String(after[field]) });
    }
  }
  if (before.board.threshold !== after.board.threshold) {
    out.push({
      kind: 'field',
      field: 'board.threshold',
      from: String(before.board.threshold),
      to: String(after.board.threshold),
    });
  }
  const oldKeys = new Set(before.board.keys.map((k) => k.keyid));
  const newKeys = new Set(after.board.keys.map((k) => k.keyid));
  for (const k of before.board.keys)
    if (!newKeys.has(k.keyid)) out.push({ kind: 'board-key-removed', key: k });
  for (const k of after.board.keys)
    if (!oldKeys.has(k.keyid)) out.push({ kind: 'board-key-added', key: k });
  diffEntries('directory', before.directories, after.directories, out);
  diffEntries('provider', before.providers, after.providers, out);
  return out;
}

/** One line per change, `+` added, `-` removed, `~` changed. */
export function formatTrustListDiff(changes: readonly TrustListChange[]): string[] {
  return changes.map((c) => {
    switch (c.kind) {
      case 'field':
        return `~ ${c.field}: ${c.from} -> ${c.to}`;
      case 'board-key-added':
        return `+ board key "${c.key.name}" (keyid ${c.key.keyid.slice(0, 16)})`;
      case 'board-key-removed':
        return `- board key "${c.key.name}" (keyid ${c.key.keyid.slice(0, 16)})`;
      case 'entry-added':
        return `+ ${c.entry} ${c.id}: ${c.summary}`;
      case 'entry-removed':
        return `- ${c.entry} ${c.id}: ${c.summary}`;
      case 'entry-changed':
        return `~ ${c.entry} ${c.id} ${c.field}: ${c.from} -> ${c.to}`;
    }
  });
}
