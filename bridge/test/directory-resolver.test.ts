import { LookupError } from '@switchboard/client-sdk';
import { DirectoryResolver } from '../src/routing/directory-resolver.js';
import { routeCandidates } from '../src/routing/routing.js';

const provider = { id: 'prov-1' } as never;

describe('DirectoryResolver (client SDK lookup)', () => {
  const resolver = new DirectoryResolver((e164) => {
    if (e164 === '+15550100') {
      return Promise.resolve({
        contacts: [
          { service: 'xmpp', uri: 'xmpp:alice@xmpp.test', order: 10, preference: 10 },
          { service: 'sip', uri: 'sip:alice@sip.test', order: 20, preference: 10 },
        ],
        provider,
      });
    }
    if (e164 === '+15550111') return Promise.reject(new LookupError('not-found', 'not listed'));
    return Promise.reject(new LookupError('bogus-signature', 'bad RRSIG'));
  });

  it('keeps the SDK NAPTR order and the provider id', async () => {
    expect(await resolver.lookup('+15550100')).toEqual({
      contacts: [{ uri: 'xmpp:alice@xmpp.test' }, { uri: 'sip:alice@sip.test' }],
      providerId: 'prov-1',
    });
    const route = await routeCandidates(
      { kind: 'phone', e164: '+15550100' },
      new Set(['sip', 'xmpp']),
      resolver,
    );
    expect(route).toEqual([
      { network: 'xmpp', id: 'alice@xmpp.test' },
      { network: 'sip', id: 'alice@sip.test' },
    ]);
  });

  it('maps not-found to an unknown number and other SDK failures to lookup-failed', async () => {
    expect(await resolver.lookup('+15550111')).toBeNull();
    await expect(
      routeCandidates({ kind: 'phone', e164: '+15550111' }, new Set(['sip']), resolver),
    ).rejects.toMatchObject({
      code: 'number-not-found',
    });
    await expect(
      routeCandidates({ kind: 'phone', e164: '+15550122' }, new Set(['sip']), resolver),
    ).rejects.toMatchObject({
      code: 'lookup-failed',
    });
  });
});
