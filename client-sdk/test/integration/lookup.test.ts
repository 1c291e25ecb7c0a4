// lookup() against a real directory over real UDP/TCP DNS, with a man-in-the-middle transport
// that tampers with the answers in the ways an attacker or a broken resolver would.
import { IdentityKeyPair } from '@signalapp/libsignal-client';
import { RRType, decodeMessage, encodeMessage } from '@switchboard/dns-wire';
import type { Message, ResourceRecord } from '@switchboard/dns-wire';
import { generateSigningKey, dsFromDnskey } from '@switchboard/dnssec';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DohTransport,
  LookupError,
  fetchHttpClient,
  lookup,
  toBase64,
  toHex,
} from '../../src/index.js';
import type { DnsTransport, LookupConfig } from '../../src/index.js';
import { NodeDnsTransport } from '../../src/node/index.js';
import type { TestDirectory, TestProvider } from './fixtures.js';
import {
  APEX,
  directoryEntry,
  makeProvider,
  providerEntry,
  publish,
  startTestDirectory,
  trustList,
} from './fixtures.js';

const ALICE = '+442079460958';
const LISTED_ELSEWHERE = '+14155552671';
const NOBODY = '+33142685300';

/** Decodes each response and lets `edit` rewrite it (re-encoded, so it is well-formed). */
class TamperingTransport implements DnsTransport {
  readonly #inner = new NodeDnsTransport();
  constructor(
    readonly edit: (m: Message) => Message,
    readonly rewriteQuery?: (q: Uint8Array) => Uint8Array,
  ) {}
  async exchange(server: string, query: Uint8Array, protocol: 'udp' | 'tcp'): Promise<Uint8Array> {
    const original = decodeMessage(query);
    const sent = this.rewriteQuery ? this.rewriteQuery(query) : query;
    const response = decodeMessage(await this.#inner.exchange(server, sent, protocol));
    return encodeMessage(this.edit({ ...response, questions: original.questions }));
  }
}

function isNaptrAnswer(m: Message): boolean {
  return m.questions[0]?.type === RRType.NAPTR;
}

let dir: TestDirectory;
let provider: TestProvider;
let rogue: TestProvider;
let aliceKey: Uint8Array;
const now = new Date();

function config(overrides: Partial<LookupConfig> = {}): LookupConfig {
  return {
    trustList: trustList([directoryEntry(dir)], [providerEntry(provider, now)], now),
    dns: new NodeDnsTransport(),
    ...overrides,
  };
}

async function failure(p: Promise<unknown>): Promise<LookupError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LookupError);
  return err as LookupError;
}

beforeAll(async () => {
  provider = makeProvider('acme-telecom', 'https://api.acme.example');
  rogue = makeProvider('rogue-telecom');
  dir = await startTestDirectory([provider, rogue]);
  aliceKey = IdentityKeyPair.generate().publicKey.serialize();
  await publish(dir, provider, ALICE, toBase64(aliceKey), [
    { service: 'xmpp', uri: 'xmpp:alice@xmpp.example.net' },
    { service: 'sip', uri: 'sip:alice@sip.example.net' },
  ]);
  await publish(
    dir,
    rogue,
    LISTED_ELSEWHERE,
    toBase64(IdentityKeyPair.generate().publicKey.serialize()),
    [{ service: 'sip', uri: 'sip:bob@rogue.example' }],
  );
});

afterAll(async () => {
  await dir?.stop();
});

describe('lookup over real DNS', () => {
  it('returns contacts in NAPTR order, the identity key and the accredited provider', async () => {
    const r = await lookup(ALICE, config());
    expect(r.number).toBe(ALICE);
    expect(r.enumName).toBe(`8.5.9.0.6.4.9.7.0.2.4.4.${APEX}`);
    expect(r.contacts.map((c) => c.uri)).toEqual([
      'xmpp:alice@xmpp.example.net',
      'sip:alice@sip.example.net',
    ]);
    expect(toHex(r.identityKey)).toBe(toHex(aliceKey));
    expect(r.provider.id).toBe('acme-telecom');
    expect(r.provider.apiBaseUrl).toBe('https://api.acme.example');
    expect(r.dnssec).toMatchObject({ status: 'secure', directoryId: 'dir-test' });
  });

  it('falls back to TCP when the UDP answer is truncated', async () => {
    const protocols: string[] = [];
    const inner = new NodeDnsTransport();
    const truncating: DnsTransport = {
      async exchange(server, query, protocol) {
        protocols.push(protocol);
        const res = await inner.exchange(server, query, protocol);
        if (protocol === 'tcp') return res;
        const m = decodeMessage(res);
        return encodeMessage({ ...m, tc: true, answers: [], authorities: [], additionals: [] });
      },
    };
    const r = await lookup(ALICE, config({ dns: truncating }));
    expect(r.identityKey).toEqual(aliceKey);
    expect(protocols).toContain('tcp');
  });

  it('works over DNS over HTTPS (RFC 8484) and still validates the answers itself', async () => {
    // A minimal DoH front end forwarding to the directory's UDP port.
    const udp = new NodeDnsTransport();
    const paths: string[] = [];
    const doh = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
        udp.exchange(dir.server, Buffer.concat(chunks), 'tcp').then(
          (answer) => res.writeHead(200, { 'content-type': 'application/dns-message' }).end(answer),
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((r) => doh.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(doh.address() as AddressInfo).port}/dns-query`;
      const r = await lookup(
        ALICE,
        config({ dns: new DohTransport({ url, http: fetchHttpClient() }) }),
      );
      expect(r.identityKey).toEqual(aliceKey);
      expect(paths[0]).toBe('POST /dns-query application/dns-message');
      const broken = new DohTransport({
        url: `${url.replace('/dns-query', '')}/nope`,
        http: fetchHttpClient(),
      });
      doh.removeAllListeners('request');
      doh.on('request', (_req, res) => res.writeHead(404).end());
      expect((await failure(lookup(ALICE, config({ dns: broken })))).code).toBe('dns-failed');
    } finally {
      await new Promise((r) => doh.close(r));
    }
  });

  it('reports a number that is not in the directory as not-found (proved by compact denial)', async () => {
    expect((await failure(lookup(NOBODY, config()))).code).toBe('not-found');
  });

  it('refuses a forged RRSIG', async () => {
    const dns = new TamperingTransport((m) =>
      isNaptrAnswer(m)
        ? {
            ...m,
            answers: m.answers.map((rr): ResourceRecord => {
              if (rr.type !== RRType.RRSIG) return rr;
              const sig = (rr.data as { signature: Uint8Array }).signature.slice();
              sig[10] = sig[10]! ^ 0x55;
              return { ...rr, data: { ...rr.data, signature: sig } } as ResourceRecord;
            }),
          }
        : m,
    );
    const err = await failure(lookup(ALICE, config({ dns })));
    expect(err.code).toBe('bogus-signature');
    expect(err.reason).toBe('signature-invalid');
  });

  it('refuses a forged NAPTR (record changed, signature kept)', async () => {
    const dns = new TamperingTransport((m) =>
      isNaptrAnswer(m)
        ? {
            ...m,
            answers: m.answers.map((rr): ResourceRecord =>
              rr.type === RRType.NAPTR
                ? ({
                    ...rr,
                    data: { ...rr.data, regexp: '!^.*$!sip:mallory@evil.example!' },
                  } as ResourceRecord)
                : rr,
            ),
          }
        : m,
    );
    expect((await failure(lookup(ALICE, config({ dns })))).code).toBe('bogus-signature');
  });

  it('refuses answers whose signatures were stripped', async () => {
    const strip = (rrs: readonly ResourceRecord[]): ResourceRecord[] =>
      rrs.filter((rr) => rr.type !== RRType.RRSIG);
    const dns = new TamperingTransport((m) => ({
      ...m,
      answers: strip(m.answers),
      authorities: strip(m.authorities),
      ad: true, // a resolver claiming "authenticated data" changes nothing
    }));
    const err = await failure(lookup(ALICE, config({ dns })));
    expect(err.code).toBe('bogus-signature');
    expect(err.reason).toBe('no-signature');
  });

  it('refuses expired signatures', async () => {
    // The directory signs for 7 days; 30 days later the signatures have expired while the
    // (90-day) trust list is still valid.
    const later = new Date(now.getTime() + 30 * 86_400_000);
    const err = await failure(lookup(ALICE, config({ now: () => later })));
    expect(err.code).toBe('expired');
    expect(err.reason).toBe('signature-expired');
  });

  it('refuses a zone whose DNSKEY does not match the trust anchor', async () => {
    const other = generateSigningKey(13);
    const wrongDs = dsFromDnskey(APEX, other.dnskey, 2);
    const entry = directoryEntry(dir, {
      trustAnchors: [
        {
          type: 'DS',
          keyTag: wrongDs.keyTag,
          algorithm: wrongDs.algorithm,
          digestType: wrongDs.digestType,
          digest: toHex(wrongDs.digest),
        },
      ],
    });
    const err = await failure(
      lookup(ALICE, config({ trustList: trustList([entry], [providerEntry(provider, now)], now) })),
    );
    expect(err.code).toBe('bogus-signature');
    expect(err.reason).toBe('ds-mismatch');
  });

  it('refuses a validly signed denial that does not cover the asked name', async () => {
    // The attacker answers the question for ALICE with the (genuine) denial for NOBODY.
    const nobodyName = `0.0.3.5.8.6.2.4.1.3.3.${APEX}`;
    const dns = new TamperingTransport(
      (m) => m,
      (query) => {
        const q = decodeMessage(query);
        if (q.questions[0]?.type !== RRType.NAPTR) return query;
        return encodeMessage({ ...q, questions: [{ ...q.questions[0], name: nobodyName }] });
      },
    );
    const err = await failure(lookup(ALICE, config({ dns })));
    expect(err.code).toBe('bogus-signature');
    expect(err.reason).toBe('denial-does-not-cover-name');
  });

  it('refuses a number published by a provider the trust list does not accredit', async () => {
    const err = await failure(lookup(LISTED_ELSEWHERE, config()));
    expect(err.code).toBe('unlisted-provider');
  });

  it('refuses an unlisted directory and an expired trust list', async () => {
    expect((await failure(lookup(ALICE, config({ directoryId: 'dir-unknown' })))).code).toBe(
      'unlisted-directory',
    );
    const past = new Date(now.getTime() - 100 * 86_400_000);
    const stale = trustList([directoryEntry(dir)], [providerEntry(provider, past)], past, 10);
    expect((await failure(lookup(ALICE, config({ trustList: stale })))).code).toBe(
      'trust-list-expired',
    );
  });

  it('refuses malformed numbers with invalid-input', async () => {
    expect((await failure(lookup('0207 946 0958', config()))).code).toBe('invalid-input');
  });
});

describe("lookup over the directory's own DNS over HTTPS listener (RFC 8484)", () => {
  const sent: string[] = [];
  const doh = (method: 'GET' | 'POST'): DohTransport => {
    const http = fetchHttpClient();
    return new DohTransport({
      url: dir.directory.dohUrl,
      http: {
        request: (req) => {
          sent.push(`${req.method} ${req.url.includes('?dns=') ? 'dns=' : ''}`);
          return http.request(req);
        },
      },
      method,
    });
  };

  it('validates a published number by GET and by POST, and proves a missing one absent', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const r = await lookup(ALICE, config({ dns: doh(method) }));
      expect(toHex(r.identityKey)).toBe(toHex(aliceKey));
      expect(r.dnssec).toMatchObject({ status: 'secure', directoryId: 'dir-test' });
      expect((await failure(lookup(NOBODY, config({ dns: doh(method) })))).code).toBe('not-found');
    }
    // GET (what a page on another origin can send without a preflight) carries ?dns=.
    expect(new Set(sent)).toEqual(new Set(['GET dns=', 'POST ']));
  });

  it('refuses a DoH answer whose NAPTR was changed on the way', async () => {
    const inner = doh('GET');
    const tampering: DnsTransport = {
      async exchange(server, query) {
        const m = decodeMessage(await inner.exchange(server, query));
        if (!isNaptrAnswer(m)) return encodeMessage(m);
        const answers = m.answers.map((rr): ResourceRecord =>
          rr.type === RRType.NAPTR
            ? ({
                ...rr,
                data: { ...rr.data, regexp: '!^.*$!sip:mallory@evil.example!' },
              } as ResourceRecord)
            : rr,
        );
        return encodeMessage({ ...m, answers });
      },
    };
    const err = await failure(lookup(ALICE, config({ dns: tampering })));
    expect(err.code).toBe('bogus-signature');
  });
});
