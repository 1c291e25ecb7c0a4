// Public API of @switchboard/enum-lookup: portable (no Node built-in), used by the client SDK
// (also in its browser bundle) and by the provider API's publication check.
export type { DnsTransport } from './transport.js';
export type { QueryOptions } from './query.js';
export { DnsQueryError, queryDns } from './query.js';
export type { EntryAnswer, EntryOptions, ZoneKeys } from './entry.js';
export { apexOf, readEntry, readZoneKeys, trustAnchorOf } from './entry.js';
