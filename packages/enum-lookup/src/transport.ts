/** How a lookup reaches a DNS server: UDP/TCP sockets in Node, DNS over HTTPS in a page. */
export interface DnsTransport {
  /**
   * Sends one DNS message to `server` (`host:port`, IPv6 in brackets) and returns the first
   * response whose ID matches, or throws. `tcp` uses RFC 1035 §4.2.2 two-byte length framing.
   */
  exchange(
    server: string,
    query: Uint8Array,
    protocol: 'udp' | 'tcp',
    options?: { readonly timeoutMs?: number },
  ): Promise<Uint8Array>;
}
