/** Node-only implementations of the SDK's injected interfaces. */
export { FileStorage } from './file-storage.js';
export { cardQrPng } from './qr-png.js';
export { NodeDnsTransport } from './dns-transport.js';
export { NodeEd25519 } from './ed25519.js';
export { nodePushConnector } from './push.js';
/** DNSSEC checks on node:crypto for `lookup` / `PhoneClient` (`dnssecCrypto`). */
export { nodeDnssecCrypto } from '@switchboard/dnssec';
