// Regenerates test/golden/registration.json (libsignal-produced keys for the registration golden test):
//   node provider-api/scripts/generate-golden.mjs provider-api/test/golden/registration.json
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import process from 'node:process';
const b64 = (b) => Buffer.from(b).toString('base64');
const identity = IdentityKeyPair.generate();
const spk = PrivateKey.generate();
const kyber = KEMKeyPair.generate();
const otk = [PrivateKey.generate(), PrivateKey.generate()];
const device = generateKeyPairSync('ed25519');
const golden = {
  comment:
    'Produced by @signalapp/libsignal-client 0.103 (IdentityKeyPair.generate, PrivateKey.generate, KEMKeyPair.generate, PrivateKey.sign). Test keys only.',
  identityKeyPair: b64(identity.serialize()),
  devicePrivateKeyPkcs8: b64(device.privateKey.export({ format: 'der', type: 'pkcs8' })),
  registration: {
    registrationId: 4242,
    identityKey: b64(identity.publicKey.serialize()),
    signedPreKey: {
      keyId: 1,
      publicKey: b64(spk.getPublicKey().serialize()),
      signature: b64(identity.privateKey.sign(spk.getPublicKey().serialize())),
    },
    kyberLastResortPreKey: {
      keyId: 2,
      publicKey: b64(kyber.getPublicKey().serialize()),
      signature: b64(identity.privateKey.sign(kyber.getPublicKey().serialize())),
    },
    oneTimePreKeys: otk.map((k, i) => ({
      keyId: 10 + i,
      publicKey: b64(k.getPublicKey().serialize()),
    })),
    deviceKey: b64(device.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)),
  },
};
writeFileSync(process.argv[2], JSON.stringify(golden, null, 2) + '\n');
