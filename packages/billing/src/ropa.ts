import type { ProcessingRecord } from '@swan/core';
import { billingRetentionRules } from './retention.js';

/**
 * `@swan/billing`'s entry in the record of processing activities (GDPR Art. 30): subscriptions
 * through Stripe.
 *
 * @example
 * ```ts
 * billingProcessingRecord().processors[0]!.name; // 'Stripe'
 * ```
 */
export function billingProcessingRecord(): ProcessingRecord {
  return {
    package: 'billing',
    activity: 'Subscriptions and payments',
    purposes: ['sell and bill coaching subscriptions, and grant the features of the tier paid for'],
    dataSubjects: ['clients'],
    tables: [
      {
        table: 'client_subscriptions', holds: 'each client\'s Stripe subscriptions as last synced from webhooks',
        categories: ['tier and status', 'amounts', 'billing period dates', 'Stripe customer and subscription ids'],
        encrypted: false,
        erasure: 'kept for bookkeeping (tier, status, amounts, period dates, the subscription id webhooks are matched by); the Stripe customer and subscription item ids set to null by the client_erased handler; later webhooks for the client change nothing',
        retention: 'kept for bookkeeping',
      },
      {
        table: 'stripe_events', holds: 'ids of the Stripe events processed (webhook idempotency)',
        categories: ['event ids and types', 'subscription ids'], encrypted: false, erasure: 'kept (no personal data apart from the subscription id)',
      },
    ],
    processors: [
      {
        name: 'Stripe', purpose: 'payment processing: Payment Links checkout, subscriptions, invoices, the customer portal',
        data: ['client id (client_reference_id)', 'email (checkout prefill)', 'what the client enters at Stripe checkout: name, email, payment details'],
        notes: 'on erasure the client_erased handler cancels every subscription at once and deletes the Stripe customer',
      },
    ],
    publishes: ['subscription_activated', 'subscription_canceled', 'payment_failed'],
    consumes: ['client_erased'],
    retentionRules: billingRetentionRules(),
    measures: [
      'webhooks accepted only with a valid Stripe-Signature, each event applied once',
      'no card data reaches the application: payment happens on Stripe\'s pages',
    ],
  };
}
