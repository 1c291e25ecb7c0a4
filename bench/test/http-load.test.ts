import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import type { HttpLoadRequest, HttpLoadRun } from '../src/load/http-load.js';
import {
  cpuPerRequestUs,
  mergeHttpLoads,
  processCpuMs,
  requireAll2xx,
  runHttpLoadSamples,
} from '../src/load/http-load.js';

const run = (ok: number, seconds: number, latenciesMs: number[], cpu?: number): HttpLoadRun => ({
  rps: Math.round(ok / seconds),
  ok,
  non2xx: 1,
  errors: 0,
  p50Ms: 0,
  p99Ms: 0,
  seconds,
  latenciesMs,
  ...(cpu === undefined ? {} : { serverCpuMs: cpu }),
});

describe('mergeHttpLoads', () => {
  it('takes rates over the summed time and percentiles over every response', () => {
    const a = run(
      100,
      1,
      Array.from({ length: 100 }, () => 1),
      50,
    );
    const b = run(
      300,
      2,
      Array.from({ length: 300 }, (_, i) => (i < 290 ? 2 : 40)),
      150,
    );
    const merged = mergeHttpLoads([a, b]);
    expect(merged).toMatchObject({ ok: 400, seconds: 3, rps: 133, non2xx: 2, serverCpuMs: 200 });
    expect(merged.p50Ms).toBe(2);
    expect(merged.p99Ms).toBe(40);
    expect(cpuPerRequestUs(merged)).toBe(500);
    expect(mergeHttpLoads([a, run(1, 1, [1])]).serverCpuMs).toBeUndefined();
  });
});

describe('paced load', () => {
  it('sends exactly rate x seconds requests and measures every answer', async () => {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.statusCode = req.url === '/fail' ? 500 : 200;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const result = await runHttpLoadSamples({
        url: `http://127.0.0.1:${port}`,
        connections: 3,
        seconds: 0.25,
        overallRate: 200,
        method: 'GET',
        serverPid: process.pid,
        request: (i) => ({ path: i === 7 ? '/fail' : `/p/${i}` }),
      });
      // Every request once (arrival order over several connections may differ).
      const expected = Array.from({ length: 50 }, (_, i) => (i === 7 ? '/fail' : `/p/${i}`));
      expect([...paths].sort()).toEqual(expected.sort());
      expect(result).toMatchObject({ ok: 49, non2xx: 1, errors: 0, targetRate: 200 });
      expect(result.latenciesMs).toHaveLength(49);
      // The generator (a worker thread) reports its own GC pauses.
      expect(result.generatorGcMaxMs).toBeGreaterThanOrEqual(0);
      expect(result.generatorGcMs).toBeGreaterThanOrEqual(result.generatorGcMaxMs ?? 0);
      if (existsSync('/proc/self/stat')) expect(result.serverCpuMs).toBeGreaterThanOrEqual(0);
    } finally {
      server.close();
    }
  });

  it('reads a process CPU time that only grows', () => {
    if (!existsSync('/proc/self/stat')) return;
    const before = processCpuMs(process.pid);
    let x = 0;
    for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    const after = processCpuMs(process.pid);
    expect(before).toBeGreaterThanOrEqual(0);
    expect(after).toBeGreaterThanOrEqual(before!);
    expect(processCpuMs(2 ** 30)).toBeUndefined();
  });
});

describe('a fixed number of requests', () => {
  it('reports the rate over its own span', async () => {
    const server = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const result = await runHttpLoadSamples({
        url: `http://127.0.0.1:${port}`,
        connections: 2,
        amount: 20,
        method: 'GET',
        request: () => ({ path: '/' }),
      });
      expect(result.ok).toBe(20);
      expect(result.seconds).toBeGreaterThan(0);
      expect(result.rps).toBe(Math.round(20 / result.seconds));
    } finally {
      server.close();
    }
  });
});

describe('per-request headers and the 2xx check', () => {
  // Answers 401 unless the request carries its own x-credential header `ok-<i>`.
  async function withCredentialServer(body: (url: string) => Promise<void>): Promise<void> {
    const server = createServer((req, res) => {
      const wanted = `ok-${(req.url ?? '').slice(3)}`;
      res.statusCode = req.headers['x-credential'] === wanted ? 200 : 401;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }
  const request = (i: number): HttpLoadRequest => ({
    path: `/p/${i}`,
    headers: { 'x-credential': i % 10 === 3 ? 'wrong' : `ok-${i}` },
  });

  it.each([
    ['paced', { overallRate: 200, seconds: 0.25 }],
    ['autocannon', { amount: 50 }],
  ] as const)(
    '%s: sends each request its headers, counts other statuses, and fails the run',
    (_, how) =>
      withCredentialServer(async (url) => {
        const result = await runHttpLoadSamples({
          url,
          connections: 2,
          method: 'GET',
          request,
          ...how,
        });
        expect(result).toMatchObject({ ok: 45, non2xx: 5, errors: 0, otherStatuses: { '401': 5 } });
        expect(() => requireAll2xx('fetch', result)).toThrow(
          /fetch: 45 answers 2xx, 5 not \(5 x 401\)/,
        );
      }),
  );

  it('passes a run of 2xx answers only', () => {
    expect(() =>
      requireAll2xx('fetch', {
        rps: 1,
        ok: 1,
        non2xx: 0,
        errors: 0,
        p50Ms: 0,
        p99Ms: 0,
        seconds: 1,
      }),
    ).not.toThrow();
    expect(() =>
      requireAll2xx('fetch', {
        rps: 0,
        ok: 0,
        non2xx: 0,
        errors: 0,
        p50Ms: 0,
        p99Ms: 0,
        seconds: 1,
      }),
    ).toThrow(/0 answers 2xx/);
  });
});
