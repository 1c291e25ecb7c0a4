import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import express from 'express';
import {
  API_CONTENT_SECURITY_POLICY,
  listenHttp,
  pageContentSecurityPolicy,
  pageSecurityHeaders,
  securityHeaders,
  withSecurityHeaders,
} from '../src/index.js';

describe('security headers', () => {
  it('gives every response nosniff and the API policy, and pages their own strict policy', async () => {
    const style = 'body { margin: 0 }';
    const app = express();
    app.use(securityHeaders());
    app.get('/page', pageSecurityHeaders({ inlineStyles: [style] }), (_req, res) => {
      res.type('html').send(`<style>${style}</style>`);
    });
    app.get('/data', (_req, res) => void res.json({ ok: true }));
    const running = await listenHttp(createServer(app), '127.0.0.1', 0);
    try {
      const data = await fetch(`${running.url}/data`);
      const missing = await fetch(`${running.url}/missing`);
      for (const res of [data, missing]) {
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      }
      // express's own 404 page narrows the policy to default-src 'none'.
      expect(data.headers.get('content-security-policy')).toBe(API_CONTENT_SECURITY_POLICY);
      const page = await fetch(`${running.url}/page`);
      const csp = page.headers.get('content-security-policy') ?? '';
      const hash = createHash('sha256').update(style).digest('base64');
      expect(csp).toContain(`style-src 'self' 'sha256-${hash}'`);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toMatch(/^default-src 'none'; script-src 'self'; /);
      expect(csp).not.toMatch(/unsafe-inline|https?:|\*/);
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    } finally {
      await running.close();
    }
  });

  it('allows inline scripts only by the hash of their exact text', () => {
    const csp = pageContentSecurityPolicy({ inlineScripts: ['run()'] });
    const hash = createHash('sha256').update('run()').digest('base64');
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}';`);
    expect(pageContentSecurityPolicy()).toContain("style-src 'self';");
  });

  it('sets the headers for a whole server, whatever the app registered first', async () => {
    const app = express();
    app.get('/early', (_req, res) => void res.json({}));
    const running = await listenHttp(createServer(withSecurityHeaders(app)), '127.0.0.1', 0);
    try {
      const res = await fetch(`${running.url}/early`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toBe(API_CONTENT_SECURITY_POLICY);
    } finally {
      await running.close();
    }
  });
});
