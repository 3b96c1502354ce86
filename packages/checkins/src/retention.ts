import { sql, type Kysely } from 'kysely';
import { pruneInBatches, sqlFunctionExists, type RetentionRule } from '@swan/core';

const DAY = 86_400_000;

/** A retention rule of this package: `@swan/core`'s `RetentionRule`, run by `@swan/outbox`'s `runRetention`. */
export type CheckinsRetentionRule = RetentionRule;

/** Removes (or, with `dryRun`, counts) one table's expired rows through its prune function, in batches. */
async function prune(db: Kysely<any>, table: 'responses' | 'messages', { cutoff, batchSize, dryRun }: { cutoff: Date; batchSize: number; dryRun: boolean }): Promise<number> {
  if (!(await sqlFunctionExists(db, 'swan_checkins_prune_messages(timestamptz, integer)'))) return 0;
  const at = cutoff.toISOString();
  if (dryRun) {
    const { rows } = await sql<{ n: string | number }>`select (swan_checkins_count_expired(${at}::timestamptz))[${table === 'responses' ? 1 : 2}::int] as n`.execute(db);
    return Number(rows[0]?.n ?? 0);
  }
  const fn = sql.ref(`swan_checkins_prune_${table}`);
  return pruneInBatches(batchSize, async () =>
    Number((await sql<{ n: number }>`select ${fn}(${at}::timestamptz, ${batchSize}::int) as n`.execute(db)).rows[0]?.n ?? 0));
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
  return [
    {
      name: 'checkins.responses',
      table: 'checkin_responses',
      defaultWindowMs: options.responsesWindowMs === undefined ? 365 * DAY : options.responsesWindowMs,
      description: 'inbound check-in replies',
      run: (db, options) => prune(db, 'responses', options),
    },
    {
      name: 'checkins.messages',
      table: 'checkin_messages',
      defaultWindowMs: options.messagesWindowMs === undefined ? 365 * DAY : options.messagesWindowMs,
      description: 'finished check-in SMS records (not referenced by a kept reply)',
      run: (db, options) => prune(db, 'messages', options),
    },
  ];
}
