import { sql } from 'kysely';
import { createCheckinsContext } from './context.js';
import { eraseCheckins } from './erasure.js';
import { createInbound } from './inbound.js';
import { createScheduling } from './scheduling.js';
import { createSending } from './sending.js';
import type { CheckinEvent, Checkins, CheckinsOptions } from './types.js';

/**
 * Creates the check-ins service: one-off check-ins through the outbox, daily check-ins through
 * the schedule store, the SMS send handler, inbound replies with opt-out, the export contributor
 * and the erasure participant.
 *
 * @example
 * ```ts
 * const checkins = createCheckins({ db, events: outbox, schedules: createScheduleStore({ outbox }), pii, twilio: createTwilioClient({ accountSid, authToken }), from: '+15005550006', authToken });
 * await db.transaction().execute((trx) => checkins.scheduleCheckIn(trx, { clientId, kind: 'morning', scheduledFor: '2025-11-05T15:00:00Z', timezone: 'America/Los_Angeles' }));
 * const worker = createWorker({ db, handlers: checkins.handlers, schedules: [] }); // [] : also keeps stored schedules going
 * // erasure: createPii({ …, erasureParticipants: () => [checkins.erasureParticipant()] })
 * ```
 */
export function createCheckins(options: CheckinsOptions): Checkins {
  const ctx = createCheckinsContext(options);
  const { continueSchedule, ...scheduling } = createScheduling(ctx);
  const { handleCheckInEvent } = createSending(ctx, continueSchedule);
  const handler = async (event: CheckinEvent) => {
    await handleCheckInEvent(event);
  };

  return {
    configured: ctx.configured,
    ...scheduling,
    handleCheckInEvent,
    handlers: { morning_checkin_scheduled: handler, evening_checkin_scheduled: handler },
    erasureParticipant: () => ({ name: 'checkins', erase: (trx, clientId) => eraseCheckins(ctx, trx, clientId) }),
    ...createInbound(ctx),
    exportContributor: {
      name: 'checkins',
      async collect(trx, clientId) {
        const q = <T>(query: ReturnType<typeof sql<T>>) => query.execute(trx).then((r) => r.rows);
        return {
          schedules: await q(sql`select kind, local_time, timezone, active from checkin_schedules where client_id = ${clientId}::uuid`),
          contact: (await q(sql`select opted_out, source, opted_out_at, opted_in_at from checkin_contacts where client_id = ${clientId}::uuid`))[0] ?? null,
          messages: await q(sql`select event_id, kind, scheduled_for, status, message_sid, created_at from checkin_messages where client_id = ${clientId}::uuid order by created_at`),
          responses: await q(sql`select id, message_sid, body, keyword, received_at from checkin_responses where client_id = ${clientId}::uuid order by received_at`),
        };
      },
    },
  };
}
