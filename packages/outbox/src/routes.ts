import { SwanError, checkText, isUuid, ok, type Route } from '@swan/core';
import type { Outbox } from './outbox.js';

/**
 * The admin routes of API.md: `GET /api/admin/outbox/stats`, `GET /api/admin/outbox/dead`
 * (`?limit=&eventType=`; a `limit` outside 1–1000 is 400 `VALIDATION_FAILED`),
 * `POST /api/admin/outbox/dead/:eventId/redrive` (400 `VALIDATION_FAILED` for an id that is not a
 * uuid, 404 `NOT_FOUND` unless the event exists and is dead). Admins only (403 `FORBIDDEN`).
 *
 * @example
 * ```ts
 * app.use(swanRouter(outboxRoutes(outbox)));
 * ```
 */
export function outboxRoutes(outbox: Outbox): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/admin/outbox/stats',
      access: ['admin'],
      body: 'none',
      handler: async () => {
        const stats = await outbox.stats();
        return ok({ ...stats, stats });
      },
    },
    {
      method: 'GET',
      path: '/api/admin/outbox/dead',
      access: ['admin'],
      body: 'none',
      handler: async (req) => {
        const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
          throw new SwanError({ code: 'VALIDATION_FAILED', message: 'limit must be an integer from 1 to 1000' });
        }
        const eventType = checkText(req.query.eventType, 'eventType', { max: 200 });
        const events = await outbox.dead({ limit, ...(eventType ? { eventType } : {}) });
        return ok({ events, count: events.length });
      },
    },
    {
      method: 'POST',
      path: '/api/admin/outbox/dead/:eventId/redrive',
      access: ['admin'],
      handler: async (req) => {
        const eventId = req.params.eventId ?? '';
        if (!isUuid(eventId)) throw new SwanError({ code: 'VALIDATION_FAILED', message: 'eventId must be a uuid' });
        const [redriven] = await outbox.redrive([eventId]);
        if (!redriven) throw new SwanError({ code: 'NOT_FOUND', message: 'No dead-lettered event with this id' });
        return ok({ eventId: redriven, status: 'pending' });
      },
    },
  ];
}
