import { sql, type Kysely } from 'kysely';
import type { RetentionRule } from '@swan/core';

const DAY = 86_400_000;

/** A retention rule of this package: `@swan/core`'s `RetentionRule`, run by `@swan/outbox`'s `runRetention`. */
export type CheckinsRetentionRule = RetentionRule;

const exists = async (db: Kysely<any>, fn: string) =>
  Boolean((await sql<{ f: string | null }>`select to_regprocedure(${fn})::text as f`.execute(db)).rows[0]?.f);

async function batches(db: Kysely<any>, fn: 'swan_checkins_prune_responses' | 'swan_checkins_prune_messages', cutoff: Date, batchSize: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await sql<{ n: number }>`select ${sql.ref(fn)}(${cutoff.toISOString()}::timestamptz, ${batchSize}::int) as n`.execute(db);
    const n = Number(rows[0]?.n ?? 0);
    total += n;
    if (n < batchSize) return total;
  }
}

async function dryCount(db: Kysely<any>, cutoff: Date, index: 1 | 2): Promise<number> {
  const { rows } = await sql<{ n: string | number }>`select (swan_checkins_count_expired(${cutoff.toISOString()}::timestamptz))[${index}::int] as n`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/**
 * Check-ins' retention rules, run in this order: `checkins.responses` (inbound replies, which may
 * hold health data; default 365 days) and `checkins.messages` (finished send records, not
 * referenced by a kept reply; default 365 days), in batches through the `swan_checkins_prune_*`
 * functions (the application role cannot delete the history itself).
 *
 * @example
 * ```ts
 * await runRetention(db, [...outboxRetentionRules(), ...checkinsRetentionRules()]); // runRetention from @swan/outbox
 * ```
 */
export function checkinsRetentionRules(options: { responsesWindowMs?: number | null; messagesWindowMs?: number | null } = {}): CheckinsRetentionRule[] {
  const ready = (db: Kysely<any>) => exists(db, 'swan_checkins_prune_messages(timestamptz, integer)');
  return [
    {
      name: 'checkins.responses',
      table: 'checkin_responses',
      defaultWindowMs: options.responsesWindowMs === undefined ? 365 * DAY : options.responsesWindowMs,
      description: 'inbound check-in replies',
      async run(db, { cutoff, batchSize, dryRun }) {
        if (!(await ready(db))) return 0;
        return dryRun ? dryCount(db, cutoff, 1) : batches(db, 'swan_checkins_prune_responses', cutoff, batchSize);
      },
    },
    {
      name: 'checkins.messages',
      table: 'checkin_messages',
      defaultWindowMs: options.messagesWindowMs === undefined ? 365 * DAY : options.messagesWindowMs,
      description: 'finished check-in SMS records (not referenced by a kept reply)',
      async run(db, { cutoff, batchSize, dryRun }) {
        if (!(await ready(db))) return 0;
        return dryRun ? dryCount(db, cutoff, 2) : batches(db, 'swan_checkins_prune_messages', cutoff, batchSize);
      },
    },
  ];
}
