/** The operator page's one inline style sheet (allowed by its hash in the page's CSP). */
export const OPERATOR_STYLE = `
body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }
label, input, button, select { font-size: 1rem; }
input { padding: .3rem; }
button { padding: .3rem .8rem; margin: .2rem .2rem .2rem 0; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border: 1px solid #767676; padding: .25rem .5rem; text-align: left; vertical-align: top; }
caption { text-align: left; font-weight: bold; }
#status { margin: 1rem 0; padding: .6rem; background: #f3f3f3; }
.bad { color: #a40000; font-weight: bold; }
.good { color: #0a5d1e; font-weight: bold; }
dt { font-weight: bold; }
code { background: #eee; padding: 0 .2rem; }
:focus-visible { outline: 3px solid #1a4fd6; outline-offset: 2px; }
`;

/**
 * The operator page at `/operator`: the operator types a key with `accounts:read`; the page
 * keeps it in memory only and sends it as `Authorization: Bearer` to
 * `GET /v1/operator/overview` (never in a URL, never stored by the browser).
 */
export const OPERATOR_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard provider: operator</title>
<style>${OPERATOR_STYLE}</style>
</head>
<body>
<h1>Operator</h1>
<form id="login-form">
<label for="key">Operator key</label>
<input id="key" name="key" type="password" autocomplete="off" required size="60">
<button type="submit">Sign in</button>
<p>A key with the <code>accounts:read</code> scope (the first one is in <code>&lt;state&gt;/operator-api-key</code>).
It stays in this page's memory; reloading the page forgets it.</p>
</form>
<div id="status" role="status" aria-live="polite">Not signed in.</div>
<main id="overview" hidden>
<button type="button" id="refresh">Refresh</button>
<button type="button" id="sign-out">Sign out</button>
<h2>Accounts</h2>
<p id="account-counts"></p>
<form id="search-form">
<label for="search">Search numbers (digits)</label>
<input id="search" name="search" inputmode="numeric" autocomplete="off">
<label for="page-size">Rows per page</label>
<select id="page-size"><option>5</option><option selected>20</option><option>100</option></select>
<button type="submit">Search</button>
</form>
<table><caption id="accounts-caption">Accounts</caption>
<thead><tr><th scope="col">Number</th><th scope="col">Published</th><th scope="col">Contacts</th><th scope="col">Identity key</th><th scope="col">Registered</th></tr></thead>
<tbody id="accounts"></tbody></table>
<button type="button" id="previous">Previous page</button>
<button type="button" id="next">Next page</button>
<h2>Zone</h2>
<dl id="zone"></dl>
<h2>Nameservers (primary and secondaries)</h2>
<table><caption>Serial each nameserver serves</caption>
<thead><tr><th scope="col">Nameserver</th><th scope="col">State</th><th scope="col">Serial</th><th scope="col">Signed</th></tr></thead>
<tbody id="nameservers"></tbody></table>
<h2>Bridge</h2>
<p id="bridge-state"></p>
<table><caption>Queues per network</caption>
<thead><tr><th scope="col">Network</th><th scope="col">Connected</th><th scope="col">Queue depth</th><th scope="col">Oldest pending</th><th scope="col">Stuck</th></tr></thead>
<tbody id="bridge"></tbody></table>
<h2>Recent errors</h2>
<table><caption>Last server errors of this process, newest first</caption>
<thead><tr><th scope="col">When</th><th scope="col">Operation</th><th scope="col">Status</th><th scope="col">Code</th></tr></thead>
<tbody id="errors"></tbody></table>
<p>Same data as JSON: <code>GET /v1/operator/overview</code> with <code>Authorization: Bearer &lt;key&gt;</code>.</p>
</main>
<script src="/operator.js"></script>
</body>
</html>
`;

/** The operator page's script (served separately for a strict Content-Security-Policy). */
export const OPERATOR_SCRIPT = `(() => {
  let key = '';
  let page = 1;
  let last;
  const $ = (id) => document.getElementById(id);
  const show = (text) => { $('status').textContent = text; };
  const cell = (row, value, cls) => { const td = document.createElement('td'); td.textContent = value; if (cls) td.className = cls; row.appendChild(td); };
  const fill = (id, rows, empty, columns) => {
    const body = $(id);
    body.replaceChildren();
    if (rows.length === 0) { const tr = document.createElement('tr'); cell(tr, empty); tr.firstChild.colSpan = columns; body.appendChild(tr); return; }
    for (const r of rows) { const tr = document.createElement('tr'); for (const [v, c] of r) cell(tr, v, c); body.appendChild(tr); }
  };
  const dl = (id, pairs) => {
    const list = $(id);
    list.replaceChildren();
    for (const [k, v, c] of pairs) { const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.textContent = v; if (c) dd.className = c; list.append(dt, dd); }
  };
  const render = (o) => {
    const a = o.accounts;
    $('account-counts').textContent = a.total + ' accounts, ' + a.published + ' published in the directory.';
    const pages = Math.max(1, Math.ceil(a.matching / a.pageSize));
    $('accounts-caption').textContent = 'Accounts: page ' + a.page + ' of ' + pages + ' (' + a.matching + ' matching)';
    fill('accounts', a.items.map((i) => [[i.number], [i.published ? 'yes' : 'no'], [i.contacts.join(', ') || 'none'], [i.identityKeyFingerprint], [new Date(i.createdAt).toLocaleString()]]), 'No account matches.', 5);
    $('previous').disabled = a.page <= 1;
    $('next').disabled = a.page >= pages;
    const z = o.zone;
    dl('zone', [
      ['Directory publish API', z.status === 'ok' ? 'answering' : z.status + (z.detail ? ' (' + z.detail + ')' : ''), z.status === 'ok' ? 'good' : 'bad'],
      ['Apex', z.apex || 'unknown'],
      ['Serial', z.serial === undefined ? 'unknown' : String(z.serial)],
      ['Signing', z.signing === 'secure' ? 'signed, DNSKEY validated from the trust list anchor (algorithm ' + z.algorithm + ', key tag ' + z.keyTag + ')' : (z.signing || 'unknown') + (z.signingDetail ? ' (' + z.signingDetail + ')' : ''), z.signing === 'secure' ? 'good' : 'bad'],
      ['Key signatures expire', z.signaturesExpireAt ? new Date(z.signaturesExpireAt).toLocaleString() : 'unknown'],
    ]);
    fill('nameservers', o.nameservers.map((n) => [[n.address], [n.status + (n.detail ? ' (' + n.detail + ')' : ''), n.status === 'in-step' ? 'good' : 'bad'], [n.serial === undefined ? '' : String(n.serial)], [n.signed ? 'yes' : 'no']]), 'The trust list names no nameserver.', 4);
    const b = o.bridge;
    $('bridge-state').textContent = b.status === 'not-configured' ? 'Not configured (set PROVIDER_BRIDGE_HEALTH_URL to the bridge /health).' : 'Bridge: ' + b.status + (b.pending === undefined ? '' : ', ' + b.pending + ' messages pending in all');
    $('bridge-state').className = b.status === 'ok' ? 'good' : b.status === 'not-configured' ? '' : 'bad';
    fill('bridge', b.networks.map((n) => [[n.network], [n.connected ? 'yes' : 'no', n.connected ? '' : 'bad'], [String(n.queueDepth)], [n.queueDepth ? n.oldestPendingSeconds + ' s' : 'none'], [n.stuck ? 'yes' : 'no', n.stuck ? 'bad' : '']]), 'No network.', 5);
    fill('errors', o.recentErrors.map((e) => [[new Date(e.at).toLocaleString()], [e.operation], [String(e.status)], [e.code]]), 'None since the provider started.', 4);
  };
  const load = async () => {
    const query = new URLSearchParams({ page: String(page), pageSize: $('page-size').value });
    const q = $('search').value.replace(/[^0-9]/g, '');
    if (q) query.set('q', q);
    show('Loading…');
    try {
      const res = await fetch('/v1/operator/overview?' + query, { headers: { authorization: 'Bearer ' + key }, cache: 'no-store' });
      const json = await res.json();
      if (res.status === 401 || res.status === 403) { key = ''; $('overview').hidden = true; $('login-form').hidden = false; $('key').focus(); return show('Key refused: ' + (json.detail || json.title)); }
      if (!res.ok) return show('Could not load the overview: ' + (json.detail || json.title || res.status));
      last = json;
      render(json);
      $('login-form').hidden = true;
      $('overview').hidden = false;
      show('Updated ' + new Date(json.generatedAt).toLocaleTimeString() + '.');
    } catch (err) { show('Could not load the overview: ' + err.message); }
  };
  $('login-form').addEventListener('submit', (e) => { e.preventDefault(); key = $('key').value.trim(); $('key').value = ''; page = 1; void load(); });
  $('page-size').addEventListener('change', () => { page = 1; void load(); });
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); page = 1; void load(); });
  $('refresh').addEventListener('click', () => void load());
  $('previous').addEventListener('click', () => { if (page > 1) { page -= 1; void load(); } });
  $('next').addEventListener('click', () => { page += 1; void load(); });
  $('sign-out').addEventListener('click', () => { key = ''; last = undefined; $('overview').hidden = true; $('login-form').hidden = false; show('Signed out.'); $('key').focus(); });
})();
`;
