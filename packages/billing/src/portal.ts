import { errors } from '@swan/core';
import { paymentLinkFor } from './tiers.js';
import type { Billing, BillingOptions } from './types.js';

/** Payment Links per tier (with the client's reference) and Customer Portal sessions. */
export function createPortal(options: BillingOptions, listSubscriptions: Billing['listSubscriptions']): Pick<Billing, 'paymentLinks' | 'createPortalSession'> {
  const { stripe, tiers } = options;
  return {
    paymentLinks(client) {
      return tiers.map(({ paymentLinkUrl, priceId: _priceId, ...tier }) => ({ ...tier, url: paymentLinkFor(client, { paymentLinkUrl }) }));
    },

    async createPortalSession(actor) {
      const [latest] = await listSubscriptions(actor, actor.id);
      if (!latest?.stripe_customer_id) throw errors.notFound('No subscription found');
      try {
        const session = await stripe.billingPortal.sessions.create({ customer: latest.stripe_customer_id, return_url: options.portalReturnUrl });
        return session.url;
      } catch (error) {
        throw errors.unavailable('Stripe Customer Portal is unavailable', { cause: error });
      }
    },
  };
}
