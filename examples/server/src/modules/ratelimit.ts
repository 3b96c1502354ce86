import { createHmac } from 'node:crypto';
import { documentGuard, type Actor } from '@swan/core';
import { createRateLimiter, rateLimitRoutes, tierLimits, twilioSenderKey } from '@swan/ratelimit';
import type { ServerModule } from './types.js';

/** What the limiter uses of `ctx.services.billing` (set later, by the billing module). */
interface TierReader {
  getActiveTier(clientId: string): Promise<string | null>;
}

/**
 * Options of {@link createRatelimitModule}.
 *
 * @example
 * ```ts
 * const options: RatelimitModuleOptions = { tierLimits: { aiQuery: { tier_2: 40, tier_3: 100 } }, tierCacheMs: 60_000 };
 * ```
 */
export interface RatelimitModuleOptions {
  /** Policy → subscription tier → requests per window (default: `aiQuery` tier_2 20/min, tier_3 30/min). */
  tierLimits?: Record<string, Record<string, number>>;
  /** How long a client's looked-up tier is reused, in ms (default 30 000): a new subscription counts after at most this. */
  tierCacheMs?: number;
  /** The limiter's clock, in milliseconds since the epoch (default `Date.now`): tests hold it still so counts never straddle a window's end. */
  clock?: () => number;
}

/** Default per-tier limits: more AI queries for the higher tiers (tier_1 keeps the policy's 10/min). */
export const DEFAULT_TIER_LIMITS: Record<string, Record<string, number>> = { aiQuery: { tier_2: 20, tier_3: 30 } };

/**
 * Rate limits of the example server: the spec's policies (`aiQuery` 10/min, `photoUpload` 5/min,
 * `twilioWebhook` 2/min per sender, `general` 1000/15 min) in Redis when `REDIS_URL` is set, else
 * per process in memory (logged at startup). Clients with an active tier_2 / tier_3 subscription
 * (`ctx.services.billing.getActiveTier`) get 20 / 30 AI queries a minute (configurable). Later modules guard their routes with
 * `ctx.rateLimit(policy, key?)`; `twilioWebhook` is keyed by the sender's phone number unless the
 * caller passes a key. Alerts go through the outbox when installed (`rate_limit_alert`: logged and
 * POSTed to `ALERT_WEBHOOK_URL`), else to the log. Mounts
 * `GET /api/admin/rate-limit/violators` (admin), itself under `general`.
 *
 * @example
 * ```ts
 * const modules = [outboxModule, createRatelimitModule({ tierLimits: { aiQuery: { tier_3: 60 } } }), …];
 * ```
 */
export function createRatelimitModule(options: RatelimitModuleOptions = {}): ServerModule {
  return {
    name: 'ratelimit',
    async setup(ctx) {
      const { config, logger } = ctx;
      const indexKey = config.env.SWAN_INDEX_KEY;
      // The billing module is set up after this one: its service is looked up when a request needs it.
      const tierOf = (actor: Actor): Promise<string | null> | null => {
        const billing = ctx.services.billing as Partial<TierReader> | undefined;
        return typeof billing?.getActiveTier === 'function' ? billing.getActiveTier(actor.id) : null;
      };
      const limiter = createRateLimiter({
        ...(options.clock ? { clock: options.clock } : {}),
        // 100 ms bounds a hung Redis; a shorter timeout fails `aiQuery` closed spuriously on an overloaded host.
        ...(config.redisUrl ? { redis: config.redisUrl, commandTimeoutMs: 100 } : {}),
        ...(ctx.events ? { events: ctx.events, db: ctx.db } : {}),
        // Pseudonyms of IPs and phone numbers: keyed with a secret derived from the deployment's index key.
        ...(indexKey ? { pseudonymSecret: createHmac('sha256', Buffer.from(indexKey, 'base64')).update('swan-ratelimit-pseudonyms').digest() } : {}),
        // Per-tier limits from the client's active subscription, cached per client for `tierCacheMs`.
        tierOverride: tierLimits({ tierOf, limits: options.tierLimits ?? DEFAULT_TIER_LIMITS, ttlMs: options.tierCacheMs ?? 30_000 }),
        // with the outbox, the rate_limit_alert event's handler logs the alert and POSTs it to ALERT_WEBHOOK_URL
        ...(ctx.events ? {} : { onAlert: (alert) => logger.warn('rate-limit alert: frequent violator', { ...alert }) }),
        onError: (error, context) => logger.warn(`rate limiter ${context} error`, { error: error.message }),
      });
      if (limiter.store === 'memory') {
        logger.warn('rate limits: in-memory store, counted per process (development only; set REDIS_URL to share limits between instances)');
      } else {
        logger.info('rate limits: Redis store', { connected: await limiter.ready(2000) });
      }
      // documented, so the OpenAPI document lists 429 on every route a limit guards
      ctx.rateLimit = (policy, key) => documentGuard(limiter.guard(policy, { key: key ?? (policy === 'twilioWebhook' ? twilioSenderKey : undefined) }), { errors: ['RATE_LIMITED'] });
      ctx.services.ratelimit = limiter;
      return {
        routes: rateLimitRoutes(limiter, { guards: [ctx.rateLimit('general')] }),
        health: () => ({ redis: limiter.health() }),
        stop: () => limiter.close(),
      };
    },
  };
}

/** The module with the default tier limits (what `modules/index.ts` mounts). */
export const ratelimitModule: ServerModule = createRatelimitModule();
