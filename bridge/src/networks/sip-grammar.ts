import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { Grammar, URI } from 'sip.js';

/**
 * sip.js parses every SIP header and URI with a PEG parser generated in "size" mode, whose
 * parse function decodes its whole bytecode table (about 230 strings) again on every call:
 * measured in the bridge benchmark, that decoding was a quarter of the bridge's CPU on the SIP
 * paths (several parses per MESSAGE and per answer). The table is pure data, so this builds
 * the same parser with the table decoded once, and points `Grammar.parse` (through which
 * sip.js parses everything) at it. Checked against sip.js's own parser on sample input before
 * it is used; when the generated file does not have the expected shape (another sip.js
 * release) nothing changes and sip.js parses as it ships.
 */
export async function speedUpSipGrammar(): Promise<boolean> {
  if (installed) return true;
  const original = Grammar.parse;
  let fast: (input: string, startRule: string) => unknown;
  try {
    fast = await loadHoisted();
  } catch {
    return false;
  }
  for (const [input, rule] of SAMPLES) {
    if (JSON.stringify(fast(input, rule)) !== JSON.stringify(original(input, rule))) return false;
  }
  Grammar.parse = remembering(fast) as typeof Grammar.parse;
  installed = true;
  return true;
}

let installed = false;

/** Inputs remembered at most (then forgotten all at once). */
const REMEMBERED = 2000;

/**
 * Remembers what inputs seen before parsed to (the same few URIs, `SIP/2.0 200 OK`, content
 * types and lengths come with every message): values, URIs and flat records only, each handed
 * out as a fresh copy since sip.js may change what it gets. Anything else is parsed each time.
 */
function remembering(
  parse: (input: string, startRule: string) => unknown,
): (input: string, startRule: string) => unknown {
  const seen = new Map<string, unknown>();
  return (input, startRule) => {
    const key = `${startRule}\0${input}`;
    if (seen.has(key)) return copyOf(seen.get(key));
    const parsed = parse(input, startRule);
    if (copyOf(parsed) !== NOT_COPIED) {
      if (seen.size >= REMEMBERED) seen.clear();
      seen.set(key, parsed);
      return copyOf(parsed);
    }
    return parsed;
  };
}

const NOT_COPIED = Symbol('not copied');

function copyOf(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof URI) return value.clone();
  if (Object.getPrototypeOf(value) !== Object.prototype) return NOT_COPIED;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.some(([, v]) => v !== null && typeof v === 'object')) return NOT_COPIED;
  return Object.fromEntries(entries);
}

const SAMPLES: ReadonlyArray<readonly [string, string]> = [
  ['sip:xmpp_alice=40xmpp.test@sip.test;transport=ws', 'SIP_URI'],
  ['"Bob" <sip:bob@sip.test>;tag=abc123', 'From'],
  ['<sip:sip_carol=40sip.test@sip.test>', 'To'],
  ['SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK123;rport=5060;received=127.0.0.1', 'Via'],
  ['12 MESSAGE', 'CSeq'],
  ['<sip:u@127.0.0.1:5070;transport=ws>;expires=300', 'Contact'],
  ['SIP/2.0 200 OK', 'Request_Response'],
  ['MESSAGE sip:bob@sip.test SIP/2.0', 'Request_Response'],
  ['not a uri', 'SIP_URI'],
];

/** Loads a copy of sip.js's generated parser whose bytecode table is built once. */
async function loadHoisted(): Promise<(input: string, startRule: string) => unknown> {
  const grammarDir = join(dirname(fileURLToPath(import.meta.resolve('sip.js'))), 'grammar');
  const file = join(grammarDir, 'pegjs/dist/grammar.js');
  const source = readFileSync(file, 'utf8');
  const start = source.indexOf('    const peg$bytecode = [');
  const end = source.indexOf('\n    ];\n', start);
  if (start < 0 || end < 0 || !source.includes('function peg$decode(s)')) {
    throw new Error('unexpected sip.js grammar');
  }
  const table = source.slice(start + '    const peg$bytecode = '.length, end + '\n    ]'.length);
  const rewritten =
    source
      .slice(0, start)
      .replace(
        /from "(\.\.\/\.\.\/[a-z-]+\.js)"/g,
        (_m, rel: string) => `from "${pathToFileURL(join(grammarDir, 'pegjs/dist', rel)).href}"`,
      ) +
    '    const peg$bytecode = peg$BYTECODE;' +
    source.slice(end + '\n    ];'.length) +
    '\nfunction peg$decodeOnce(s) { return s.split("").map((ch) => ch.charCodeAt(0) - 32); }\n' +
    `const peg$BYTECODE = ${table.replace(/peg\$decode\(/g, 'peg$decodeOnce(')};\n`;
  const mod = (await import(
    `data:text/javascript;base64,${Buffer.from(rewritten).toString('base64')}`
  )) as { parse(input: string, options: { startRule: string; data?: unknown }): unknown };
  // The same contract as sip.js's Grammar.parse: the parsed data, or -1.
  return (input, startRule) => {
    const options: { startRule: string; data?: unknown } = { startRule };
    try {
      mod.parse(input, options);
    } catch {
      options.data = -1;
    }
    return options.data;
  };
}
