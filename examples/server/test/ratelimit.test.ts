import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { sql } from 'kysely';
import { ok, type Route } from '@swan/core';
import { expressGuard } from '@swan/express';
import { fastifyGuard } from '@swan/fastify';
import { createRateLimiter } from '@swan/ratelimit';
import { ratelimitModule } from '../src/modules/ratelimit.js';
import type { ServerModule } from '../src/modules/types.js';
import { frozenClock } from '@swan/test-utils';
import { bootServer, mintToken, withFrozenRateLimits, type TestServer } from './helpers.js';

/** Public routes behind the server's limits: one `general` guard, and `general` + `photoUpload` on one route. */
const publicLimited: ServerModule = {
  name: 'public-limited',
  setup(ctx) {
    const route = (path: string, guards: Route['guards']): Route => ({ method: 'GET', path, access: 'public', body: 'none', guards, handler: async () => ok({}) });
    return { routes: [route('/test/public', [ctx.rateLimit!('general')]), route('/test/two-limits', [ctx.rateLimit!('general'), ctx.rateLimit!('photoUpload')])] };
  },
};

const remaining = (res: Response) => Number(/^"general";r=(\d+);/.exec(res.headers.get('ratelimit') ?? '')?.[1]);

describe.each(['express', 'fastify'])('rate limits of the example server on %s', (framework) => {
  let trusting: TestServer;
  let direct: TestServer;
  beforeAll(async () => {
    [trusting, direct] = await Promise.all([
      bootServer({ SWAN_FRAMEWORK: framework, TRUST_PROXY: 'loopback' }, [], [publicLimited], withFrozenRateLimits([ratelimitModule])),
      bootServer({ SWAN_FRAMEWORK: framework }, [], [publicLimited], withFrozenRateLimits([ratelimitModule])),
    ]);
  });
  afterAll(async () => {
    await Promise.all([trusting?.dispose(), direct?.dispose()]);
  });

  const from = (server: TestServer, forwardedFor: string, path = '/test/public') => fetch(`${server.url}${path}`, { headers: { 'x-forwarded-for': forwardedFor } });

  it('keys unauthenticated limits by the X-Forwarded-For client with TRUST_PROXY, by the socket address without', async () => {
    // Behind a trusted proxy (the test connects from loopback): each forwarded client has its own count.
    expect(remaining(await from(trusting, '203.0.113.1'))).toBe(999);
    expect(remaining(await from(trusting, '203.0.113.2'))).toBe(999);
    expect(remaining(await from(trusting, '203.0.113.1'))).toBe(998);
    // Without TRUST_PROXY the header is ignored: everyone from this socket address shares one count.
    expect(remaining(await from(direct, '203.0.113.1'))).toBe(999);
    expect(remaining(await from(direct, '203.0.113.2'))).toBe(998);
    expect(remaining(await from(direct, '198.51.100.9'))).toBe(997);
  });

  it('lists both policies when two limits guard one route', async () => {
    const res = await from(direct, '192.0.2.1', '/test/two-limits');
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-policy')).toBe('"general";q=1000;w=900, "photoUpload";q=5;w=60');
    expect(res.headers.get('ratelimit')).toMatch(/^"general";r=\d+;t=\d+, "photoUpload";r=4;t=\d+$/);
  });
});

describe('two limit guards on a host route (expressGuard, fastifyGuard)', () => {
  it('append to the header lists instead of replacing each other, and the refusal carries both', async () => {
    // One limiter per framework (both are called from 127.0.0.1).
    const policies = { outer: { points: 5, windowSeconds: 60 }, inner: { points: 1, windowSeconds: 30 } };
    const clock = frozenClock(); // both requests in one window
    const limiter = createRateLimiter({ policies, clock });
    const limiter2 = createRateLimiter({ policies, clock });
    const expected = '"outer";q=5;w=60, "inner";q=1;w=30';
    const app = express();
    app.get('/host', expressGuard(limiter.guard('outer')), expressGuard(limiter.guard('inner')), (_req, res) => { res.json({ ok: true }); });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const fastify = Fastify();
    fastify.get('/host', { preHandler: [fastifyGuard(limiter2.guard('outer')), fastifyGuard(limiter2.guard('inner'))] }, async () => ({ ok: true }));
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    try {
      for (const port of [(server.address() as AddressInfo).port, (fastify.server.address() as AddressInfo).port]) {
        const first = await fetch(`http://127.0.0.1:${port}/host`);
        expect(first.status).toBe(200);
        expect(first.headers.get('ratelimit-policy')).toBe(expected);
        const second = await fetch(`http://127.0.0.1:${port}/host`);
        expect(second.status).toBe(429);
        expect(second.headers.get('ratelimit-policy')).toBe(expected);
        expect(second.headers.get('ratelimit')).toMatch(/^"outer";r=\d;t=\d+, "inner";r=0;t=(\d+)$/);
        expect(second.headers.get('retry-after')).toBe(/t=(\d+)$/.exec(second.headers.get('ratelimit')!)![1]);
      }
    } finally {
      server.close();
      await fastify.close();
      await limiter.close();
      await limiter2.close();
    }
  });
});

describe('per-tier AI query limits from the billing subscription', () => {
  let server: TestServer;
  const post = async (path: string, token: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any, headers: res.headers };
  };
  beforeAll(async () => {
    server = await bootServer({ RUN_WORKERS: 'false' }, [], [], withFrozenRateLimits());
  });
  afterAll(() => server?.dispose());

  async function newClient(admin: string): Promise<{ id: string; token: string }> {
    const created = await post('/api/clients', admin, {
      pii: { full_name: 'Tier Example', date_of_birth: '1990-01-01', email: `tier-${randomUUID()}@example.org`, emergency_contact: { name: 'Sam', relationship: 'friend', phone: '+14155550101' } },
      training: { gender: 'Male', height_inches: 70 },
    });
    expect(created.status).toBe(201);
    const id = created.body.client.clientId as string;
    return { id, token: await mintToken({ sub: id, role: 'client' }, { expiresIn: '10m' }) };
  }

  async function subscribe(clientId: string, tier: string): Promise<void> {
    const now = new Date();
    const later = new Date(now.getTime() + 30 * 86400_000);
    const sub = `sub_${randomUUID()}`;
    await sql`insert into client_subscriptions (client_id, tier, status, stripe_subscription_id, stripe_customer_id, stripe_price_id,
                stripe_subscription_item_id, monthly_price_usd, billing_cycle_start, current_period_start, current_period_end, last_event_at, synced_at)
              values (${clientId}, ${tier}, 'active', ${sub}, ${`cus_${sub}`}, 'price_x', ${`si_${sub}`}, 50, ${now}, ${now}, ${later}, ${now}, ${now})`.execute(server.ctx.db);
  }

  it('gives a tier_3 client 30 aiQuery requests a minute, tier_2 20, others the policy’s 10', async () => {
    const admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '10m' });
    const [t3, t2, none] = [await newClient(admin), await newClient(admin), await newClient(admin)];
    await subscribe(t3.id, 'tier_3');
    await subscribe(t2.id, 'tier_2');
    const policyOf = async (token: string) => (await post('/api/ai-village/query', token, { query: 'hello' })).headers.get('ratelimit-policy');
    expect(await policyOf(t3.token)).toBe('"aiQuery";q=30;w=60');
    expect(await policyOf(t2.token)).toBe('"aiQuery";q=20;w=60');
    expect(await policyOf(none.token)).toBe('"aiQuery";q=10;w=60');
    // The tier_3 client really gets 30: 29 more are counted, the 31st is refused.
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await post('/api/ai-village/query', t3.token, { query: `q${i}` })).status);
    expect(statuses.slice(0, 29).every((s) => s !== 429)).toBe(true);
    expect(statuses[29]).toBe(429);
  });
});
