import { sql } from 'kysely';
import { openDatabase } from '../src/index.js';
import { testPostgresUrl } from '../src/testing.js';

function nextPayload(received: string[], count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 5000;
    const check = (): void => {
      if (received.length >= count) resolve();
      else if (Date.now() > deadline) reject(new Error(`only ${received.length} notifications`));
      else setTimeout(check, 10);
    };
    check();
  });
}

describe('PostgreSQL notifications', () => {
  it('delivers pg_notify on a channel to listeners of the same schema only, after commit', async () => {
    const url = testPostgresUrl();
    const suffix = Math.random().toString(16).slice(2, 8);
    const a = await openDatabase({ url, schema: `n_a_${suffix}` });
    const b = await openDatabase({ url, schema: `n_a_${suffix}` });
    const other = await openDatabase({ url, schema: `n_b_${suffix}` });
    try {
      const heard: string[] = [];
      const heardElsewhere: string[] = [];
      const stop = await b.notifications!.listen('mailbox', (p) => heard.push(p));
      await other.notifications!.listen('mailbox', (p) => heardElsewhere.push(p));
      const channel = a.notifications!.channel('mailbox');
      await a.db.transaction().execute(async (tx) => {
        await sql`select pg_notify(${channel}, ${'one'})`.execute(tx);
        // Not delivered before the transaction commits.
        await new Promise((r) => setTimeout(r, 100));
        expect(heard).toEqual([]);
      });
      await nextPayload(heard, 1);
      await expect(
        a.db.transaction().execute(async (tx) => {
          await sql`select pg_notify(${channel}, ${'rolled back'})`.execute(tx);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      await sql`select pg_notify(${channel}, ${'two'})`.execute(a.db);
      await nextPayload(heard, 2);
      expect(heard).toEqual(['one', 'two']);
      expect(heardElsewhere).toEqual([]);
      await stop();
      await sql`select pg_notify(${channel}, ${'three'})`.execute(a.db);
      await new Promise((r) => setTimeout(r, 100));
      expect(heard).toEqual(['one', 'two']);
      expect(() => a.notifications!.channel('Bad-Name')).toThrow();
    } finally {
      await a.close();
      await b.close();
      await other.close();
      for (const s of [`n_a_${suffix}`, `n_b_${suffix}`]) {
        const cleanup = await openDatabase({ url });
        await sql.raw(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).execute(cleanup.db);
        await cleanup.close();
      }
    }
  });

  it('is not offered on SQLite', async () => {
    const db = await openDatabase({ url: 'sqlite::memory:' });
    expect(db.notifications).toBeUndefined();
    await db.close();
  });
});
