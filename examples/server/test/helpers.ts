import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, type JWTPayload } from 'jose';
import { ok, type Route } from '@swan/core';
import { frozenClock } from '@swan/test-utils';
import { createServer, type SwanServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { modules } from '../src/modules/index.js';
import { createRatelimitModule } from '../src/modules/ratelimit.js';
import type { Logger, ServerModule } from '../src/modules/types.js';

export const SECRET = 'test-secret-0123456789-abcdefghijklmnop';

/** A logger that keeps every entry for assertions. */
export function memoryLogger(): Logger & { entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = [];
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => void entries.push({ level, msg, ...fields });
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Routes only the tests mount: one per access kind, echoing the actor. */
export const probeModule: ServerModule = {
  name: 'probe',
  setup: () => {
    const echo = (path: string, access: Route['access']): Route => ({
      method: 'GET',
      path,
      access,
      handler: async (req) => ok({ actor: req.actor }),
    });
    return { routes: [echo('/test/admin-only', ['admin']), echo('/test/any-actor', 'authenticated')] };
  },
};

export interface TestServer extends SwanServer {
  logger: ReturnType<typeof memoryLogger>;
  dispose(): Promise<void>;
}

/** The server's modules with a rate limiter whose clock stands still (see `frozenClock`). */
export function withFrozenRateLimits(base: readonly ServerModule[] = modules): ServerModule[] {
  const limits = createRatelimitModule({ clock: frozenClock() });
  return base.map((m) => (m.name === limits.name ? limits : m));
}

/** Boots the example server in-process on a free port (PGlite in a temp DATA_DIR unless `env` says otherwise). */
export async function bootServer(env: Record<string, string>, argv: string[] = [], extraModules: ServerModule[] = [probeModule], base: readonly ServerModule[] = modules): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'swan-server-'));
  const logger = memoryLogger();
  const config = loadConfig({ PORT: '0', DATA_DIR: dataDir, AUTH_JWT_SECRET: SECRET, ...env }, argv);
  try {
    const server = await createServer(config, { logger, modules: [...base, ...extraModules], host: '127.0.0.1' });
    return {
      ...server,
      logger,
      async dispose() {
        await server.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/** Signs a token like a real issuer would (HS256 unless `alg` says otherwise). */
export async function mintToken(claims: JWTPayload, options: { secret?: string; alg?: string; expiresIn?: string | number } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setIssuedAt();
  if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

/** An unsigned `alg: none` token (jose refuses to make one). */
export function unsignedToken(claims: JWTPayload): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** Sends `body` as JSON (when given) with a bearer token; the status and the parsed answer. */
export async function sendJson(url: string, method: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

export async function getJson(url: string, token?: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: token } });
  return { status: res.status, body: await res.json(), headers: res.headers };
}
