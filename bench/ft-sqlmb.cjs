// scratch: cost of the fetch's write statements, 3 autocommits vs 2 txns vs 1 txn vs batched
const S = require('better-sqlite3'); const fs = require('fs'); const crypto = require('crypto');
const src = process.argv[2]; const mode = process.argv[3]; const N = Number(process.argv[4] ?? 3000);
const file = `/tmp/ft/mb/${mode}.db`; for (const s of ['', '-wal', '-shm']) fs.rmSync(file + s, { force: true });
fs.copyFileSync(src, file);
const db = new S(file); db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL'); db.pragma('foreign_keys = ON'); db.pragma('cache_size = -65536'); db.pragma('wal_autocheckpoint = 0');
if (mode.includes('wr')) { db.exec(`CREATE TABLE rn2 (key text primary key, expires_at integer not null) WITHOUT ROWID; CREATE TABLE pc2 (target_id text not null references accounts(id) on delete cascade, asker text not null, first_at integer not null, one_time_at integer, primary key (target_id, asker)) WITHOUT ROWID; INSERT INTO rn2 SELECT key, expires_at FROM replay_nonces; INSERT INTO pc2 SELECT * FROM prekey_contacts; DROP TABLE replay_nonces; DROP TABLE prekey_contacts; ALTER TABLE rn2 RENAME TO replay_nonces; ALTER TABLE pc2 RENAME TO prekey_contacts;`); db.pragma('wal_checkpoint(TRUNCATE)'); }
const accts = db.prepare('select id from accounts').all().map((r) => r.id);
const nonce = db.prepare('insert into replay_nonces (key, expires_at) values (?, ?) on conflict (key) do update set expires_at = excluded.expires_at where replay_nonces.expires_at <= ? returning key');
const contact = db.prepare('insert into prekey_contacts (target_id, asker, first_at, one_time_at) values (?, ?, ?, ?) on conflict (target_id, asker) do nothing returning target_id');
const take = db.prepare(`delete from one_time_prekeys where id = (select id from one_time_prekeys where account_id = ? and kind = 'ec' order by key_id limit 1) or id = (select id from one_time_prekeys where account_id = ? and kind = 'kyber' order by key_id limit 1) returning kind, key_id, public_key, signature`);
const target = db.prepare('select a.id, a.identity_key, pc.first_at from accounts a left join prekey_contacts pc on pc.target_id = a.id and pc.asker = ? where a.id = ?');
const begin = db.prepare('BEGIN'), commit = db.prepare('COMMIT');
const one = (i) => { const t = accts[i % accts.length], a = 'p/' + accts[(i * 7 + 3) % accts.length] + i; return [crypto.randomBytes(32).toString('hex'), t, a]; };
const work = Array.from({ length: N }, (_, i) => one(i));
const B = Number(process.env.B ?? 8);
let c0, t0;
for (let i = 0; i < N; i++) {
  if (i === N / 2) { if (mode.startsWith('batch') && i % B) commit.run(); db.pragma('wal_checkpoint(TRUNCATE)'); c0 = process.cpuUsage(); t0 = Date.now(); }
  const [k, t, a] = work[i]; const now = Date.now();
  if (mode.startsWith('auto3')) { nonce.all(k, now + 3e5, now); target.get(a, t); contact.all(t, a, now, now); take.all(t, t); }
  else if (mode.startsWith('txn2')) { nonce.all(k, now + 3e5, now); target.get(a, t); begin.run(); contact.all(t, a, now, now); take.all(t, t); commit.run(); }
  else if (mode.startsWith('txn1')) { target.get(a, t); begin.run(); nonce.all(k, now + 3e5, now); contact.all(t, a, now, now); take.all(t, t); commit.run(); }
  else if (mode.startsWith('batch')) { target.get(a, t); if (i % B === 0) begin.run(); nonce.all(k, now + 3e5, now); contact.all(t, a, now, now); take.all(t, t); if (i % B === B - 1) commit.run(); }
  if (process.env.CKPT && i % 200 === 199) db.pragma('wal_checkpoint(PASSIVE)');
}
const c = process.cpuUsage(c0);
const M = N / 2; console.log('frames/fetch', ((fs.statSync(file + '-wal').size - 32) / 4120 / M).toFixed(2)); console.log(mode, 'cpu us/fetch', ((c.user + c.system) / M).toFixed(1), 'sys', (c.system / M).toFixed(1), 'wall', ((Date.now() - t0) * 1000 / M).toFixed(1));
if (process.env.PAGES) {
  const w = fs.readFileSync(file + '-wal'); const pages = new Map();
  for (let o = 32; o + 4120 <= w.length; o += 4120) { const p = w.readUInt32BE(o); pages.set(p, (pages.get(p) ?? 0) + 1); }
  const names = new Map(db.prepare('select pageno, name from dbstat').all().map((r) => [r.pageno, r.name]));
  const by = new Map(); for (const [p, n] of pages) { const k = p === 1 ? 'page1' : names.get(p) ?? 'free/other'; by.set(k, (by.get(k) ?? 0) + n); }
  for (const [k, n] of [...by].sort((a, b) => b[1] - a[1])) console.log(`  ${k}: ${(n / (N / 2)).toFixed(2)} frames/fetch`);
}
