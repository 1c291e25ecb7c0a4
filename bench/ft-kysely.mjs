import { openDatabase } from '@switchboard/db';
import { sql } from 'kysely';
import S from 'better-sqlite3';
const file = '/tmp/ft/h4/provider.db';
const { db, close } = await openDatabase({ url: `sqlite:${file}` });
const ids = (await db.selectFrom('accounts').select('id').execute()).map((r) => r.id);
const q = db.selectFrom('accounts').select('device_key').where('id', '=', 'x').compile();
const N = 20000;
for (let r = 0; r < 3; r++) {
  let c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await db.executeQuery({ ...q, parameters: [ids[i % ids.length]] });
  let u = process.cpuUsage(c0); const k = (u.user + u.system) / N;
  const raw = new S(file, { readonly: true }); const st = raw.prepare(q.sql);
  c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) st.all(ids[i % ids.length]);
  u = process.cpuUsage(c0); const rr = (u.user + u.system) / N; raw.close();
  c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await Promise.resolve(1);
  u = process.cpuUsage(c0);
  console.log(`kysely executeQuery ${k.toFixed(1)} us, raw stmt.all ${rr.toFixed(1)} us, await ${((u.user + u.system) / N).toFixed(2)} us`);
}
await close();
