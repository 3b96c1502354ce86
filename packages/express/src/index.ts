import { parse as parseQueryString } from 'node:querystring';
import express from 'express';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response, Router } from 'express';
import { createGuardContext, DEFAULT_BODY_LIMIT, errorInfoOf, fromFrameworkError, notFoundResponse, renderError, runHostGuard, serveRoute } from '@swan/core';
import type { AdapterOptions, ErrorInfo, FrameworkRequest, Guard, RenderedResponse, Route } from '@swan/core';

/** Options shared by {@link swanRouter}, {@link expressGuard}, {@link errorHandler} and {@link mountSwan}. */
export type SwanExpressOptions = AdapterOptions;
export type { ErrorInfo };

const JSON_TYPES = ['application/json', 'application/*+json'];

function bodyParsers(route: Route): RequestHandler[] {
  const limit = route.bodyLimit ?? DEFAULT_BODY_LIMIT;
  switch (route.body ?? 'json') {
    case 'json':
      return [express.json({ limit, strict: false, type: JSON_TYPES })];
    case 'raw':
      return [express.raw({ limit, type: () => true })];
    case 'form':
      return [express.raw({ limit, type: 'application/x-www-form-urlencoded' })];
    case 'none':
      return [];
  }
}

// Express 4's body parsers set `req.body = {}` even when they read nothing (another content type,
// no body); Express 5's leave it undefined. A Swan route gets only what its own parser read.
function parsedBody(req: Request, kind: NonNullable<Route['body']>): unknown {
  if (kind === 'json') return req.is(JSON_TYPES) ? req.body : undefined;
  return Buffer.isBuffer(req.body) ? req.body : undefined;
}

// Express's protocol, host, query and ip are getters with real work behind them (trust proxy,
// query parsing): read them only when the request is used that far (see toSwanRequest).
// `kind` is the Swan route's body kind; without it (a host route) the body is as the host parsed it.
const frameworkRequest = (req: Request, kind?: NonNullable<Route['body']>): FrameworkRequest => ({
  method: req.method,
  originalUrl: req.originalUrl,
  get origin() { return `${req.protocol}://${req.get('host')}`; },
  params: req.params,
  // Parsed here, as Express 5's default "simple" parser does, not from `req.query`: Express 4's
  // default (qs) would turn `a[b]=1` into objects and a host's `query parser` setting would leak in.
  get query() {
    const at = req.originalUrl.indexOf('?');
    return at < 0 ? {} : parseQueryString(req.originalUrl.slice(at + 1));
  },
  headers: req.headers,
  body: kind === undefined ? req.body : parsedBody(req, kind),
  get ip() { return req.ip ?? req.socket.remoteAddress ?? ''; },
});

/** Body-parser errors → contract codes; everything else unchanged (→ 500 `INTERNAL`). */
function fromExpressError(error: unknown): unknown {
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  // URIError: a route parameter with malformed percent-encoding (the router's decode fails)
  const failure = type === 'entity.too.large' ? 'body-too-large' : type === 'entity.parse.failed' ? 'invalid-json' : error instanceof URIError ? 'malformed-url' : undefined;
  return fromFrameworkError(error, failure, status);
}

function write(res: Response, out: RenderedResponse): void {
  res.status(out.status).set(out.headers);
  if (out.payload === undefined) res.end();
  else res.type(out.contentType).send(out.payload);
}

function sendError(res: Response, req: Request, error: unknown, onError: AdapterOptions['onError']): void {
  write(res, renderError(error, errorInfoOf(req), onError));
}

// One context per response, so guards of one request (several `expressGuard`s included) can see each other's headers.
const guardContext = createGuardContext<Response>((res, name, value) => void res.set(name, value));

/**
 * Maps any error to the Swan envelope: `SwanError` with its status and headers, body-parser
 * errors to `PAYLOAD_TOO_LARGE` / `INVALID_JSON` / `VALIDATION_FAILED`, anything else to a bare
 * 500 `INTERNAL` (reported to `onError`).
 *
 * @example
 * ```ts
 * app.use(errorHandler({ onError: (err, { method, path }) => logger.error('request failed', { method, path, err }) }));
 * ```
 */
export function errorHandler(options: Pick<SwanExpressOptions, 'onError'> = {}): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    sendError(res, req, fromExpressError(error), options.onError);
  };
}

/**
 * Answers every request that reaches it with 404 `NOT_FOUND` in the envelope. Mount it after all routes.
 *
 * @example
 * ```ts
 * app.use(notFoundHandler());
 * ```
 */
export function notFoundHandler(): RequestHandler {
  return (_req, res) => write(res, notFoundResponse());
}

/**
 * An Express router serving Swan routes: per-route body parsing (`json` with its limit, `raw`,
 * `form`, `none`), actor resolution, access checks, guards and the error envelope.
 * Mount it before any global body parser, or raw-body routes lose their bytes.
 *
 * @example
 * ```ts
 * const app = express();
 * app.use(swanRouter([...piiRoutes({ db })], { actor: resolveActor, publicUrl: process.env.PUBLIC_URL }));
 * ```
 */
export function swanRouter(routes: readonly Route[], options: SwanExpressOptions): Router {
  const router = express.Router();
  const routeErrors = errorHandler(options);
  for (const route of routes) {
    const handler: RequestHandler = async (req, res) => write(res, await serveRoute(route, frameworkRequest(req, route.body ?? 'json'), guardContext(res), options));
    router[route.method.toLowerCase() as Lowercase<Route['method']>](route.path, ...bodyParsers(route), handler, routeErrors);
  }
  return router;
}

/**
 * Runs a Swan guard as native Express middleware on the host app's own routes. Headers the
 * guard sets (rate-limit headers) are sent whatever the outcome; a rejection is answered with
 * the envelope. With `actor`, the guard sees the resolved caller (else `req.actor` is `null`).
 *
 * @example
 * ```ts
 * app.post('/reports', express.json(), expressGuard(rateLimit('reports'), { actor: resolveActor }), reportsHandler);
 * ```
 */
export function expressGuard(guard: Guard, options: Partial<SwanExpressOptions> = {}): RequestHandler {
  return async (req, res, next) => {
    const rejected = await runHostGuard(guard, frameworkRequest(req), guardContext(res), options);
    if (rejected) write(res, rejected);
    else next();
  };
}

/**
 * Mounts `routes`, then the 404 and error handlers (so register the host's own routes first).
 *
 * @example
 * ```ts
 * const app = express();
 * app.get('/healthz', health);
 * mountSwan(app, routes, { actor: resolveActor, publicUrl: config.publicUrl, onError: log });
 * app.listen(3000);
 * ```
 */
export function mountSwan(app: Express, routes: readonly Route[], options: SwanExpressOptions): Express {
  return app.use(swanRouter(routes, options), notFoundHandler(), errorHandler(options));
}
