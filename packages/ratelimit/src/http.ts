import { errors, objectSchema, ok, okSchema, type DocumentedRoute, type Guard } from '@swan/core';
import type { RateLimiter } from './ratelimit.service.js';

/**
 * Admin routes of the limiter: `GET /api/admin/rate-limit/violators?limit=20&policy=aiQuery` (admin
 * only) → `{ success: true, violators: [{ policy, key, violations }], windowSeconds, threshold }`.
 * Keys are pseudonymous (`actor:<uuid>`, `ip:…`/`phone:…` hashes).
 *
 * @example
 * ```ts
 * app.use(swanRouter([...rateLimitRoutes(limiter)]));
 * ```
 */
export function rateLimitRoutes(limiter: RateLimiter, options: { guards?: readonly Guard[] } = {}): DocumentedRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/admin/rate-limit/violators',
      access: ['admin'],
      body: 'none',
      summary: 'Top rate-limit violators (pseudonymous keys)',
      tags: ['ratelimit'],
      schema: {
        query: objectSchema({ limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, policy: { type: 'string', description: 'A configured policy name, e.g. aiQuery' } }, []),
        response: {
          body: okSchema({
            violators: { type: 'array', items: objectSchema({ policy: { type: 'string' }, key: { type: 'string' }, violations: { type: 'integer' } }) },
            windowSeconds: { type: 'integer' },
            threshold: { type: 'integer' },
          }),
        },
      },
      ...(options.guards ? { guards: options.guards } : {}),
      async handler(req) {
        const raw = req.query.limit ?? '20';
        const limit = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
        if (!(limit >= 1 && limit <= 100)) throw errors.validation('limit must be an integer from 1 to 100', { field: 'limit' });
        const policy = req.query.policy;
        if (policy !== undefined && !limiter.policies.has(policy)) throw errors.validation('Unknown policy', { field: 'policy', policies: [...limiter.policies.keys()] });
        const violators = await limiter.topViolators(limit, policy === undefined ? {} : { policy });
        return ok({ violators, windowSeconds: limiter.alertWindowSeconds, threshold: limiter.violatorThreshold });
      },
    },
  ];
}
