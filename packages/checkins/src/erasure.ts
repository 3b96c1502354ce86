import { sql, type Kysely } from 'kysely';
import type { CheckinsContext } from './context.js';
import { endSchedules } from './scheduling.js';

/**
 * Erases a client's check-in data in the erasing transaction (`trx`, the erasing admin's settings,
 * the client's PII row already tombstoned): replies (their text may hold health data) and the
 * opt-out record are deleted, daily check-ins end (their stored schedules and queued
 * occurrences are removed). The send history in `checkin_messages` stays: event
 * ids, kinds, times, statuses and Twilio SIDs, no number and no text. Idempotent.
 *
 * @example
 * ```ts
 * const pii = createPii({ db, keys, indexKey, erasureParticipants: () => [checkins.erasureParticipant()] });
 * ```
 */
export async function eraseCheckins(ctx: CheckinsContext, trx: Kysely<any>, clientId: string): Promise<void> {
  await endSchedules(ctx, trx, clientId);
  // admins may delete replies only of an erased client (migrations/checkins/0002_erasure.sql)
  await sql`delete from checkin_responses where client_id = ${clientId}::uuid`.execute(trx);
  await sql`delete from checkin_contacts where client_id = ${clientId}::uuid`.execute(trx);
}
