import type { Kysely } from 'kysely';
import type { ErasureParticipant, EventPublisher, ExportContributor, Guard, MigrationSet, Route, SwanRequest } from '@swan/core';

/** Example-server configuration read from the environment (see API.md). */
export interface ServerConfig {
  env: Record<string, string | undefined>;
  /** True unless NODE_ENV=production. */
  development: boolean;
  /** PUBLIC_URL, or http://localhost:$PORT. */
  publicUrl: string;
  /** PORT, default 3000 (0 picks a free port). */
  port: number;
  /** SWAN_FRAMEWORK or `--framework`: `express` (default) or `fastify`. */
  framework: 'express' | 'fastify';
  /** DATABASE_URL (migrations run with it); unset → embedded PGlite in `dataDir`. */
  databaseUrl?: string;
  /** DATABASE_APP_URL: the application's connection (default: DATABASE_URL with the user swapped for swan_app). */
  databaseAppUrl?: string;
  /** DATA_DIR, default `.data/` (PGlite only). */
  dataDir: string;
  /** REDIS_URL; unset → in-memory rate limits. */
  redisUrl?: string;
  /** NATS_URL; set → the JetStream relay runs. */
  natsUrl?: string;
  /** AUTH_JWT_SECRET, or a development secret outside production. */
  jwtSecret: string;
  /** True when `jwtSecret` is the built-in development secret. */
  jwtSecretIsDevelopment: boolean;
  /** RUN_WORKERS, default true: outbox workers run in this process. */
  runWorkers: boolean;
  /** TRUST_PROXY: Express `trust proxy` / Fastify `trustProxy` (default false: the socket address is the client IP). */
  trustProxy: boolean | number | string[];
  /** METRICS_PORT: Prometheus text at `/metrics` on this port (0 picks a free one); unset → no endpoint. */
  metricsPort?: number;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: traces and metrics are exported over OTLP/HTTP to it. */
  otlpEndpoint?: string;
  /** ALERT_WEBHOOK_URL: alerts are POSTed here as JSON (and logged); unset → logged only. */
  alertWebhookUrl?: string;
}

/** Structured logger. Never log secrets or PII. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What modules share. Earlier modules fill optional fields for later ones. */
export interface ServerContext {
  /** Application handle (swan_app on PostgreSQL). */
  db: Kysely<any>;
  config: ServerConfig;
  logger: Logger;
  /** Set by the outbox module: publish side effects in the caller's transaction. */
  events?: EventPublisher;
  /** Set by the outbox module: register an outbox handler for an event type. */
  onEvent?: (eventType: string, handler: (event: { eventId: string; eventType: string; payload: any; attempts: number }) => Promise<void>) => void;
  /**
   * Set by the outbox module: a recurring schedule (`@swan/outbox` `Schedule`: name, cron,
   * eventType, timezone, backfill) and the handler of its occurrences. Each slot runs once across
   * every instance of the deployment.
   */
  schedule?: (schedule: { name: string; cron: string; eventType: string; timezone?: string; backfill?: number; payload?: Record<string, unknown> }, handler: (event: { eventId: string; eventType: string; payload: any; attempts: number; schedule?: { name: string; slot: Date } }) => Promise<void>) => void;
  /** Set by the ratelimit module: a guard for a named policy, keyed by actor id or IP unless `key` says otherwise. */
  rateLimit?: (policy: string, key?: (req: SwanRequest) => string) => Guard;
  /** Every module pushes its data-subject export contributor here. */
  exportContributors: ExportContributor[];
  /** Modules push what they erase in the erasure's own transaction here (read by the PII service at each erasure). */
  erasureParticipants: ErasureParticipant[];
  /**
   * Raises an operator alert (rate-limit violator, dead letter, failed audit chain verification):
   * written to the log at once and delivered to `ALERT_WEBHOOK_URL` through the outbox (retried
   * until it is accepted). Set by the outbox module.
   */
  alert?: (alert: OperatorAlert) => Promise<void>;
  /** Services other modules may use, by module name (e.g. `services.pii`). */
  services: Record<string, unknown>;
}

/** An alert for operators. Ids, counts and codes only: never PII or secrets. */
export interface OperatorAlert {
  /** What happened, e.g. `rate_limit_alert`, `dead_letter`, `audit_chain_broken`. */
  kind: string;
  /** One line for humans. */
  summary: string;
  /** Ids and numbers that say more (event id, policy, first broken entry id, …). */
  details?: Record<string, string | number | boolean | null>;
  /** Same key → one alert (default: a fresh one each call). */
  dedupeKey?: string;
}

/** A running module: its routes and lifecycle. */
export interface ModuleInstance {
  routes?: Route[];
  /** Called after every module's setup, when the server starts listening. */
  start?(): Promise<void> | void;
  /** Graceful shutdown (SIGTERM), in reverse order. */
  stop?(): Promise<void> | void;
  /**
   * Merged into `GET /healthz`: e.g. `{ redis: 'ok' }` from the rate-limit module or
   * `{ nats: 'down' }` from the outbox relay. Defaults: `redis: 'memory'`, `nats: 'disabled'`.
   */
  health?(): Promise<Record<string, string>> | Record<string, string>;
}

/** One package wired into the example server. */
export interface ServerModule {
  name: string;
  migrations?: MigrationSet[];
  setup(ctx: ServerContext): Promise<ModuleInstance> | ModuleInstance;
}
