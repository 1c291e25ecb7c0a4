/** The page's one inline style sheet (allowed by its hash in the page's Content-Security-Policy). */
export const ONBOARDING_STYLE = `
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
label, input, select, button { display: block; margin: .4rem 0; font-size: 1rem; }
input, select { padding: .4rem; width: 100%; box-sizing: border-box; }
#status { margin-top: 1rem; padding: .6rem; background: #f3f3f3; white-space: pre-wrap; }
code { background: #eee; padding: 0 .2rem; }
fieldset { border: 1px solid #767676; margin: 1rem 0; }
label.inline { display: inline; }
input[type=checkbox] { display: inline; width: auto; }
#handover code { display: block; overflow-wrap: anywhere; padding: .4rem; }
a { color: #0645ad; }
textarea { display: block; width: 100%; box-sizing: border-box; font-family: monospace; font-size: .9rem; }
.secure { color: #0a5d1e; font-weight: bold; }
.bogus { color: #a40000; font-weight: bold; }
dt { font-weight: bold; }
:focus-visible { outline: 3px solid #1a4fd6; outline-offset: 2px; }
`;

/**
 * The web onboarding page served at `/`: verifies a number in the browser through the public
 * verification endpoints, then tells the user how to finish registration with the client SDK
 * (registration needs libsignal keys, which the SDK generates and keeps on the device).
 */
export const ONBOARDING_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard provider: get started</title>
<style>${ONBOARDING_STYLE}</style>
</head>
<body>
<h1>Get started</h1>
<p>Verify your phone number, then register your device with the Switchboard client.
Your keys are generated on your device and never leave it; this provider only stores public keys.</p>
<form id="number-form">
<label for="number">Phone number in international format</label>
<input id="number" name="number" placeholder="+44 20 7946 0958" autocomplete="tel" required>
<label for="transport">Send the code by</label>
<select id="transport"><option value="sms">SMS</option><option value="voice">Voice call</option></select>
<button type="submit">Send code</button>
</form>
<form id="code-form" hidden>
<label for="code">6-digit code</label>
<input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" required>
<button type="submit">Verify</button>
</form>
<form id="choice-form" hidden>
<fieldset>
<legend>How others can find you</legend>
<input type="checkbox" id="discoverable" checked>
<label class="inline" for="discoverable">Publish my number in the signed directory</label>
<label for="sip">SIP address to publish (optional)</label>
<input id="sip" name="sip" placeholder="sip:alice@example.org" autocomplete="off">
<label for="xmpp">XMPP address to publish (optional)</label>
<input id="xmpp" name="xmpp" placeholder="xmpp:alice@example.org" autocomplete="off">
<label for="matrix">Matrix address to publish (optional)</label>
<input id="matrix" name="matrix" placeholder="matrix:u/alice:example.org" autocomplete="off">
</fieldset>
<button type="submit">Create registration link</button>
</form>
<section id="handover" hidden aria-labelledby="handover-title">
<h2 id="handover-title" tabindex="-1">Finish on the device that keeps your keys</h2>
<p>Scan this code or open the link on that device, or run the command there:</p>
<img id="handover-qr" alt="QR code of the registration link" width="240" height="240">
<code id="handover-link"></code>
<code id="handover-command"></code>
<p>The link works once, until <span id="handover-expires"></span>. Keep it private: whoever uses it first registers this number.</p>
</section>
<section id="result" hidden aria-labelledby="result-title">
<h2 id="result-title" tabindex="-1">Registered</h2>
<dl>
<dt>Number</dt><dd id="result-number"></dd>
<dt>Published</dt><dd id="result-published"></dd>
<dt>Contact methods</dt><dd id="result-contacts"></dd>
<dt>Identity key fingerprint</dt><dd><code id="result-fingerprint"></code></dd>
<dt>DNSSEC</dt><dd id="result-dnssec"></dd>
<dt>Name in the directory</dt><dd><code id="result-enum"></code></dd>
</dl>
<p>Compare the fingerprint with the one your device prints (<code>switchboard keys</code>).</p>
</section>
<div id="status" role="status" aria-live="polite">Not started.</div>
<section aria-labelledby="card-title">
<h2 id="card-title">Connect without a number</h2>
<p>A rendez-vous card lets someone reach you with no phone number and no directory entry.
Make one on your device (<code>switchboard card create --mailbox &lt;this provider's address&gt;</code>),
paste its text here, and let the other person scan the QR code.</p>
<form id="card-form">
<label for="card">Rendez-vous card (text starting with SBC1:)</label>
<textarea id="card" name="card" rows="4" required spellcheck="false" autocomplete="off"></textarea>
<button type="submit">Show as QR code</button>
</form>
<div id="card-result" hidden>
<h3 id="card-result-title" tabindex="-1">Card checked</h3>
<img id="card-qr" alt="QR code of the rendez-vous card" width="320" height="320">
<dl>
<dt>Kind</dt><dd id="card-kind"></dd>
<dt>Name on the card</dt><dd id="card-label"></dd>
<dt>Reaches its owner through</dt><dd id="card-reach"></dd>
<dt>Valid until</dt><dd id="card-expires"></dd>
</dl>
</div>
<div id="card-status" role="status" aria-live="polite"></div>
</section>
<p>API reference: <a href="/docs/">/docs</a></p>
<script src="/onboarding.js"></script>
</body>
</html>
`;

/** The page's script (served separately so a strict Content-Security-Policy works). */
export const ONBOARDING_SCRIPT = `(() => {
  const status = document.getElementById('status');
  const show = (text) => { status.textContent = text; };
  let sessionId;
  const call = async (method, path, body) => {
    const res = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = await res.json();
    if (!res.ok) throw new Error(json.detail || json.title || ('HTTP ' + res.status));
    return json;
  };
  document.getElementById('number-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const number = document.getElementById('number').value;
      const transport = document.getElementById('transport').value;
      if (!sessionId) sessionId = (await call('POST', '/v1/verification/sessions', { number })).sessionId;
      await call('POST', '/v1/verification/sessions/' + sessionId + '/code', { transport });
      document.getElementById('code-form').hidden = false;
      show('Code sent. Enter it below.');
    } catch (err) { show('Could not send a code: ' + err.message); }
  });
  document.getElementById('code-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await call('PUT', '/v1/verification/sessions/' + sessionId + '/code', { code: document.getElementById('code').value });
      document.getElementById('number-form').hidden = true;
      document.getElementById('code-form').hidden = true;
      document.getElementById('choice-form').hidden = false;
      show('Verified. Choose how others can find you, then create the registration link.');
    } catch (err) { show('Not verified: ' + err.message); }
  });
  const text = (id, value) => { document.getElementById(id).textContent = value; };
  // The provider asks the directory's nameservers from its trust list and validates the DNSSEC
  // chain itself, as a client does; the page shows what it found.
  const showDnssec = (a) => {
    const dd = document.getElementById('result-dnssec');
    const p = a.publication;
    dd.className = p && (p.status === 'secure' || p.status === 'bogus') ? p.status : '';
    // The ENUM name (RFC 6116): digits reversed, dot-separated, under the zone; for dig and delv.
    text('result-enum', p && p.apex ? a.number.slice(1).split('').reverse().join('.') + '.' + p.apex : (a.discoverable ? 'not in the signed zone yet' : 'not published'));
    if (!a.discoverable) dd.textContent = 'Not published, nothing to validate';
    else if (!p) dd.textContent = 'Not checked by this provider';
    else if (p.status === 'secure') dd.textContent = 'Validated: directory ' + p.directoryId + ' serves your entry (' + p.apex + ') signed, the chain checked from the anchor of trust list version ' + p.trustListVersion + ', with your identity key';
    else if (p.status === 'bogus') dd.textContent = 'Failed validation (' + p.detail + '): do not rely on this entry and tell the provider';
    else if (p.status === 'pending') dd.textContent = 'Not visible yet (' + p.detail + '); checking again…';
    else dd.textContent = 'Could not check (' + p.detail + '); checking again…';
  };
  const settled = (a) => !a.discoverable || !a.publication || a.publication.status === 'secure' || a.publication.status === 'bogus';
  const showResult = (a) => {
    text('result-number', a.number);
    text('result-published', a.discoverable ? 'Yes, in the DNSSEC-signed directory' : 'No (only people you tell can reach you)');
    text('result-contacts', a.contacts.length ? a.contacts.map((c) => c.uri).join(', ') : 'none');
    text('result-fingerprint', a.identityKeyFingerprint);
    showDnssec(a);
    const result = document.getElementById('result');
    if (result.hidden) {
      result.hidden = false;
      document.getElementById('result-title').focus();
    }
  };
  // Polls what became of the link, every 2 s until it is registered or expired (bounded).
  const poll = async (deadline) => {
    try {
      const s = await call('GET', '/v1/verification/sessions/' + sessionId + '/handover');
      if (s.state === 'registered') {
        document.getElementById('handover').hidden = true;
        showResult(s.account);
        if (settled(s.account)) return show('Registered. Your device holds the keys; this page can be closed.');
        show('Registered. Checking the published entry in the signed directory…');
      }
      if (s.state === 'expired') return show('The registration link expired. Reload the page to start again.');
      if (s.state === 'taken') show('Your device took the link and is registering…');
    } catch (err) { show('Could not check the registration: ' + err.message); }
    if (Date.now() < deadline) setTimeout(() => poll(deadline), 2000);
    else show('Stopped waiting. If your device registered, run switchboard keys there.');
  };
  document.getElementById('choice-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const publish = [];
    const given = ['sip', 'xmpp', 'matrix'].map((id) => document.getElementById(id).value.trim()).filter(Boolean);
    if (document.getElementById('discoverable').checked) {
      if (given.length === 0) { show('To publish your number, give at least one address (SIP, XMPP or Matrix), or untick the box.'); return; }
      for (const uri of given) {
        if (!/^(sips?|xmpp|matrix):\\S+$/i.test(uri)) { show('Addresses start with sip:, xmpp: or matrix:, for example sip:alice@example.org.'); return; }
        publish.push(uri);
      }
    }
    try {
      const h = await call('POST', '/v1/verification/sessions/' + sessionId + '/handover', { publish });
      text('handover-link', h.link);
      text('handover-command', "switchboard register '" + h.link + "'");
      text('handover-expires', new Date(h.expiresAt).toLocaleTimeString());
      document.getElementById('handover-qr').src = 'data:image/svg+xml;base64,' + btoa(h.qrSvg);
      document.getElementById('choice-form').hidden = true;
      document.getElementById('handover').hidden = false;
      document.getElementById('handover-title').focus();
      show('Registration link ready. Waiting for your device to register.');
      poll(Date.parse(h.expiresAt) + 60000);
    } catch (err) { show('Could not create the registration link: ' + err.message); }
  });
  document.getElementById('card-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const cardStatus = document.getElementById('card-status');
    const out = document.getElementById('card-result');
    try {
      const c = await call('POST', '/v1/rendezvous-cards/preview', { card: document.getElementById('card').value });
      document.getElementById('card-qr').src = 'data:image/svg+xml;base64,' + btoa(c.qrSvg);
      text('card-kind', c.kind === 'offer' ? 'Offer (for someone to accept)' : 'Reply (to an offer)');
      text('card-label', c.label || '(none)');
      text('card-reach', c.reach.map((r) => (r.type === 'mailbox' ? 'mailbox at ' : '') + r.target).join(', '));
      text('card-expires', new Date(c.expiresAt).toLocaleString());
      out.hidden = false;
      document.getElementById('card-result-title').focus();
      cardStatus.textContent = 'Card checked: signed by its own key and valid. Let the other person scan the QR code.';
    } catch (err) {
      out.hidden = true;
      cardStatus.textContent = 'Not shown: ' + err.message;
    }
  });
})();
`;
