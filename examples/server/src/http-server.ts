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

/** The adapters report every 5xx here: the cause the client does not see (never headers or bodies). */
function errorLogger(logger: Logger) {
  return (error: unknown, req: { method: string; path: string }) => logger.error('request failed', { method: req.method, path: req.path, error });
}

async function listenExpress(o: ListenOptions): Promise<HttpServer> {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', o.trustProxy ?? false);
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
  mountFastify(app, o.routes, { actor: o.actor, publicUrl: o.publicUrl, onError });
  await app.listen({ port: o.port, host: o.host ?? '0.0.0.0' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

/**
 * Mounts `routes` with `@swan/express` or `@swan/fastify` and listens.
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
