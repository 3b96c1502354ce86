import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { SwanError } from '@swan/core';
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
 * Throws `CONFIG_INVALID` for bad values and, when `NODE_ENV=production`, for a missing
 * `AUTH_JWT_SECRET` or missing encryption keys (`SWAN_MASTER_KEYS` or `SWAN_KMS_KEY_ID`, and
 * `SWAN_INDEX_KEY`).
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
  if (!secret && !development) throw invalid('AUTH_JWT_SECRET is required when NODE_ENV=production');
  // checked here, before anything touches the database: production never falls back to development keys
  if (!development && ((!env.SWAN_MASTER_KEYS && !env.SWAN_KMS_KEY_ID) || !env.SWAN_INDEX_KEY)) {
    throw invalid('SWAN_MASTER_KEYS (or SWAN_KMS_KEY_ID) and SWAN_INDEX_KEY are required when NODE_ENV=production');
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
    jwtSecretIsDevelopment: !secret,
    runWorkers: parseBoolean('RUN_WORKERS', env.RUN_WORKERS, true),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
  };
}
