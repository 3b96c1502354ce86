import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import { createGuardContext, DEFAULT_BODY_LIMIT, errorInfoOf, fromFrameworkError, notFoundResponse, renderError, runHostGuard, serveRoute } from '@swan/core';
import type { AdapterOptions, ErrorInfo, FrameworkRequest, Guard, RenderedResponse, Route } from '@swan/core';

/** Options shared by {@link swanPlugin}, {@link fastifyGuard} and {@link mountSwan}. */
export type SwanFastifyOptions = AdapterOptions;
export type { ErrorInfo };

/** Options of {@link swanPlugin}: the routes to serve plus {@link SwanFastifyOptions}. */
export interface SwanPluginOptions extends SwanFastifyOptions {
  routes: readonly Route[];
}

type BodyKind = NonNullable<Route['body']>;
const BODY_KINDS: readonly BodyKind[] = ['json', 'raw', 'form', 'none'];

/** Content-type parsers of one body kind, in its own encapsulated context. Other types are read (within the limit) and dropped. */
function useParsers(ctx: FastifyInstance, kind: BodyKind): void {
  ctx.removeAllContentTypeParsers();
  const keep = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => done(null, body);
  if (kind === 'json') {
    const json = ctx.getDefaultJsonParser('error', 'error');
    // An empty JSON body reads as `{}`, as in Express (body-parser).
    ctx.addContentTypeParser(/^application\/([\w.+-]+\+)?json(;|$)/, { parseAs: 'string' }, (req, body, done) =>
      body === '' ? done(null, {}) : json(req, body as string, done),
    );
  }
  if (kind === 'form') ctx.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, keep);
  ctx.addContentTypeParser('*', { parseAs: 'buffer' }, kind === 'raw' ? keep : (_req, _body, done) => done(null, undefined));
}

// Read lazily, as in the Express adapter (see toSwanRequest).
const frameworkRequest = (req: FastifyRequest): FrameworkRequest => ({
  method: req.method,
  originalUrl: req.originalUrl,
  get origin() { return `${req.protocol}://${req.host}`; },
  params: req.params,
  get query() { return req.query; },
  headers: req.headers,
  body: req.body,
  get ip() { return req.ip; },
});

/** Fastify's own errors → contract codes (its 415 is our 400); everything else unchanged (→ 500). */
function fromFastifyError(error: unknown): unknown {
  const { code, statusCode } = (error ?? {}) as { code?: unknown; statusCode?: unknown };
  const invalidJson = code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError;
  const failure = code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body-too-large' : invalidJson ? 'invalid-json' : code === 'FST_ERR_BAD_URL' ? 'malformed-url' : undefined;
  return fromFrameworkError(error, failure, statusCode);
}

function write(reply: FastifyReply, out: RenderedResponse): FastifyReply {
  reply.code(out.status).headers(out.headers);
  return out.payload === undefined ? reply.send() : reply.type(out.contentType).send(out.payload);
}

function sendError(reply: FastifyReply, error: unknown, onError: AdapterOptions['onError']): FastifyReply {
  return write(reply, renderError(error, errorInfoOf(reply.request), onError));
}

// One context per reply, so guards of one request (several `fastifyGuard`s included) can see each other's headers.
const guardContext = createGuardContext<FastifyReply>((reply, name, value) => void reply.header(name, value));

/**
 * Fastify error handler answering with the Swan envelope (Fastify's 413/415/JSON errors mapped
 * to `PAYLOAD_TOO_LARGE` / `VALIDATION_FAILED` / `INVALID_JSON`, unknown errors to 500 `INTERNAL`).
 * Pass it as the instance's `frameworkErrors` option too: Fastify reports a URL it cannot decode
 * (malformed percent-encoding) there, before any route or error handler, and would otherwise
 * answer in its own format.
 *
 * @example
 * ```ts
 * const app = Fastify({ frameworkErrors: swanErrorHandler() });
 * app.setErrorHandler(swanErrorHandler({ onError: (err) => app.log.error(err) }));
 * ```
 */
export function swanErrorHandler(options: Pick<SwanFastifyOptions, 'onError'> = {}) {
  return (error: unknown, _request: FastifyRequest, reply: FastifyReply): FastifyReply =>
    sendError(reply, fromFastifyError(error), options.onError);
}

/**
 * An encapsulated Fastify plugin serving Swan routes. Each body kind (`json`, `raw`, `form`,
 * `none`) gets its own child context with its own content-type parsers, so raw and form routes
 * never change how JSON routes (or the host's routes) parse; each route has its own `bodyLimit`.
 *
 * @example
 * ```ts
 * await app.register(swanPlugin, { routes: piiRoutes({ db }), actor: resolveActor, publicUrl: process.env.PUBLIC_URL });
 * ```
 */
export const swanPlugin: FastifyPluginAsync<SwanPluginOptions> = async (app, options) => {
  app.setErrorHandler(swanErrorHandler(options));
  for (const kind of BODY_KINDS) {
    const routes = options.routes.filter((route) => (route.body ?? 'json') === kind);
    if (routes.length === 0) continue;
    await app.register(async (ctx) => {
      useParsers(ctx, kind);
      for (const route of routes) {
        ctx.route({
          method: route.method,
          url: route.path,
          bodyLimit: route.bodyLimit ?? DEFAULT_BODY_LIMIT,
          handler: async (request, reply) => write(reply, await serveRoute(route, frameworkRequest(request), guardContext(reply), options)),
        });
      }
    });
  }
};

/**
 * Runs a Swan guard as a Fastify `preHandler` on the host app's own routes. Headers the guard
 * sets are sent whatever the outcome; a rejection is answered with the envelope. With `actor`,
 * the guard sees the resolved caller (else `req.actor` is `null`).
 *
 * @example
 * ```ts
 * app.post('/reports', { preHandler: fastifyGuard(rateLimit('reports'), { actor: resolveActor }) }, reportsHandler);
 * ```
 */
export function fastifyGuard(guard: Guard, options: Partial<SwanFastifyOptions> = {}): preHandlerAsyncHookHandler {
  return async (request, reply) => {
    const rejected = await runHostGuard(guard, frameworkRequest(request), guardContext(reply), options);
    if (rejected) return write(reply, rejected);
  };
}

/**
 * Registers {@link swanPlugin} and sets the app's not-found handler (404 `NOT_FOUND` in the
 * envelope) and error handler, so no Fastify-formatted error ever reaches a client.
 *
 * @example
 * ```ts
 * const app = Fastify({ trustProxy: true });
 * mountSwan(app, routes, { actor: resolveActor, publicUrl: config.publicUrl });
 * await app.listen({ port: 3000 });
 * ```
 */
export function mountSwan(app: FastifyInstance, routes: readonly Route[], options: SwanFastifyOptions): FastifyInstance {
  app.register(swanPlugin, { ...options, routes });
  app.setNotFoundHandler((_request, reply) => write(reply, notFoundResponse()));
  app.setErrorHandler(swanErrorHandler(options));
  return app;
}
