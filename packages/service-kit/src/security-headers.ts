import { createHash } from 'node:crypto';
import type { RequestListener } from 'node:http';
import type { RequestHandler } from 'express';

/**
 * The policy of every response that is not a page (JSON, problems, metrics): it loads nothing
 * and may not be framed, so a response that a browser does render (a sniffed or mislabelled
 * body) can run nothing.
 */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

/** What a page needs besides its own origin's scripts, styles and images. */
export interface PagePolicy {
  /** Exact texts of inline `<style>` elements (allowed by hash). */
  readonly inlineStyles?: readonly string[];
  /** Exact texts of inline `<script>` elements (allowed by hash). */
  readonly inlineScripts?: readonly string[];
}

const hashSource = (text: string): string =>
  `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * A strict Content-Security-Policy (CSP Level 3) for an HTML page served with its assets from
 * its own origin: nothing external, no inline code except the exact texts given (by hash), no
 * plugins, no `<base>` tricks, forms only to this origin, never framed (`frame-ancestors`).
 */
export function pageContentSecurityPolicy(policy: PagePolicy = {}): string {
  const scripts = ["'self'", ...(policy.inlineScripts ?? []).map(hashSource)];
  const styles = ["'self'", ...(policy.inlineStyles ?? []).map(hashSource)];
  return [
    "default-src 'none'",
    `script-src ${scripts.join(' ')}`,
    `style-src ${styles.join(' ')}`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Headers for every response of a service (mount first): `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer` and {@link API_CONTENT_SECURITY_POLICY}; HTML pages replace the
 * policy with {@link pageSecurityHeaders}.
 *
 * @example
 * app.use(securityHeaders());
 */
export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', API_CONTENT_SECURITY_POLICY);
    next();
  };
}

/**
 * The page policy ({@link pageContentSecurityPolicy}, computed once) for the routes it is mounted
 * on, plus the headers of {@link securityHeaders}.
 *
 * @example
 * app.get('/', pageSecurityHeaders({ inlineStyles: [STYLE] }), (_req, res) => res.send(PAGE));
 */
export function pageSecurityHeaders(policy: PagePolicy = {}): RequestHandler {
  const csp = pageContentSecurityPolicy(policy);
  return (_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', csp);
    next();
  };
}

/**
 * {@link securityHeaders} for a whole server, set before `listener` runs: for apps whose routes
 * were registered by a library before a middleware of ours could be (matrix-appservice).
 *
 * @example
 * createServer(withSecurityHeaders(appService.expressApp));
 */
export function withSecurityHeaders(listener: RequestListener): RequestListener {
  return (req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', API_CONTENT_SECURITY_POLICY);
    listener(req, res);
  };
}
