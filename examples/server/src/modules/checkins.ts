import { SwanError, type EventPublisher, type ScheduleStore } from '@swan/core';
import { checkinsRoutes, createCheckins, createTwilioClient, migrations, type CheckinsPii } from '@swan/checkins';
import { migrations as piiMigrations } from '@swan/pii';
import { dunningHandler } from './dunning.js';
import type { ServerModule } from './types.js';

/** Without the outbox nothing can be scheduled: every publish is refused with 503. */
const noOutbox: EventPublisher = {
  publish: async () => {
    throw new SwanError({ code: 'UNAVAILABLE', message: 'Check-ins need the outbox module' });
  },
};

/**
 * Twilio SMS check-ins of the example server: `POST /api/clients/:clientId/checkins` and
 * `POST /webhooks/twilio/sms` (signature checked against `PUBLIC_URL`, then the `twilioWebhook`
 * limit per sender). Sending runs in the outbox handlers of `morning_checkin_scheduled` /
 * `evening_checkin_scheduled`, never on the request path; billing's `payment_failed` sends the
 * client a dunning SMS with the hosted invoice link through the same sender and opt-out list. Configured by `TWILIO_ACCOUNT_SID`,
 * `TWILIO_AUTH_TOKEN`, `TWILIO_FROM` and `TWILIO_API_BASE` (another API origin, e.g. a local mock);
 * without them it starts, says so, rejects every webhook (403) and dead-letters sends at once.
 * Daily check-ins (`services.checkins.setDailySchedule`) are stored schedules of the outbox module
 * (`services.scheduleStore`): each slot is sent once however many instances run. Erasure: its
 * participant deletes the client's replies and opt-out record and ends its schedules in the
 * erasure's transaction.
 */
export const checkinsModule: ServerModule = {
  name: 'checkins',
  // after pii's and the outbox's migrations (the outbox module lists its own; de-duplicated by the server)
  migrations: [piiMigrations, migrations],
  setup(ctx) {
    const { env } = ctx.config;
    const pii = ctx.services.pii as CheckinsPii | undefined;
    if (!pii) throw new Error('checkins: the pii module must be set up first');
    const accountSid = env.TWILIO_ACCOUNT_SID || null;
    const authToken = env.TWILIO_AUTH_TOKEN || null;
    const from = env.TWILIO_FROM || null;
    const client = accountSid && authToken
      ? createTwilioClient({ accountSid, authToken, ...(env.TWILIO_API_BASE ? { apiBase: env.TWILIO_API_BASE } : {}) })
      : null;
    const missing = [!accountSid && 'TWILIO_ACCOUNT_SID', !authToken && 'TWILIO_AUTH_TOKEN', !from && 'TWILIO_FROM'].filter(Boolean);
    if (missing.length) {
      ctx.logger.warn(`checkins: ${missing.join(', ')} not set: check-in SMS are dead-lettered and inbound webhooks rejected until configured`);
    } else {
      ctx.logger.info('checkins: Twilio configured', { apiBase: env.TWILIO_API_BASE ? new URL(env.TWILIO_API_BASE).origin : 'https://api.twilio.com' });
    }
    if (!ctx.events || !ctx.onEvent) ctx.logger.warn('checkins: no outbox: check-ins cannot be scheduled or sent');
    // daily check-ins: each client's is a stored schedule of the outbox, fired once per slot across instances
    const schedules = ctx.services.scheduleStore as ScheduleStore | undefined;
    const checkins = createCheckins({ db: ctx.db, events: ctx.events ?? noOutbox, ...(schedules ? { schedules } : {}), pii, twilio: client, from, authToken });
    for (const [type, handler] of Object.entries(checkins.handlers)) ctx.onEvent?.(type, handler);
    // billing's payment_failed: a dunning SMS with the hosted invoice link, through this sender and opt-out list
    ctx.onEvent?.('payment_failed', dunningHandler({ checkins, pii, twilio: client, from, fallbackUrl: `${ctx.config.publicUrl}/pricing`, logger: ctx.logger }));
    ctx.services.checkins = checkins;
    ctx.exportContributors.push(checkins.exportContributor);
    // replies and the opt-out record go in the erasure's own transaction
    ctx.erasureParticipants.push(checkins.erasureParticipant());
    const limit = ctx.rateLimit?.('twilioWebhook');
    const general = ctx.rateLimit?.('general');
    return {
      routes: checkinsRoutes({ db: ctx.db, checkins, ...(limit ? { webhookGuards: [limit] } : {}), ...(general ? { guards: [general] } : {}) }),
    };
  },
};
