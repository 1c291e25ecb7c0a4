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
</fieldset>
<button type="submit">Create registration link</button>
</form>
<section id="handover" hidden aria-labelledby="handover-title">
<h2 id="handover-title" tabindex="-1">Finish on the device that keeps your keys</h2>
<p>Open this link on that device, or run the command there:</p>
<code id="handover-link"></code>
<code id="handover-command"></code>
<p>The link works once and only for a short time. Keep it private: whoever uses it first registers this number.</p>
</section>
<div id="status" role="status" aria-live="polite">Not started.</div>
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
  document.getElementById('choice-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const params = new URLSearchParams({ provider: location.origin, session: sessionId });
    const publish = ['sip', 'xmpp'].map((id) => document.getElementById(id).value.trim()).filter(Boolean);
    if (document.getElementById('discoverable').checked) {
      if (publish.length === 0) { show('To publish your number, give at least one address (SIP or XMPP), or untick the box.'); return; }
      for (const uri of publish) {
        if (!/^(sips?|xmpp):[^\\s]+$/i.test(uri)) { show('Addresses start with sip: or xmpp:, for example sip:alice@example.org.'); return; }
        params.append('publish', uri);
      }
    }
    const link = 'switchboard://register?' + params.toString();
    document.getElementById('handover-link').textContent = link;
    document.getElementById('handover-command').textContent = "switchboard register '" + link + "'";
    document.getElementById('choice-form').hidden = true;
    document.getElementById('handover').hidden = false;
    document.getElementById('handover-title').focus();
    show('Registration link ready. Use it on your device to finish.');
  });
})();
`;
