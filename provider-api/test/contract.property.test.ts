import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import { signRequest } from '@switchboard/http-signature';
import type { OperationInfo } from '@switchboard/openapi';
import { providerValidator } from '../src/app.js';
import { createApiKey } from '../src/operator/operator-keys.js';
import { mailboxAddressFor } from '../src/mailboxes/mailboxes.js';
import type { Registered, TestProvider } from './helpers.js';
import { NUMBERS, makeClientKeys, register, startTestProvider } from './helpers.js';
import { arbitraryFor } from './schema-arbitrary.js';

// Drives every operation of openapi/provider.yaml with generated valid and invalid input and
// checks that every answer is declared by the document, matches its schema, and is never a 500.

const validator = providerValidator();
const components = (validator.document.components?.['schemas'] ?? {}) as Record<
  string,
  Record<string, unknown>
>;
const RUNS = Number(process.env['PROPERTY_RUNS'] ?? 25);
// Known-good values mixed into generation so valid input also gets past the first checks.
const HINTS = {
  E164Input: fc.constantFrom(...NUMBERS, '+44 20 7946 0960'),
  Currency: fc.constant('EUR'),
};

interface World {
  account: Registered;
  operatorKey: string;
  mailbox: { address: string; keyId: string; privateKey: KeyObject };
  messageIds: string[];
  sessionIds: string[];
}

interface Attempt {
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string | undefined;
  contentType: string | undefined;
  auth: 'good' | 'none' | 'wrong';
}

const printable = fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x'));

function validAttempt(op: OperationInfo, world: () => World): fc.Arbitrary<Attempt> {
  const params: Record<string, fc.Arbitrary<string>> = {};
  const query: Record<string, fc.Arbitrary<string>> = {};
  const headers: Record<string, fc.Arbitrary<string>> = {};
  for (const p of op.parameters) {
    const generated = arbitraryFor(p.schema as Record<string, unknown>, components, HINTS).map(
      String,
    );
    const known: Record<string, () => string[]> = {
      sessionId: () => world().sessionIds,
      address: () => [world().account.accountId, world().account.number],
      mailbox: () => [world().mailbox.address],
      messageId: () => world().messageIds,
    };
    const pick = known[p.name];
    const arb = pick
      ? fc.oneof(
          generated,
          fc.constant(null).map(() => pick()[0] ?? '00000000-0000-4000-8000-000000000000'),
        )
      : generated;
    if (p.in === 'path') params[p.name] = arb;
    else if (p.in === 'query') query[p.name] = arb;
    else headers[p.name] = arb;
  }
  const required = (where: string) =>
    op.parameters.filter((p) => p.in === where && p.required).map((p) => p.name);
  return fc.record({
    params: fc.record(params),
    query: fc.record(query, { requiredKeys: required('query') }),
    headers: fc.record(headers, { requiredKeys: required('header') }),
    body: op.body
      ? arbitraryFor(op.body.schema as Record<string, unknown>, components, HINTS).map((b) =>
          JSON.stringify(b),
        )
      : fc.constant(undefined),
    contentType: fc.constant(op.body ? 'application/json' : undefined),
    auth: fc.constantFrom<Attempt['auth']>('good', 'good', 'good', 'none', 'wrong'),
  });
}

function invalidAttempt(op: OperationInfo, world: () => World): fc.Arbitrary<Attempt> {
  return fc
    .tuple(
      validAttempt(op, world),
      fc.constantFrom('body-json', 'body-text', 'content-type', 'path', 'query', 'drop-header'),
      fc.jsonValue({ maxDepth: 3 }),
      printable,
    )
    .map(([a, how, junk, text]) => {
      switch (how) {
        case 'body-json':
          return op.method === 'get'
            ? { ...a, query: { ...a.query, junk: text } }
            : { ...a, body: JSON.stringify(junk), contentType: 'application/json' };
        case 'body-text':
          return op.method === 'get'
            ? a
            : { ...a, body: `{${text}`, contentType: 'application/json' };
        case 'content-type':
          return op.method === 'get' ? a : { ...a, body: text || 'x', contentType: 'text/plain' };
        case 'path': {
          const names = Object.keys(a.params);
          return names[0]
            ? { ...a, params: { ...a.params, [names[0]]: text || 'x' } }
            : { ...a, query: { ...a.query, zz: text } };
        }
        case 'query':
          return { ...a, query: { ...a.query, [`q${text.length}`]: text } };
        default:
          return { ...a, headers: {} };
      }
    });
}

async function send(p: TestProvider, op: OperationInfo, a: Attempt, world: World) {
  let path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) =>
    // Dots too: a client would otherwise resolve `.` and `..` segments away.
    encodeURIComponent(a.params[name] ?? 'x').replace(/\./g, '%2E'),
  );
  const qs = new URLSearchParams(a.query).toString();
  if (qs) path += `?${qs}`;
  const method = op.method.toUpperCase();
  const headers: Record<string, string> = { ...a.headers };
  if (a.contentType) headers['content-type'] = a.contentType;
  const body = method === 'GET' ? undefined : a.body;
  if (op.security.includes('deviceSignature') || op.security.includes('mailboxSignature')) {
    if (a.auth !== 'none') {
      const mailbox = op.security.includes('mailboxSignature');
      const keyId = mailbox ? world.mailbox.keyId : world.account.accountId;
      const privateKey =
        a.auth === 'good'
          ? mailbox
            ? world.mailbox.privateKey
            : world.account.keys.device.privateKey
          : generateKeyPairSync('ed25519').privateKey;
      Object.assign(
        headers,
        signRequest({
          method,
          url: path,
          body: body ?? '',
          keyId,
          privateKey,
          now: p.clock.now / 1000,
        }),
      );
    }
  }
  if (op.security.includes('operatorKey') && a.auth !== 'none') {
    headers['authorization'] = `Bearer ${a.auth === 'good' ? world.operatorKey : 'sbk_nope'}`;
  }
  const res = await fetch(`${p.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? undefined;
  let parsed: unknown = text === '' ? undefined : text;
  if (text && type?.includes('json')) parsed = JSON.parse(text);
  return { status: res.status, type, body: parsed };
}

describe.each(ALL_DIALECTS)('every operation conforms to openapi/provider.yaml (%s)', (dialect) => {
  let p: TestProvider;
  let world: World;
  const generous = { capacity: 1_000_000, perSeconds: 1 };

  beforeAll(async () => {
    p = await startTestProvider(dialect, {
      verification: {
        sessionTtlSeconds: 1800,
        codeTtlSeconds: 300,
        maxAttempts: 5,
        maxSends: 3,
        resendIntervalSeconds: 30,
        perClientAddress: generous,
        sendsPerNumber: generous,
        sendsPerNumberAndClient: generous,
        sendsPerClientAddress: generous,
        sendsPerDestinationRange: generous,
        destinationRangeDigits: 6,
        sendsGlobal: generous,
        attemptsPerNumberAndClient: generous,
        attemptsPerClientAddress: generous,
      },
      prekeys: {
        maxStoredPerKind: 1000,
        fetchPerClientAddress: generous,
        fetchPerTarget: generous,
        fetchPerAsker: generous,
        fetchPerAskerAndTarget: generous,
        oneTimeKeysPerPairSeconds: 0,
        reservedOneTimeKeys: 0,
        oneTimeKeysPerIssuerAndTarget: generous,
        senderCertificateTtlSeconds: 3600,
      },
    });
    const account = await register(p, NUMBERS[0]!, makeClientKeys(30, 5));
    const operator = await createApiKey(p.deps, {
      name: 'pbt',
      scopes: ['admin:keys', 'accounts:read', 'billing:write'],
    });
    const mk = generateKeyPairSync('ed25519');
    const raw = mk.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    world = {
      account,
      operatorKey: operator.key,
      mailbox: {
        address: mailboxAddressFor(raw),
        keyId: raw.toString('base64url'),
        privateKey: mk.privateKey,
      },
      messageIds: [],
      sessionIds: [],
    };
  });
  afterAll(async () => {
    await p.close();
  });

  it.each(validator.operations.map((o) => [o.operationId, o] as const))('%s', async (_id, op) => {
    const seen = new Set<number>();
    const check = async (a: Attempt): Promise<void> => {
      const r = await send(p, op, a, world);
      seen.add(r.status);
      if (r.status === 500) throw new Error(`500 for ${op.operationId}: ${JSON.stringify(a)}`);
      const v = validator.validateResponse(op.operationId, r.status, r.type, r.body);
      if (!v.ok) {
        throw new Error(
          `${op.operationId} answered ${r.status} against the document: ${JSON.stringify(v.errors)} for ${JSON.stringify(a)}`,
        );
      }
      // Keep the world usable: remember resources, re-register after a deletion.
      const b = r.body as Record<string, unknown> | undefined;
      if (op.operationId === 'deliverMailboxMessage' && r.status === 202)
        world.messageIds.unshift(String(b?.['messageId']));
      if (op.operationId === 'createVerificationSession' && r.status === 201)
        world.sessionIds.unshift(String(b?.['sessionId']));
      if (op.operationId === 'deleteAccount' && r.status === 204) {
        p.clock.now += 3600_000;
        world.account = await register(p, NUMBERS[0]!, makeClientKeys(30, 5));
      }
      p.clock.now += 1000;
    };
    await fc.assert(
      fc.asyncProperty(
        validAttempt(op, () => world),
        check,
      ),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(
        invalidAttempt(op, () => world),
        check,
      ),
      { numRuns: RUNS },
    );
    if (process.env['PROPERTY_LOG']) console.log(op.operationId, [...seen].sort().join(' '));
    // Both kinds of input reached the operation: at least one client error was produced.
    expect([...seen].some((s) => s >= 400 && s < 500)).toBe(true);
  });
});
