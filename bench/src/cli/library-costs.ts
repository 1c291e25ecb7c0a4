// What the hand-written pieces cost against the maintained libraries they could be replaced by
// (docs/decisions.md, "RFC 9421/8941 and the OpenAPI router kept hand-written"), measured in one
// run, sides alternating:
// - RFC 8941 dictionaries: `@switchboard/http-signature`'s parser vs `structured-headers`;
// - RFC 9421 verification of the same signed requests: `verifyRequest` (profile, digest, freshness,
//   nonce) vs `http-message-signatures` `verifyMessage` (signature only), which must also accept
//   every signature ours makes (an interoperability check);
// - request validation over HTTP: one small OpenAPI 3.1 document served by bare express (no
//   validation), by `@switchboard/openapi`'s `createApiRouter` and by `express-openapi-validator`.
// The libraries are not dependencies: install them anywhere and name the folder, e.g.
//   npm install --prefix /tmp/libs structured-headers@2.1.0 http-message-signatures@1.0.6 \
//     express-openapi-validator@5.6.2
//   node bench/dist/src/cli/library-costs.js --from /tmp/libs [--iterations 20000] [--seconds 3]
//     [--rounds 2] [--no-save]
import { generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import type { RequestHandler } from 'express';
import {
  MemoryReplayCache,
  parseDictionary,
  signRequest,
  verifyRequest,
} from '@switchboard/http-signature';
import {
  createApiRouter,
  createOpenApiValidator,
  parseDocument,
  PROVIDER_ERROR_STATUS,
} from '@switchboard/openapi';
import { parseBenchOptions } from '../cli-options.js';
import { runHttpLoad } from '../load/http-load.js';
import { cell, loadText, markdownTable, saveBenchRun, table } from '../report/report.js';
import { ratio } from '../load/stats.js';

type Args = ReturnType<typeof parseArgs>;

function parseArgs(argv: readonly string[]) {
  const args = parseBenchOptions(
    argv,
    {
      from: { kind: 'list' },
      iterations: { kind: 'integer', default: 20_000, min: 100 },
      seconds: { kind: 'number', default: 3, min: 0.5 },
      connections: { kind: 'integer', default: 10, min: 1 },
    },
    2,
  );
  const from = args.from?.[0];
  if (from === undefined) throw new Error('--from DIR: where the libraries are installed');
  return { ...args, from: resolve(from) };
}

/** Loads a package installed under `from` (its node_modules), ESM or CommonJS. */
async function load(from: string, name: string): Promise<Record<string, unknown>> {
  const require = createRequire(join(from, 'package.json'));
  const mod = (await import(pathToFileURL(require.resolve(name)).href)) as Record<string, unknown>;
  return (mod['default'] as Record<string, unknown> | undefined) ?? mod;
}

/** Microseconds per call of `fn` over `n` calls (awaited in turn). */
async function usPerOp(n: number, fn: (i: number) => unknown): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return ((performance.now() - t0) * 1000) / n;
}

interface SignedRequest {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly headers: Record<string, string>;
}

function signedRequests(n: number, privateKey: KeyObject): SignedRequest[] {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) => {
    const url = `/v1/numbers/+3120123${String(i % 10_000).padStart(4, '0')}`;
    const body = JSON.stringify({ identityKey: 'B'.repeat(44), contacts: [] });
    const headers = signRequest({ method: 'PUT', url, body, keyId: 'acme', privateKey, now });
    return {
      method: 'PUT',
      url,
      body,
      headers: { ...headers, 'content-type': 'application/json' },
    };
  });
}

interface MicroRow {
  readonly what: string;
  readonly oursUs: number[];
  readonly libraryUs: number[];
}

/** RFC 8941 parsing and RFC 9421 verification, ours and the libraries', rounds alternating. */
async function microBenches(args: Args): Promise<{ rows: MicroRow[]; libraryAccepts: string }> {
  const sh = await load(args.from, 'structured-headers');
  const hms = await load(args.from, 'http-message-signatures');
  const libParse = sh['parseDictionary'] as (text: string) => unknown;
  const httpbis = hms['httpbis'] as {
    verifyMessage(config: unknown, request: unknown): Promise<boolean | null>;
  };
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const requests = signedRequests(args.iterations, privateKey);
  const inputs = requests.map((r) => r.headers['signature-input'] ?? '');
  const libConfig = {
    keyLookup: async () => ({
      id: 'acme',
      algs: ['ed25519'],
      verify: async (data: Buffer, signature: Buffer) =>
        cryptoVerify(null, data, publicKey, signature),
    }),
  };
  const libRequest = (r: SignedRequest) => ({
    method: r.method,
    url: `http://directory.test${r.url}`,
    headers: r.headers,
  });
  // Warm-up of both sides (JIT), not recorded.
  const warm = requests.slice(0, Math.min(1000, requests.length));
  for (const r of warm) {
    parseDictionary(r.headers['signature-input'] ?? '');
    libParse(r.headers['signature-input'] ?? '');
  }
  let libraryAccepts = 0;
  for (const r of requests.slice(0, 200))
    if ((await httpbis.verifyMessage(libConfig, libRequest(r))) === true) libraryAccepts++;
  const parse: MicroRow = {
    what: 'RFC 8941 dictionary (Signature-Input)',
    oursUs: [],
    libraryUs: [],
  };
  const verifyRow: MicroRow = { what: 'RFC 9421 verify (Ed25519)', oursUs: [], libraryUs: [] };
  for (let round = 0; round < args.rounds; round++) {
    parse.oursUs.push(await usPerOp(inputs.length, (i) => parseDictionary(inputs[i] ?? '')));
    parse.libraryUs.push(await usPerOp(inputs.length, (i) => libParse(inputs[i] ?? '')));
    const cache = new MemoryReplayCache();
    verifyRow.oursUs.push(
      await usPerOp(requests.length, (i) => {
        const r = requests[i] as SignedRequest;
        return verifyRequest({
          ...r,
          now: Date.now() / 1000,
          replayCache: cache,
          resolveKey: () => publicKey,
        });
      }),
    );
    verifyRow.libraryUs.push(
      await usPerOp(requests.length, (i) =>
        httpbis.verifyMessage(libConfig, libRequest(requests[i] as SignedRequest)),
      ),
    );
  }
  return { rows: [parse, verifyRow], libraryAccepts: `${libraryAccepts}/200` };
}

const DOCUMENT = `
openapi: 3.1.0
info: { title: Validation cost, version: '1' }
paths:
  /things/{id}:
    post:
      operationId: putThing
      parameters:
        - { name: id, in: path, required: true, schema: { type: string, pattern: '^\\+[1-9][0-9]{1,14}$' } }
        - { name: x-request-tag, in: header, required: true, schema: { type: string, maxLength: 200 } }
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [identityKey, contacts]
              properties:
                identityKey: { type: string, pattern: '^[A-Za-z0-9+/]{44}$' }
                contacts:
                  type: array
                  maxItems: 3
                  items:
                    type: object
                    additionalProperties: false
                    required: [service, uri]
                    properties:
                      service: { type: string, enum: [sip, xmpp, matrix] }
                      uri: { type: string, minLength: 5, maxLength: 200 }
      responses:
        '204': { description: stored }
        '400':
          description: problem
          content: { application/problem+json: { schema: { type: object } } }
`;

const done: RequestHandler = (_req, res) => void res.status(204).end();

/** The same document served three ways: no validation, ours, express-openapi-validator. */
async function validationApps(
  args: Args,
  docFile: string,
): Promise<Record<string, express.Express>> {
  const bare = express();
  bare.use(express.json());
  bare.post('/things/:id', done);
  const api = createApiRouter({
    validator: createOpenApiValidator(parseDocument(DOCUMENT)),
    statusTable: PROVIDER_ERROR_STATUS,
  });
  api.bind('putThing', (_req, res) => void res.status(204).end());
  api.finish();
  const ours = express();
  ours.use(api.router);
  const eov = (await load(args.from, 'express-openapi-validator')) as {
    middleware(options: unknown): RequestHandler[];
  };
  const library = express();
  library.use(express.json());
  library.use(
    eov.middleware({ apiSpec: docFile, validateRequests: true, validateResponses: false }),
  );
  library.post('/things/:id', done);
  return {
    'bare express (no validation)': bare,
    '@switchboard/openapi': ours,
    'express-openapi-validator': library,
  };
}

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** req/s of each app on the same valid POST, rounds alternating; every answer must be 204. */
async function validationBench(args: Args): Promise<Record<string, number[]>> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-library-costs-'));
  const docFile = join(dir, 'openapi.yaml');
  writeFileSync(docFile, DOCUMENT);
  const apps = await validationApps(args, docFile);
  const body = JSON.stringify({
    identityKey: 'B'.repeat(44),
    contacts: [{ service: 'sip', uri: 'sip:+31201234567@acme.example' }],
  });
  const out: Record<string, number[]> = {};
  try {
    // Round 0 is a warm-up (JIT, connection set-up), not recorded.
    for (let round = 0; round <= args.rounds; round++) {
      for (const [name, app] of Object.entries(apps)) {
        const { server, url } = await listen(app);
        try {
          const run = await runHttpLoad({
            url,
            connections: args.connections,
            seconds: round === 0 ? Math.min(1, args.seconds) : args.seconds,
            method: 'POST',
            request: () => ({
              path: '/things/+31201234567',
              body,
              headers: { 'content-type': 'application/json', 'x-request-tag': 'bench' },
            }),
          });
          if (run.non2xx + run.errors > 0) throw new Error(`${name}: answers that were not 2xx`);
          if (round > 0) (out[name] ??= []).push(run.rps);
        } finally {
          await new Promise((r) => server.close(r));
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const load0 = loadavg();
  const micro = await microBenches(args);
  const validation = await validationBench(args);
  const load1 = loadavg();
  const microRows = [
    ['operation', 'ours us/op', 'library us/op', 'ours x library (time)'],
    ...micro.rows.map((r) => [
      r.what,
      cell(mean(r.oursUs), 2),
      cell(mean(r.libraryUs), 2),
      cell(ratio(mean(r.oursUs), mean(r.libraryUs)), 2),
    ]),
  ];
  const bare = mean(validation['bare express (no validation)'] ?? []);
  const httpRows = [
    ['server', 'req/s', 'x bare', 'us/req over bare'],
    ...Object.entries(validation).map(([name, rps]) => [
      name,
      cell(mean(rps)),
      cell(ratio(mean(rps), bare), 2),
      cell(1e6 / mean(rps) - 1e6 / bare, 0),
    ]),
  ];
  const note = `http-message-signatures accepted ${micro.libraryAccepts} of our signatures`;
  console.log(`\n${table(microRows)}\n${note}\n\n${table(httpRows)}`);
  console.log(`load average ${loadText(load0)} at start, ${loadText(load1)} at end`);
  const file = saveBenchRun(
    resolve(import.meta.dirname, '../../../results'),
    {
      name: 'library-costs',
      started,
      options: args,
      environment: { node: process.version, loadavgAtStart: load0, loadavgAtEnd: load1 },
      data: { micro, validation },
      markdown: (json) =>
        [
          `## hand-written vs maintained libraries: ${started.toISOString()}`,
          '',
          `${args.iterations} operations per side and round, ${args.rounds} rounds alternating; HTTP: ${args.seconds}s per server and round, ${args.connections} connections, load generator in the same process. Load average ${loadText(load0)} at start, ${loadText(load1)} at end (shared machine: compare ratios only). ${note}. Ours verifies more than the library: the profile's components, the Content-Digest, freshness and the nonce.`,
          '',
          markdownTable(microRows),
          '',
          markdownTable(httpRows),
          '',
          `Full data: \`${json}\`.`,
        ].join('\n'),
    },
    args.noSave,
  );
  if (file) console.log(`results: ${file}`);
}

main().catch((err: unknown) => {
  console.error(`library-costs: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
