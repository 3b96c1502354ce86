import type { Kysely } from 'kysely';

/** An event to publish in the caller's transaction (see `@swan/outbox`). */
export interface PublishableEvent {
  eventType: string;
  payload: Record<string, unknown>;
  /** Ordering key: events of one aggregate are handled in order when ordering is enabled. */
  aggregateType?: string;
  aggregateId?: string;
  /** Publishing the same key twice is a no-op that returns the first event. */
  idempotencyKey?: string;
  scheduledFor?: Date;
}

/**
 * What a package needs to publish side effects without depending on `@swan/outbox`: the outbox
 * implements it; packages take it as an optional `events` option ("when the outbox is installed").
 * `publish` must write inside `trx`, so the event commits or rolls back with the business change.
 * Payloads carry ids and aliases, never PII.
 */
export interface EventPublisher {
  publish(trx: Kysely<any>, event: PublishableEvent): Promise<{ eventId: string }>;
}

/**
 * A package's part of a data-subject export (GDPR art. 15/20). `@swan/pii` assembles the
 * document from every installed contributor; each returns JSON-serializable data under its `name`.
 */
export interface ExportContributor {
  /** Key in the export document, e.g. `consents`, `masterPrompts`, `subscriptions`. */
  name: string;
  collect(trx: Kysely<any>, clientId: string): Promise<unknown>;
}

/**
 * A package's part of an erasure (GDPR art. 17) that must happen in the erasing transaction
 * itself: `@swan/pii`'s `erase()` calls every installed participant with its transaction, after
 * the client's PII row is tombstoned (`erased_at` set) and before `client_erased` is published.
 * The transaction runs with the erasing admin's settings (`app.current_user_role = 'admin'`); a
 * participant that throws rolls the whole erasure back. Work that must reach outside the
 * database (Stripe, Twilio) belongs in a `client_erased` outbox handler instead.
 *
 * @example
 * ```ts
 * const participant: ErasureParticipant = {
 *   name: 'notes',
 *   async erase(trx, clientId) { await sql`delete from coach_notes where client_id = ${clientId}::uuid`.execute(trx); },
 * };
 * ```
 */
export interface ErasureParticipant {
  /** Names the participant in errors and docs, e.g. `checkins`. */
  name: string;
  erase(trx: Kysely<any>, clientId: string): Promise<void>;
}

/**
 * A retention rule: how one package removes rows older than a window. `@swan/outbox`'s
 * `runRetention` runs the rules every package exports (`outboxRetentionRules()`,
 * `billingRetentionRules()`, `checkinsRetentionRules()`, …).
 *
 * @example
 * ```ts
 * const rule: RetentionRule = {
 *   name: 'notes.old', table: 'coach_notes', defaultWindowMs: 365 * 86_400_000, description: 'notes after a year',
 *   async run(db, { cutoff, dryRun }) { return dryRun ? 0 : 0; },
 * };
 * ```
 */
export interface RetentionRule {
  /** `<package>.<what>`, e.g. `outbox.completed`: the key of `windows` overrides. */
  name: string;
  /** The table it removes rows from (reports). */
  table: string;
  /** Default window in ms; `null`: the rule runs only when given a window. */
  defaultWindowMs: number | null;
  /** One line: what is removed and when. */
  description: string;
  /**
   * Removes rows older than `cutoff` in batches of `batchSize`, each its own short transaction;
   * with `dryRun` only counts them. Returns the rows removed (or that would be). A table that does
   * not exist (package not installed) counts 0. May return extra facts for the report.
   */
  run(db: Kysely<any>, options: { cutoff: Date; batchSize: number; dryRun: boolean }): Promise<number | { removed: number; details?: Record<string, unknown> }>;
}

/**
 * A recurring schedule stored at run time (per-client schedules), see {@link ScheduleStore}.
 *
 * @example
 * ```ts
 * const morning: StoredSchedule = {
 *   name: `checkin:${clientId}:morning`, cron: '0 7 * * *', timezone: 'America/Los_Angeles',
 *   eventType: 'morning_checkin_scheduled', payload: { clientId, timezone: 'America/Los_Angeles' }, slotField: 'scheduledFor',
 * };
 * ```
 */
export interface StoredSchedule {
  /** Unique name: letters, digits and `_ . : @ -`, at most 120 characters, e.g. `checkin:<clientId>:morning`. */
  name: string;
  /** Cron expression: 5 fields (minute precision) or 6 (seconds first). */
  cron: string;
  /** IANA time zone the cron fields are read in (default `UTC`). */
  timezone?: string;
  /** Event type of each occurrence. */
  eventType: string;
  /** Payload of every occurrence (default `{}`); ids and aliases only, never PII. */
  payload?: Record<string, unknown>;
  /** Payload key that receives each occurrence's slot as an ISO time (e.g. `scheduledFor`). */
  slotField?: string;
  aggregateType?: string;
  aggregateId?: string;
}

/**
 * What a package needs to keep recurring schedules without depending on `@swan/outbox`: the
 * outbox implements it (`createScheduleStore({ outbox })`); packages take it as an option (e.g.
 * `createCheckins({ schedules })`). Each occurrence is one outbox event keyed by the schedule's
 * name and slot, so any number of instances fire a slot once; the next occurrence is always
 * queued. Both methods write inside `trx`, so the schedule commits or rolls back with the
 * business change.
 *
 * @example
 * ```ts
 * await db.transaction().execute(async (trx) => {
 *   const { next } = await schedules.upsert(trx, { name: `nudge:${clientId}`, cron: '0 9 * * 1', eventType: 'client_nudge', payload: { clientId } });
 *   await schedules.remove(trx, `nudge:${otherClientId}`);
 * });
 * ```
 */
export interface ScheduleStore {
  /**
   * Creates or replaces a schedule and queues its next occurrence. A changed definition replaces
   * the queued occurrence that is not yet due; an unchanged one keeps it (and queues the next one
   * if none is queued). Returns the next occurrence's slot and event id (null when the cron never
   * fires again). Throws `VALIDATION_FAILED` on a bad definition, writing nothing.
   */
  upsert(trx: Kysely<any>, schedule: StoredSchedule): Promise<{ next: Date | null; eventId: string | null }>;
  /** Ends a schedule and deletes its queued occurrence that is not yet due; false when there was none. */
  remove(trx: Kysely<any>, name: string): Promise<boolean>;
}

/** A table holding personal data, as its package describes it in its {@link ProcessingRecord}. */
export interface PersonalDataTable {
  /** The table's name, e.g. `client_consents`. */
  table: string;
  /** What it holds about whom, one line. */
  holds: string;
  /** Categories of personal data in it, e.g. `contact details`, `health data`, `none (ids only)`. */
  categories: readonly string[];
  /** Whether the values are encrypted under the client's data key. */
  encrypted: boolean;
  /** What erasure (`PiiService.erase`) does to the rows of a client. */
  erasure: string;
  /** How long rows stay when no retention rule of the package removes them, e.g. `until erasure`. */
  retention?: string;
}

/** A third party that processes personal data on the controller's behalf (GDPR Art. 28). */
export interface Processor {
  /** e.g. `Stripe`. */
  name: string;
  /** What it does for the controller, one line. */
  purpose: string;
  /** What personal data it receives. */
  data: readonly string[];
  /** When it receives it, and how erasure reaches it. */
  notes?: string;
}

/**
 * A package's entry in the record of processing activities (GDPR Art. 30): what it processes,
 * why, where it keeps it, who else receives it, and for how long. Each package exports one
 * (`piiProcessingRecord()`, `consentProcessingRecord()`, …); `swan ropa` assembles those of the
 * installed packages, so the record is generated from the code that does the processing.
 *
 * @example
 * ```ts
 * const record: ProcessingRecord = {
 *   package: 'notes', activity: 'Coach notes', purposes: ['session planning'], dataSubjects: ['clients'],
 *   tables: [{ table: 'coach_notes', holds: 'notes per client', categories: ['health data'], encrypted: true, erasure: 'deleted' }],
 *   processors: [], publishes: [], consumes: [], retentionRules: [], measures: ['row-level security'],
 * };
 * ```
 */
export interface ProcessingRecord {
  /** The package, e.g. `pii` (without the `@swan/` scope). */
  package: string;
  /** The processing activity, one line, e.g. `Client identity and contact data`. */
  activity: string;
  /** Why the data is processed (Art. 30(1)(b)). */
  purposes: readonly string[];
  /** Whose data (Art. 30(1)(c)), e.g. `clients`, `trainers and admins (staff)`. */
  dataSubjects: readonly string[];
  /** The purposes a read of personal data must state, when the package enforces them (`@swan/pii`). */
  readPurposes?: readonly string[];
  /** The consent types the package records or checks (`@swan/consent`). */
  consentTypes?: readonly string[];
  /** Tables holding personal data (Art. 30(1)(c) and (f)). */
  tables: readonly PersonalDataTable[];
  /** Recipients outside the controller (Art. 30(1)(d)). */
  processors: readonly Processor[];
  /** Event types the package defines for others to publish (`@swan/outbox`: its built-in event map). */
  eventTypes?: readonly string[];
  /** Outbox event types the package publishes (payloads carry ids and aliases, never PII). */
  publishes: readonly string[];
  /** Outbox event types the package handles. */
  consumes: readonly string[];
  /** The package's retention rules (Art. 30(1)(f)): the same objects `swan retention run` runs. */
  retentionRules: readonly RetentionRule[];
  /** Technical and organisational security measures (Art. 30(1)(g), Art. 32). */
  measures: readonly string[];
}

/** The prefix of every sealed value ({@link ClientDataSealer}): `swan:sealed:v1:<base64>`. */
export const SEALED_PREFIX = 'swan:sealed:v1:';

/**
 * True when `value` is a sealed value ({@link ClientDataSealer}), not plaintext.
 *
 * @example
 * ```ts
 * isSealed(row.revoked_reason) ? await sealer.open(trx, clientId, row.revoked_reason, 'consent.revoked_reason') : row.revoked_reason;
 * ```
 */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(SEALED_PREFIX);
}

/**
 * Seals free text that describes a client (a read note, a deletion or restriction reason, consent
 * proof) under that client's data key, so that erasure, which shreds the key, shreds the text too.
 * `@swan/pii` implements it (`pii.sealer`); packages that don't depend on pii take it as an option.
 * A sealed value is text ({@link SEALED_PREFIX} + base64), so it fits text and jsonb columns; it is
 * authenticated together with the client id and `field` (what the value is, e.g.
 * `consent.ip_address`), so it opens only for that client and that field.
 *
 * @example
 * ```ts
 * const sealed = await sealer.seal(trx, clientId, 'asked by phone', 'restriction.reason');
 * await sealer.open(trx, clientId, sealed, 'restriction.reason'); // 'asked by phone', or null once the client is erased
 * ```
 */
export interface ClientDataSealer {
  /** Seals `plaintext` under the client's data key; `NOT_FOUND` when the client has no key (unknown or erased). */
  seal(trx: Kysely<any>, clientId: string, plaintext: string, field: string): Promise<string>;
  /**
   * The plaintext of a sealed value, or `null` once the client's data key is shredded (erased) or
   * not visible to the transaction's actor. A value that is not sealed (written before sealing or
   * without a sealer) is returned as it is.
   */
  open(trx: Kysely<any>, clientId: string, sealed: string, field: string): Promise<string | null>;
}
