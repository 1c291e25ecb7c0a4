// The lookup example: trust list verified with WebCrypto against the pinned board, then
// lookup() over DNS over HTTPS with DNSSEC validated here. config.json (from the server) names
// the pinned board fingerprint; ?doh= and ?number= prefill the form.
/* global document, fetch, TextDecoder, URLSearchParams, location */
import {
  DohTransport,
  fetchHttpClient,
  lookup,
  toHex,
  verifyTrustListWith,
  webCryptoCharter,
  webCryptoDnssec,
} from './switchboard-lookup.js';

const $ = (id) => document.getElementById(id);

/** Lookup error codes that mean the answer was not authentic (see LookupError). */
const SECURITY_CODES = new Set(['bogus-signature', 'expired']);

function show(outcome, rows) {
  const result = $('result');
  const details = $('details');
  result.dataset.outcome = outcome;
  details.replaceChildren();
  for (const [term, value] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    details.append(dt, dd);
  }
  result.hidden = false;
}

async function fetchBytes(url, what) {
  const res = await fetch(url, { redirect: 'error' });
  if (!res.ok) throw new Error(`could not fetch the ${what} (HTTP ${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}

async function trustedList() {
  const config = JSON.parse(new TextDecoder().decode(await fetchBytes('config.json', 'settings')));
  if (typeof config.boardFingerprint !== 'string')
    throw new Error('this server pins no board fingerprint, so no trust list can be verified');
  const bytes = await fetchBytes('trust-list.json', 'trust list');
  return verifyTrustListWith(webCryptoCharter(), bytes, {
    boardFingerprint: config.boardFingerprint,
    now: new Date(),
  });
}

async function run(number, dohUrl) {
  $('status').textContent = 'Verifying the trust list…';
  $('result').hidden = true;
  let trustList;
  try {
    trustList = await trustedList();
  } catch (err) {
    show('error', [['Trust list refused', err.message]]);
    $('status').textContent = 'Stopped: the trust list could not be verified.';
    return;
  }
  $('status').textContent = 'Looking the number up…';
  const dns = new DohTransport({
    url: dohUrl,
    http: fetchHttpClient({ timeoutMs: 15000 }),
    method: 'GET',
  });
  try {
    const r = await lookup(number, { trustList, dns, dnssecCrypto: webCryptoDnssec() });
    show('secure', [
      [
        'DNSSEC',
        `secure: validated in this browser up to directory ${r.dnssec.directoryId} (${r.dnssec.apex}), trust list version ${r.dnssec.trustListVersion}`,
      ],
      ['Number', r.number],
      ['Provider', `${r.provider.name} (${r.provider.id})`],
      ...r.contacts.map((c) => [`Contact (${c.service})`, c.uri]),
      ['Identity key', toHex(r.identityKey)],
    ]);
    $('status').textContent = 'Found.';
  } catch (err) {
    const code = err?.code ?? 'error';
    if (code === 'not-found') {
      show('not-found', [
        [
          'DNSSEC',
          'secure denial: the directory proved, with signed records, that the number is not listed',
        ],
        ['Detail', err.message],
      ]);
      $('status').textContent = 'Not in the directory.';
    } else if (SECURITY_CODES.has(code)) {
      show('refused', [
        ['DNSSEC', `refused: the answer failed validation (${err.reason ?? code})`],
        ['Detail', err.message],
      ]);
      $('status').textContent = 'Refused: the answer is not authentic.';
    } else {
      show('error', [['Error', `${code}: ${err.message}`]]);
      $('status').textContent = 'The lookup failed.';
    }
  }
}

const params = new URLSearchParams(location.search);
$('number').value = params.get('number') ?? '';
$('doh').value = params.get('doh') ?? '';
$('lookup').addEventListener('submit', (event) => {
  event.preventDefault();
  void run($('number').value.trim(), $('doh').value.trim());
});
