import type { Message, Question } from '@switchboard/dns-wire';
import { Opcode, RRClass } from '@switchboard/dns-wire';
import { PrivateKey } from '@signalapp/libsignal-client';
import type { E164Number } from '@switchboard/e164';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTestDatabase } from '@switchboard/db/testing';
import type { SigningKey } from '@switchboard/dnssec';
import { DirectoryStore } from '../src/state/store.js';
import { ZoneState } from '../src/state/zone-state.js';
import type { NumberEntry } from '../src/zone/records.js';
import { OnlineSigner } from '../src/zone/signer.js';
import { defaultZoneSettings } from '../src/zone/zone.js';

/** A query message for tests. */
export function query(
  name: string,
  type: number,
  options: {
    dnssec?: boolean;
    payload?: number;
    id?: number;
    cls?: number;
    edns?: boolean;
    opcode?: number;
  } = {},
): Message {
  const question: Question = { name, type, class: options.cls ?? RRClass.IN };
  return {
    id: options.id ?? 4242,
    qr: false,
    opcode: options.opcode ?? Opcode.QUERY,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [question],
    answers: [],
    authorities: [],
    additionals: [],
    ...(options.edns === false
      ? {}
      : {
          edns: {
            udpPayloadSize: options.payload ?? 1232,
            version: 0,
            dnssecOk: options.dnssec ?? true,
            options: [],
          },
        }),
  };
}

/** A fresh libsignal identity key pair; public key as base64. */
export function identity(): { privateKey: PrivateKey; publicBase64: string } {
  const privateKey = PrivateKey.generate();
  return {
    privateKey,
    publicBase64: Buffer.from(privateKey.getPublicKey().serialize()).toString('base64'),
  };
}

/** A published entry for tests. */
export function entry(number: string, provider = 'acme-telecom', serial = 1): NumberEntry {
  return {
    number: number as E164Number,
    provider,
    identityKey: identity().publicBase64,
    contacts: [
      { service: 'sip', uri: 'sip:alice@sip.example.net' },
      { service: 'xmpp', uri: 'xmpp:alice@xmpp.example.net' },
      { service: 'matrix', uri: 'matrix:u/alice:example.net' },
    ],
    serial,
    updatedAt: 1_790_000_000,
  };
}

/** A zone signed online over an SQLite store seeded with numbers, its image in a temp dir. */
export interface SeededZone {
  readonly store: DirectoryStore;
  readonly zone: ZoneState;
  /** Closes the zone and the database and removes the temp dir. */
  close(): Promise<void>;
}

/** Seeds a store with `numbers` (published at `now`) and loads the zone over it, with an image. */
export async function seededImageZone(
  prefix: string,
  numbers: readonly string[],
  key: SigningKey,
  now: number,
): Promise<SeededZone> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const database = await openTestDatabase<unknown>('sqlite');
  const store = await DirectoryStore.open(database);
  for (const n of numbers) expect(await store.put(entry(n), undefined, now)).toBeDefined();
  const apex = 'e164.switchboard.test.';
  const zone = await ZoneState.load(
    store,
    defaultZoneSettings(apex),
    key,
    new OnlineSigner(key, apex),
    { imagePath: join(dir, 'zone-image.db') },
  );
  const close = async (): Promise<void> => {
    await zone.close();
    await database.dispose();
    await rm(dir, { recursive: true, force: true });
  };
  return { store, zone, close };
}
