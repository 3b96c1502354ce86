import { randomUUID } from 'node:crypto';
import { errors, objectSchema, ok, okSchema, withActor, type DocumentedRoute, type Guard, type SwanRequest } from '@swan/core';
import type { ServerContext, ServerModule } from './types.js';

/** What this module uses of the consent and billing services. */
interface ConsentGuards { requireConsent(type: 'ai_processing' | 'photo_analysis'): Guard }
interface TierGuards { requireTier(tier: 'tier_1' | 'tier_2' | 'tier_3'): Guard }

const MAX_QUERY = 4000;
const OBJECT_KEY = /^[A-Za-z0-9][A-Za-z0-9_\-./]{0,511}$/;
const accepted = okSchema({ eventId: { type: 'string', format: 'uuid' } });

function field(req: SwanRequest, name: string): unknown {
  return req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>)[name] : undefined;
}

/**
 * The AI-facing routes of API.md. They do no AI work on the request path: after the rate limit,
 * restriction (403 `PROCESSING_RESTRICTED`, checked by the consent guard), consent and (for the AI query) subscription guards they publish an outbox event in the request's transaction and
 * answer 202 with its id. Events carry ids only — the query text and the photo itself stay in the
 * host's own storage (an AI query can contain health data; events never do).
 */
function aiRoutes(ctx: ServerContext, consent: ConsentGuards, billing: TierGuards | undefined): DocumentedRoute[] {
  const events = ctx.events;
  // API.md: the AI query needs consent and a subscription tier; the photo upload needs consent only
  const guards = (policy: string, consentType: 'ai_processing' | 'photo_analysis', tier: boolean): Guard[] => [
    ...(ctx.rateLimit ? [ctx.rateLimit(policy)] : []),
    consent.requireConsent(consentType),
    ...(tier && billing ? [billing.requireTier('tier_1')] : []),
  ];
  const accept = async (req: SwanRequest, eventType: string, payload: Record<string, unknown>) => {
    if (!events) throw errors.unavailable('The outbox is not installed');
    const actor = req.actor!;
    const { eventId } = await withActor(ctx.db, actor, (trx) => events.publish(trx, { eventType, aggregateType: 'client', aggregateId: actor.id, payload: { clientId: actor.id, ...payload } }));
    return ok({ eventId }, 202);
  };
  return [
    {
      method: 'POST',
      path: '/api/ai-village/query',
      access: ['client'],
      guards: guards('aiQuery', 'ai_processing', true),
      summary: 'Queue an AI query (needs ai_processing consent and a subscription)',
      tags: ['ai'],
      schema: {
        body: objectSchema({ query: { type: 'string', minLength: 1, maxLength: MAX_QUERY } }),
        response: { status: 202, body: accepted },
        errors: ['PROCESSING_RESTRICTED', 'CONSENT_REQUIRED', 'RECONSENT_REQUIRED', ...(billing ? (['SUBSCRIPTION_REQUIRED'] as const) : []), 'UNAVAILABLE'],
      },
      async handler(req) {
        const query = field(req, 'query');
        if (typeof query !== 'string' || query.trim() === '' || query.length > MAX_QUERY) {
          throw errors.validation(`query must be a non-empty string of at most ${MAX_QUERY} characters`, [{ path: '/query' }]);
        }
        return accept(req, 'ai_query_submitted', { queryId: randomUUID() });
      },
    },
    {
      method: 'POST',
      path: '/api/photo-upload',
      access: ['client'],
      guards: guards('photoUpload', 'photo_analysis', false),
      summary: 'Queue the analysis of an uploaded photo (needs photo_analysis consent)',
      tags: ['ai'],
      schema: {
        body: objectSchema({ objectKey: { type: 'string', pattern: OBJECT_KEY.source, description: 'Storage key of the uploaded photo' } }),
        response: { status: 202, body: accepted },
        errors: ['PROCESSING_RESTRICTED', 'CONSENT_REQUIRED', 'RECONSENT_REQUIRED', 'UNAVAILABLE'],
      },
      async handler(req) {
        const objectKey = field(req, 'objectKey');
        if (typeof objectKey !== 'string' || !OBJECT_KEY.test(objectKey) || objectKey.includes('..')) {
          throw errors.validation('objectKey must be the storage key of the uploaded photo (letters, digits, _ - . /)', [{ path: '/objectKey' }]);
        }
        return accept(req, 'photo_analysis_requested', { photoId: randomUUID(), objectKey });
      },
    },
  ];
}

/**
 * `POST /api/ai-village/query` and `POST /api/photo-upload`. Needs the consent module (and uses
 * billing's `requireTier` and the rate limits when installed). The example has no AI backend: its
 * outbox handlers log the event id, standing in for the host's AI workers.
 */
export const aiModule: ServerModule = {
  name: 'ai',
  setup(ctx) {
    const consent = ctx.services.consent as ConsentGuards | undefined;
    if (!consent) throw new Error('The ai module needs the consent module before it');
    for (const eventType of ['ai_query_submitted', 'photo_analysis_requested']) {
      ctx.onEvent?.(eventType, async (event) => ctx.logger.info('ai: request queued for the AI service', { eventType, eventId: event.eventId }));
    }
    return { routes: aiRoutes(ctx, consent, ctx.services.billing as TierGuards | undefined) };
  },
};
