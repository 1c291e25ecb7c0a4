// autocannon on loopback: successful requests per second and latency percentiles.
import autocannon from 'autocannon';

export interface HttpLoadResult {
  /** 2xx responses per second over the whole run. */
  readonly rps: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly seconds: number;
}

export interface HttpLoadOptions {
  readonly url: string;
  readonly connections: number;
  /** Either a fixed duration (seconds) or a number of requests. */
  readonly seconds?: number;
  readonly amount?: number;
  readonly method: 'GET' | 'POST';
  /** Path (and body) of the i-th request. */
  readonly request: (i: number) => { path: string; body?: string };
}

/** Runs autocannon and keeps the figures the tables show. */
export async function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  let counter = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    ...(options.amount !== undefined
      ? { amount: options.amount }
      : { duration: options.seconds ?? 10 }),
    requests: [
      {
        method: options.method,
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          const next = options.request(counter++);
          return {
            ...req,
            path: next.path,
            ...(next.body !== undefined ? { body: next.body } : {}),
          };
        },
      },
    ],
  });
  const ok = result['2xx'];
  return {
    rps: Math.round(ok / result.duration),
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    seconds: Math.round(result.duration * 10) / 10,
  };
}
