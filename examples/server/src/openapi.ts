import { createRequire } from 'node:module';
import { createOpenApiDocument, objectSchema, type DocumentedRoute, type Route } from '@swan/core';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/**
 * `GET /openapi.json` (public): the OpenAPI 3.1 document of `routes` plus this route itself,
 * built once from the route definitions when the server starts.
 *
 * @example
 * ```ts
 * const all = [...routes, openApiRoute(routes, config.publicUrl)];
 * ```
 */
export function openApiRoute(routes: readonly Route[], publicUrl: string): DocumentedRoute {
  const route: DocumentedRoute = {
    method: 'GET',
    path: '/openapi.json',
    access: 'public',
    body: 'none',
    summary: 'This document: OpenAPI 3.1 of every mounted route',
    tags: ['meta'],
    schema: { response: { body: objectSchema({ openapi: { const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' } }) } },
    handler: async () => ({ status: 200, body: document }),
  };
  const document = createOpenApiDocument([...routes, route], {
    title: 'Swan example server',
    version,
    description: 'Every Swan package mounted in one app (docs/http-api.md). Bearer tokens: HS256 JWTs with `sub` (uuid) and `role` (admin, trainer, client, ai_service), signed with AUTH_JWT_SECRET.',
  }, { servers: [{ url: publicUrl }] });
  return route;
}
