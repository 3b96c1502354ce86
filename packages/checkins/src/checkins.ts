import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { withService, SwanError, isUuid, type Actor, type EventPublisher, type ExportContributor } from '@swan/core';
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
 * The actor the send handler and the webhook use towards `@swan/pii`: PII reads are audited
 * under this id with the purpose `checkin_sms`.
 *
 * @example
 * ```ts
 * await pii.getClientPII(clientId, CHECKINS_SERVICE_ACTOR, PHONE_PURPOSE);
 * ```
 */
export const CHECKINS_SERVICE_ACTOR: Actor = { id: '00000000-0000-4000-8000-0000000c4ec1', role: 'admin' };

/**
 * Purpose stated (and audited) for every phone-number read.
 *
 * @example
 * ```ts
 * // swan_audit_log: action PII_ACCESS, reason 'checkin_sms'
 * ```
 */
export const PHONE_PURPOSE = 'checkin_sms';

/**
 * What check-ins need of `@swan/pii` (its `PiiService` fits): an audited, purpose-stated read of
 * the phone number and alias, and a lookup by phone through the blind index.
 */
export interface CheckinsPii {
  getClientPII(clientId: string, actor: Actor, reason: string): Promise<{ phone_number: string | null; alias: string | null }>;
  findClientByPhone(phone: string, actor: Actor): Promise<{ clientId: string; alias: string | null } | null>;
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

  /** For a recurring occurrence: publishes the next one (once) or says the schedule moved on. */
  const advanceSchedule = async (clientId: string, kind: CheckInKind, at: Date): Promise<boolean> =>
    asService(db, async (trx) => {
      const { rows } = await sql<{ local_time: string; timezone: string; active: boolean; next_run_at: Date | string | null }>`
        select local_time, timezone, active, next_run_at from checkin_schedules
         where client_id = ${clientId}::uuid and kind = ${kind} for update`.execute(trx);
      const s = rows[0];
      if (!s || !s.active || s.next_run_at === null) return false;
      const current = new Date(s.next_run_at).getTime();
      if (current > at.getTime()) return true; // already advanced by an earlier run of this event
      if (current < at.getTime()) return false; // superseded: the schedule was replaced
      const next = nextDailyOccurrence(s.local_time, s.timezone, at);
      await sql`update checkin_schedules set next_run_at = ${next.toISOString()}::timestamptz, updated_at = now()
                 where client_id = ${clientId}::uuid and kind = ${kind}`.execute(trx);
      await publishOccurrence(trx, clientId, kind, next, s.timezone, true);
      return true;
    });

  const handleCheckInEvent: Checkins['handleCheckInEvent'] = async (event) => {
    const kind = (Object.keys(CHECKIN_EVENT) as CheckInKind[]).find((k) => CHECKIN_EVENT[k] === event.eventType);
    const clientId = event.payload.clientId;
    const at = new Date(String(event.payload.scheduledFor));
    if (!kind || !isUuid(clientId) || Number.isNaN(at.getTime()) || !isUuid(event.eventId)) {
      return permanent(event, 'Malformed check-in event');
    }
    if (event.payload.recurring === true && !(await advanceSchedule(clientId, kind, at))) return 'superseded';

    // the idempotency record: claim the event, or see what an earlier run did
    const prior = await asService(db, async (trx) => {
      const { rows } = await sql<{ status: string; opted_out: boolean | null }>`
        with ins as (
          insert into checkin_messages (event_id, client_id, kind, scheduled_for, status)
          values (${event.eventId}::uuid, ${clientId}::uuid, ${kind}, ${at.toISOString()}::timestamptz, 'sending')
          on conflict (event_id) do nothing returning status)
        select coalesce((select status from ins), (select status from checkin_messages where event_id = ${event.eventId}::uuid)) as status,
               (select opted_out from checkin_contacts where client_id = ${clientId}::uuid) as opted_out`.execute(trx);
      return rows[0]!;
    });
    if (prior.status === 'sent') return 'already_sent';
    if (prior.status === 'opted_out' || prior.status === 'no_phone') return prior.status;
    if (prior.status === 'failed') return permanent(event, 'Check-in SMS failed permanently on an earlier attempt');

    const mark = (status: string, extra = sql``) => asService(db, (trx) => sql`
      update checkin_messages set status = ${status}, attempts = attempts + 1, updated_at = now() ${extra}
       where event_id = ${event.eventId}::uuid`.execute(trx));

    if (prior.opted_out) {
      await mark('opted_out');
      return 'opted_out';
    }
    if (!configured) {
      await mark('failed');
      return permanent(event, 'Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM)');
    }
    let contact: { phone_number: string | null; alias: string | null };
    try {
      contact = await pii.getClientPII(clientId, CHECKINS_SERVICE_ACTOR, PHONE_PURPOSE);
    } catch (e) {
      if ((e as SwanError).code === 'NOT_FOUND') {
        await mark('no_phone');
        return 'no_phone';
      }
      throw e;
    }
    if (!contact.phone_number) {
      await mark('no_phone');
      return 'no_phone';
    }
    const alias = contact.alias ?? 'Swan';
    const from = options.from!;
    try {
      const message = await withIdempotencyKey(event.eventId, () => options.twilio!.messages.create({
        to: contact.phone_number!,
        body: texts[kind](alias),
        ...(from.startsWith('MG') ? { messagingServiceSid: from } : { from }),
      }));
      await mark('sent', sql`, message_sid = ${message.sid}, error_code = null`);
      return 'sent';
    } catch (error) {
      const failure = classifyTwilioError(error);
      if (failure.kind === 'retry') {
        await mark('sending', sql`, error_code = ${failure.code}`);
        throw new Error(failure.reason);
      }
      await asService(db, async (trx) => {
        await sql`update checkin_messages set status = 'failed', attempts = attempts + 1, error_code = ${failure.code}, updated_at = now()
                   where event_id = ${event.eventId}::uuid`.execute(trx);
        if (failure.code === TWILIO_UNSUBSCRIBED) await setOptOut(trx, clientId, true, 'twilio_21610');
      });
      return permanent(event, failure.reason);
    }
  };

  const setOptOut = (trx: Kysely<any>, clientId: string, out: boolean, source: string) => sql`
    insert into checkin_contacts as c (client_id, opted_out, source, opted_out_at, opted_in_at)
    values (${clientId}::uuid, ${out}, ${source}, case when ${out} then now() end, case when not ${out} then now() end)
    on conflict (client_id) do update set opted_out = excluded.opted_out, source = excluded.source, updated_at = now(),
      opted_out_at = coalesce(excluded.opted_out_at, c.opted_out_at), opted_in_at = coalesce(excluded.opted_in_at, c.opted_in_at)`.execute(trx);

  const receive: Checkins['receive'] = async (fields) => {
    const from = field(fields, 'From');
    const sid = field(fields, 'MessageSid') ?? field(fields, 'SmsSid');
    const body = field(fields, 'Body') ?? '';
    if (!from || !sid || !/^[A-Za-z]{2}[0-9a-fA-F]{32}$/.test(sid) || body.length > 10_000) {
      throw invalid('Not a Twilio SMS webhook', [{ path: 'From/MessageSid', message: 'required' }]);
    }
    const client = await pii.findClientByPhone(from, CHECKINS_SERVICE_ACTOR).catch(() => null);
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
    handlers: { morning_checkin_scheduled: handler, evening_checkin_scheduled: handler },
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
