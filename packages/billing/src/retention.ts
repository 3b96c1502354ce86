import { sql } from 'kysely';
import { pruneInBatches, sqlFunctionExists, type RetentionRule } from '@swan/core';

const DAY = 86_400_000;

/** A retention rule of this package: `@swan/core`'s `RetentionRule`, run by `@swan/outbox`'s `runRetention`. */
export type BillingRetentionRule = RetentionRule;

/**
 * Billing's retention rule: `billing.stripe_events`, processed Stripe event ids (default 90 days:
 * Stripe retries a webhook for 3 days, an operator may resend an event for 30), removed in
 * batches through `swan_billing_prune_stripe_events` (the application role has no DELETE).
 *
 * @example
 * ```ts
 * await runRetention(db, [...outboxRetentionRules(), ...billingRetentionRules()]); // runRetention from @swan/outbox
 * ```
 */
export function billingRetentionRules(options: { defaultWindowMs?: number | null } = {}): BillingRetentionRule[] {
  return [{
    name: 'billing.stripe_events',
    table: 'stripe_events',
    defaultWindowMs: options.defaultWindowMs === undefined ? 90 * DAY : options.defaultWindowMs,
    description: 'processed Stripe event ids (webhook idempotency records)',
    async run(db, { cutoff, batchSize, dryRun }) {
      if (!(await sqlFunctionExists(db, 'swan_billing_prune_stripe_events(timestamptz, integer)'))) return 0;
      const at = cutoff.toISOString();
      if (dryRun) {
        const { rows } = await sql<{ n: string | number }>`select swan_billing_count_stripe_events(${at}::timestamptz) as n`.execute(db);
        return Number(rows[0]?.n ?? 0);
      }
      return pruneInBatches(batchSize, async () =>
        Number((await sql<{ n: number }>`select swan_billing_prune_stripe_events(${at}::timestamptz, ${batchSize}::int) as n`.execute(db)).rows[0]?.n ?? 0));
    },
  }];
}
