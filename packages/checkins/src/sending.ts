import { randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { isUniqueViolation, isUuid, type SwanError } from '@swan/core';
import { asService, CHECKIN_EVENT, CHECKINS_SERVICE_ACTOR, PHONE_PURPOSE, setOptOut, type CheckinsContext } from './context.js';
import { endSchedules } from './scheduling.js';
import { classifyTwilioError, TWILIO_UNSUBSCRIBED, withIdempotencyKey } from './twilio.js';
import type { CheckinEvent, CheckInKind, Checkins } from './types.js';

/** How far back of an unconfirmed attempt a Twilio message still counts as its own (clock skew; Twilio's dates have second precision). */
const RECONCILE_SKEW_MS = 5 * 60_000;

/**
 * Thrown by the send handler when another run of the same event holds the send claim (it may be
 * talking to Twilio right now). `unavailable: true` makes `@swan/outbox` retry later without
 * counting an attempt; once the claim ends the retry sees the outcome, or reconciles.
 *
 * @example
 * ```ts
 * try { await checkins.handleCheckInEvent(event); } catch (e) { if (e instanceof ClaimHeldError) console.log('another run is sending'); }
 * ```
 */
export class ClaimHeldError extends Error {
  readonly unavailable = true;
  constructor() {
    super('Another run of this check-in holds the send claim; retrying later');
    this.name = 'ClaimHeldError';
  }
}

/**
 * Thrown by the send handler when retrying cannot help (invalid number, unsubscribed recipient,
 * rejected request). `permanent: true` makes `@swan/outbox` dead-letter the event at once.
 *
 * @example
 * ```ts
 * try { await checkins.handlers.morning_checkin_scheduled(event); } catch (e) { if ((e as PermanentDeliveryError).permanent) alertOps(); }
 * ```
 */
export class PermanentDeliveryError extends Error {
  readonly permanent = true;
  constructor(message: string) {
    super(message);
    this.name = 'PermanentDeliveryError';
  }
}

/**
 * Sending: the outbox handler of the check-in events (exclusive send claim, purpose-bound phone
 * read, reconciliation of unconfirmed attempts, Twilio idempotency key).
 * `continueSchedule` says whether an occurrence of a daily check-in is still wanted.
 */
export function createSending(ctx: CheckinsContext, continueSchedule: (clientId: string, kind: CheckInKind, payload: Record<string, unknown>) => Promise<boolean>) {
  const { configured, from, viaService } = ctx;

  const permanent = async (_event: CheckinEvent, reason: string): Promise<never> => {
    throw new PermanentDeliveryError(reason);
  };

  /**
   * Twilio's record of a message an earlier, unconfirmed attempt of this event may have created:
   * the recipient's outbound messages from our sender with this body, created since the attempt
   * (minus clock skew), whose SID no other check-in has recorded. The oldest such SID, or null.
   */
  const reconcile = async (to: string, body: string, since: Date): Promise<string | null> => {
    const listed = await ctx.twilio!.messages.list({ to, ...(viaService ? {} : { from }), pageSize: 50, limit: 50 });
    const after = since.getTime() - RECONCILE_SKEW_MS;
    const candidates = listed.filter((m) => String(m.direction ?? '').startsWith('outbound')
      && (viaService ? m.messagingServiceSid === from : m.from === from)
      && typeof m.body === 'string' && m.body.includes(body)
      && (m.dateCreated instanceof Date ? m.dateCreated.getTime() >= after : true))
      .sort((a, b) => (a.dateCreated?.getTime() ?? 0) - (b.dateCreated?.getTime() ?? 0));
    if (!candidates.length) return null;
    const taken = await asService(ctx.db, async (trx) => (await sql<{ message_sid: string }>`
      select message_sid from checkin_messages where message_sid = any(${candidates.map((m) => m.sid)}::text[])`.execute(trx)).rows);
    const used = new Set(taken.map((r) => r.message_sid));
    return candidates.find((m) => !used.has(m.sid))?.sid ?? null;
  };

  const handleCheckInEvent: Checkins['handleCheckInEvent'] = async (event) => {
    const kind = (Object.keys(CHECKIN_EVENT) as CheckInKind[]).find((k) => CHECKIN_EVENT[k] === event.eventType);
    const clientId = event.payload.clientId;
    const at = new Date(String(event.payload.scheduledFor));
    if (!kind || !isUuid(clientId) || Number.isNaN(at.getTime()) || !isUuid(event.eventId)) {
      return permanent(event, 'Malformed check-in event');
    }
    if (event.payload.recurring === true && !(await continueSchedule(clientId, kind, event.payload))) return 'superseded';

    // The idempotency record, then the exclusive send claim: only the run holding an unexpired
    // claim may talk to Twilio for this event. `unconfirmed` is set when an earlier run may have
    // reached Twilio without recording the outcome: this run then reconciles before sending.
    const token = randomUUID();
    const prior = await asService(ctx.db, async (trx) => {
      await sql`insert into checkin_messages (event_id, client_id, kind, scheduled_for, status)
        values (${event.eventId}::uuid, ${clientId}::uuid, ${kind}, ${at.toISOString()}::timestamptz, 'sending')
        on conflict (event_id) do nothing`.execute(trx);
      const claim = await sql<{ unconfirmed_at: Date | string | null }>`
        with old as (
          select event_id, unconfirmed_at from checkin_messages
           where event_id = ${event.eventId}::uuid and status = 'sending' and (claimed_until is null or claimed_until < now())
           for update)
        update checkin_messages m
           set claimed_until = now() + ${ctx.sendLeaseMs} * interval '1 millisecond', claim_token = ${token}::uuid,
               unconfirmed_at = coalesce(m.unconfirmed_at, now()), updated_at = now()
          from old where m.event_id = old.event_id
        returning old.unconfirmed_at`.execute(trx);
      // a client whose processing is restricted (GDPR Art. 18) counts as opted out while it lasts
      const { rows } = await sql<{ status: string; opted_out: boolean | null }>`
        select status, (select opted_out from checkin_contacts where client_id = ${clientId}::uuid)
                       or swan_pii_client_restricted(${clientId}::uuid) as opted_out
          from checkin_messages where event_id = ${event.eventId}::uuid`.execute(trx);
      const c = claim.rows[0];
      return { ...rows[0]!, claimed: Boolean(c), unconfirmedAt: c?.unconfirmed_at ? new Date(c.unconfirmed_at) : null };
    });
    if (prior.status === 'sent') return 'already_sent';
    if (prior.status === 'opted_out' || prior.status === 'no_phone') return prior.status;
    if (prior.status === 'failed') return permanent(event, 'Check-in SMS failed permanently on an earlier attempt');
    if (!prior.claimed) throw new ClaimHeldError();

    /**
     * Records the outcome of this run and releases its claim (a run whose claim was taken over
     * changes nothing), with `also` in the same transaction.
     */
    const mark = (status: string, extra = sql``, also?: (trx: Transaction<any>) => Promise<unknown>) => asService(ctx.db, async (trx) => {
      await sql`update checkin_messages set status = ${status}, attempts = attempts + 1, claimed_until = null, claim_token = null,
               updated_at = now() ${extra}
         where event_id = ${event.eventId}::uuid and claim_token = ${token}::uuid`.execute(trx);
      await also?.(trx);
    });
    /** Records Twilio's SID: whichever run learns it first (a stale run's answer is the same message). */
    const markSent = async (sid: string): Promise<'sent' | 'already_sent'> => {
      try {
        const r = await asService(ctx.db, (trx) => sql`
          update checkin_messages set status = 'sent', message_sid = ${sid}, error_code = null, attempts = attempts + 1,
                 claimed_until = null, claim_token = null, unconfirmed_at = null, updated_at = now()
           where event_id = ${event.eventId}::uuid and status = 'sending'`.execute(trx));
        return Number(r.numAffectedRows ?? 0) > 0 ? 'sent' : 'already_sent';
      } catch (e) {
        // the SID is recorded for another check-in already (two reconciling runs picked the same one)
        if (isUniqueViolation(e)) throw new Error('Reconciled Twilio message is recorded for another check-in; retrying', { cause: e });
        throw e;
      }
    };

    if (prior.opted_out) {
      await mark('opted_out');
      return 'opted_out';
    }
    if (!configured) {
      await mark('failed');
      return permanent(event, 'Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM)');
    }
    let contact: { phone: string | null; alias: string | null };
    try {
      contact = await ctx.pii.phoneFor(CHECKINS_SERVICE_ACTOR, clientId, PHONE_PURPOSE);
    } catch (e) {
      if ((e as SwanError).code === 'NOT_FOUND') {
        // soft-deleted, erased or unknown: this check-in ends here, and so does the client's schedule
        await mark('no_phone', sql``, (trx) => endSchedules(ctx, trx, clientId));
        return 'no_phone';
      }
      throw e;
    }
    if (!contact.phone) {
      await mark('no_phone');
      return 'no_phone';
    }
    const alias = contact.alias ?? 'Swan';
    const body = ctx.texts[kind](alias);
    let sid: string;
    try {
      const reconciled = prior.unconfirmedAt ? await reconcile(contact.phone, body, prior.unconfirmedAt) : null;
      if (reconciled) {
        await markSent(reconciled);
        return 'already_sent';
      }
      sid = (await withIdempotencyKey(event.eventId, () => ctx.twilio!.messages.create({
        to: contact.phone!,
        body,
        ...(viaService ? { messagingServiceSid: from } : { from }),
      }))).sid;
    } catch (error) {
      const failure = classifyTwilioError(error);
      if (failure.kind === 'retry') {
        // a 429 is a definite "not accepted"; 5xx and transport errors may hide an accepted message
        const definite = failure.status === 429;
        await mark('sending', definite
          ? sql`, error_code = ${failure.code}, unconfirmed_at = ${prior.unconfirmedAt?.toISOString() ?? null}::timestamptz`
          : sql`, error_code = ${failure.code}`);
        throw new Error(failure.reason);
      }
      await mark('failed', sql`, error_code = ${failure.code}`,
        failure.code === TWILIO_UNSUBSCRIBED ? (trx) => setOptOut(trx, clientId, true, 'twilio_21610') : undefined);
      return permanent(event, failure.reason);
    }
    return markSent(sid);
  };

  return { handleCheckInEvent };
}
