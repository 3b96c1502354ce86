import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import type { ActorResolver, Route } from '@swan/core';
import { mountSwan as mountExpress } from '@swan/express';
import { mountSwan as mountFastify, swanErrorHandler } from '@swan/fastify';
import type { Logger, ServerConfig } from './modules/types.js';

/** A listening HTTP server of either framework. */
export interface HttpServer {
  port: number;
  /** Stops accepting connections and resolves when in-flight requests are done. */
  close(): Promise<void>;
}

export interface ListenOptions {
  framework: ServerConfig['framework'];
  routes: readonly Route[];
  actor: ActorResolver;
  publicUrl: string;
  port: number;
  host?: string;
  logger: Logger;
  /**
   * Whose `X-Forwarded-For` to believe for the client IP (`req.ip`, the key of unauthenticated rate
   * limits): Express `trust proxy`, Fastify `trustProxy`. Default false (the socket's address).
   */
  trustProxy?: boolean | number | string[];
}

const REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/**
 * The request id: the caller's `X-Request-Id` when it is sane (1–128 letters, digits and
 * `._:@-`: a proxy's or a client's id), else a new UUID.
 *
 * @example
 * ```ts
 * requestIdOf('abc-123'); // 'abc-123'
 * requestIdOf('<script>'); // a new UUID
 * ```
 */
export function requestIdOf(incoming: string | string[] | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value !== undefined && REQUEST_ID.test(value) ? value : randomUUID();
}

/** One access line per request: id, method, route template, status, duration. Never the path's values, the query or a body. */
function accessLog(logger: Logger, entry: { requestId: string; method: string; route: string | undefined; status: number; durationMs: number }): void {
  logger.info('request', { ...entry, route: entry.route ?? '(no route)', durationMs: Math.round(entry.durationMs * 10) / 10 });
}

/** The adapters report every 5xx here: the cause the client does not see (never headers or bodies). */
function errorLogger(logger: Logger) {
  return (error: unknown, req: { method: string; path: string }) => logger.error('request failed', { method: req.method, path: req.path, error });
}

async function listenExpress(o: ListenOptions): Promise<HttpServer> {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', o.trustProxy ?? false);
  app.use((req, res, next) => {
    const start = performance.now();
    const requestId = requestIdOf(req.headers['x-request-id']);
    // routes and the route span see the id the response carries
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    res.once('finish', () => {
      const route = req.route?.path as string | undefined;
      accessLog(o.logger, { requestId, method: req.method, route: route === undefined ? undefined : `${req.baseUrl}${route}`, status: res.statusCode, durationMs: performance.now() - start });
    });
    next();
  });
  mountExpress(app, o.routes, { actor: o.actor, publicUrl: o.publicUrl, onError: errorLogger(o.logger) });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(o.port, o.host ?? '0.0.0.0', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

async function listenFastify(o: ListenOptions): Promise<HttpServer> {
  const trust = o.trustProxy ?? false;
  // A hop count as Fastify's function form (its types take no number).
  const onError = errorLogger(o.logger);
  const app = Fastify({
    logger: false,
    trustProxy: typeof trust === 'number' ? (_address: string, hop: number) => hop < trust : trust,
    frameworkErrors: swanErrorHandler({ onError }),
    // as Express routes by default: /healthz/ is /healthz
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.addHook('onRequest', async (request, reply) => {
    const requestId = requestIdOf(request.headers['x-request-id']);
    request.headers['x-request-id'] = requestId;
    reply.header('x-request-id', requestId);
  });
  app.addHook('onResponse', async (request, reply) => {
    accessLog(o.logger, {
      requestId: String(reply.getHeader('x-request-id')),
      method: request.method,
      route: request.is404 ? undefined : request.routeOptions.url,
      status: reply.statusCode,
      durationMs: reply.elapsedTime,
    });
  });
  mountFastify(app, o.routes, { actor: o.actor, publicUrl: o.publicUrl, onError });
  await app.listen({ port: o.port, host: o.host ?? '0.0.0.0' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

/**
 * Mounts `routes` with `@swan/express` or `@swan/fastify` and listens. Every request gets a
 * request id ({@link requestIdOf}; `X-Request-Id` on the response, and on the request the routes
 * see) and one access log line (`msg: "request"`: `requestId`, `method`, `route` template,
 * `status`, `durationMs`).
 *
 * @example
 * ```ts
 * const http = await listen({ framework: 'fastify', routes, actor, publicUrl, port: 0, logger });
 * await http.close();
 * ```
 */
export function listen(options: ListenOptions): Promise<HttpServer> {
  return options.framework === 'fastify' ? listenFastify(options) : listenExpress(options);
}
