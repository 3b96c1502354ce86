import type { Kysely } from 'kysely';
import type { Actor, ErasureParticipant, EventPublisher, ExportContributor, ScheduleStore } from '@swan/core';
import type { TwilioClient } from './twilio.js';

/** Morning or evening check-in. */
export type CheckInKind = 'morning' | 'evening';

/**
 * What check-ins need of `@swan/pii` (its `createPii()` service fits): an audited, purpose-stated read of
 * the phone number and alias only (`NOT_FOUND` once the client is soft-deleted or erased), and a
 * lookup by phone through the blind index.
 *
 * @example
 * ```ts
 * const pii: CheckinsPii = createPii({ db, keys, indexKey });
 * ```
 */
export interface CheckinsPii {
  phoneFor(actor: Actor, clientId: string, purpose: string): Promise<{ phone: string | null; alias: string | null }>;
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

export interface CheckinsOptions {
  /** Application handle (swan_app on PostgreSQL). */
  db: Kysely<any>;
  /** The outbox: check-in events and `checkin_response_received` are published through it. */
  events: EventPublisher;
  /**
   * The schedule store daily check-ins run on (`createScheduleStore({ outbox })` of
   * `@swan/outbox`): each client's daily check-in is one stored recurring schedule whose
   * occurrences fire once per slot however many instances run. Required by
   * {@link Checkins.setDailySchedule} (`CONFIG_INVALID` without it); one-off check-ins need only
   * `events`. The workers must advance stored schedules: `createWorker({ schedules })`, `[]` at least.
   */
  schedules?: ScheduleStore;
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
  /**
   * Creates or replaces a client's daily check-in in `trx`: a recurring schedule of the schedule
   * store named `checkin:<clientId>:<kind>`, whose next occurrence is queued now. Returns that
   * occurrence's event id and time.
   */
  setDailySchedule(trx: Kysely<any>, input: DailyScheduleInput): Promise<{ eventId: string; nextRunAt: Date }>;
  /** Stops a daily check-in in `trx`: its queued occurrence is removed (one already due is skipped). */
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
  /**
   * The check-ins part of an erasure, for `createPii({ erasureParticipants })`: in the erasing
   * transaction it deletes the client's replies and opt-out record and ends its schedules (the
   * send history stays: event ids, kinds, times, statuses, Twilio SIDs; no number, no text).
   */
  erasureParticipant(): ErasureParticipant;
  readonly configured: boolean;
}
