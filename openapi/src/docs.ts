import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Router } from 'express';
import express from 'express';
import type { OpenApiDocument } from './documents.js';

/** Options of {@link docsRouter}. */
export interface DocsOptions {
  /** Page title (defaults to the document's title). */
  readonly title?: string;
}

/** Where swagger-ui-dist's files are installed (served as static assets, never from a CDN). */
export function swaggerUiDistPath(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('swagger-ui-dist/package.json'));
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Serves readable API docs: Swagger UI (from the installed swagger-ui-dist, fully offline) at
 * the mount point, and the document itself as `openapi.json`.
 *
 * @example
 * app.use('/docs', docsRouter(loadDocument('provider')));
 */
export function docsRouter(document: OpenApiDocument, options: DocsOptions = {}): Router {
  const router = express.Router({ strict: true });
  const title = escapeHtml(options.title ?? document.info.title);
  const json = JSON.stringify(document);
  const assets = swaggerUiDistPath();
  // The initializer is a separate file so a strict Content-Security-Policy (no inline script) works.
  const initializer =
    "window.onload = function () {\n  window.ui = SwaggerUIBundle({ url: './openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n};\n";
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="stylesheet" href="./swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="./swagger-ui-bundle.js"></script>
<script src="./init.js"></script>
</body>
</html>
`;
  router.get('/', (req, res) => {
    // Relative asset URLs need the trailing slash.
    if (!req.originalUrl.split('?')[0]?.endsWith('/')) {
      res.redirect(301, `${req.originalUrl.split('?')[0] ?? ''}/`);
      return;
    }
    res.type('html').send(page);
  });
  router.get('/openapi.json', (_req, res) => {
    res.type('json').send(json);
  });
  router.get('/init.js', (_req, res) => {
    res.type('text/javascript').send(initializer);
  });
  const allowed = new Set([
    'swagger-ui.css',
    'swagger-ui-bundle.js',
    'favicon-32x32.png',
    'favicon-16x16.png',
  ]);
  router.get('/:asset', (req, res, next) => {
    const asset = req.params['asset'];
    if (asset === undefined || !allowed.has(asset)) {
      next();
      return;
    }
    res.sendFile(join(assets, asset));
  });
  return router;
}
