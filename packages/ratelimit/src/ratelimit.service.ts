import type { Kysely } from 'kysely';
import { Redis } from 'ioredis';
import { errors, type Actor, type EventPublisher, type Guard, type GuardContext } from '@swan/core';
import { clientKey, Pseudonymizer, type KeyFunction } from './keys.js';
import { resolvePolicies, type PolicyOverride, type RateLimitPolicy } from './policies.js';
import { MemoryStore, RedisStore, redisClientOptions, type Hit, type HitResult, type Violator } from './stores.js';
import { recordDecision } from './telemetry.js';

/**
 * Where a decision came from. `insurance`, `fail-open` and `fail-closed` mean Redis was unreachable.
 *
 * @example
 * ```ts
 * if ((await limiter.consume('general', key)).source !== 'redis') metrics.increment('ratelimit.degraded');
 * ```
 */
export type DecisionSource = 'redis' | 'memory' | 'insurance' | 'fail-open' | 'fail-closed';

/**
 * The outcome of one request against a policy.
 *
 * @example
 * ```ts
 * const d = await limiter.consume('aiQuery', `actor:${actor.id}`, actor);
 * if (!d.allowed) console.log(`retry in ${d.resetSeconds}s`);
 * ```
 */
export interface RateLimitDecision {
  allowed: boolean;
  policy: string;
  /** Requests per window for this key (after tier overrides). */
  limit: number;
  remaining: number;
  /** Seconds until the window resets (the `t` of the `RateLimit` header, `Retry-After` on 429). */
  resetSeconds: number;
  /** The same in milliseconds. */
  resetMs: number;
  windowSeconds: number;
  source: DecisionSource;
}

/** Options of {@link RateLimiter.topViolators}. */
export interface TopViolatorsOptions {
  /** Only keys of this policy. */
  policy?: string;
}

/**
 * Sent once per key, policy and alert window when a key's rejections reach the threshold. No PII.
 *
 * @example
 * ```ts
 * createRateLimiter({ onAlert: (a: RateLimitAlert) => pager.notify(`${a.key} hit ${a.policy} ${a.violations}×`) });
 * ```
 */
export interface RateLimitAlert {
  policy: string;
  /** Pseudonymous key: `actor:<uuid>`, or `ip:`/`phone:` followed by a keyed hash. */
  key: string;
  violations: number;
  threshold: number;
  windowSeconds: number;
  /** Start of the alert window (ISO 8601). */
  windowStart: string;
}

/**
 * Options of {@link createRateLimiter}.
 *
 * @example
 * ```ts
 * const options: RateLimiterOptions = { redis: process.env.REDIS_URL, violatorThreshold: 20, alertWindowSeconds: 3600 };
 * ```
 */
export interface RateLimiterOptions {
  /**
   * An ioredis client or a `redis://` URL. Without it counts are per process (memory store). A client
   * created from a URL uses {@link redisClientOptions} and is closed by `close()`; a client you pass
   * should use the same options (no offline queue, a command timeout) and stays yours.
   */
  redis?: Redis | string;
  /** Overrides of the built-in policies (`aiQuery`, `photoUpload`, `twilioWebhook`, `general`) or new ones. */
  policies?: Record<string, PolicyOverride>;
  /** Redis key prefix (default `swan:rl:`). */
  prefix?: string;
  /**
   * Per-actor limit for a policy (e.g. more AI queries for tier 3); `undefined` keeps the policy's.
   * May return a promise (e.g. a subscription lookup): the decision waits for it. A synchronous
   * answer adds no promise to the decision; see {@link tierLimits} for a cached lookup. A rejected
   * or invalid answer keeps the policy's limit (and a rejection is reported to `onError`).
   */
  tierOverride?: (actor: Actor, policy: string) => number | undefined | Promise<number | undefined>;
  /** Rejections of one key and policy within an alert window that raise an alert (default 10). */
  violatorThreshold?: number;
  /** Length of the violator/alert window in seconds (default 900). */
  alertWindowSeconds?: number;
  /** With `db`: alerts are published as `rate_limit_alert` events through the outbox. */
  events?: EventPublisher;
  db?: Kysely<any>;
  /** Called once per alert (after publishing). */
  onAlert?: (alert: RateLimitAlert) => void | Promise<void>;
  /** Secret for pseudonymising IP and phone keys (use a stable deployment secret). */
  pseudonymSecret?: string | Buffer;
  /** Redis command timeout for a client created from a URL (default 50 ms; the example server uses 100 ms). */
  commandTimeoutMs?: number;
  /** Milliseconds since the epoch (default `Date.now`); instances sharing Redis need synchronised clocks (NTP). */
  clock?: () => number;
  /** Store and alert failures (Redis down, publish failed). Default: a throttled `console.warn`. */
  onError?: (error: Error, context: 'redis' | 'alert' | 'tierOverride') => void;
}

/**
 * A running limiter.
 *
 * @example
 * ```ts
 * const limiter: RateLimiter = createRateLimiter();
 * const top = await limiter.topViolators(5);
 * await limiter.close();
 * ```
 */
export interface RateLimiter {
  /** `redis` (shared, exact across instances) or `memory` (per process). */
  readonly store: 'redis' | 'memory';
  /** The resolved policies. */
  readonly policies: ReadonlyMap<string, Readonly<RateLimitPolicy>>;
  /** Counts one request of `key` against `policy`. */
  consume(policy: string, key: string, actor?: Actor | null): Promise<RateLimitDecision>;
  /**
   * A route guard: sets the rate-limit headers and throws `RATE_LIMITED` (or `UNAVAILABLE` when
   * failing closed). Several limit guards on one request add their policies to the same
   * `RateLimit-Policy` and `RateLimit` lists instead of replacing each other's.
   */
  guard(policy: string, options?: { key?: KeyFunction }): Guard;
  /** Keys with the most rejections in the current alert window, across all policies or one. */
  topViolators(n?: number, options?: TopViolatorsOptions): Promise<Violator[]>;
  /** Resolves once Redis is connected, false after `ms` without it (always true for the memory store). */
  ready(ms?: number): Promise<boolean>;
  /** `memory` for the per-process store, else whether Redis is connected right now (`ok` / `down`). */
  health(): 'memory' | 'ok' | 'down';
  /** Violator settings, for display. */
  readonly alertWindowSeconds: number;
  readonly violatorThreshold: number;
  close(): Promise<void>;
}

const DEFAULT_SECRET = 'swan-ratelimit-pseudonyms';

const policyItem = (d: RateLimitDecision) => `"${d.policy}";q=${d.limit};w=${d.windowSeconds}`;
const limitItem = (d: RateLimitDecision) => `"${d.policy}";r=${d.remaining};t=${d.resetSeconds}`;

/**
 * `RateLimit-Policy` and `RateLimit` headers of a decision (draft-ietf-httpapi-ratelimit-headers-10),
 * both always present (also when Redis is down: `fail-closed` reports `r=0;t=1`, `fail-open` the
 * full limit, since nothing was counted), plus `Retry-After` when the request is refused.
 *
 * @example
 * ```ts
 * rateLimitHeaders(decision); // { 'RateLimit-Policy': '"aiQuery";q=10;w=60', RateLimit: '"aiQuery";r=7;t=42' }
 * ```
 */
export function rateLimitHeaders(d: RateLimitDecision): Record<string, string> {
  const headers: Record<string, string> = { 'RateLimit-Policy': policyItem(d), RateLimit: limitItem(d) };
  if (!d.allowed) headers['Retry-After'] = String(d.resetSeconds);
  return headers;
}

/** What earlier limit guards already put on a response: its header lists. */
interface SentLists {
  policy: string;
  limit: string;
}

/** Per response (the adapters give every guard of one request the same context): the lists so far. */
const sentLists = new WeakMap<GuardContext, SentLists>();

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer`);
  return value;
}

function throttledWarn(): (error: Error, context: string) => void {
  let last = 0;
  return (error, context) => {
    const now = Date.now();
    if (now - last < 10_000) return;
    last = now;
    console.warn(`[@swan/ratelimit] ${context}: ${error.message}`);
  };
}

function decision(policy: string, windowSeconds: number, limit: number, count: number | undefined, resetMs: number, source: DecisionSource): RateLimitDecision {
  return recorded({
    allowed: count === undefined ? source === 'fail-open' : count <= limit,
    policy,
    limit,
    // Nothing was counted: fail-open admits with the whole limit left, fail-closed refuses.
    remaining: count === undefined ? (source === 'fail-open' ? limit : 0) : Math.max(0, limit - count),
    resetSeconds: Math.max(1, Math.ceil(resetMs / 1000)),
    resetMs,
    windowSeconds,
    source,
  });
}

/** Every decision is made by {@link decision}: counted once, there. */
function recorded(d: RateLimitDecision): RateLimitDecision {
  recordDecision(d);
  return d;
}

/**
 * Creates a limiter over Redis (shared by every app instance) or process memory.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter({ redis: process.env.REDIS_URL, events: outbox, db });
 * const route: Route = { method: 'POST', path: '/api/ai-village/query', access: ['client'],
 *   guards: [limiter.guard('aiQuery')], handler };
 * const d = await limiter.consume('general', 'ip:203.0.113.9'); // { allowed, limit, remaining, resetSeconds, … }
 * ```
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const policies = resolvePolicies(options.policies);
  const threshold = positiveInt(options.violatorThreshold, 10, 'violatorThreshold');
  const alertWindowSeconds = positiveInt(options.alertWindowSeconds, 900, 'alertWindowSeconds');
  const alertWindowMs = alertWindowSeconds * 1000;
  const prefix = options.prefix ?? 'swan:rl:';
  const pseudonyms = new Pseudonymizer(options.pseudonymSecret ?? DEFAULT_SECRET);
  const onError = options.onError ?? throttledWarn();
  const clock = options.clock ?? Date.now;
  const commandTimeoutMs = positiveInt(options.commandTimeoutMs, 50, 'commandTimeoutMs');
  if (options.events && !options.db) throw new TypeError('createRateLimiter: `events` needs `db` to publish alerts in a transaction');

  let redis: RedisStore | undefined;
  if (options.redis !== undefined) {
    const owned = typeof options.redis === 'string';
    const client = typeof options.redis === 'string'
      ? new Redis(options.redis, redisClientOptions(commandTimeoutMs))
      : options.redis;
    if (owned) client.on('error', (e: Error) => onError(e, 'redis'));
    redis = new RedisStore(client, prefix, owned, (e) => onError(e, 'redis'));
  }
  // Development store without Redis; with Redis, the insurance limiter of `open` policies.
  const memory = new MemoryStore(alertWindowMs);

  const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));

  function policyOf(name: string): RateLimitPolicy {
    const p = policies.get(name);
    if (!p) throw new TypeError(`Unknown rate-limit policy ${JSON.stringify(name)}`);
    return p;
  }

  async function raiseAlert(policy: string, key: string, violations: number, window: number): Promise<void> {
    const alert: RateLimitAlert = {
      policy, key, violations, threshold, windowSeconds: alertWindowSeconds,
      windowStart: new Date(window * alertWindowMs).toISOString(),
    };
    try {
      if (options.events && options.db) {
        const events = options.events;
        await options.db.transaction().execute((trx) => events.publish(trx, {
          eventType: 'rate_limit_alert',
          payload: { ...alert },
          idempotencyKey: `rate_limit_alert:${policy}:${window}:${key}`,
        }));
      }
      await options.onAlert?.(alert);
    } catch (e) {
      onError(asError(e), 'alert');
    }
  }

  /** Resolves the key's window for `policy` now. */
  function hitFor(policyName: string, policy: RateLimitPolicy, key: string, override: unknown): Hit {
    const limit = typeof override === 'number' && Number.isSafeInteger(override) && override > 0 ? override : policy.points;
    const now = clock();
    const storeKey = pseudonyms.apply(key);
    // Fixed windows, offset per key by its phase: every instance computes the same window from the clock.
    const windowMs = policy.windowSeconds * 1000;
    const offset = Math.floor(storeKey.phase * windowMs);
    const window = Math.floor((now + offset) / windowMs);
    return {
      policy: policyName, key: storeKey.id, limit, window, windowEnd: (window + 1) * windowMs - offset,
      alertWindowMs, alertWindow: Math.floor(now / alertWindowMs), threshold, now,
    };
  }

  async function settle(hit: Hit, windowSeconds: number, res: HitResult | undefined, source: DecisionSource): Promise<RateLimitDecision> {
    if (res?.alert) await raiseAlert(hit.policy, hit.key, res.violations ?? threshold, hit.alertWindow);
    return decision(hit.policy, windowSeconds, hit.limit, res?.count, res ? hit.windowEnd - hit.now : 1000, source);
  }

  /** Redis unreachable: the policy's fail mode decides (insurance = the memory store). */
  async function fallback(hit: Hit, policy: RateLimitPolicy): Promise<RateLimitDecision> {
    if (policy.failMode === 'closed') return settle(hit, policy.windowSeconds, undefined, 'fail-closed');
    if (!policy.insurance) return settle(hit, policy.windowSeconds, undefined, 'fail-open');
    return settle(hit, policy.windowSeconds, await memory.hit(hit), 'insurance');
  }

  async function slowConsume(hit: Hit, policy: RateLimitPolicy, store: RedisStore): Promise<RateLimitDecision> {
    if (!(await store.whenReady(commandTimeoutMs))) {
      onError(new Error(`Redis is not connected; policy ${hit.policy} fails ${policy.failMode}`), 'redis');
      return fallback(hit, policy);
    }
    return redisConsume(hit, policy, store);
  }

  function redisConsume(hit: Hit, policy: RateLimitPolicy, store: RedisStore): Promise<RateLimitDecision> {
    return store.hit(hit).then(
      (res) => (res.alert ? settle(hit, policy.windowSeconds, res, 'redis')
        : decision(hit.policy, policy.windowSeconds, hit.limit, res.count, hit.windowEnd - hit.now, 'redis')),
      (e: unknown) => {
        onError(asError(e), 'redis');
        return fallback(hit, policy);
      },
    );
  }

  function decide(policyName: string, policy: RateLimitPolicy, key: string, override: unknown): Promise<RateLimitDecision> {
    let hit: Hit;
    try {
      hit = hitFor(policyName, policy, key, override);
    } catch (e) {
      return Promise.reject(asError(e));
    }
    if (!redis) return memory.hit(hit).then((res) => settle(hit, policy.windowSeconds, res, 'memory'));
    return redis.ready ? redisConsume(hit, policy, redis) : slowConsume(hit, policy, redis);
  }

  const overrideFailed = (e: unknown) => {
    onError(asError(e), 'tierOverride');
    return undefined;
  };

  // Not `async`: the common path (Redis connected, no alert, no async override) costs one promise less per decision.
  function consume(policyName: string, key: string, actor?: Actor | null): Promise<RateLimitDecision> {
    const policy = policies.get(policyName);
    if (!policy) return Promise.reject(new TypeError(`Unknown rate-limit policy ${JSON.stringify(policyName)}`));
    let override: unknown;
    try {
      override = actor && options.tierOverride ? options.tierOverride(actor, policyName) : undefined;
    } catch (e) {
      override = overrideFailed(e);
    }
    if (typeof override === 'object' && override !== null && typeof (override as PromiseLike<unknown>).then === 'function') {
      return Promise.resolve(override as PromiseLike<unknown>).then((o) => decide(policyName, policy, key, o), (e: unknown) => decide(policyName, policy, key, overrideFailed(e)));
    }
    return decide(policyName, policy, key, override);
  }

  function guard(policyName: string, guardOptions: { key?: KeyFunction } = {}): Guard {
    const policy = policyOf(policyName);
    const keyOf = guardOptions.key ?? clientKey;
    return async (req, ctx) => {
      const d = await consume(policyName, keyOf(req), req.actor);
      // Another limit guard ran on this request before: append to its lists (RFC 9651 lists).
      const before = sentLists.get(ctx);
      const lists: SentLists = before
        ? { policy: `${before.policy}, ${policyItem(d)}`, limit: `${before.limit}, ${limitItem(d)}` }
        : { policy: policyItem(d), limit: limitItem(d) };
      sentLists.set(ctx, lists);
      ctx.setHeader('RateLimit-Policy', lists.policy);
      ctx.setHeader('RateLimit', lists.limit);
      if (d.allowed) return;
      const headers: Record<string, string> = { 'RateLimit-Policy': lists.policy, RateLimit: lists.limit, 'Retry-After': String(d.resetSeconds) };
      ctx.setHeader('Retry-After', headers['Retry-After']!);
      if (d.source === 'fail-closed') {
        throw errors.unavailable('Rate limiting is temporarily unavailable. Please retry shortly.', { details: { policy: policyName, retryAfterSeconds: d.resetSeconds }, headers });
      }
      throw errors.rateLimited(d.resetSeconds, {
        message: policy.message,
        details: { policy: policyName, limit: d.limit, windowSeconds: d.windowSeconds, retryAfterSeconds: d.resetSeconds },
        headers,
      });
    };
  }

  async function topViolators(n = 10, filter: TopViolatorsOptions = {}): Promise<Violator[]> {
    const count = positiveInt(n, 10, 'n');
    if (filter.policy !== undefined) policyOf(filter.policy);
    const names = filter.policy !== undefined ? [filter.policy] : [...policies.keys()];
    const window = Math.floor(clock() / alertWindowMs);
    if (!redis) return memory.violators(names, window, count);
    try {
      return await redis.violators(names, window, count);
    } catch (e) {
      throw errors.unavailable('Violator statistics are unavailable while Redis is unreachable', { cause: e });
    }
  }

  return {
    store: redis ? 'redis' : 'memory',
    policies,
    consume,
    guard,
    topViolators,
    health: () => (redis ? (redis.ready ? 'ok' : 'down') : 'memory'),
    ready: (ms = 5000) => (redis ? redis.whenReady(ms) : Promise.resolve(true)),
    alertWindowSeconds,
    violatorThreshold: threshold,
    async close() {
      await redis?.close();
      await memory.close();
    },
  };
}
