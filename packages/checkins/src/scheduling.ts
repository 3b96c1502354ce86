import { sql, type Kysely } from 'kysely';
import { asService, CHECKIN_EVENT, deactivateSchedules, type CheckinsContext } from './context.js';
import { nextDailyOccurrence } from './timezone.js';
import type { CheckInKind, Checkins } from './types.js';
import { checkDailySchedule, parseCheckInInput } from './validation.js';

/**
 * Scheduling: one-off check-ins and daily schedules, published as outbox events in the caller's
 * transaction (each occurrence at its time; a recurring one publishes the next when it runs).
 */
export function createScheduling(ctx: CheckinsContext) {
  const publishOccurrence = (trx: Kysely<any>, clientId: string, kind: CheckInKind, at: Date, timezone: string, recurring: boolean) =>
    ctx.events.publish(trx, {
      eventType: CHECKIN_EVENT[kind],
      payload: { clientId, scheduledFor: at.toISOString(), timezone, ...(recurring ? { recurring: true } : {}) },
      aggregateType: 'client',
      aggregateId: clientId,
      scheduledFor: at,
      ...(recurring ? { idempotencyKey: `checkin:${clientId}:${kind}:${at.toISOString()}` } : {}),
    });

  /** For a recurring occurrence: publishes the next one (once) or says the schedule moved on. */
  const advanceSchedule = async (clientId: string, kind: CheckInKind, at: Date): Promise<boolean> =>
    asService(ctx.db, async (trx) => {
      const { rows } = await sql<{ local_time: string; timezone: string; active: boolean; next_run_at: Date | string | null }>`
        select local_time, timezone, active, next_run_at from checkin_schedules
         where client_id = ${clientId}::uuid and kind = ${kind} for update`.execute(trx);
      const s = rows[0];
      if (!s || !s.active || s.next_run_at === null) return false;
      const { rows: live } = await sql<{ live: boolean }>`select swan_pii_client_exists(${clientId}::uuid) as live`.execute(trx);
      if (!live[0]?.live) {
        // soft-deleted or erased: the schedule ends instead of re-publishing a dead occurrence daily
        await deactivateSchedules(trx, clientId);
        return false;
      }
      const current = new Date(s.next_run_at).getTime();
      if (current > at.getTime()) return true; // already advanced by an earlier run of this event
      if (current < at.getTime()) return false; // superseded: the schedule was replaced
      const next = nextDailyOccurrence(s.local_time, s.timezone, at);
      await sql`update checkin_schedules set next_run_at = ${next.toISOString()}::timestamptz, updated_at = now()
                 where client_id = ${clientId}::uuid and kind = ${kind}`.execute(trx);
      await publishOccurrence(trx, clientId, kind, next, s.timezone, true);
      return true;
    });

  const api: Pick<Checkins, 'scheduleCheckIn' | 'setDailySchedule' | 'cancelDailySchedule'> = {
    async scheduleCheckIn(trx, input) {
      const v = parseCheckInInput(input);
      const { eventId } = await publishOccurrence(trx, v.clientId, v.kind, v.scheduledFor, v.timezone, false);
      return { eventId };
    },
    async setDailySchedule(trx, input) {
      checkDailySchedule(input);
      const clientId = input.clientId.toLowerCase();
      const next = nextDailyOccurrence(input.localTime, input.timezone, ctx.now());
      await sql`insert into checkin_schedules (client_id, kind, local_time, timezone, active, next_run_at)
        values (${clientId}::uuid, ${input.kind}, ${input.localTime}, ${input.timezone}, true, ${next.toISOString()}::timestamptz)
        on conflict (client_id, kind) do update set local_time = excluded.local_time, timezone = excluded.timezone,
          active = true, next_run_at = excluded.next_run_at, updated_at = now()`.execute(trx);
      const { eventId } = await publishOccurrence(trx, clientId, input.kind, next, input.timezone, true);
      return { eventId, nextRunAt: next };
    },
    async cancelDailySchedule(trx, clientId, kind) {
      const r = await sql`update checkin_schedules set active = false, next_run_at = null, updated_at = now()
        where client_id = ${clientId}::uuid and kind = ${kind} and active`.execute(trx);
      return Number(r.numAffectedRows ?? 0) > 0;
    },
  };
  return { ...api, advanceSchedule };
}
