import { randomBytes } from 'node:crypto';
import type { DocumentedRoute } from '@swan/core';

/**
 * A public `GET` route serving an HTML page under a strict Content-Security-Policy: a fresh nonce
 * per response for the page's own `<style>` (and `<script>`, unless `scripts: 'self'` loads them
 * from the server's own files), nothing else allowed, no caching, no referrer.
 *
 * @example
 * ```ts
 * const route = htmlPageRoute('/admin', (nonce) => `<!doctype html><style nonce="${nonce}">…</style>…`);
 * ```
 */
export function htmlPageRoute(path: string, render: (nonce: string) => string, options: { scripts?: 'nonce' | 'self'; summary?: string } = {}): DocumentedRoute {
  return {
    method: 'GET',
    path,
    access: 'public',
    body: 'none',
    summary: options.summary ?? `The ${path} page`,
    tags: ['pages'],
    schema: { response: { content: { 'text/html; charset=utf-8': { type: 'string' } } } },
    async handler() {
      const nonce = randomBytes(16).toString('base64');
      const scripts = options.scripts === 'self' ? "'self'" : `'nonce-${nonce}'`;
      return {
        status: 200,
        contentType: 'text/html; charset=utf-8',
        headers: {
          'content-security-policy': `default-src 'none'; script-src ${scripts}; style-src 'nonce-${nonce}'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'`,
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
          'x-content-type-options': 'nosniff',
        },
        body: render(nonce),
      };
    },
  };
}
