/** Minimal HTTP used by the provider client; injected so the core runs anywhere. */
export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
}

/** {@link HttpClient} over the standard `fetch` (browsers, Node 18+, Deno, workers). */
export function fetchHttpClient(options: { readonly timeoutMs?: number } = {}): HttpClient {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        ...(req.body === undefined ? {} : { body: req.body }),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        headers[k] = v;
      });
      return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
    },
  };
}
