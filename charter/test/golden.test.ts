// Golden files: a list signed once and checked in. If canonicalisation, keyids, fingerprints or
// signing change, lists the board already published would stop verifying; these tests say so.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  boardFingerprint,
  canonicalize,
  createDevelopmentBoard,
  signTrustList,
  trustListDigest,
  verifyTrustList,
} from '../src/index.js';

const GOLDEN_FINGERPRINT = 'e22f6b67c023b559b183e5b886485e676a3b8d8f217ff40cd7a022acb279b5f8';
const GOLDEN_DIGEST = '57b0b0da011738acbfa22b9e241db8f2dff84eb23db346c2df68e2a9da879d32';
const file = (name: string): string =>
  fileURLToPath(new URL(`../../test/golden/${name}`, import.meta.url));
const when = new Date('2026-06-01T00:00:00Z');

describe('golden trust list v1', () => {
  test('verifies against its pinned board fingerprint, with its recorded digest', async () => {
    const list = verifyTrustList(await readFile(file('trust-list-v1.json')), {
      now: when,
      boardFingerprint: GOLDEN_FINGERPRINT,
    });
    expect(list.digest).toBe(GOLDEN_DIGEST);
    expect(list.signedBy).toHaveLength(3);
  });

  test('canonicalises to exactly the recorded RFC 8785 bytes', async () => {
    const list = verifyTrustList(await readFile(file('trust-list-v1.json')), {
      now: when,
      boardFingerprint: GOLDEN_FINGERPRINT,
    });
    const jcs = await readFile(file('trust-list-v1.signed.jcs'), 'utf8');
    expect(canonicalize(list.body)).toBe(jcs);
    expect(trustListDigest(list.body)).toBe(GOLDEN_DIGEST);
  });

  test('the same board keys produce the same signatures (Ed25519 is deterministic)', async () => {
    const list = verifyTrustList(await readFile(file('trust-list-v1.json')), {
      now: when,
      boardFingerprint: GOLDEN_FINGERPRINT,
    });
    const board = createDevelopmentBoard({ seedLabel: 'golden' });
    expect(boardFingerprint(board.board)).toBe(GOLDEN_FINGERPRINT);
    const again = board.members.map((m) => signTrustList(list.body, m.privateKey));
    expect(again).toEqual(list.envelope.signatures);
  });
});
