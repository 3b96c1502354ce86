import type { Kysely } from 'kysely';
import type { CountryCode } from 'libphonenumber-js';
import type { ErasureParticipant, EventPublisher } from '@swan/core';
import type { KeyProvider } from './keys.js';
import type { RecordCode } from './purposes.js';
import type { ClientPII, ClientTrainingInput } from './validation.js';

/**
 * Options of {@link createPii}.
 *
 * @example
 * ```ts
 * const options: PiiServiceOptions = { db, keys, indexKey, events: outbox, aliasRetentionDays: 30 };
 * ```
 */
export interface PiiServiceOptions {
  /** Application handle (swan_app on PostgreSQL). */
  db: Kysely<any>;
  keys: KeyProvider;
  /** Blind-index key (`SWAN_INDEX_KEY`, ≥ 32 bytes), separate from the master keys. */
  indexKey: Buffer;
  /** The outbox, when installed: `client_erased` is published in the erasure's transaction. */
  events?: EventPublisher;
  /**
   * What other packages erase in the erasure's own transaction (e.g. `checkins.erasureParticipant()`):
   * a list, or a function read at each erasure (for participants created after the PII service).
   */
  erasureParticipants?: readonly ErasureParticipant[] | (() => readonly ErasureParticipant[]);
  /**
   * The purposes a PII read may state (`getClientPII`'s `purpose`, API.md's `purpose` parameter):
   * snake_case codes, default `DEFAULT_PURPOSES`. The SDK's own reads use `service_delivery`.
   */
  purposes?: readonly string[];
  /** Country for national phone numbers (default `US`). */
  defaultPhoneCountry?: CountryCode;
  /** Days an erased client's alias stays reserved on its tombstone (default 30). */
  aliasRetentionDays?: number;
  /**
   * Commit of audited reads: `durable` (default) waits for the audit entry to reach disk; `fast`
   * sets `synchronous_commit = off` for that transaction only, so a database crash may lose the
   * last few hundred milliseconds of read-audit entries (never a write: creates, deletes and
   * erasures always commit durably). See docs/pii.md.
   */
  readCommit?: 'durable' | 'fast';
  /**
   * Audited reads are sent in batches: while `maxInFlight` statements of reads run (default 2),
   * the reads that arrive wait and leave together as one statement and one commit, at most
   * `maxBatch` of them (default 32). A read that finds a free slot leaves at once. Each read keeps
   * its own actor, row-level security and audit entry; see docs/pii.md.
   */
  readBatching?: { maxInFlight?: number; maxBatch?: number };
  /** Unwrapped data-key cache: bounded LRU with a TTL (default 10,000 keys, 5 minutes); `false` disables it. */
  keyCache?: { max?: number; ttlMs?: number } | false;
  now?: () => Date;
}

/** A client as shown outside PII access: id and alias only. */
export interface ClientRef {
  clientId: string;
  alias: string | null;
}

/** Decrypted PII, API.md's names. */
export type DecryptedPII = { clientId: string; alias: string | null } & { [K in keyof ClientPII]-?: ClientPII[K] | null };

/** Training data with the alias, never PII. */
export type TrainingRecord = { clientId: string; alias: string | null; age: number } & { [K in keyof ClientTrainingInput]-?: ClientTrainingInput[K] | null };

/**
 * Why a PII read happens: one of the configured purposes and an optional note (at most 200
 * characters, stored sealed under the client's data key). `reason` is accepted as the note.
 *
 * @example
 * ```ts
 * await pii.getClientPII(clientId, trainer, { purpose: 'session_planning', note: 'Tuesday call' });
 * ```
 */
export interface PiiAccess {
  purpose: string;
  note?: string | null;
  reason?: string | null;
}

/**
 * The reason of a change (soft delete, restore, erasure, restriction): the free text (1 to 500
 * characters, stored sealed under the client's data key, so erasure shreds it) and optionally the
 * record code the audit entry keeps in plaintext (one of `RECORD_CODES`).
 *
 * @example
 * ```ts
 * await pii.erase(clientId, admin, { reason: 'asked by email, ticket 4411', code: 'data_subject_request' });
 * ```
 */
export type RecordedReason = string | { reason: string; code?: RecordCode };
