import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@switchboard/db';
import type { SwitchboardBridge } from '../../src/bridge.js';
import { fileDatabase, makeBridge } from '../support/bridge.js';
import { KamailioServer } from '../support/kamailio.js';
import { waitFor } from '../support/processes.js';

/**
 * The bridge's own SIP layer against a real Kamailio that authenticates REGISTER with digest:
 * the right password registers (one binding), a stop removes that binding, a wrong password
 * leaves the bridge unregistered and says so in the store.
 */
describe('SIP registration with digest authentication (real Kamailio)', () => {
  const kamailio = new KamailioServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-sip-register-'));
  const password = 'bridge-digest-secret';
  const databases: Array<Database<unknown>> = [];

  beforeAll(async () => {
    await kamailio.init({ bridgePassword: password });
    await kamailio.start();
  });

  afterAll(async () => {
    await Promise.allSettled(databases.map((d) => d.close()));
    await kamailio.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A bridge with a store of its own (so one test's records cannot satisfy another's). */
  const bridgeWith = async (pw: string): Promise<SwitchboardBridge> => {
    const database = await fileDatabase(join(dir, `bridge-${databases.length}.db`));
    databases.push(database);
    return makeBridge(
      {
        plaintextRelay: true,
        sip: {
          server: kamailio.wsUrl,
          domain: kamailio.domain,
          user: kamailio.bridgeUser,
          password: pw,
          registerExpires: 60,
          reconnectDelayMs: 300,
        },
      },
      database,
    );
  };

  const aor = (): string => `sip:${kamailio.bridgeUser}@${kamailio.domain}`;

  it('registers with the right password and removes its binding on stop', async () => {
    const bridge = await bridgeWith(password);
    await bridge.start();
    await waitFor(() => (bridge.sip?.isUp() ? true : undefined), 'registered');
    expect(kamailio.contacts(kamailio.bridgeUser)).toBe(1);
    expect((await bridge.store.registration('sip', aor()))?.state).toBe('Registered');
    await bridge.stop();
    expect(kamailio.contacts(kamailio.bridgeUser)).toBe(0);
    expect((await bridge.store.registration('sip', aor()))?.state).toBe('Unregistered');
  }, 60_000);

  it('stays unregistered with a wrong password, and records it', async () => {
    const bridge = await bridgeWith('not-the-password');
    try {
      await bridge.start();
      await waitFor(
        async () =>
          (await bridge.store.registration('sip', aor()))?.state === 'Unregistered'
            ? true
            : undefined,
        'registration refused',
      );
      expect(bridge.sip?.isUp()).toBe(false);
      expect(kamailio.contacts(kamailio.bridgeUser)).toBe(0);
    } finally {
      await bridge.stop();
    }
  }, 60_000);
});
