// Helpers of retention rules (the RetentionRule contract is in contracts.ts).
import { sql, type Kysely } from 'kysely';

/**
 * Removes rows batch by batch: calls `batch` (which removes at most `batchSize` rows, each call
 * its own statement or transaction, so a long run never holds many row locks) until one removes
 * fewer than `batchSize`. Returns the rows removed in all.
 *
 * @example
 * ```ts
 * const removed = await pruneInBatches(500, async () => {
 *   const r = await sql`delete from coach_notes where id in (select id from coach_notes where created_at < ${cutoff} limit 500)`.execute(db);
 *   return Number(r.numAffectedRows ?? 0);
 * });
 * ```
 */
export async function pruneInBatches(batchSize: number, batch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await batch();
    total += n;
    if (n < batchSize) return total;
  }
}

/**
 * True when the SQL function with this signature exists (e.g.
 * `swan_billing_prune_stripe_events(timestamptz, integer)`): a retention rule whose package's
 * migrations did not run counts 0 instead of failing.
 *
 * @example
 * ```ts
 * if (!(await sqlFunctionExists(db, 'swan_checkins_prune_messages(timestamptz, integer)'))) return 0;
 * ```
 */
export async function sqlFunctionExists(db: Kysely<any>, signature: string): Promise<boolean> {
  const { rows } = await sql<{ f: string | null }>`select to_regprocedure(${signature})::text as f`.execute(db);
  return Boolean(rows[0]?.f);
}
