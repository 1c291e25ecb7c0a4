/** Node-only implementations of the SDK's injected interfaces. */
export { FileStorage } from './file-storage.js';
export { cardQrPng } from './qr-png.js';
