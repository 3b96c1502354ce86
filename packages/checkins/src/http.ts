import { sql } from 'kysely';
import { documentGuard, errors, objectSchema, ok, okSchema, withActor, type DocumentedRoute, type Guard } from '@swan/core';
import type { Kysely } from 'kysely';
import type { Checkins } from './types.js';
import { parseCheckInInput } from './validation.js';

export interface CheckinsRoutesOptions {
  db: Kysely<any>;
  checkins: Checkins;
  /** Guards of `POST /webhooks/twilio/sms`, run after the signature check (e.g. the `twilioWebhook` rate limit keyed by `From`). */
  webhookGuards?: readonly Guard[];
  /** Guards of `POST /api/clients/:clientId/checkins` (e.g. the `general` rate limit). */
  guards?: readonly Guard[];
  /** Body limit of the webhook in bytes (default 16 kB; Twilio's SMS webhooks are ~1–2 kB). */
  webhookBodyLimit?: number;
}

/** Checks `X-Twilio-Signature` against the public URL and the form fields: 403 `FORBIDDEN` otherwise. */
function signatureGuard(checkins: Checkins): Guard {
  return documentGuard((req) => {
    const params = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
    if (!req.rawBody || !checkins.verifySignature(req.headers['x-twilio-signature'], req.url, params)) {
      throw errors.forbidden('Twilio signature is missing or invalid');
    }
  }, { errors: ['FORBIDDEN'] });
}

const TAGS = ['checkins'];

/**
 * The check-in routes of API.md: `POST /api/clients/:clientId/checkins` (admin, assigned trainer;
 * `{ kind, scheduledFor, timezone }` → 202 `{ eventId }`) and `POST /webhooks/twilio/sms`
 * (`X-Twilio-Signature` verified first, then `webhookGuards`, answered with TwiML). Neither calls
 * Twilio's API: sending happens in the outbox handler.
 *
 * @example
 * ```ts
 * app.use(swanRouter(checkinsRoutes({ db, checkins, webhookGuards: [limiter.guard('twilioWebhook', { key: twilioSenderKey })] }), { actor, publicUrl }));
 * ```
 */
export function checkinsRoutes(options: CheckinsRoutesOptions): DocumentedRoute[] {
  const { db, checkins } = options;
  return [
    {
      method: 'POST',
      path: '/api/clients/:clientId/checkins',
      access: ['admin', 'trainer'],
      guards: options.guards ?? [],
      summary: 'Schedule a one-off SMS check-in (sent by the outbox worker)',
      tags: TAGS,
      schema: {
        params: objectSchema({ clientId: { type: 'string', format: 'uuid' } }),
        body: objectSchema({
          kind: { enum: ['morning', 'evening'] },
          scheduledFor: { type: 'string', format: 'date-time', description: 'ISO 8601 instant with an offset or Z' },
          timezone: { type: 'string', description: 'The client\'s IANA time zone, e.g. America/Los_Angeles' },
        }),
        response: { status: 202, body: okSchema({ eventId: { type: 'string', format: 'uuid' } }) },
        errors: ['NOT_FOUND', 'PROCESSING_RESTRICTED', 'UNAVAILABLE'],
      },
      async handler(req) {
        const body = (typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? req.body : null) as Record<string, unknown> | null;
        if (!body) throw errors.validation('Body must be a JSON object { kind, scheduledFor, timezone }');
        const input = { clientId: req.params.clientId, kind: body.kind, scheduledFor: body.scheduledFor, timezone: body.timezone };
        const v = parseCheckInInput(input);
        const actor = req.actor!;
        const { eventId } = await withActor(db, actor, async (trx) => {
          const { rows } = await sql<{ exists: boolean; assigned: boolean; restricted: boolean }>`
            select swan_pii_client_exists(${v.clientId}::uuid) as exists,
                   swan_is_assigned_trainer(${v.clientId}::uuid) as assigned,
                   swan_pii_client_restricted(${v.clientId}::uuid) as restricted`.execute(trx);
          const r = rows[0]!;
          if (actor.role === 'trainer' && !r.assigned) {
            throw r.exists ? errors.forbidden('This trainer is not assigned to the client') : errors.notFound('Client not found');
          }
          if (!r.exists) throw errors.notFound('Client not found');
          if (r.restricted) throw errors.processingRestricted();
          return checkins.scheduleCheckIn(trx, v);
        });
        return ok({ eventId }, 202);
      },
    },
    {
      method: 'POST',
      path: '/webhooks/twilio/sms',
      access: 'public',
      body: 'form',
      bodyLimit: options.webhookBodyLimit ?? 16 * 1024,
      summary: 'Twilio inbound SMS webhook: replies, STOP/START opt-out',
      tags: TAGS,
      schema: {
        headers: objectSchema({ 'x-twilio-signature': { type: 'string', description: 'X-Twilio-Signature: HMAC-SHA1 of the public URL and the form fields under the auth token' } }),
        body: objectSchema({ From: { type: 'string' }, Body: { type: 'string' }, MessageSid: { type: 'string' }, SmsSid: { type: 'string' } }, ['From']),
        response: { content: { 'text/xml; charset=utf-8': { type: 'string', description: 'TwiML' } } },
      },
      guards: [signatureGuard(checkins), ...(options.webhookGuards ?? [])],
      async handler(req) {
        const result = await checkins.receive(req.body as Record<string, unknown>);
        return { status: 200, body: result.twiml, contentType: 'text/xml; charset=utf-8' };
      },
    },
  ];
}
