import type { Kysely } from 'kysely';
import type { CountryCode } from 'libphonenumber-js';
import type { ErasureParticipant, EventPublisher } from '@swan/core';
import type { KeyProvider } from './keys.js';
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
