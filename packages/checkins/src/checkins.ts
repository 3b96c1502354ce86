import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { checkText, withService, SwanError, isUuid, type Actor, type EventPublisher, type ExportContributor } from '@swan/core';
import twilio from 'twilio';
import { isTimeZone, LOCAL_TIME, nextDailyOccurrence } from './timezone.js';
import { classifyTwilioError, TWILIO_UNSUBSCRIBED, withIdempotencyKey, type TwilioClient } from './twilio.js';

/** Morning or evening check-in. */
export type CheckInKind = 'morning' | 'evening';
/**
 * The check-in kinds.
 *
 * @example
 * ```ts
 * CHECKIN_KINDS.includes(body.kind); // validate a kind
 * ```
 */
export const CHECKIN_KINDS: readonly CheckInKind[] = ['morning', 'evening'];

/**
 * The outbox event type of each kind.
 *
 * @example
 * ```ts
 * CHECKIN_EVENT.morning; // 'morning_checkin_scheduled'
 * ```
 */
export const CHECKIN_EVENT: Record<CheckInKind, 'morning_checkin_scheduled' | 'evening_checkin_scheduled'> = {
  morning: 'morning_checkin_scheduled',
  evening: 'evening_checkin_scheduled',
};

/** Database role setting of the handlers and the webhook (see migrations/checkins). */
const SERVICE_ROLE = 'checkins_service';

/**
 * The service actor the send handler and the webhook use towards `@swan/pii`. It reads nothing
 * but the phone number and alias ({@link CheckinsPii.phoneFor}, audited under this id with
 * {@link PHONE_PURPOSE}) and looks senders up through the phone blind index.
 *
 * @example
 * ```ts
 * const { phone, alias } = await pii.phoneFor(CHECKINS_SERVICE_ACTOR, clientId, PHONE_PURPOSE);
 * ```
 */
export const CHECKINS_SERVICE_ACTOR: Actor = { id: '00000000-0000-4000-8000-0000000c4ec1', role: 'admin' };

/**
 * Purpose stated (and audited) for every phone-number read; it names the reader.
 *
 * @example
 * ```ts
 * // swan_audit_log: actor CHECKINS_SERVICE_ACTOR.id, action PII_ACCESS, reason PHONE_PURPOSE
 * ```
 */
export const PHONE_PURPOSE = 'checkin_sms: @swan/checkins service sends a check-in SMS';

/**
 * What check-ins need of `@swan/pii` (its `PiiService` fits): an audited, purpose-stated read of
 * the phone number and alias only (`NOT_FOUND` once the client is soft-deleted or erased), and a
 * lookup by phone through the blind index.
 *
 * @example
 * ```ts
 * const pii: CheckinsPii = new PiiService({ db, keys, indexKey });
 * ```
 */
export interface CheckinsPii {
  phoneFor(actor: Actor, clientId: string, purpose: string): Promise<{ phone: string | null; alias: string | null }>;
  findClientByPhone(phone: string, actor: Actor): Promise<{ clientId: string; alias: string | null } | null>;
}

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

/** An outbox event as handlers receive it (the subset used). */
export interface CheckinEvent {
  eventId: string;
  eventType: string;
  payload: Record<string, unknown>;
  attempts?: number;
  /** The outbox's internal row id, when the worker passes it. */
  id?: number | string;
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

export interface CheckinsOptions {
  /** Application handle (swan_app on PostgreSQL). */
  db: Kysely<any>;
  /** The outbox: check-in events and `checkin_response_received` are published through it. */
  events: EventPublisher;
  pii: CheckinsPii;
  /** Twilio SDK client ({@link createTwilioClient}); `null` when unconfigured: sends fail permanently. */
  twilio: TwilioClient | null;
  /** Sender: an E.164 number or a Messaging Service SID (`MG…`), `TWILIO_FROM`. */
  from: string | null;
  /** `TWILIO_AUTH_TOKEN`: verifies `X-Twilio-Signature` on inbound webhooks. */
  authToken: string | null;
  /** Texts; receive the client's Galaxy-Swan alias only. */
  messages?: Partial<CheckinTexts>;
  /**
   * Length of the exclusive send claim in ms (default 120 s). Must exceed the Twilio request
   * timeout (10 s by default): a run that died holding it blocks sends of that event until then.
   */
  sendLeaseMs?: number;
  now?: () => Date;
}

/** SMS texts. No names, no health data: the alias only. */
export interface CheckinTexts {
  morning(alias: string): string;
  evening(alias: string): string;
  help: string;
  optedIn: string;
  /** Reply to an ordinary answer (`''` for none). */
  received: string;
}

/**
 * The default texts; override any of them with `createCheckins({ messages })`.
 *
 * @example
 * ```ts
 * DEFAULT_TEXTS.morning('Nebula Swan'); // 'Good morning, Nebula Swan! …'
 * ```
 */
export const DEFAULT_TEXTS: CheckinTexts = {
  morning: (alias) => `Good morning, ${alias}! How are you feeling today? Reply with your energy (1-10) and your plan. Reply STOP to opt out.`,
  evening: (alias) => `Good evening, ${alias}! How did today go? Reply with a short check-in. Reply STOP to opt out.`,
  help: 'Swan check-ins: reply to a check-in to log it. Reply STOP to unsubscribe, START to resubscribe. Msg&data rates may apply.',
  optedIn: 'You are subscribed to Swan check-ins again. Reply STOP to opt out, HELP for help.',
  received: 'Thanks, your check-in is logged.',
};

const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'END', 'QUIT', 'CANCEL', 'REVOKE', 'OPTOUT']);
const OPT_IN = new Set(['START', 'YES', 'UNSTOP']);

/**
 * The keyword of an inbound text (Twilio matches the whole trimmed body, case-insensitively).
 *
 * @example
 * ```ts
 * keywordOf(' Stop '); // 'STOP'
 * keywordOf("can't stop"); // null
 * ```
 */
export function keywordOf(body: string): 'STOP' | 'START' | 'HELP' | null {
  const word = body.trim().replace(/[.!?]+$/, '').toUpperCase();
  if (OPT_OUT.has(word)) return 'STOP';
  if (OPT_IN.has(word)) return 'START';
  if (word === 'HELP' || word === 'INFO') return 'HELP';
  return null;
}

/** Input of {@link Checkins.scheduleCheckIn}. */
export interface ScheduleCheckInInput {
  clientId: string;
  kind: CheckInKind;
  /** ISO 8601 instant (with offset or `Z`) or a Date. */
  scheduledFor: string | Date;
  /** The client's IANA time zone, e.g. `America/Los_Angeles`. */
  timezone: string;
}

/** Input of {@link Checkins.setDailySchedule}. */
export interface DailyScheduleInput {
  clientId: string;
  kind: CheckInKind;
  /** Local wall-clock time `HH:MM` (24-hour) in `timezone`. */
  localTime: string;
  timezone: string;
}

/** Result of the inbound webhook. */
export interface InboundResult {
  outcome: 'stored' | 'duplicate' | 'unknown_sender';
  keyword: 'STOP' | 'START' | 'HELP' | null;
  /** The TwiML document to answer with. */
  twiml: string;
  responseId?: string;
}

/** The check-ins service. */
export interface Checkins {
  /** Publishes a one-off check-in in the caller's transaction; returns the event id. */
  scheduleCheckIn(trx: Kysely<any>, input: ScheduleCheckInInput): Promise<{ eventId: string }>;
  /** Creates or replaces a client's daily check-in and publishes its next occurrence, in `trx`. */
  setDailySchedule(trx: Kysely<any>, input: DailyScheduleInput): Promise<{ eventId: string; nextRunAt: Date }>;
  /** Stops a daily check-in (an already published occurrence is then skipped). */
  cancelDailySchedule(trx: Kysely<any>, clientId: string, kind: CheckInKind): Promise<boolean>;
  /** The outbox handler of both check-in event types. */
  handleCheckInEvent(event: CheckinEvent): Promise<'sent' | 'already_sent' | 'opted_out' | 'no_phone' | 'superseded'>;
  /** Handlers by event type, for `createWorker({ handlers })` / `ctx.onEvent`. */
  handlers: Record<string, (event: CheckinEvent) => Promise<void>>;
  /** Verifies nothing: stores an inbound SMS already verified by {@link Checkins.verifySignature}. */
  receive(fields: Record<string, unknown>): Promise<InboundResult>;
  /** True when `signature` is Twilio's signature of `url` and `params` under the auth token. */
  verifySignature(signature: string | undefined, url: string, params: Record<string, unknown>): boolean;
  /** Opt-out state of a client. */
  isOptedOut(clientId: string): Promise<boolean>;
  exportContributor: ExportContributor;
  readonly configured: boolean;
}

const asService = <T>(db: Kysely<any>, fn: (trx: Transaction<any>) => Promise<T>): Promise<T> => withService(db, SERVICE_ROLE, fn);

const invalid = (message: string, problems: { path: string; message: string }[]) =>
  new SwanError({ code: 'VALIDATION_FAILED', message, details: { problems } });

const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)$/i;

/**
 * Validates a check-in request (`{ clientId, kind, scheduledFor, timezone }`); throws
 * `VALIDATION_FAILED` listing every problem.
 *
 * @example
 * ```ts
 * parseCheckInInput({ clientId, kind: 'morning', scheduledFor: '2025-11-05T15:00:00Z', timezone: 'America/Los_Angeles' });
 * ```
 */
export function parseCheckInInput(input: unknown): { clientId: string; kind: CheckInKind; scheduledFor: Date; timezone: string } {
  const v = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const problems: { path: string; message: string }[] = [];
  if (!isUuid(v.clientId)) problems.push({ path: 'clientId', message: 'must be a UUID' });
  if (!CHECKIN_KINDS.includes(v.kind as CheckInKind)) problems.push({ path: 'kind', message: 'must be "morning" or "evening"' });
  const at = v.scheduledFor instanceof Date ? v.scheduledFor
    : typeof v.scheduledFor === 'string' && ISO_INSTANT.test(v.scheduledFor) ? new Date(v.scheduledFor) : null;
  if (!at || Number.isNaN(at.getTime())) problems.push({ path: 'scheduledFor', message: 'must be an ISO 8601 date-time with a time-zone offset or Z' });
  if (!isTimeZone(v.timezone)) problems.push({ path: 'timezone', message: 'must be an IANA time zone, e.g. America/Los_Angeles' });
  if (problems.length) throw invalid('Invalid check-in', problems);
  return { clientId: (v.clientId as string).toLowerCase(), kind: v.kind as CheckInKind, scheduledFor: at!, timezone: v.timezone as string };
}

/** TwiML with an optional message. */
function twimlOf(text: string | null): string {
  const r = new twilio.twiml.MessagingResponse();
  if (text) r.message(text);
  return r.toString();
}

const field = (fields: Record<string, unknown>, name: string): string | null => {
  const v = fields[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' ? s : null;
};

/**
 * Creates the check-ins service: scheduling through the outbox, the SMS send handler, inbound
 * replies with opt-out, and the export contributor.
 *
 * @example
 * ```ts
 * const checkins = createCheckins({ db, events: outbox, pii, twilio: createTwilioClient({ accountSid, authToken }), from: '+15005550006', authToken });
 * await db.transaction().execute((trx) => checkins.scheduleCheckIn(trx, { clientId, kind: 'morning', scheduledFor: '2025-11-05T15:00:00Z', timezone: 'America/Los_Angeles' }));
 * const worker = createWorker({ db, handlers: checkins.handlers });
 * ```
 */
export function createCheckins(options: CheckinsOptions): Checkins {
  const { db, events, pii } = options;
  const texts: CheckinTexts = { ...DEFAULT_TEXTS, ...options.messages };
  const now = options.now ?? (() => new Date());
  const configured = Boolean(options.twilio && options.from);
  const sendLeaseMs = Math.max(1, Math.round(options.sendLeaseMs ?? 120_000));
  const from = options.from ?? '';
  /** `TWILIO_FROM` may be a Messaging Service SID (`MG…`) instead of a number. */
  const viaService = from.startsWith('MG');

  const publishOccurrence = (trx: Kysely<any>, clientId: string, kind: CheckInKind, at: Date, timezone: string, recurring: boolean) =>
    events.publish(trx, {
      eventType: CHECKIN_EVENT[kind],
      payload: { clientId, scheduledFor: at.toISOString(), timezone, ...(recurring ? { recurring: true } : {}) },
      aggregateType: 'client',
      aggregateId: clientId,
      scheduledFor: at,
      ...(recurring ? { idempotencyKey: `checkin:${clientId}:${kind}:${at.toISOString()}` } : {}),
    });

  const permanent = async (_event: CheckinEvent, reason: string): Promise<never> => {
    throw new PermanentDeliveryError(reason);
  };

  /** Deactivates a client's schedules (the client is gone: soft-deleted or erased). */
  const deactivateSchedules = (trx: Kysely<any>, clientId: string) => sql`
    update checkin_schedules set active = false, next_run_at = null, updated_at = now()
     where client_id = ${clientId}::uuid and active`.execute(trx);

  /** For a recurring occurrence: publishes the next one (once) or says the schedule moved on. */
  const advanceSchedule = async (clientId: string, kind: CheckInKind, at: Date): Promise<boolean> =>
    asService(db, async (trx) => {
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

  /**
   * Twilio's record of a message an earlier, unconfirmed attempt of this event may have created:
   * the recipient's outbound messages from our sender with this body, created since the attempt
   * (minus clock skew), whose SID no other check-in has recorded. The oldest such SID, or null.
   */
  const reconcile = async (to: string, body: string, since: Date): Promise<string | null> => {
    const listed = await options.twilio!.messages.list({ to, ...(viaService ? {} : { from }), pageSize: 50, limit: 50 });
    const after = since.getTime() - RECONCILE_SKEW_MS;
    const candidates = listed.filter((m) => String(m.direction ?? '').startsWith('outbound')
      && (viaService ? m.messagingServiceSid === from : m.from === from)
      && typeof m.body === 'string' && m.body.includes(body)
      && (m.dateCreated instanceof Date ? m.dateCreated.getTime() >= after : true))
      .sort((a, b) => (a.dateCreated?.getTime() ?? 0) - (b.dateCreated?.getTime() ?? 0));
    if (!candidates.length) return null;
    const taken = await asService(db, async (trx) => (await sql<{ message_sid: string }>`
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
    if (event.payload.recurring === true && !(await advanceSchedule(clientId, kind, at))) return 'superseded';

    // The idempotency record, then the exclusive send claim: only the run holding an unexpired
    // claim may talk to Twilio for this event. `unconfirmed` is set when an earlier run may have
    // reached Twilio without recording the outcome: this run then reconciles before sending.
    const token = randomUUID();
    const prior = await asService(db, async (trx) => {
      await sql`insert into checkin_messages (event_id, client_id, kind, scheduled_for, status)
        values (${event.eventId}::uuid, ${clientId}::uuid, ${kind}, ${at.toISOString()}::timestamptz, 'sending')
        on conflict (event_id) do nothing`.execute(trx);
      const claim = await sql<{ unconfirmed_at: Date | string | null }>`
        with old as (
          select event_id, unconfirmed_at from checkin_messages
           where event_id = ${event.eventId}::uuid and status = 'sending' and (claimed_until is null or claimed_until < now())
           for update)
        update checkin_messages m
           set claimed_until = now() + ${sendLeaseMs} * interval '1 millisecond', claim_token = ${token}::uuid,
               unconfirmed_at = coalesce(m.unconfirmed_at, now()), updated_at = now()
          from old where m.event_id = old.event_id
        returning old.unconfirmed_at`.execute(trx);
      const { rows } = await sql<{ status: string; opted_out: boolean | null }>`
        select status, (select opted_out from checkin_contacts where client_id = ${clientId}::uuid) as opted_out
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
    const mark = (status: string, extra = sql``, also?: (trx: Transaction<any>) => Promise<unknown>) => asService(db, async (trx) => {
      await sql`update checkin_messages set status = ${status}, attempts = attempts + 1, claimed_until = null, claim_token = null,
               updated_at = now() ${extra}
         where event_id = ${event.eventId}::uuid and claim_token = ${token}::uuid`.execute(trx);
      await also?.(trx);
    });
    /** Records Twilio's SID: whichever run learns it first (a stale run's answer is the same message). */
    const markSent = async (sid: string): Promise<'sent' | 'already_sent'> => {
      try {
        const r = await asService(db, (trx) => sql`
          update checkin_messages set status = 'sent', message_sid = ${sid}, error_code = null, attempts = attempts + 1,
                 claimed_until = null, claim_token = null, unconfirmed_at = null, updated_at = now()
           where event_id = ${event.eventId}::uuid and status = 'sending'`.execute(trx));
        return Number(r.numAffectedRows ?? 0) > 0 ? 'sent' : 'already_sent';
      } catch (e) {
        // the SID is recorded for another check-in already (two reconciling runs picked the same one)
        if ((e as { code?: string }).code === '23505') throw new Error('Reconciled Twilio message is recorded for another check-in; retrying', { cause: e });
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
      contact = await pii.phoneFor(CHECKINS_SERVICE_ACTOR, clientId, PHONE_PURPOSE);
    } catch (e) {
      if ((e as SwanError).code === 'NOT_FOUND') {
        // soft-deleted, erased or unknown: this check-in ends here, and so does the client's schedule
        await mark('no_phone', sql``, (trx) => deactivateSchedules(trx, clientId));
        return 'no_phone';
      }
      throw e;
    }
    if (!contact.phone) {
      await mark('no_phone');
      return 'no_phone';
    }
    const alias = contact.alias ?? 'Swan';
    const body = texts[kind](alias);
    let sid: string;
    try {
      const reconciled = prior.unconfirmedAt ? await reconcile(contact.phone, body, prior.unconfirmedAt) : null;
      if (reconciled) {
        await markSent(reconciled);
        return 'already_sent';
      }
      sid = (await withIdempotencyKey(event.eventId, () => options.twilio!.messages.create({
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

  /**
   * `client_erased`: the client's replies and opt-out record are deleted and its schedules end
   * (the send history stays: event ids, kinds, times and Twilio SIDs, no text). Idempotent.
   */
  const handleClientErased = async (event: CheckinEvent): Promise<void> => {
    const clientId = event.payload.clientId;
    if (!isUuid(clientId)) return permanent(event, 'client_erased without a client id');
    await asService(db, async (trx) => {
      await deactivateSchedules(trx, clientId);
      await sql`delete from checkin_responses where client_id = ${clientId}::uuid`.execute(trx);
      await sql`delete from checkin_contacts where client_id = ${clientId}::uuid`.execute(trx);
    });
  };

  const setOptOut = (trx: Kysely<any>, clientId: string, out: boolean, source: string) => sql`
    insert into checkin_contacts as c (client_id, opted_out, source, opted_out_at, opted_in_at)
    values (${clientId}::uuid, ${out}, ${source}, case when ${out} then now() end, case when not ${out} then now() end)
    on conflict (client_id) do update set opted_out = excluded.opted_out, source = excluded.source, updated_at = now(),
      opted_out_at = coalesce(excluded.opted_out_at, c.opted_out_at), opted_in_at = coalesce(excluded.opted_in_at, c.opted_in_at)`.execute(trx);

  const receive: Checkins['receive'] = async (fields) => {
    const from = field(fields, 'From');
    const sid = field(fields, 'MessageSid') ?? field(fields, 'SmsSid');
    if (!from || !sid || !/^[A-Za-z]{2}[0-9a-fA-F]{32}$/.test(sid)) {
      throw invalid('Not a Twilio SMS webhook', [{ path: 'From/MessageSid', message: 'required' }]);
    }
    const body = checkText(field(fields, 'Body'), 'Body', { max: 10_000, multiline: true }) ?? '';
    let client: { clientId: string; alias: string | null } | null;
    try {
      client = await pii.findClientByPhone(from, CHECKINS_SERVICE_ACTOR);
    } catch (cause) {
      // a database outage is not an unknown sender: 503, Twilio retries the webhook
      throw new SwanError({ code: 'UNAVAILABLE', message: 'Sender lookup is unavailable; retry later', cause });
    }
    if (!client) return { outcome: 'unknown_sender', keyword: null, twiml: twimlOf(null) };
    const keyword = keywordOf(body);
    const stored = await asService(db, async (trx) => {
      const { rows } = await sql<{ id: string; checkin_event_id: string | null }>`
        insert into checkin_responses (id, message_sid, client_id, checkin_event_id, body, keyword)
        values (${randomUUID()}::uuid, ${sid}, ${client.clientId}::uuid,
                (select event_id from checkin_messages where client_id = ${client.clientId}::uuid and status = 'sent'
                  order by created_at desc limit 1),
                ${body}, ${keyword})
        on conflict (message_sid) do nothing
        returning id, checkin_event_id`.execute(trx);
      const row = rows[0];
      if (!row) return null;
      if (keyword === 'STOP' || keyword === 'START') await setOptOut(trx, client.clientId, keyword === 'STOP', 'keyword');
      await events.publish(trx, {
        eventType: 'checkin_response_received',
        payload: { clientId: client.clientId, messageId: row.id, ...(row.checkin_event_id ? { checkinId: row.checkin_event_id } : {}) },
        aggregateType: 'client',
        aggregateId: client.clientId,
        idempotencyKey: `checkin_response:${sid}`,
      });
      return row;
    });
    // Twilio answers STOP itself (and blocks our replies to opted-out numbers): no text then
    const reply = keyword === 'STOP' ? null : keyword === 'START' ? texts.optedIn : keyword === 'HELP' ? texts.help : texts.received || null;
    return stored
      ? { outcome: 'stored', keyword, twiml: twimlOf(reply), responseId: stored.id }
      : { outcome: 'duplicate', keyword, twiml: twimlOf(reply) };
  };

  const handler = async (event: CheckinEvent) => {
    await handleCheckInEvent(event);
  };

  return {
    configured,
    async scheduleCheckIn(trx, input) {
      const v = parseCheckInInput(input);
      const { eventId } = await publishOccurrence(trx, v.clientId, v.kind, v.scheduledFor, v.timezone, false);
      return { eventId };
    },
    async setDailySchedule(trx, input) {
      const problems: { path: string; message: string }[] = [];
      if (!isUuid(input?.clientId)) problems.push({ path: 'clientId', message: 'must be a UUID' });
      if (!CHECKIN_KINDS.includes(input?.kind)) problems.push({ path: 'kind', message: 'must be "morning" or "evening"' });
      if (typeof input?.localTime !== 'string' || !LOCAL_TIME.test(input.localTime)) problems.push({ path: 'localTime', message: 'must be HH:MM (24-hour)' });
      if (!isTimeZone(input?.timezone)) problems.push({ path: 'timezone', message: 'must be an IANA time zone' });
      if (problems.length) throw invalid('Invalid daily check-in schedule', problems);
      const clientId = input.clientId.toLowerCase();
      const next = nextDailyOccurrence(input.localTime, input.timezone, now());
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
    handleCheckInEvent,
    handlers: { morning_checkin_scheduled: handler, evening_checkin_scheduled: handler, client_erased: handleClientErased },
    receive,
    verifySignature(signature, url, params) {
      if (!options.authToken || !signature) return false;
      try {
        return twilio.validateRequest(options.authToken, signature, url, params as Record<string, any>);
      } catch {
        return false;
      }
    },
    async isOptedOut(clientId) {
      return asService(db, async (trx) => {
        const { rows } = await sql<{ opted_out: boolean }>`select opted_out from checkin_contacts where client_id = ${clientId}::uuid`.execute(trx);
        return rows[0]?.opted_out === true;
      });
    },
    exportContributor: {
      name: 'checkins',
      async collect(trx, clientId) {
        const q = <T>(query: ReturnType<typeof sql<T>>) => query.execute(trx).then((r) => r.rows);
        return {
          schedules: await q(sql`select kind, local_time, timezone, active, next_run_at from checkin_schedules where client_id = ${clientId}::uuid`),
          contact: (await q(sql`select opted_out, source, opted_out_at, opted_in_at from checkin_contacts where client_id = ${clientId}::uuid`))[0] ?? null,
          messages: await q(sql`select event_id, kind, scheduled_for, status, message_sid, created_at from checkin_messages where client_id = ${clientId}::uuid order by created_at`),
          responses: await q(sql`select id, message_sid, body, keyword, received_at from checkin_responses where client_id = ${clientId}::uuid order by received_at`),
        };
      },
    },
  };
}
