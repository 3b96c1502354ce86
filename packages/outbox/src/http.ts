import { checkText, errors, isUuid, objectSchema, ok, okSchema, type DocumentedRoute, type JsonSchema } from '@swan/core';
import type { Outbox } from './outbox.service.js';

const STATUSES = ['pending', 'processing', 'completed', 'dead'] as const;
const counts = (required: readonly string[]): JsonSchema => ({ type: 'object', required: [...required], properties: Object.fromEntries(STATUSES.map((s) => [s, { type: 'integer', minimum: 0 }])) });
const statsSchema = objectSchema({
  byStatus: counts(STATUSES),
  byType: { type: 'object', additionalProperties: counts([]), description: 'Counts by event type, then status' },
  oldestPendingAgeSeconds: { type: 'number', minimum: 0 },
  dead: { type: 'integer', minimum: 0 },
});
const deadEventSchema = objectSchema({
  eventId: { type: 'string', format: 'uuid' }, eventType: { type: 'string' }, aggregateType: { type: 'string' }, aggregateId: { type: ['string', 'null'] },
  payload: { type: 'object' }, attempts: { type: 'integer' }, maxAttempts: { type: 'integer' }, lastError: { type: ['string', 'null'] },
  lastErrorAt: { type: ['string', 'null'], format: 'date-time' }, createdAt: { type: 'string', format: 'date-time' },
});
const TAGS = ['outbox'];

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
export function outboxRoutes(outbox: Outbox): DocumentedRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/admin/outbox/stats',
      access: ['admin'],
      body: 'none',
      summary: 'Outbox counts by status and type, and the oldest pending event\'s age',
      tags: TAGS,
      // the stats are also spread at the top level
      schema: { response: { body: okSchema({ stats: statsSchema }) } },
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
      summary: 'Dead-lettered events',
      tags: TAGS,
      schema: {
        query: objectSchema({ limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, eventType: { type: 'string', maxLength: 200 } }, []),
        response: { body: okSchema({ events: { type: 'array', items: deadEventSchema }, count: { type: 'integer' } }) },
      },
      handler: async (req) => {
        const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
          throw errors.validation('limit must be an integer from 1 to 1000');
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
      summary: 'Put a dead-lettered event back to pending',
      tags: TAGS,
      schema: {
        params: objectSchema({ eventId: { type: 'string', format: 'uuid' } }),
        body: null,
        response: { body: okSchema({ eventId: { type: 'string', format: 'uuid' }, status: { const: 'pending' } }) },
        errors: ['NOT_FOUND'],
      },
      handler: async (req) => {
        const eventId = req.params.eventId ?? '';
        if (!isUuid(eventId)) throw errors.validation('eventId must be a uuid');
        const [redriven] = await outbox.redrive([eventId]);
        if (!redriven) throw errors.notFound('No dead-lettered event with this id');
        return ok({ eventId: redriven, status: 'pending' });
      },
    },
  ];
}
