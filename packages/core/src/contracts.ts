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
