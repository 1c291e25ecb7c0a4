// The browser lookup example of the client SDK (client-sdk/examples/lookup) at /examples/lookup/:
// the page, its script and the SDK's browser bundle, read from the checkout's client-sdk folder,
// plus this provider's trust list and pinned board fingerprint for the page to verify. The page
// talks to the directory's DNS over HTTPS itself (the `doh` query parameter), so its policy
// allows that one origin in `connect-src`; nothing else is loaded from elsewhere.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Request, Response } from 'express';
import express from 'express';
import { pageContentSecurityPolicy } from '@switchboard/service-kit';

export interface LookupExampleOptions {
  /** The trust list file this provider verifies against (`SWITCHBOARD_TRUST_LIST`). */
  readonly trustListPath?: string;
  /** Its pinned board (`SWITCHBOARD_BOARD_FINGERPRINT`). */
  readonly boardFingerprint?: string;
  /** Or a file holding it (the embedded stack's development board-fingerprint.txt). */
  readonly boardFingerprintPath?: string;
  /** The client-sdk folder; default the one next to provider-api in this checkout. */
  readonly sdkDir?: URL;
}

const ASSETS: Readonly<Record<string, readonly [string, string]>> = {
  '/page.js': ['examples/lookup/page.js', 'text/javascript'],
  '/page.css': ['examples/lookup/page.css', 'text/css'],
  '/switchboard-lookup.js': ['dist/browser/switchboard-lookup.js', 'text/javascript'],
};

/** The origin of the page's `doh` parameter when it is an http(s) URL. */
function dohOrigin(req: Request): string | undefined {
  const doh = req.query['doh'];
  if (typeof doh !== 'string') return undefined;
  try {
    const url = new URL(doh);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

async function sendFile(res: Response, path: string, type: string, missing: string) {
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch {
    res.status(404).type('text/plain').send(missing);
    return;
  }
  res.type(type).setHeader('cache-control', 'no-cache');
  res.send(body);
}

/**
 * Mount at `/examples/lookup`.
 *
 * @example app.use('/examples/lookup', lookupExampleRouter(deps.config));
 */
export function lookupExampleRouter(options: LookupExampleOptions): express.Router {
  const sdk = options.sdkDir ?? new URL('../../../../client-sdk/', import.meta.url);
  const file = (rel: string): string => fileURLToPath(new URL(rel, sdk));
  const router = express.Router({ strict: true });
  router.get('/', async (req, res) => {
    const origin = dohOrigin(req);
    const csp = pageContentSecurityPolicy().replace(
      "connect-src 'self'",
      origin ? `connect-src 'self' ${origin}` : "connect-src 'self'",
    );
    res.setHeader('Content-Security-Policy', csp);
    await sendFile(res, file('examples/lookup/index.html'), 'html', 'the example page is missing');
  });
  for (const [route, [rel, type]] of Object.entries(ASSETS)) {
    router.get(route, (_req, res) =>
      sendFile(
        res,
        file(rel),
        type,
        'not built: run npm run build:browser -w @switchboard/client-sdk',
      ),
    );
  }
  router.get('/config.json', async (_req, res) => {
    let boardFingerprint = options.boardFingerprint;
    if (boardFingerprint === undefined && options.boardFingerprintPath !== undefined)
      boardFingerprint = (
        await readFile(options.boardFingerprintPath, 'utf8').catch(() => '')
      ).trim();
    res.json({ boardFingerprint: boardFingerprint || null });
  });
  router.get('/trust-list.json', async (_req, res) => {
    if (options.trustListPath === undefined) {
      res.status(404).type('text/plain').send('this provider has no configured trust list file');
      return;
    }
    await sendFile(
      res,
      options.trustListPath,
      'application/json',
      'the trust list file is missing',
    );
  });
  return router;
}
