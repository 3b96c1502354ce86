import { sql, type Kysely, type Transaction } from 'kysely';
import { withService, type Actor } from '@swan/core';
import type { TwilioClient } from './twilio.js';
import type { CheckInKind, CheckinsOptions, CheckinsPii, CheckinTexts } from './types.js';

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
 * The note of every phone-number read (it names the reader): audited under the purpose
 * `service_delivery`, the note sealed under the client's data key.
 *
 * @example
 * ```ts
 * // swan_audit_log: actor CHECKINS_SERVICE_ACTOR.id, action PII_ACCESS, reason 'service_delivery', details.note sealed PHONE_PURPOSE
 * ```
 */
export const PHONE_PURPOSE = 'checkin_sms: @swan/checkins service sends a check-in SMS';

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

/** What the parts of one check-ins service (scheduling, sending, inbound) share. */
export interface CheckinsContext {
  readonly db: Kysely<any>;
  readonly events: CheckinsOptions['events'];
  readonly schedules: CheckinsOptions['schedules'];
  readonly pii: CheckinsPii;
  readonly twilio: TwilioClient | null;
  readonly authToken: string | null;
  readonly texts: CheckinTexts;
  readonly now: () => Date;
  /** Twilio client and sender are both set. */
  readonly configured: boolean;
  readonly sendLeaseMs: number;
  readonly from: string;
  /** `TWILIO_FROM` may be a Messaging Service SID (`MG…`) instead of a number. */
  readonly viaService: boolean;
}

export function createCheckinsContext(options: CheckinsOptions): CheckinsContext {
  const from = options.from ?? '';
  return {
    db: options.db,
    events: options.events,
    schedules: options.schedules,
    pii: options.pii,
    twilio: options.twilio,
    authToken: options.authToken,
    texts: { ...DEFAULT_TEXTS, ...options.messages },
    now: options.now ?? (() => new Date()),
    configured: Boolean(options.twilio && options.from),
    sendLeaseMs: Math.max(1, Math.round(options.sendLeaseMs ?? 120_000)),
    from,
    viaService: from.startsWith('MG'),
  };
}

export const asService = <T>(db: Kysely<any>, fn: (trx: Transaction<any>) => Promise<T>): Promise<T> => withService(db, SERVICE_ROLE, fn);

/** Records a client's opt-out (`out`) or opt-in, and where it came from. */
export const setOptOut = (trx: Kysely<any>, clientId: string, out: boolean, source: string) => sql`
  insert into checkin_contacts as c (client_id, opted_out, source, opted_out_at, opted_in_at)
  values (${clientId}::uuid, ${out}, ${source}, case when ${out} then now() end, case when not ${out} then now() end)
  on conflict (client_id) do update set opted_out = excluded.opted_out, source = excluded.source, updated_at = now(),
    opted_out_at = coalesce(excluded.opted_out_at, c.opted_out_at), opted_in_at = coalesce(excluded.opted_in_at, c.opted_in_at)`.execute(trx);
