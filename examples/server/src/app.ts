import { migrations as coreMigrations, startAuditChainer, type Route } from '@swan/core';
import { createActorResolver } from './auth.js';
import { openDatabase, uniqueSets } from './database.js';
import { healthRoute, readyRoute } from './health.js';
import { listen } from './http-server.js';
import { openApiRoute } from './openapi.js';
import { createLogger } from './logger.js';
import { startTelemetry, type TelemetryOptions } from './telemetry.js';
import { modules as defaultModules } from './modules/index.js';
import type { Logger, ModuleInstance, ServerConfig, ServerContext, ServerModule } from './modules/types.js';

/** A running example server. */
export interface SwanServer {
  /** Port actually listened on (useful with `PORT=0`). */
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  ctx: ServerContext;
  /** `http://127.0.0.1:<port>/metrics` when `METRICS_PORT` is set. */
  metricsUrl?: string;
  /** Every route the server mounts, `GET /openapi.json` included. */
  routes: readonly Route[];
  /** Graceful shutdown: stop accepting, finish in-flight requests, stop modules in reverse order, close the database. */
  close(): Promise<void>;
}

export interface CreateServerOptions {
  logger?: Logger;
  /** Modules to mount, in setup order (default: every module of `modules/index.ts`). */
  modules?: readonly ServerModule[];
  /** Interface to bind, the metrics port's too (default `0.0.0.0`). */
  host?: string;
  /** Extra OpenTelemetry exporters (tests: an in-memory span exporter). */
  telemetry?: TelemetryOptions;
}

/** The rate-limit module's store (`redis` / `memory`), as it reports it on `ctx.services.ratelimit`. */
function rateLimitStore(ctx: ServerContext): string {
  const store = (ctx.services.ratelimit as { store?: unknown } | undefined)?.store;
  if (store === undefined) return 'none (no rate-limit module)';
  return store === 'memory' ? 'memory (per process, development)' : String(store);
}

async function stopAll(instances: readonly ModuleInstance[], logger: Logger): Promise<void> {
  for (const instance of [...instances].reverse()) {
    try {
      await instance.stop?.();
    } catch (error) {
      logger.error('module stop failed', { error });
    }
  }
}

/**
 * Builds and starts the example server: opens the database (embedded PGlite in `DATA_DIR`, or
 * PostgreSQL as `swan_app` behind the startup guard), runs core's and every module's migrations,
 * sets the modules up in order, mounts `GET /healthz`, `GET /readyz`, every module's routes and `GET /openapi.json` with the
 * configured framework, listens, starts the modules and the audit chainer. The OpenTelemetry SDK is
 * installed first (see {@link startTelemetry}: Prometheus on `METRICS_PORT`, OTLP with
 * `OTEL_EXPORTER_OTLP_ENDPOINT`).
 *
 * @example
 * ```ts
 * const server = await createServer(loadConfig({ PORT: '0' }));
 * await fetch(`${server.url}/healthz`);
 * await server.close();
 * ```
 */
export async function createServer(config: ServerConfig, options: CreateServerOptions = {}): Promise<SwanServer> {
  const logger = options.logger ?? createLogger();
  const modules = options.modules ?? defaultModules;
  if (config.jwtSecretIsDevelopment) {
    logger.warn('!!! AUTH_JWT_SECRET is not set: bearer tokens are checked with the PUBLIC development secret. Anyone can mint an admin token. Set AUTH_JWT_SECRET (required with NODE_ENV=production). !!!');
  }
  const sets = uniqueSets([coreMigrations, ...modules.flatMap((m) => m.migrations ?? [])]);
  // first: the packages' spans and instruments report to the SDK installed here
  const telemetry = await startTelemetry(config, logger, options.telemetry, options.host);
  let opened: Awaited<ReturnType<typeof openDatabase>>;
  try {
    opened = await openDatabase(config, logger, sets);
  } catch (error) {
    await telemetry.shutdown();
    throw error;
  }
  const { db, engine, description } = opened;
  if (engine === 'pglite') logger.warn('database: embedded PGlite (development and tests only; set DATABASE_URL for PostgreSQL)', description);

  const ctx: ServerContext = { db, config, logger, exportContributors: [], erasureParticipants: [], services: {} };
  const instances: ModuleInstance[] = [];
  const chainer = startAuditChainer(db, { onError: (error) => logger.error('audit chainer failed', { error }) });
  const shutdownInternals = async () => {
    await stopAll(instances, logger);
    await chainer.stop();
    await db.destroy();
    await telemetry.shutdown();
  };

  let http: Awaited<ReturnType<typeof listen>>;
  let routes: Route[];
  try {
    for (const module of modules) instances.push(await module.setup(ctx));
    const readiness = { migrations: sets, redis: Boolean(config.redisUrl), nats: Boolean(config.natsUrl) && config.runWorkers };
    routes = [healthRoute(db, instances), readyRoute(db, instances, readiness), ...instances.flatMap((i) => i.routes ?? [])];
    routes.push(openApiRoute(routes, config.publicUrl));
    http = await listen({
      framework: config.framework,
      routes,
      actor: createActorResolver(config.jwtSecret),
      publicUrl: config.publicUrl,
      port: config.port,
      host: options.host,
      trustProxy: config.trustProxy,
      logger,
    });
    for (const instance of instances) await instance.start?.();
  } catch (error) {
    await shutdownInternals();
    throw error;
  }

  const url = `http://127.0.0.1:${http.port}`;
  logger.info('swan example server listening', {
    url,
    publicUrl: config.publicUrl,
    framework: config.framework,
    database: description,
    rateLimitStore: rateLimitStore(ctx),
    workers: config.runWorkers ? 'in-process' : 'not in this process (RUN_WORKERS=false: run `swan outbox work`)',
    natsRelay: config.natsUrl ? 'enabled' : 'disabled (informational events are completed by the built-in sink)',
    metrics: telemetry.metricsUrl ?? 'off (set METRICS_PORT)',
    alerts: config.alertWebhookUrl ? `log and ${new URL(config.alertWebhookUrl).origin}` : 'log only (set ALERT_WEBHOOK_URL)',
    modules: modules.map((m) => m.name),
  });

  let closing: Promise<void> | undefined;
  return {
    port: http.port,
    url,
    ctx,
    ...(telemetry.metricsUrl ? { metricsUrl: telemetry.metricsUrl } : {}),
    routes,
    close() {
      closing ??= (async () => {
        logger.info('shutting down');
        await http.close();
        await shutdownInternals();
        logger.info('stopped');
      })();
      return closing;
    },
  };
}
