import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { SwanError } from '@swan/core';
import { missingTierVariables } from '@swan/billing';
import type { ServerConfig } from './modules/types.js';

/**
 * The secret used to sign and verify bearer tokens when `AUTH_JWT_SECRET` is unset outside
 * production. It is public (it is in this file and in docs/getting-started.md), so the server
 * prints a loud warning whenever it uses it.
 */
export const DEVELOPMENT_JWT_SECRET = 'swan-development-secret-never-use-in-production';

const FRAMEWORKS = ['express', 'fastify'] as const;

function invalid(message: string): SwanError {
  return new SwanError({ code: 'CONFIG_INVALID', message });
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 3000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid(`PORT must be an integer from 0 to 65535, got "${value}"`);
  return port;
}

function parseMetricsPort(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid(`METRICS_PORT must be an integer from 0 to 65535, got "${value}"`);
  return port;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function parseUrl(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!isHttpUrl(value)) throw invalid(`${name} must be an http(s) URL`);
  return value;
}

/** One variable that keeps a production start from going ahead, and why. */
export interface ProductionProblem {
  variable: string;
  problem: string;
}

/**
 * What `NODE_ENV=production` refuses (docs/deployment.md, "Production guards"), one entry per
 * variable: development keys (`SWAN_MASTER_KEYS` or `SWAN_KMS_KEY_ID`, and `SWAN_INDEX_KEY`,
 * unset), `AUTH_JWT_SECRET` unset or equal to the public development secret, a missing Payment
 * Link, price or webhook secret while Stripe is configured (`STRIPE_SECRET_KEY` set; test-mode
 * keys and links are fine), and `PUBLIC_URL` unset or not an http(s) URL.
 *
 * @example
 * ```ts
 * productionProblems({ NODE_ENV: 'production' }).map((p) => p.variable);
 * // ['SWAN_MASTER_KEYS', 'SWAN_INDEX_KEY', 'AUTH_JWT_SECRET', 'PUBLIC_URL']
 * ```
 */
export function productionProblems(env: Record<string, string | undefined>): ProductionProblem[] {
  const problems: ProductionProblem[] = [];
  const add = (variable: string, problem: string) => problems.push({ variable, problem });
  if (!env.SWAN_MASTER_KEYS && !env.SWAN_KMS_KEY_ID) add('SWAN_MASTER_KEYS', 'is unset (or set SWAN_KMS_KEY_ID): development keys are per data directory and never used in production');
  if (!env.SWAN_INDEX_KEY) add('SWAN_INDEX_KEY', 'is unset: development keys are per data directory and never used in production');
  if (!env.AUTH_JWT_SECRET) add('AUTH_JWT_SECRET', 'is unset');
  else if (env.AUTH_JWT_SECRET === DEVELOPMENT_JWT_SECRET) add('AUTH_JWT_SECRET', 'is the public development secret');
  if (env.STRIPE_SECRET_KEY) {
    if (!env.STRIPE_WEBHOOK_SECRET) add('STRIPE_WEBHOOK_SECRET', 'is unset while STRIPE_SECRET_KEY is set');
    for (const variable of missingTierVariables(env)) add(variable, 'is unset while STRIPE_SECRET_KEY is set (Payment Links are never made up)');
  }
  if (!env.PUBLIC_URL) add('PUBLIC_URL', 'is unset');
  else if (!isHttpUrl(env.PUBLIC_URL)) add('PUBLIC_URL', 'is not an http(s) URL');
  return problems;
}

function parseBoolean(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  const v = value.toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw invalid(`${name} must be true or false, got "${value}"`);
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyAddress(item: string): boolean {
  if (PROXY_NAMES.has(item) || isIP(item) !== 0) return true;
  const [address, bits, ...rest] = item.split('/');
  if (rest.length > 0 || address === undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(address);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * `TRUST_PROXY`: which proxies' `X-Forwarded-For` decides the client IP (the key of unauthenticated
 * rate limits). Unset or `false`: none (the socket's address). A number: that many hops.
 * `true`: every hop (only behind a proxy that overwrites the header). Else a comma-separated list of
 * addresses, CIDR ranges or `loopback` / `linklocal` / `uniquelocal`.
 */
function parseTrustProxy(value: string | undefined): ServerConfig['trustProxy'] {
  const v = value?.trim() ?? '';
  if (v === '' || v.toLowerCase() === 'false') return false;
  if (v.toLowerCase() === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  const items = v.split(',').map((item) => item.trim()).filter((item) => item !== '');
  const bad = items.find((item) => !isProxyAddress(item));
  if (bad !== undefined || items.length === 0) {
    throw invalid(`TRUST_PROXY must be true, false, a hop count or a comma-separated list of addresses, CIDR ranges, loopback, linklocal or uniquelocal, got "${value}"`);
  }
  return items;
}

function parseFramework(value: string): ServerConfig['framework'] {
  if ((FRAMEWORKS as readonly string[]).includes(value)) return value as ServerConfig['framework'];
  throw invalid(`The framework must be express or fastify, got "${value}"`);
}

/**
 * Reads the example server's configuration from the environment (API.md, "Example server
 * configuration") and the command line (`--framework fastify` overrides `SWAN_FRAMEWORK`).
 * Throws `CONFIG_INVALID` for bad values and, when `NODE_ENV=production`, for every
 * {@link productionProblems} at once: the message names each variable, `details.variables` lists
 * them.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env, process.argv.slice(2));
 * const server = await createServer(config);
 * ```
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, argv: readonly string[] = []): ServerConfig {
  const { values } = parseArgs({ args: [...argv], options: { framework: { type: 'string' } }, strict: true, allowPositionals: false });
  const development = env.NODE_ENV !== 'production';
  const port = parsePort(env.PORT);
  const secret = env.AUTH_JWT_SECRET || undefined;
  // checked here, before anything touches the database: production never falls back to development keys
  if (!development) {
    const problems = productionProblems(env);
    if (problems.length) {
      throw new SwanError({
        code: 'CONFIG_INVALID',
        message: `Refusing to start with NODE_ENV=production: ${problems.map((p) => `${p.variable} ${p.problem}`).join('; ')}`,
        details: { variables: [...new Set(problems.map((p) => p.variable))] },
      });
    }
  }
  return {
    env,
    development,
    port,
    publicUrl: (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    framework: parseFramework(values.framework ?? (env.SWAN_FRAMEWORK || 'express')),
    databaseUrl: env.DATABASE_URL || undefined,
    databaseAppUrl: env.DATABASE_APP_URL || undefined,
    dataDir: env.DATA_DIR || '.data/',
    redisUrl: env.REDIS_URL || undefined,
    natsUrl: env.NATS_URL || undefined,
    jwtSecret: secret ?? DEVELOPMENT_JWT_SECRET,
    jwtSecretIsDevelopment: !secret || secret === DEVELOPMENT_JWT_SECRET,
    runWorkers: parseBoolean('RUN_WORKERS', env.RUN_WORKERS, true),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    metricsPort: parseMetricsPort(env.METRICS_PORT),
    otlpEndpoint: parseUrl('OTEL_EXPORTER_OTLP_ENDPOINT', env.OTEL_EXPORTER_OTLP_ENDPOINT),
    alertWebhookUrl: parseUrl('ALERT_WEBHOOK_URL', env.ALERT_WEBHOOK_URL),
  };
}
