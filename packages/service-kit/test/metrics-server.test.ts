import { Counter, Registry } from 'prom-client';
import { listenMetrics, metricsAddress } from '../src/index.js';

describe('listenMetrics', () => {
  it('serves /metrics on its own listener and nothing else', async () => {
    const registry = new Registry();
    new Counter({ name: 'test_things_total', help: 'things', registers: [registry] }).inc(3);
    const running = await listenMetrics(registry, '127.0.0.1', 0);
    try {
      expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${running.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(registry.contentType);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toMatch(/^test_things_total 3$/m);
      expect((await fetch(`${running.url}/`)).status).toBe(404);
      expect((await fetch(`${running.url}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await running.close();
    }
  });

  it('answers 500 and reports when the source fails', async () => {
    const seen: unknown[] = [];
    const source = { contentType: 'text/plain', metrics: () => Promise.reject(new Error('x')) };
    const running = await listenMetrics(source, '127.0.0.1', 0, (err) => seen.push(err));
    try {
      expect((await fetch(`${running.url}/metrics`)).status).toBe(500);
      expect(seen).toHaveLength(1);
    } finally {
      await running.close();
    }
  });
});

describe('metricsAddress', () => {
  it('defaults to loopback and a fixed port, or a free port when the service has one', () => {
    const d = { servicePort: 8080, defaultPort: 9080 };
    expect(metricsAddress({}, 'X', d)).toEqual({ host: '127.0.0.1', port: 9080 });
    expect(metricsAddress({}, 'X', { ...d, servicePort: 0 })).toEqual({
      host: '127.0.0.1',
      port: 0,
    });
    expect(metricsAddress({ X_METRICS_HOST: '10.0.0.1', X_METRICS_PORT: '9999' }, 'X', d)).toEqual({
      host: '10.0.0.1',
      port: 9999,
    });
    expect(() => metricsAddress({ X_METRICS_PORT: 'ninety' }, 'X', d)).toThrow(/X_METRICS_PORT/);
    expect(() => metricsAddress({ X_METRICS_PORT: '70000' }, 'X', d)).toThrow(RangeError);
  });
});
