import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSwanError } from '@swan/core';
import { frozenClock, redisUrl } from '@swan/test-utils';
import { createRateLimiter, type RateLimitDecision, type RateLimiter } from '../src/index.js';
import { eventually, headerContext, OwnRedis, request } from './helpers.js';

// The shared Redis only gates the suite (with CI=true a missing REDIS_URL fails); the test kills its own server.
const enabled = Boolean(redisUrl());

describe.skipIf(!enabled)('Redis outage', () => {
  let server: OwnRedis;
  let limiter: RateLimiter;
  const errors: string[] = [];

  beforeAll(async () => {
    server = await OwnRedis.start();
    limiter = createRateLimiter({
      clock: frozenClock(),
      redis: server.url,
      policies: {
        general: { points: 3, windowSeconds: 60 }, // open, with the insurance limiter
        aiQuery: { points: 3, windowSeconds: 60 }, // closed
        openBare: { points: 3, windowSeconds: 60, failMode: 'open', insurance: false },
      },
      onError: (e) => { errors.push(e.message); },
    });
    await eventually(async () => (await limiter.consume('general', 'ip:probe')).source === 'redis');
  });

  afterAll(async () => {
    await limiter?.close();
    await server?.kill();
  });

  /** Every decision during the outage must come back quickly: none may wait for Redis. */
  async function timed(policy: string, key: string): Promise<RateLimitDecision> {
    const started = performance.now();
    const d = await limiter.consume(policy, key);
    expect(performance.now() - started).toBeLessThan(100);
    return d;
  }

  it('fails open with the insurance limiter, closed for expensive policies, and recovers after a restart', async () => {
    expect(await limiter.consume('general', 'ip:10.0.0.1')).toMatchObject({ source: 'redis', remaining: 2 });
    expect(await limiter.consume('aiQuery', 'ip:10.0.0.1')).toMatchObject({ source: 'redis', remaining: 2 });

    // A Redis that accepts connections but does not answer: the command timeout bounds every decision.
    const pauser = new Redis(server.url);
    await pauser.call('CLIENT', 'PAUSE', '400', 'ALL');
    expect(await timed('general', 'ip:10.0.0.5')).toMatchObject({ allowed: true, source: 'insurance' });
    expect(await timed('aiQuery', 'ip:10.0.0.5')).toMatchObject({ allowed: false, source: 'fail-closed' });
    await pauser.call('CLIENT', 'UNPAUSE');
    pauser.disconnect();
    await eventually(async () => (await limiter.consume('openBare', 'ip:probe')).source === 'redis');

    await server.kill();
    // Requests right at the moment of the crash, while the client may still think it is connected.
    const burst = await Promise.all(Array.from({ length: 20 }, () => timed('openBare', 'ip:10.0.0.1')));
    expect(burst.every((d) => d.allowed)).toBe(true);

    // general: the per-process insurance limiter counts with the same policy (its own count from 0).
    const general = [];
    for (let i = 0; i < 4; i++) general.push(await timed('general', 'ip:10.0.0.2'));
    expect(general.map((d) => [d.allowed, d.source])).toEqual([[true, 'insurance'], [true, 'insurance'], [true, 'insurance'], [false, 'insurance']]);

    // aiQuery: refused while Redis is down, as 503 UNAVAILABLE with Retry-After.
    expect(await timed('aiQuery', 'ip:10.0.0.1')).toMatchObject({ allowed: false, source: 'fail-closed' });
    const ctx = headerContext();
    const error = await Promise.resolve(limiter.guard('aiQuery')(request({ ip: '10.0.0.1' }), ctx)).then(() => undefined, (e: unknown) => e);
    expect(isSwanError(error) && error.code).toBe('UNAVAILABLE');
    expect(isSwanError(error) && error.headers?.['Retry-After']).toBe('1');
    expect(ctx.headers['RateLimit-Policy']).toBe('"aiQuery";q=3;w=60');
    // Both fields on every limited response, also when failing closed (nothing left, retry in 1 s)…
    expect(ctx.headers.RateLimit).toBe('"aiQuery";r=0;t=1');
    expect(isSwanError(error) && error.headers).toEqual({ 'RateLimit-Policy': '"aiQuery";q=3;w=60', RateLimit: '"aiQuery";r=0;t=1', 'Retry-After': '1' });
    // …and open (nothing counted: the whole limit is left).
    const openCtx = headerContext();
    await limiter.guard('openBare')(request({ ip: '10.0.0.1' }), openCtx);
    expect(openCtx.headers).toEqual({ 'RateLimit-Policy': '"openBare";q=3;w=60', RateLimit: '"openBare";r=3;t=1' });

    // openBare: admitted without counting.
    for (let i = 0; i < 5; i++) expect(await timed('openBare', 'ip:10.0.0.3')).toMatchObject({ allowed: true, source: 'fail-open' });

    // Admin statistics say they are unavailable instead of hanging.
    const stats = await limiter.topViolators().then(() => undefined, (e: unknown) => e);
    expect(isSwanError(stats) && stats.code).toBe('UNAVAILABLE');
    expect(errors.length).toBeGreaterThan(0);

    // Restart on the same port (empty, no scripts loaded): counting in Redis again, from scratch.
    await server.start();
    await eventually(async () => (await timed('aiQuery', 'ip:10.0.0.9')).source === 'redis', 5000);
    expect(await limiter.consume('general', 'ip:10.0.0.1')).toMatchObject({ source: 'redis', remaining: 2 });
    expect(await limiter.consume('aiQuery', 'ip:10.0.0.1')).toMatchObject({ source: 'redis', allowed: true, remaining: 2 });
    // The restarted Redis has no scripts loaded: the violator script is re-sent transparently.
    for (let i = 0; i < 3; i++) await limiter.consume('aiQuery', 'ip:10.0.0.1');
    expect(await limiter.topViolators(5, { policy: 'aiQuery' })).toEqual([{ policy: 'aiQuery', key: expect.stringMatching(/^ip:/), violations: 1 }]);
  });
});
