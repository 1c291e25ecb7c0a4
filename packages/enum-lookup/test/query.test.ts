import { RRType, Rcode, decodeMessage, encodeMessage } from '@switchboard/dns-wire';
import type { Message } from '@switchboard/dns-wire';
import type { DirectoryEntry } from '@switchboard/charter/verify';
import { DnsQueryError, queryDns, trustAnchorOf } from '../src/index.js';
import type { DnsTransport } from '../src/index.js';

// What queryDns accepts from a nameserver and what it refuses: answers are built from the query
// actually sent and then changed the way a broken server or an off-path attacker would.

const NAME = '8.5.9.0.6.4.9.7.0.2.4.4.e164.switchboard.test.';

type Answer = (query: Message, server: string, protocol: 'udp' | 'tcp') => Message | Error;

/** A transport answering each query with `answer(query)`, recording what was asked where. */
function answering(answer: Answer, log: string[] = []): DnsTransport {
  return {
    exchange(server, bytes, protocol) {
      log.push(`${server} ${protocol}`);
      const reply = answer(decodeMessage(bytes), server, protocol);
      return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(encodeMessage(reply));
    },
  };
}

const reply = (q: Message, changes: Partial<Message> = {}): Message => ({
  ...q,
  qr: true,
  aa: true,
  edns: undefined,
  ...changes,
});

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DnsQueryError);
  return (err as DnsQueryError).message;
}

describe('queryDns', () => {
  it('sends one question with DO and CD set and returns the matching answer', async () => {
    let sent: Message | undefined;
    const dns = answering((q) => ((sent = q), reply(q)));
    const m = await queryDns(['192.0.2.1:53'], NAME, RRType.NAPTR, { dns, randomId: () => 4660 });
    expect(m.id).toBe(4660);
    expect(sent).toMatchObject({ id: 4660, cd: true, rd: false, edns: { dnssecOk: true } });
    expect(sent?.questions).toEqual([{ name: NAME, type: RRType.NAPTR, class: 1 }]);
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const log: string[] = [];
    const dns = answering((q, _s, protocol) => reply(q, { tc: protocol === 'udp' }), log);
    const m = await queryDns(['192.0.2.1:53'], NAME, RRType.TXT, { dns });
    expect(m.tc).toBe(false);
    expect(log).toEqual(['192.0.2.1:53 udp', '192.0.2.1:53 tcp']);
  });

  it('refuses answers to another id, another name or another type, and non-answers', async () => {
    const cases: ((q: Message) => Message)[] = [
      (q) => reply(q, { id: (q.id + 1) & 0xffff }),
      (q) => reply(q, { questions: [{ name: `x.${NAME}`, type: RRType.TXT, class: 1 }] }),
      (q) => reply(q, { questions: [{ name: NAME, type: RRType.NAPTR, class: 1 }] }),
      (q) => reply(q, { qr: false }),
      (q) => reply(q, { questions: [] }),
    ];
    for (const change of cases) {
      const dns = answering(change);
      expect(await refusal(queryDns(['192.0.2.1:53'], NAME, RRType.TXT, { dns }))).toBe(
        'the DNS response does not match the question',
      );
    }
    const garbage: DnsTransport = { exchange: () => Promise.resolve(new Uint8Array([1, 2, 3])) };
    expect(await refusal(queryDns(['192.0.2.1:53'], NAME, RRType.TXT, { dns: garbage }))).toBe(
      'the directory server sent a malformed DNS message',
    );
  });

  it('moves on past SERVFAIL, REFUSED and silent servers to one that answers', async () => {
    const log: string[] = [];
    const dns = answering((q, server) => {
      if (server === 'a:53') return reply(q, { rcode: Rcode.SERVFAIL });
      if (server === 'b:53') return reply(q, { rcode: Rcode.REFUSED });
      if (server === 'c:53') return new Error('timed out');
      return reply(q);
    }, log);
    const m = await queryDns(['a:53', 'b:53', 'c:53', 'd:53'], NAME, RRType.TXT, { dns });
    expect(m.rcode).toBe(Rcode.NOERROR);
    expect(log).toEqual(['a:53 udp', 'b:53 udp', 'c:53 udp', 'd:53 udp']);
  });

  it('says why when no server answers usefully', async () => {
    const servfail = answering((q) => reply(q, { rcode: Rcode.SERVFAIL }));
    expect(await refusal(queryDns(['a:53'], NAME, RRType.TXT, { dns: servfail }))).toBe(
      'the directory server answered SERVFAIL',
    );
    const silent = answering(() => new Error('timed out'));
    const message = await refusal(queryDns(['a:53', 'b:53'], NAME, RRType.TXT, { dns: silent }));
    expect(message).toBe('no directory server answered; check the network or try again');
    expect(await refusal(queryDns([], NAME, RRType.TXT, { dns: silent }))).toBe(
      'the directory lists no nameserver',
    );
  });
});

describe('trustAnchorOf', () => {
  const dir = (trustAnchors: DirectoryEntry['trustAnchors']): DirectoryEntry =>
    ({ apex: 'e164.switchboard.test.', trustAnchors }) as DirectoryEntry;

  it('uses the DS records when the list gives any, else the DNSKEYs, decoded', () => {
    const ds = { type: 'DS', keyTag: 1, algorithm: 13, digestType: 2, digest: 'ab01' } as const;
    const key = {
      type: 'DNSKEY',
      flags: 257,
      protocol: 3,
      algorithm: 13,
      publicKey: 'AQID',
    } as const;
    expect(trustAnchorOf(dir([key, ds]))).toEqual({
      zone: 'e164.switchboard.test.',
      ds: [{ keyTag: 1, algorithm: 13, digestType: 2, digest: new Uint8Array([0xab, 0x01]) }],
    });
    expect(trustAnchorOf(dir([key]))).toEqual({
      zone: 'e164.switchboard.test.',
      dnskeys: [{ flags: 257, protocol: 3, algorithm: 13, publicKey: new Uint8Array([1, 2, 3]) }],
    });
  });

  it('leaves out an anchor that does not decode', () => {
    const odd = { type: 'DS', keyTag: 1, algorithm: 13, digestType: 2, digest: 'abc' } as const;
    expect(trustAnchorOf(dir([odd]))).toEqual({ zone: 'e164.switchboard.test.', dnskeys: [] });
  });
});
