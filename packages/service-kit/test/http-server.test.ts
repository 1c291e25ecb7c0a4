import { request as httpRequest } from 'node:http';
import express from 'express';
import { expressServer, listenHttp } from '../src/index.js';

function get(url: string, agent: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: agent ? undefined : false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('expressServer', () => {
  it('hands express requests and responses that already have its prototypes', async () => {
    const app = express();
    app.get('/hello/:name', (req, res) => {
      res.status(201).json({ hello: req.params.name, ip: req.ip !== undefined });
    });
    const server = expressServer(app);
    const seen: boolean[] = [];
    // Runs before express's own listener: what the server made, before express touched it.
    server.prependListener('request', (req, res) => {
      seen.push(
        Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response,
      );
    });
    const running = await listenHttp(server, '127.0.0.1', 0);
    try {
      for (const keepAlive of [false, true, true]) {
        const res = await get(`${running.url}/hello/ada`, keepAlive);
        expect(res).toEqual({ status: 201, body: JSON.stringify({ hello: 'ada', ip: true }) });
      }
      const missing = await get(`${running.url}/nowhere`, true);
      expect(missing.status).toBe(404);
      expect(seen).toEqual([true, true, true, true]);
    } finally {
      await running.close(100);
    }
  });

  it('serves with the listener given, on requests made with the app prototypes', async () => {
    const app = express();
    app.get('/app', (_req, res) => {
      res.json({ by: 'app' });
    });
    const server = expressServer(app, (req, res) => {
      if (req.url !== '/front') {
        app(req, res);
        return;
      }
      // Before express saw it: the request is already one of express's (req.ip works).
      const ip = (req as express.Request).ip !== undefined;
      res.end(JSON.stringify({ by: 'front', own: Object.getPrototypeOf(req) === app.request, ip }));
    });
    const running = await listenHttp(server, '127.0.0.1', 0);
    try {
      const front = await get(`${running.url}/front`, true);
      expect(JSON.parse(front.body)).toEqual({ by: 'front', own: true, ip: true });
      expect((await get(`${running.url}/app`, true)).body).toBe('{"by":"app"}');
    } finally {
      await running.close(100);
    }
  });
});
