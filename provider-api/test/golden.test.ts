import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { IdentityKeyPair } from '@signalapp/libsignal-client';
import { ALL_DIALECTS } from '@switchboard/db/testing';
import type { TestProvider } from './helpers.js';
import { NUMBERS, call, fetchBundle, startTestProvider, verifyNumber } from './helpers.js';

// Keys produced by libsignal 0.103 and checked in (scripts/generate-golden.mjs): the wire format
// of registration must keep accepting them, and a bundle fetched afterwards must carry them
// byte for byte.
const golden = JSON.parse(
  readFileSync(new URL('../../test/golden/registration.json', import.meta.url), 'utf8'),
) as {
  identityKeyPair: string;
  devicePrivateKeyPkcs8: string;
  registration: Record<string, unknown> & {
    identityKey: string;
    signedPreKey: { signature: string };
    oneTimePreKeys: { keyId: number; publicKey: string }[];
  };
};

describe.each(ALL_DIALECTS)('golden libsignal registration (%s)', (dialect) => {
  let p: TestProvider;
  beforeEach(async () => {
    p = await startTestProvider(dialect);
  });
  afterEach(async () => {
    await p.close();
  });

  it('accepts the golden keys and serves them back unchanged', async () => {
    const identity = IdentityKeyPair.deserialize(
      new Uint8Array(Buffer.from(golden.identityKeyPair, 'base64')),
    );
    expect(Buffer.from(identity.publicKey.serialize()).toString('base64')).toBe(
      golden.registration.identityKey,
    );
    const sessionId = await verifyNumber(p, NUMBERS[0]!);
    const res = await call(p, 'POST', '/v1/accounts', { sessionId, ...golden.registration });
    expect(res.status).toBe(201);
    const device = createPrivateKey({
      key: Buffer.from(golden.devicePrivateKeyPkcs8, 'base64'),
      format: 'der',
      type: 'pkcs8',
    });
    const bundle = await fetchBundle(p, res.json.accountId, {
      signer: { keyId: res.json.accountId, privateKey: device },
    });
    expect(bundle.json.identityKey).toBe(golden.registration.identityKey);
    expect(bundle.json.signedPreKey.signature).toBe(golden.registration.signedPreKey.signature);
    expect(bundle.json.preKey).toEqual(golden.registration.oneTimePreKeys[0]);
    const me = await call(p, 'GET', '/v1/account', undefined, {
      signer: { keyId: res.json.accountId, privateKey: device },
    });
    expect(me.status).toBe(200);
  });
});
