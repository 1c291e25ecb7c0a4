import { toBase64Url } from '../bytes.js';
import { SwitchboardError } from '../errors.js';
import type { HttpClient } from '../provider/http.js';
import type { DnsTransport } from './transport.js';

const DNS_MESSAGE = 'application/dns-message';

/**
 * DNS over HTTPS (RFC 8484, POST or GET) as a {@link DnsTransport}. Every query goes to `url`,
 * whatever server the directory lists; answers are still validated by the SDK (DoH only
 * hides the query from the network path, it is not a source of trust).
 */
export class DohTransport implements DnsTransport {
  readonly #url: string;
  readonly #http: HttpClient;
  readonly #method: 'GET' | 'POST';

  /**
   * `method` GET (`?dns=<base64url>`) is what web pages on another origin use: a POST of
   * `application/dns-message` needs a CORS preflight, which the directory does not offer.
   */
  constructor(options: {
    readonly url: string;
    readonly http: HttpClient;
    readonly method?: 'GET' | 'POST';
  }) {
    this.#url = options.url;
    this.#http = options.http;
    this.#method = options.method ?? 'POST';
  }

  async exchange(_server: string, query: Uint8Array): Promise<Uint8Array> {
    // RFC 8484 §4.1: the DNS ID should be 0 for cache friendliness; we keep the caller's ID so
    // the response check still matches it (servers echo it back).
    let res;
    try {
      res = await this.#http.request(
        this.#method === 'GET'
          ? {
              method: 'GET',
              url: `${this.#url}${this.#url.includes('?') ? '&' : '?'}dns=${toBase64Url(query)}`,
              headers: { accept: DNS_MESSAGE },
            }
          : {
              method: 'POST',
              url: this.#url,
              headers: { 'content-type': DNS_MESSAGE, accept: DNS_MESSAGE },
              body: query,
            },
      );
    } catch (cause) {
      throw new SwitchboardError('dns-failed', 'the DNS-over-HTTPS server could not be reached', {
        cause,
      });
    }
    if (res.status !== 200 || !(res.headers['content-type'] ?? '').startsWith(DNS_MESSAGE)) {
      throw new SwitchboardError(
        'dns-failed',
        `the DNS-over-HTTPS server answered HTTP ${res.status} without a DNS message`,
      );
    }
    return res.body;
  }
}
