import { createEntitlements } from './entitlements.js';
import { createErasure } from './erasure.js';
import { createPortal } from './portal.js';
import type { Billing, BillingOptions } from './types.js';
import { createWebhooks } from './webhooks.js';

export type { Billing } from './types.js';

/**
 * Creates the billing service: webhook processing, entitlements, Payment Links and the portal.
 *
 * Every handled event re-fetches the subscription from Stripe and stores that snapshot unless the
 * stored one is newer (Stripe's `event.created` against `last_event_at` first, fetch times only
 * for events of the same second). The event id is recorded in `stripe_events` by the same
 * statement that writes the row, an optimistic update of the row version read before the fetch,
 * in the transaction of the outbox events. So duplicated, racing and out-of-order deliveries all
 * converge on Stripe's current state, whatever the clocks of the app instances say.
 *
 * @example
 * ```ts
 * const billing = createBilling({
 *   db, stripe: createStripeClient({ secretKey }), webhookSecret,
 *   tiers: tiersFromEnv(process.env), events: outbox, portalReturnUrl: `${publicUrl}/pricing`,
 * });
 * const routes = billingRoutes(billing);
 * ```
 */
export function createBilling(options: BillingOptions): Billing {
  const entitlements = createEntitlements(options);
  return {
    tiers: options.tiers,
    ...createWebhooks(options),
    ...entitlements,
    ...createPortal(options, entitlements.listSubscriptions),
    ...createErasure(options),
    exportContributor: {
      name: 'subscriptions',
      async collect(trx, clientId) {
        return trx.selectFrom('client_subscriptions').selectAll().where('client_id', '=', clientId).orderBy('created_at').execute();
      },
    },
  };
}
