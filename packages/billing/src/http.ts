import { objectSchema, ok, okSchema, type Actor, type DocumentedRoute } from '@swan/core';
import type { Billing } from './billing.service.js';
import { SUBSCRIPTION_STATUSES } from './webhooks.js';
import { TIER_IDS } from './tiers.js';

const tierId = { enum: [...TIER_IDS] } as const;
const TAGS = ['billing'];

export interface BillingRoutesOptions {
  /**
   * The client's email for `prefilled_email`, read the way the host reads PII (e.g. through
   * `@swan/pii` with an audited, purpose-stated read). Omitted from the links when absent or `null`.
   */
  clientEmail?: (actor: Actor) => Promise<string | null | undefined>;
  /** Body limit of the webhook route in bytes (default 512 kB). */
  webhookBodyLimit?: number;
}

/**
 * The billing routes of API.md: `POST /webhooks/stripe` (raw body, `Stripe-Signature` verified),
 * `GET /api/billing/payment-links` and `POST /api/stripe/create-portal-session` (clients).
 *
 * @example
 * ```ts
 * app.use(mountRoutes(billingRoutes(billing, { clientEmail: (actor) => pii.emailOf(actor) })));
 * ```
 */
export function billingRoutes(billing: Billing, options: BillingRoutesOptions = {}): DocumentedRoute[] {
  return [
    {
      method: 'POST',
      path: '/webhooks/stripe',
      access: 'public',
      body: 'raw',
      bodyLimit: options.webhookBodyLimit ?? 512 * 1024,
      summary: 'Stripe webhook: verified, idempotent subscription sync',
      tags: TAGS,
      schema: {
        headers: objectSchema({ 'stripe-signature': { type: 'string', description: 'Stripe-Signature: HMAC-SHA256 of the raw body under the webhook secret, with its timestamp' } }),
        body: { type: 'object', required: ['id', 'type'], properties: { id: { type: 'string' }, type: { type: 'string' }, data: { type: 'object' } }, description: 'A Stripe event, verified over its exact bytes' },
        response: { body: okSchema({ received: { const: true }, outcome: { enum: ['applied', 'stale', 'duplicate', 'ignored', 'unhandled'] } }) },
        errors: ['WEBHOOK_SIGNATURE_INVALID'],
      },
      async handler(req) {
        const result = await billing.handleWebhook(req.rawBody, req.headers['stripe-signature']);
        return ok({ received: true, outcome: result.outcome });
      },
    },
    {
      method: 'GET',
      path: '/api/billing/payment-links',
      access: ['client'],
      summary: 'The tiers with this client\'s Payment Link URLs, and the current subscription',
      tags: TAGS,
      schema: {
        response: {
          body: okSchema({
            tiers: {
              type: 'array',
              items: objectSchema({ id: tierId, name: { type: 'string' }, monthlyPriceUsd: { type: 'number' }, features: { type: 'array', items: { type: 'string' } }, url: { type: 'string', format: 'uri' } }),
            },
            activeTier: { enum: [...TIER_IDS, null] },
            subscription: {
              oneOf: [
                { type: 'null' },
                objectSchema({
                  tier: tierId, status: { enum: [...SUBSCRIPTION_STATUSES] }, currentPeriodEnd: { type: 'string', format: 'date-time' },
                  cancelAtPeriodEnd: { type: 'boolean' }, trialEnd: { type: ['string', 'null'], format: 'date-time' },
                }),
              ],
            },
          }),
        },
      },
      async handler(req) {
        const actor = req.actor!;
        const email = options.clientEmail ? await options.clientEmail(actor) : null;
        const [subscription] = await billing.listSubscriptions(actor, actor.id);
        return ok({
          tiers: billing.paymentLinks({ id: actor.id, email }),
          activeTier: await billing.getActiveTier(actor.id),
          subscription: subscription
            ? {
                tier: subscription.tier,
                status: subscription.status,
                currentPeriodEnd: subscription.current_period_end,
                cancelAtPeriodEnd: subscription.cancel_at_period_end,
                trialEnd: subscription.trial_end,
              }
            : null,
        });
      },
    },
    {
      method: 'POST',
      path: '/api/stripe/create-portal-session',
      access: ['client'],
      summary: 'A Stripe Customer Portal session for the calling client',
      tags: TAGS,
      schema: { body: null, response: { body: okSchema({ url: { type: 'string', format: 'uri' } }) }, errors: ['NOT_FOUND', 'UNAVAILABLE'] },
      async handler(req) {
        return ok({ url: await billing.createPortalSession(req.actor!) });
      },
    },
  ];
}
