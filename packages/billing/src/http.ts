import { ok, type Actor, type Route } from '@swan/core';
import type { Billing } from './billing.service.js';

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
export function billingRoutes(billing: Billing, options: BillingRoutesOptions = {}): Route[] {
  return [
    {
      method: 'POST',
      path: '/webhooks/stripe',
      access: 'public',
      body: 'raw',
      bodyLimit: options.webhookBodyLimit ?? 512 * 1024,
      async handler(req) {
        const result = await billing.handleWebhook(req.rawBody, req.headers['stripe-signature']);
        return ok({ received: true, outcome: result.outcome });
      },
    },
    {
      method: 'GET',
      path: '/api/billing/payment-links',
      access: ['client'],
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
      async handler(req) {
        return ok({ url: await billing.createPortalSession(req.actor!) });
      },
    },
  ];
}
