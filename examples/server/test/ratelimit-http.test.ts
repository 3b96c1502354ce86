import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, type Route } from '@swan/core';
import { redisUrl } from '@swan/test-utils';
import { createServer, type SwanServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ratelimitModule } from '../src/modules/ratelimit.js';
import type { ServerModule } from '../src/modules/types.js';

const SECRET = 'ratelimit-test-secret-0123456789abcdef';
const url = redisUrl();
const quiet = { info() {}, warn() {}, error() {} };

/** A module of the kind later packages add: a route behind `ctx.rateLimit`. */
const limitedModule: ServerModule = {
  name: 'limited',
  setup(ctx) {
    const route: Route = {
      method: 'POST', path: '/test/limited', access: 'authenticated', body: 'none',
      guards: [ctx.rateLimit!('aiQuery')],
      handler: async () => ok({}, 202),
    };
    return { routes: [route] };
  },
};

/** An HS256 bearer token as the example server expects it (API.md, Auth). */
async function token(sub: string, role: string): Promise<string> {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, role, exp: Math.floor(Date.now() / 1000) + 300 })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

describe.each(['express', 'fastify'])('example server over HTTP (%s)', (framework) => {
  let server: SwanServer;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'swan-rl-'));
    const env = { PORT: '0', DATA_DIR: dataDir, AUTH_JWT_SECRET: SECRET, SWAN_FRAMEWORK: framework, ...(url ? { REDIS_URL: url } : {}) };
    server = await createServer(loadConfig(env), { logger: quiet, modules: [ratelimitModule, limitedModule], host: '127.0.0.1' });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sends the headers, then 429 RATE_LIMITED with Retry-After, and lists the violator for admins', async () => {
    const client = await token(randomUUID(), 'client');
    const call = () => fetch(`${server.url}/test/limited`, { method: 'POST', headers: { authorization: `Bearer ${client}` } });
    for (let r = 9; r >= 0; r--) {
      const res = await call();
      expect(res.status).toBe(202);
      expect(res.headers.get('ratelimit-policy')).toBe('"aiQuery";q=10;w=60');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"aiQuery";r=${r};t=\\d+$`));
    }
    const res = await call();
    expect(res.status).toBe(429);
    const t = /;t=(\d+)$/.exec(res.headers.get('ratelimit')!)![1];
    expect(res.headers.get('retry-after')).toBe(t);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });

    const admin = await token(randomUUID(), 'admin');
    const violators = await fetch(`${server.url}/api/admin/rate-limit/violators?policy=aiQuery`, { headers: { authorization: `Bearer ${admin}` } });
    expect(violators.status).toBe(200);
    expect(violators.headers.get('ratelimit-policy')).toBe('"general";q=1000;w=900');
    const body = await violators.json() as { violators: { key: string }[] };
    expect(body.violators.some((v) => v.key.startsWith('actor:'))).toBe(true);
    const denied = await fetch(`${server.url}/api/admin/rate-limit/violators`, { headers: { authorization: `Bearer ${client}` } });
    expect(denied.status).toBe(403);
  });

  it('reports the store in /healthz', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(await res.json()).toMatchObject({ redis: url ? 'ok' : 'memory' });
  });
});
