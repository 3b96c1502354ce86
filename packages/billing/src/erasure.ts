import { sql } from 'kysely';
import { errors, isUuid } from '@swan/core';
import type Stripe from 'stripe';
import type { Billing, BillingOptions } from './types.js';
import { asService } from './webhooks.js';

/** Thrown for a `client_erased` event without a client id: retrying cannot help (`@swan/outbox` dead-letters it). */
class MalformedEvent extends Error {
  readonly permanent = true;
}

const isMissing = (error: unknown) => (error as { statusCode?: number }).statusCode === 404;
const unavailable = (what: string, error: unknown) =>
  errors.unavailable(`Stripe did not ${what}; the erasure will be retried`, { cause: error });
const toDate = (unix: number | null | undefined): Date | null => (unix == null ? null : new Date(unix * 1000));

/** What a canceled subscription tells the local row (Stripe's own times when it answered). */
interface Ended {
  status: string;
  canceledAt: Date | null;
  endedAt: Date | null;
}

/**
 * Erasure in billing (the `client_erased` outbox handler): every subscription of the client that
 * has not ended is canceled at Stripe at once (no proration, no invoice), then each Stripe customer
 * of the client is deleted (Stripe drops its name, email and payment methods). Locally the rows
 * keep tier, status, price, amounts, period and cancellation dates and the subscription id; the
 * customer and subscription-item ids become null. Later webhooks about these subscriptions are
 * acknowledged and change nothing (see webhooks.ts). Idempotent: a row without a customer id is done.
 */
export function createErasure(options: BillingOptions): Pick<Billing, 'handleClientErased'> {
  const { db, stripe } = options;

  /** Cancels one subscription now; `null` when Stripe no longer has it (or it is canceled already: Stripe answers 404). */
  async function cancel(subscriptionId: string): Promise<Stripe.Subscription | null> {
    try {
      // no idempotency key of ours: Stripe replays a cached 500 for a key for 24 hours; a second
      // cancel answers 404, which counts as done
      return await stripe.subscriptions.cancel(subscriptionId, { invoice_now: false, prorate: false });
    } catch (error) {
      if (isMissing(error)) return null;
      throw unavailable('cancel the subscription', error);
    }
  }

  async function deleteCustomer(customerId: string): Promise<void> {
    try {
      await stripe.customers.del(customerId);
    } catch (error) {
      if (!isMissing(error)) throw unavailable('delete the customer', error);
    }
  }

  return {
    async handleClientErased(event) {
      const clientId = event.payload?.clientId;
      if (!isUuid(clientId)) throw new MalformedEvent('client_erased without a client id');
      const rows = await asService(db, async (trx) => (await sql<{ id: string; stripe_subscription_id: string; stripe_customer_id: string; status: string }>`
        select id::text, stripe_subscription_id, stripe_customer_id, status from client_subscriptions
         where client_id = ${clientId}::uuid and stripe_customer_id is not null order by created_at`.execute(trx)).rows);
      if (rows.length === 0) return;

      const ended = new Map<string, Ended>();
      for (const row of rows) {
        if (row.status === 'canceled' || row.status === 'incomplete_expired') continue;
        const s = await cancel(row.stripe_subscription_id);
        ended.set(row.id, s
          ? { status: s.status, canceledAt: toDate(s.canceled_at), endedAt: toDate(s.ended_at) }
          : { status: 'canceled', canceledAt: null, endedAt: null });
      }
      for (const customer of new Set(rows.map((r) => r.stripe_customer_id))) await deleteCustomer(customer);

      const now = (options.now ?? (() => new Date()))();
      await asService(db, async (trx) => {
        for (const row of rows) {
          const e = ended.get(row.id);
          await sql`update client_subscriptions set
              stripe_customer_id = null, stripe_subscription_item_id = null, past_due_since = null,
              cancel_at_period_end = cancel_at_period_end and ${!e}::boolean,
              status = coalesce(${e?.status ?? null}::text, status),
              canceled_at = coalesce(canceled_at, ${e ? e.canceledAt ?? now : null}::timestamptz),
              ended_at = coalesce(ended_at, ${e ? e.endedAt ?? now : null}::timestamptz),
              updated_at = ${now}::timestamptz
            where id = ${row.id}::uuid`.execute(trx);
        }
      });
    },
  };
}
