import { sql, type Kysely } from 'kysely';
import { errors, type StoredSchedule } from '@swan/core';
import { asService, CHECKIN_EVENT, CHECKIN_KINDS, type CheckinsContext } from './context.js';
import type { CheckInKind, Checkins } from './types.js';
import { checkDailySchedule, parseCheckInInput } from './validation.js';

/**
 * The name of a client's daily check-in in the schedule store: `checkin:<clientId>:<kind>`. Each
 * occurrence is an outbox event keyed `schedule:checkin:<clientId>:<kind>:<slot ISO time>`.
 *
 * @example
 * ```ts
 * checkinScheduleName('7d0f4c38-5a6c-4f3e-9d53-0c6a8f1e2b11', 'morning'); // 'checkin:7d0f4c38-…:morning'
 * ```
 */
export const checkinScheduleName = (clientId: string, kind: CheckInKind): string => `checkin:${clientId.toLowerCase()}:${kind}`;

/**
 * The stored schedule of a daily check-in: every day at `localTime` in `timezone` (croner's
 * reading: a time skipped by a daylight-saving jump runs when the clock resumes, a time that
 * occurs twice runs once), one `<kind>_checkin_scheduled` event whose `scheduledFor` is the slot.
 *
 * @example
 * ```ts
 * dailyCheckinSchedule(clientId, 'morning', '07:00', 'America/Los_Angeles').cron; // '0 7 * * *'
 * ```
 */
export function dailyCheckinSchedule(clientId: string, kind: CheckInKind, localTime: string, timezone: string): StoredSchedule {
  const [hour, minute] = localTime.split(':').map(Number);
  const id = clientId.toLowerCase();
  return {
    name: checkinScheduleName(id, kind),
    cron: `${minute} ${hour} * * *`,
    timezone,
    eventType: CHECKIN_EVENT[kind],
    payload: { clientId: id, timezone, recurring: true, localTime },
    slotField: 'scheduledFor',
    aggregateType: 'client',
    aggregateId: id,
  };
}

/**
 * Ends a client's daily check-ins (the client is gone, or asked to stop): the record is
 * deactivated and the stored schedules with their queued occurrences removed, in `trx`.
 */
export async function endSchedules(ctx: CheckinsContext, trx: Kysely<any>, clientId: string, kinds: readonly CheckInKind[] = CHECKIN_KINDS): Promise<boolean> {
  const r = await sql`update checkin_schedules set active = false, updated_at = now()
     where client_id = ${clientId}::uuid and kind = any(${[...kinds]}::text[]) and active`.execute(trx);
  for (const kind of kinds) await ctx.schedules?.remove(trx, checkinScheduleName(clientId, kind));
  return Number(r.numAffectedRows ?? 0) > 0;
}

/**
 * Scheduling: one-off check-ins published as outbox events in the caller's transaction, and daily
 * check-ins kept by the schedule store (`options.schedules`, the outbox's recurring schedules).
 */
export function createScheduling(ctx: CheckinsContext) {
  const store = () => {
    if (!ctx.schedules) throw errors.configInvalid('Daily check-ins need a schedule store: createCheckins({ schedules: createScheduleStore({ outbox }) })');
    return ctx.schedules;
  };

  /**
   * For an occurrence of a daily check-in: true when it is still wanted (the schedule is active,
   * unchanged, and the client is live). Each occurrence also makes sure the next one is queued
   * (a no-op when a worker queued it already). A client soft-deleted or erased ends the schedule.
   */
  const continueSchedule = async (clientId: string, kind: CheckInKind, payload: Record<string, unknown>): Promise<boolean> =>
    asService(ctx.db, async (trx) => {
      const { rows } = await sql<{ local_time: string; timezone: string; active: boolean; live: boolean }>`
        select local_time, timezone, active, swan_pii_client_exists(${clientId}::uuid) as live from checkin_schedules
         where client_id = ${clientId}::uuid and kind = ${kind}`.execute(trx);
      const s = rows[0];
      if (!s || !s.active) {
        await ctx.schedules?.remove(trx, checkinScheduleName(clientId, kind));
        return false;
      }
      if (!s.live) {
        await endSchedules(ctx, trx, clientId);
        return false;
      }
      if (payload.timezone !== s.timezone || (payload.localTime !== undefined && payload.localTime !== s.local_time)) return false; // replaced
      await ctx.schedules?.upsert(trx, dailyCheckinSchedule(clientId, kind, s.local_time, s.timezone));
      return true;
    });

  const api: Pick<Checkins, 'scheduleCheckIn' | 'setDailySchedule' | 'cancelDailySchedule'> = {
    async scheduleCheckIn(trx, input) {
      const v = parseCheckInInput(input);
      const { eventId } = await ctx.events.publish(trx, {
        eventType: CHECKIN_EVENT[v.kind],
        payload: { clientId: v.clientId, scheduledFor: v.scheduledFor.toISOString(), timezone: v.timezone },
        aggregateType: 'client',
        aggregateId: v.clientId,
        scheduledFor: v.scheduledFor,
      });
      return { eventId };
    },
    async setDailySchedule(trx, input) {
      checkDailySchedule(input);
      const schedules = store();
      const clientId = input.clientId.toLowerCase();
      await sql`insert into checkin_schedules (client_id, kind, local_time, timezone, active)
        values (${clientId}::uuid, ${input.kind}, ${input.localTime}, ${input.timezone}, true)
        on conflict (client_id, kind) do update set local_time = excluded.local_time, timezone = excluded.timezone,
          active = true, updated_at = now()`.execute(trx);
      const { next, eventId } = await schedules.upsert(trx, dailyCheckinSchedule(clientId, input.kind, input.localTime, input.timezone));
      if (!next || !eventId) throw new Error(`The schedule store queued no occurrence of ${checkinScheduleName(clientId, input.kind)}`);
      return { eventId, nextRunAt: next };
    },
    async cancelDailySchedule(trx, clientId, kind) {
      return endSchedules(ctx, trx, clientId, [kind]);
    },
  };
  return { ...api, continueSchedule };
}
