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
