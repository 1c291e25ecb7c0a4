/**
 * `@switchboard/client-sdk/browser`: what a web page needs to find a number, with nothing from
 * Node: `lookup` over DNS over HTTPS (`DohTransport`, GET for pages on another origin), DNSSEC
 * validated in the page with WebCrypto up to the trust list's anchor, and trust-list
 * verification with WebCrypto. `scripts/build-browser.mjs` bundles it into one ES module
 * (`dist/browser/switchboard-lookup.js`); `examples/lookup/` is a page that uses it.
 *
 * @example
 * const trustList = await verifyTrustListWith(webCryptoCharter(), bytes, { boardFingerprint, now: new Date() });
 * const dns = new DohTransport({ url: 'https://directory.example/dns-query', http: fetchHttpClient(), method: 'GET' });
 * const found = await lookup('+442079460958', { trustList, dns });
 */
export { SwitchboardError } from './errors.js';
export type { SwitchboardErrorCode } from './errors.js';
export { toBase64, toHex, fromBase64, fromHex, utf8, fromUtf8 } from './bytes.js';
export type { ContactMethod, ContactService, IdentityRecord } from './lookup/records.js';
export type { DnsTransport } from './lookup/transport.js';
export { DohTransport } from './lookup/doh.js';
export type { DnssecStatus, LookupConfig, LookupResult } from './lookup/lookup.js';
export { LookupError, lookup } from './lookup/lookup.js';
export type { HttpClient, HttpRequest, HttpResponse } from './provider/http.js';
export { fetchHttpClient } from './provider/http.js';
export type { DnssecCrypto } from '@switchboard/dnssec/validate';
export { webCryptoDnssec } from '@switchboard/dnssec/validate';
export type {
  CharterCrypto,
  DirectoryEntry,
  ProviderEntry,
  VerifiedTrustList,
  VerifyOptions,
} from '@switchboard/charter/verify';
export {
  CharterError,
  boardFingerprintWith,
  mayTrustDirectory,
  mayTrustProvider,
  verifyTrustListChainWith,
  verifyTrustListWith,
  webCryptoCharter,
} from '@switchboard/charter/verify';
