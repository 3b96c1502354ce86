import { createHmac } from 'node:crypto';
import { createRateLimiter, rateLimitRoutes, twilioSenderKey } from '@swan/ratelimit';
import type { ServerModule } from './types.js';

/**
 * Rate limits of the example server: the spec's policies (`aiQuery` 10/min, `photoUpload` 5/min,
 * `twilioWebhook` 2/min per sender, `general` 1000/15 min) in Redis when `REDIS_URL` is set, else
 * per process in memory (logged at startup). Later modules guard their routes with
 * `ctx.rateLimit(policy, key?)`; `twilioWebhook` is keyed by the sender's phone number unless the
 * caller passes a key. Alerts go through the outbox when installed. Mounts
 * `GET /api/admin/rate-limit/violators` (admin), itself under `general`.
 */
export const ratelimitModule: ServerModule = {
  name: 'ratelimit',
  async setup(ctx) {
    const { config, logger } = ctx;
    const indexKey = config.env.SWAN_INDEX_KEY;
    const limiter = createRateLimiter({
      // 100 ms bounds a hung Redis; a shorter timeout fails `aiQuery` closed spuriously on an overloaded host.
      ...(config.redisUrl ? { redis: config.redisUrl, commandTimeoutMs: 100 } : {}),
      ...(ctx.events ? { events: ctx.events, db: ctx.db } : {}),
      // Pseudonyms of IPs and phone numbers: keyed with a secret derived from the deployment's index key.
      ...(indexKey ? { pseudonymSecret: createHmac('sha256', Buffer.from(indexKey, 'base64')).update('swan-ratelimit-pseudonyms').digest() } : {}),
      onAlert: (alert) => logger.warn('rate-limit alert: frequent violator', { ...alert }),
      onError: (error, context) => logger.warn(`rate limiter ${context} error`, { error: error.message }),
    });
    if (limiter.store === 'memory') {
      logger.warn('rate limits: in-memory store, counted per process (development only; set REDIS_URL to share limits between instances)');
    } else {
      logger.info('rate limits: Redis store', { connected: await limiter.ready(2000) });
    }
    ctx.rateLimit = (policy, key) => limiter.guard(policy, { key: key ?? (policy === 'twilioWebhook' ? twilioSenderKey : undefined) });
    ctx.services.ratelimit = limiter;
    return {
      routes: rateLimitRoutes(limiter, { guards: [limiter.guard('general')] }),
      health: () => ({ redis: limiter.health() }),
      stop: () => limiter.close(),
    };
  },
};
