import { DnsSocketError, SocketDnsTransport } from '@switchboard/enum-lookup/node';
import { SwitchboardError } from '../errors.js';
import type { DnsTransport } from '../lookup/transport.js';

/**
 * UDP and TCP DNS exchange over Node sockets (RFC 1035 §4.2), `@switchboard/enum-lookup`'s
 * socket transport with its failures as {@link SwitchboardError}s: `invalid-input` for a
 * server not written `host:port`, `dns-failed` for the rest.
 */
export class NodeDnsTransport implements DnsTransport {
  readonly #sockets: SocketDnsTransport;

  constructor(options: { readonly timeoutMs?: number } = {}) {
    this.#sockets = new SocketDnsTransport(options);
  }

  async exchange(
    server: string,
    query: Uint8Array,
    protocol: 'udp' | 'tcp',
    options: { readonly timeoutMs?: number } = {},
  ): Promise<Uint8Array> {
    try {
      return await this.#sockets.exchange(server, query, protocol, options);
    } catch (err) {
      if (!(err instanceof DnsSocketError)) throw err;
      const code = err.kind === 'address' ? 'invalid-input' : 'dns-failed';
      throw new SwitchboardError(code, err.message, { cause: err });
    }
  }
}
