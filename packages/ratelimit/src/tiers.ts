import { LRUCache } from 'lru-cache';
import type { Actor, Role } from '@swan/core';

/**
 * Options of {@link tierLimits}.
 *
 * @example
 * ```ts
 * const options: TierLimitsOptions = {
 *   tierOf: (actor) => billing.getActiveTier(actor.id),
 *   limits: { aiQuery: { tier_2: 20, tier_3: 30 } },
 * };
 * ```
 */
export interface TierLimitsOptions {
  /** The actor's tier (e.g. `billing.getActiveTier(actor.id)`); `null`/`undefined`: no tier. */
  tierOf: (actor: Actor) => string | null | undefined | Promise<string | null | undefined>;
  /** Policy → tier → requests per window. Policies and tiers not listed keep the policy's limit. */
  limits: Record<string, Record<string, number>>;
  /** How long one actor's looked-up tier is reused, in ms (default 30 000). */
  ttlMs?: number;
  /** Actors whose tier is kept at most (least recently used evicted first; default 10 000). */
  maxActors?: number;
  /** Only actors with these roles are looked up (default `['client']`: tiers are sold to clients). */
  roles?: readonly Role[];
}

/**
 * A `tierOverride` for {@link createRateLimiter} from an asynchronous tier lookup: the tier of each
 * actor is looked up once per `ttlMs` (concurrent requests share one lookup) and kept in an LRU
 * cache, so a cached answer is synchronous and costs the decision no promise. Policies without
 * tier limits never trigger a lookup. A failed lookup is not cached (the limiter then keeps the
 * policy's limit and reports the error to `onError`). A new subscription counts after at most `ttlMs`.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter({
 *   redis: process.env.REDIS_URL,
 *   tierOverride: tierLimits({ tierOf: (a) => billing.getActiveTier(a.id), limits: { aiQuery: { tier_2: 20, tier_3: 30 } } }),
 * });
 * ```
 */
export function tierLimits(options: TierLimitsOptions): (actor: Actor, policy: string) => number | undefined | Promise<number | undefined> {
  const ttl = options.ttlMs ?? 30_000;
  const max = options.maxActors ?? 10_000;
  if (!Number.isSafeInteger(ttl) || ttl < 1) throw new TypeError('tierLimits: ttlMs must be a positive integer');
  if (!Number.isSafeInteger(max) || max < 1) throw new TypeError('tierLimits: maxActors must be a positive integer');
  const limits = new Map<string, Map<string, number>>();
  for (const [policy, tiers] of Object.entries(options.limits)) {
    const byTier = new Map<string, number>();
    for (const [tier, n] of Object.entries(tiers)) {
      if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`tierLimits: ${policy}.${tier} must be a positive integer`);
      byTier.set(tier, n);
    }
    limits.set(policy, byTier);
  }
  const roles = new Set<string>(options.roles ?? ['client']);
  // The tier as a string, or '' for none (lru-cache does not store undefined).
  const cache = new LRUCache<string, string>({ max, ttl });
  const pending = new Map<string, Promise<string>>();

  function lookup(actor: Actor): Promise<string> {
    let p = pending.get(actor.id);
    if (!p) {
      p = Promise.resolve()
        .then(() => options.tierOf(actor))
        .then((tier) => {
          const value = tier ?? '';
          cache.set(actor.id, value);
          return value;
        })
        .finally(() => pending.delete(actor.id));
      pending.set(actor.id, p);
    }
    return p;
  }

  return (actor, policy) => {
    const byTier = limits.get(policy);
    if (!byTier || !roles.has(actor.role)) return undefined;
    const tier = cache.get(actor.id);
    if (tier !== undefined) return byTier.get(tier);
    return lookup(actor).then((t) => byTier.get(t));
  };
}
