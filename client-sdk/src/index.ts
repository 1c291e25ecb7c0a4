/**
 * Switchboard client SDK: lookup through the DNSSEC-validated directory, libsignal sessions,
 * the transport-neutral envelope and unregulated-mode rendez-vous cards. Runtime-neutral: DNS,
 * HTTP, storage and the clock are injected; Node implementations live in `./node`.
 */
export * from './errors.js';
export * from './storage.js';
export * from './crypto.js';
export * from './envelope.js';
export {
  toBase64,
  toBase64Url,
  fromBase64,
  toHex,
  fromHex,
  utf8,
  fromUtf8,
  bytesEqual,
} from './bytes.js';
export * from './signal/stores.js';
export * from './signal/keys.js';
export * from './signal/session.js';
export * from './signal/fingerprint.js';
export * from './rendezvous/card.js';
export * from './rendezvous/connections.js';
export * from './rendezvous/qr.js';
export * from './lookup/records.js';
export * from './lookup/transport.js';
export * from './lookup/doh.js';
export * from './lookup/lookup.js';
export * from './provider/http.js';
export * from './provider/client.js';
export * from './provider/push.js';
export * from './phone-client.js';
export * from './rendezvous/mailbox-messenger.js';
