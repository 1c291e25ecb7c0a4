/** How the SDK reaches a DNS server (shared with the provider's publication check); the Node
 *  implementation is in `node/dns-transport.ts`, DNS over HTTPS in `doh.ts`. */
export type { DnsTransport } from '@switchboard/enum-lookup';
