import { randomBytes } from 'node:crypto';
import type { Actor } from '@swan/core';
import { billingRoutes, createBilling, createStripeClient, migrations, tiersFromEnv } from '@swan/billing';
import { migrations as piiMigrations } from '@swan/pii';
import { pricingPageRoute } from '../pages/pricing.js';
import type { ServerModule } from './types.js';

/** What the billing module uses of `ctx.services.pii` when present: an audited email read (purpose `service_delivery`, the note sealed). */
interface PiiEmailReader {
  emailFor(actor: Actor, clientId: string, note?: string | null): Promise<string | null>;
}

/**
 * Stripe billing of the example server: `POST /webhooks/stripe`, `GET /api/billing/payment-links`,
 * `POST /api/stripe/create-portal-session` and the `GET /pricing` page. Configured by
 * `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_BASE`, `STRIPE_PAYMENT_LINK_TIER_1..3`,
 * `STRIPE_PRICE_TIER_1..3` and `PUBLIC_URL` (portal return URL). Publishes subscription events
 * through the outbox when installed; puts `requireTier` on `ctx.services.billing` for later modules.
 * Handles `client_erased` through the outbox: cancels the client's Stripe subscriptions and deletes
 * its Stripe customer.
 * Without Stripe credentials it starts, says so, and rejects every webhook delivery.
 */
export const billingModule: ServerModule = {
  name: 'billing',
  // client_subscriptions references client_profile_pii: pii's migrations first (de-duplicated by the server)
  migrations: [piiMigrations, migrations],
  setup(ctx) {
    const { env } = ctx.config;
    if (!env.STRIPE_SECRET_KEY || !env.STRIPE_WEBHOOK_SECRET) {
      ctx.logger.warn('billing: STRIPE_SECRET_KEY / STRIPE_WEBHOOK_SECRET not set: webhooks are rejected and the portal is unavailable');
    }
    const billing = createBilling({
      db: ctx.db,
      stripe: createStripeClient({ secretKey: env.STRIPE_SECRET_KEY || 'sk_test_unconfigured', apiBase: env.STRIPE_API_BASE || undefined }),
      // with no secret configured, a random one: no signature can verify
      webhookSecret: env.STRIPE_WEBHOOK_SECRET || `whsec_${randomBytes(32).toString('hex')}`,
      tiers: tiersFromEnv(env),
      ...(ctx.events ? { events: ctx.events } : {}),
      portalReturnUrl: `${ctx.config.publicUrl}/pricing`,
      logger: ctx.logger,
    });
    const pii = ctx.services.pii as Partial<PiiEmailReader> | undefined;
    const clientEmail = typeof pii?.emailFor === 'function'
      ? (actor: Actor) => pii.emailFor!(actor, actor.id, 'prefill Stripe checkout email')
      : undefined;
    if (!clientEmail) ctx.logger.info('billing: no PII email reader; Payment Links are built without prefilled_email');
    ctx.services.billing = billing;
    ctx.exportContributors.push(billing.exportContributor);
    // erasure reaches Stripe through the outbox: retried until Stripe answers, never dropped
    if (ctx.onEvent) ctx.onEvent('client_erased', (event) => billing.handleClientErased(event));
    else ctx.logger.warn('billing: no outbox: erasure does not reach Stripe (subscriptions and customers stay there)');
    return { routes: [...billingRoutes(billing, clientEmail ? { clientEmail } : {}), pricingPageRoute(billing.tiers)] };
  },
};
