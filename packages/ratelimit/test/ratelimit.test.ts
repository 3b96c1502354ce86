import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createDatabase, isSwanError, ok, runRoute, toErrorResponse, type EventPublisher, type Route, type SwanError } from '@swan/core';
import { frozenClock, redisUrl } from '@swan/test-utils';
import {
  createRateLimiter, rateLimitRoutes, tierLimits, twilioSenderKey, type RateLimitAlert, type RateLimiter, type RateLimiterOptions,
} from '../src/index.js';
import { actor, headerContext, request, uniquePrefix } from './helpers.js';

const url = redisUrl();
const stores = [{ name: 'memory', redis: false }, ...(url ? [{ name: 'redis', redis: true }] : [])];

const open: RateLimiter[] = [];
// The limiters' clock stands still during each test (tests of windows passing bring their own).
let clock = frozenClock();
beforeEach(() => {
  clock = frozenClock();
});
function limiter(redis: boolean, options: RateLimiterOptions = {}): RateLimiter {
  // A generous command timeout: these tests are about counting; outage.test.ts covers the 50 ms default.
  const l = createRateLimiter({ clock, ...(redis ? { redis: url!, prefix: uniquePrefix(), commandTimeoutMs: 2000 } : {}), ...options });
  open.push(l);
  return l;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

async function rejection(p: Promise<unknown>): Promise<SwanError> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  if (!isSwanError(error)) throw new Error(`expected a SwanError, got ${String(error)}`);
  return error;
}

describe.each(stores)('rate limiter on $name', ({ redis }) => {
  it('sets RateLimit-Policy and RateLimit after each request, then 429 with Retry-After', async () => {
    const now = Date.UTC(2030, 0, 1, 12); // frozen: every request of this test is in one window
    const l = limiter(redis, { policies: { burst: { points: 3, windowSeconds: 60 } }, clock: () => now });
    const guard = l.guard('burst');
    const seen: Record<string, string>[] = [];
    for (let i = 0; i < 3; i++) {
      const ctx = headerContext();
      await guard(request(), ctx);
      seen.push(ctx.headers);
    }
    const t = Number(/;t=(\d+)$/.exec(seen[0]!.RateLimit!)![1]); // seconds left in this key's window
    expect(t).toBeGreaterThanOrEqual(1);
    expect(t).toBeLessThanOrEqual(60);
    expect(seen).toEqual([2, 1, 0].map((r) => ({ 'RateLimit-Policy': '"burst";q=3;w=60', RateLimit: `"burst";r=${r};t=${t}` })));

    const ctx = headerContext();
    const error = await rejection(Promise.resolve(guard(request(), ctx)));
    const response = toErrorResponse(error);
    expect(response.status).toBe(429);
    expect(response.body.error.code).toBe('RATE_LIMITED');
    expect(response.body.error.details).toMatchObject({ policy: 'burst', limit: 3, retryAfterSeconds: t });
    expect(response.headers).toEqual({ 'RateLimit-Policy': '"burst";q=3;w=60', RateLimit: `"burst";r=0;t=${t}`, 'Retry-After': String(t) });
    expect(ctx.headers).toEqual(response.headers);
    // Another key has its own count.
    await guard(request({ ip: '198.51.100.7' }), headerContext());
  });

  it('starts a new window when the clock passes its end', async () => {
    let now = Date.UTC(2030, 0, 1);
    const l = limiter(redis, { policies: { minute: { points: 2, windowSeconds: 60 } }, clock: () => now });
    const d = [await l.consume('minute', 'ip:10.0.0.1'), await l.consume('minute', 'ip:10.0.0.1'), await l.consume('minute', 'ip:10.0.0.1')];
    expect(d.map((x) => x.allowed)).toEqual([true, true, false]);
    expect(d.map((x) => x.resetMs)).toEqual([d[0]!.resetMs, d[0]!.resetMs, d[0]!.resetMs]);
    now += d[0]!.resetMs - 1;
    expect(await l.consume('minute', 'ip:10.0.0.1')).toMatchObject({ allowed: false, resetMs: 1, resetSeconds: 1 });
    now += 1;
    expect(await l.consume('minute', 'ip:10.0.0.1')).toMatchObject({ allowed: true, remaining: 1, resetMs: 60_000, resetSeconds: 60 });
  });

  it('resets after a real 1 s window', async () => {
    const l = limiter(redis, { policies: { short: { points: 2, windowSeconds: 1 } }, clock: Date.now });
    let first = await l.consume('short', 'ip:10.0.0.1');
    // Start the sequence early in a window so it cannot straddle a reset.
    if (first.resetMs < 500) {
      await new Promise((r) => setTimeout(r, first.resetMs + 10));
      first = await l.consume('short', 'ip:10.0.0.1');
    }
    const rest = [await l.consume('short', 'ip:10.0.0.1'), await l.consume('short', 'ip:10.0.0.1')];
    expect([first, ...rest].map((d) => d.allowed)).toEqual([true, true, false]);
    expect(rest[1]).toMatchObject({ remaining: 0, resetSeconds: 1, limit: 2, windowSeconds: 1 });
    await new Promise((r) => setTimeout(r, rest[1]!.resetMs + 10));
    expect(await l.consume('short', 'ip:10.0.0.1')).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('keys by actor when authenticated, by IP otherwise, and applies tier overrides', async () => {
    const tier3 = actor('11111111-1111-4111-8111-111111111111');
    const other = actor('22222222-2222-4222-8222-222222222222');
    const l = limiter(redis, {
      policies: { aiQuery: { points: 2 } },
      tierOverride: (a, policy) => (policy === 'aiQuery' && a.id === tier3.id ? 4 : undefined),
    });
    const guard = l.guard('aiQuery');
    const admitted = async (req: ReturnType<typeof request>) => {
      let n = 0;
      for (let i = 0; i < 6; i++) n += await Promise.resolve(guard(req, headerContext())).then(() => 1, () => 0);
      return n;
    };
    // Same IP for all three callers: the actors are still counted separately.
    expect(await admitted(request({ actor: tier3 }))).toBe(4);
    expect(await admitted(request({ actor: other }))).toBe(2);
    expect(await admitted(request())).toBe(2);
    const ctx = headerContext();
    await rejection(Promise.resolve(guard(request({ actor: tier3 }), ctx)));
    expect(ctx.headers['RateLimit-Policy']).toBe('"aiQuery";q=4;w=60');
  });

  it('keys the Twilio webhook by the sender phone number, not the IP', async () => {
    const l = limiter(redis);
    const guard = l.guard('twilioWebhook', { key: twilioSenderKey });
    const sms = (from: string) => request({ ip: '54.0.0.1', body: { From: from, Body: 'ok' } });
    await guard(sms('+15551230001'), headerContext());
    await guard(sms('+15551230001'), headerContext());
    await rejection(Promise.resolve(guard(sms('+15551230001'), headerContext())));
    await guard(sms('+15551230002'), headerContext());
  });

  it('counts violators and fires one alert per key and window, without PII', async () => {
    const alerts: RateLimitAlert[] = [];
    const options: RateLimiterOptions = {
      policies: { tight: { points: 1, windowSeconds: 60 } },
      violatorThreshold: 3,
      onAlert: (a) => { alerts.push(a); },
    };
    // Two instances sharing Redis still raise one alert between them.
    const prefix = uniquePrefix();
    const a = limiter(redis, { ...options, prefix });
    const b = redis ? limiter(redis, { ...options, prefix }) : a;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? b : a).consume('tight', 'ip:192.0.2.44')));
    expect(results.filter((d) => d.allowed)).toHaveLength(1);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ policy: 'tight', threshold: 3, violations: 3, windowSeconds: 900 });
    expect(JSON.stringify(alerts[0])).not.toContain('192.0.2.44');
    expect(alerts[0]!.key).toMatch(/^ip:[A-Za-z0-9_-]{22}$/);
    const top = await a.topViolators(5);
    expect(top).toEqual([{ policy: 'tight', key: alerts[0]!.key, violations: 19 }]);
    // A second key alerts on its own.
    for (let i = 0; i < 4; i++) await a.consume('tight', 'actor:33333333-3333-4333-8333-333333333333');
    expect(alerts.map((x) => x.key)).toEqual([alerts[0]!.key, 'actor:33333333-3333-4333-8333-333333333333']);
  });
});

describe.skipIf(!url)('rate limiter on shared Redis', () => {
  it('admits exactly the policy count across two app instances (200 concurrent requests)', async () => {
    const prefix = uniquePrefix();
    const options: RateLimiterOptions = { policies: { aiQuery: { points: 10, windowSeconds: 60 } }, prefix };
    const one = limiter(true, options);
    const two = limiter(true, options);
    const guards = [one.guard('aiQuery'), two.guard('aiQuery')];
    const caller = actor('44444444-4444-4444-8444-444444444444');
    const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => {
      const ctx = headerContext();
      return Promise.resolve(guards[i % 2]!(request({ actor: caller }), ctx)).then(
        () => ({ ok: true, headers: ctx.headers }),
        (e: SwanError) => ({ ok: false, code: e.code, headers: ctx.headers }),
      );
    }));
    const admitted = outcomes.filter((o) => o.ok);
    expect(admitted).toHaveLength(10);
    expect(new Set(outcomes.filter((o) => !o.ok).map((o) => 'code' in o && o.code))).toEqual(new Set(['RATE_LIMITED']));
    // Each admitted request saw a distinct remaining count 9..0.
    expect(admitted.map((o) => Number(/r=(\d+)/.exec(o.headers.RateLimit!)![1])).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('keeps counting violators after Redis dropped its loaded scripts (SCRIPT FLUSH)', async () => {
    const l = limiter(true, { policies: { p: { points: 1, windowSeconds: 60 } } });
    await l.consume('p', 'ip:10.1.1.1');
    expect(await l.consume('p', 'ip:10.1.1.1')).toMatchObject({ allowed: false, source: 'redis' }); // script loaded
    const admin = new Redis(url!);
    await admin.script('FLUSH');
    await admin.quit();
    expect(await l.consume('p', 'ip:10.1.1.1')).toMatchObject({ allowed: false, source: 'redis' });
    expect((await l.topViolators(1))[0]).toMatchObject({ policy: 'p', violations: 2 });
  });

  it('publishes the alert as a rate_limit_alert event in a transaction', async () => {
    const db = createDatabase();
    await sql`create table events (event_type text not null, payload jsonb not null, idempotency_key text unique)`.execute(db);
    // A minimal outbox: writes the event in the caller's transaction.
    const events: EventPublisher = {
      async publish(trx, event) {
        await sql`insert into events values (${event.eventType}, ${JSON.stringify(event.payload)}::jsonb, ${event.idempotencyKey ?? null})`.execute(trx);
        return { eventId: 'e1' };
      },
    };
    try {
      const l = limiter(true, { policies: { tight: { points: 1, windowSeconds: 60 } }, violatorThreshold: 2, events, db });
      await Promise.all(Array.from({ length: 8 }, () => l.consume('tight', 'phone:+15550001111')));
      const rows = (await sql<{ event_type: string; payload: RateLimitAlert }>`select * from events`.execute(db)).rows;
      expect(rows).toHaveLength(1);
      expect(rows[0]!.event_type).toBe('rate_limit_alert');
      expect(rows[0]!.payload).toMatchObject({ policy: 'tight', violations: 2, threshold: 2 });
      expect(JSON.stringify(rows[0])).not.toContain('5550001111');
    } finally {
      await db.destroy();
    }
  });

  it('serves the admin violators route', async () => {
    const l = limiter(true, { policies: { tight: { points: 1, windowSeconds: 60 } } });
    for (let i = 0; i < 3; i++) await l.consume('tight', 'actor:55555555-5555-4555-8555-555555555555');
    for (let i = 0; i < 2; i++) await l.consume('aiQuery', 'ip:10.9.9.9').then(() => undefined);
    const [route] = rateLimitRoutes(l);
    expect(route).toMatchObject({ method: 'GET', path: '/api/admin/rate-limit/violators', access: ['admin'] });
    const admin = actor('66666666-6666-4666-8666-666666666666', 'admin');
    const res = await route!.handler(request({ method: 'GET', actor: admin, query: { limit: '5' } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true, threshold: 10, windowSeconds: 900,
      violators: [{ policy: 'tight', key: 'actor:55555555-5555-4555-8555-555555555555', violations: 2 }],
    });
    const filtered = await route!.handler(request({ method: 'GET', actor: admin, query: { policy: 'aiQuery' } }));
    expect((filtered.body as { violators: unknown[] }).violators).toEqual([]);
    for (const query of [{ limit: '0' }, { limit: 'abc' }, { limit: '101' }, { policy: 'nope' }]) {
      const error = await rejection(route!.handler(request({ method: 'GET', actor: admin, query })));
      expect(error.code).toBe('VALIDATION_FAILED');
    }
  });
});

describe.each(stores)('rate limiter on $name: tiers, alert windows, header lists', ({ redis }) => {
  const client3 = actor('77777777-7777-4777-8777-777777777777');

  it('waits for an asynchronous tier override, and keeps the policy limit when it fails', async () => {
    const reported: string[] = [];
    const l = limiter(redis, {
      policies: { aiQuery: { points: 2 } },
      tierOverride: async (a) => {
        await new Promise((r) => setTimeout(r, 5)); // a database lookup
        if (a.id === client3.id) return 4;
        throw new Error('billing unavailable');
      },
      onError: (e, context) => { reported.push(`${context}: ${e.message}`); },
    });
    const decisions = [];
    for (let i = 0; i < 5; i++) decisions.push(await l.consume('aiQuery', `actor:${client3.id}`, client3));
    expect(decisions.map((d) => [d.allowed, d.limit, d.remaining])).toEqual([[true, 4, 3], [true, 4, 2], [true, 4, 1], [true, 4, 0], [false, 4, 0]]);
    const other = actor('88888888-8888-4888-8888-888888888888');
    expect(await l.consume('aiQuery', `actor:${other.id}`, other)).toMatchObject({ allowed: true, limit: 2 });
    expect(reported).toEqual(['tierOverride: billing unavailable']);
  });

  it('tierLimits looks a client up once per TTL, shares concurrent lookups, and skips other policies and roles', async () => {
    let lookups = 0;
    let tier: string | null = 'tier_3';
    const override = tierLimits({
      tierOf: async () => { lookups++; await new Promise((r) => setTimeout(r, 5)); return tier; },
      limits: { aiQuery: { tier_2: 20, tier_3: 30 } },
      ttlMs: 200,
    });
    const l = limiter(redis, { tierOverride: override });
    const key = `actor:${client3.id}`;
    const first = await Promise.all(Array.from({ length: 5 }, () => l.consume('aiQuery', key, client3)));
    expect(first.map((d) => d.limit)).toEqual([30, 30, 30, 30, 30]);
    expect(lookups).toBe(1);
    expect(override(client3, 'aiQuery')).toBe(30); // cached: synchronous, no promise
    expect(override(client3, 'general')).toBeUndefined();
    expect(override(actor(client3.id, 'admin'), 'aiQuery')).toBeUndefined();
    expect(lookups).toBe(1);
    tier = null; // subscription ended: seen after the TTL
    await new Promise((r) => setTimeout(r, 250));
    expect((await l.consume('aiQuery', key, client3)).limit).toBe(10);
    expect(lookups).toBe(2);
  });

  it('fires the alert once in each alert window as the clock crosses windows, through onAlert and the outbox', async () => {
    const db = createDatabase();
    await sql`create table events (event_type text not null, payload jsonb not null, idempotency_key text unique)`.execute(db);
    const events: EventPublisher = {
      async publish(trx, event) {
        await sql`insert into events values (${event.eventType}, ${JSON.stringify(event.payload)}::jsonb, ${event.idempotencyKey ?? null})`.execute(trx);
        return { eventId: event.idempotencyKey ?? 'e' };
      },
    };
    try {
      const alertWindowSeconds = 60;
      let now = Date.UTC(2031, 5, 1, 10, 0, 5); // 5 s into an alert window
      const alerts: RateLimitAlert[] = [];
      const l = limiter(redis, {
        policies: { tight: { points: 1, windowSeconds: 10 } },
        violatorThreshold: 2,
        alertWindowSeconds,
        clock: () => now,
        events,
        db,
        onAlert: (a) => { alerts.push(a); },
      });
      const key = 'ip:192.0.2.77';
      // Window 1: many rejections over several counting windows, one alert.
      for (let t = 0; t < 5; t++) {
        for (let i = 0; i < 4; i++) await l.consume('tight', key);
        now += 10_000;
      }
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.windowStart).toBe('2031-06-01T10:00:00.000Z');
      // Window 2 (the clock passed 10:01:00): again exactly one.
      now = Date.UTC(2031, 5, 1, 10, 1, 2);
      for (let t = 0; t < 5; t++) {
        for (let i = 0; i < 4; i++) await l.consume('tight', key);
        now += 10_000;
      }
      expect(alerts.map((a) => a.windowStart)).toEqual(['2031-06-01T10:00:00.000Z', '2031-06-01T10:01:00.000Z']);
      expect(alerts.every((a) => a.violations === 2 && a.key === alerts[0]!.key)).toBe(true);
      const rows = (await sql<{ event_type: string; payload: RateLimitAlert; idempotency_key: string }>`select * from events order by idempotency_key`.execute(db)).rows;
      expect(rows.map((r) => [r.event_type, r.payload.windowStart])).toEqual([
        ['rate_limit_alert', '2031-06-01T10:00:00.000Z'],
        ['rate_limit_alert', '2031-06-01T10:01:00.000Z'],
      ]);
      expect(new Set(rows.map((r) => r.idempotency_key)).size).toBe(2);
      expect(JSON.stringify(rows)).not.toContain('192.0.2.77');
    } finally {
      await db.destroy();
    }
  });

  it('lists every policy when two limit guards run on one request, and the refusing one sets Retry-After', async () => {
    const l = limiter(redis, { policies: { burst: { points: 1, windowSeconds: 60 } } });
    const route: Route = { method: 'POST', path: '/x', access: 'public', guards: [l.guard('general'), l.guard('burst')], handler: async () => ok({}) };
    const ctx = headerContext();
    await runRoute(route, request(), async () => null, ctx);
    expect(ctx.headers['RateLimit-Policy']).toBe('"general";q=1000;w=900, "burst";q=1;w=60');
    expect(ctx.headers.RateLimit).toMatch(/^"general";r=999;t=\d+, "burst";r=0;t=\d+$/);
    const again = headerContext();
    const error = await rejection(runRoute(route, request(), async () => null, again));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.headers?.['RateLimit-Policy']).toBe('"general";q=1000;w=900, "burst";q=1;w=60');
    expect(error.headers?.RateLimit).toMatch(/^"general";r=998;t=\d+, "burst";r=0;t=(\d+)$/);
    expect(error.headers?.['Retry-After']).toBe(/t=(\d+)$/.exec(error.headers!.RateLimit!)![1]);
  });
});

describe.skipIf(!url)('Redis counters', () => {
  it('expire with their window: count and expiry are set in one atomic step', async () => {
    const prefix = uniquePrefix();
    const l = limiter(true, { prefix, policies: { p: { points: 5, windowSeconds: 60 } }, clock: Date.now }); // compared with Redis's own TTLs
    const d = await l.consume('p', 'ip:10.2.2.2');
    const admin = new Redis(url!);
    try {
      const [counter] = await admin.keys(`${prefix}c:p:*`);
      expect(counter).toBeDefined();
      const ttl = await admin.pttl(counter!);
      // window end + 1 s of slack
      expect(ttl).toBeGreaterThan(d.resetMs);
      expect(ttl).toBeLessThanOrEqual(d.resetMs + 1000);
      // Many keys in one batch (one script call): each counted and expiring.
      await Promise.all(Array.from({ length: 300 }, (_, i) => l.consume('p', `ip:10.3.${i >> 8}.${i & 255}`)));
      const keys = await admin.keys(`${prefix}c:p:*`);
      expect(keys).toHaveLength(301);
      const ttls = await Promise.all(keys.map((k) => admin.pttl(k)));
      expect(ttls.every((t) => t > 0 && t <= 61_000)).toBe(true);
      const counts = await Promise.all(keys.map((k) => admin.get(k)));
      expect(counts.every((c) => c === '1')).toBe(true);
    } finally {
      await admin.quit();
    }
  });
});
