import { sql } from 'kysely';
import { errors, SYSTEM_ACTOR, withActor, type Actor } from '@swan/core';
import { createClientsList } from './clients-list.js';
import { checkClientId, createPiiContext } from './context.js';
import { createPiiExport } from './export.js';
import { createPiiReads } from './reads.js';
import { createPiiRectify } from './rectify.js';
import { createPiiRestriction, isProcessingRestricted } from './restrict.js';
import { rotateKeys as rotateDataKeys, type RotateKeysOptions, type RotationResult } from './rotation.js';
import { createSealer } from './sealer.js';
import type { PiiServiceOptions, TrainingRecord } from './types.js';
import { createPiiWrites } from './writes.js';

export { PII_FIELDS, PII_TABLE } from './context.js';
export type { ClientRef, DecryptedPII, PiiAccess, PiiServiceOptions, RecordedReason, TrainingRecord } from './types.js';

/**
 * Creates the PII service: create, audited read, lookups, rectification, restriction of processing,
 * the admin client list, soft delete, erasure, rotation, export.
 * Every database access runs in `withActor`, so row-level security decides what each actor sees.
 *
 * @example
 * ```ts
 * const pii = createPii({ db, keys: LocalKeyProvider.fromEnv(env.SWAN_MASTER_KEYS!), indexKey });
 * const { clientId, alias } = await pii.createClient(admin, { pii: {...}, training: {...} });
 * const record = await pii.getClientPII(clientId, trainer, { purpose: 'session_planning', note: 'Tuesday call' });
 * ```
 */
export function createPii(options: PiiServiceOptions) {
  const ctx = createPiiContext(options);

  /**
   * Re-wraps every data key under the newest master key (see {@link rotateKeys}).
   *
   * @example
   * ```ts
   * const { remaining } = await pii.rotateKeys({ batchSize: 500 });
   * ```
   */
  function rotateKeys(options: RotateKeysOptions = {}): Promise<RotationResult> {
    return rotateDataKeys(ctx.db, ctx.keys, options);
  }

  /** Of `ids`, those that already have a PII row (legacy split idempotence). */
  async function migratedIds(ids: string[]): Promise<Set<string>> {
    return withActor(ctx.db, SYSTEM_ACTOR, async (trx) => {
      const { rows } = await sql<{ id: string }>`select client_id::text as id from client_profile_pii where client_id = any(${ids}::uuid[])`.execute(trx);
      return new Set(rows.map((r) => r.id));
    });
  }

  /** How many of `ids` have a PII row and a training row (legacy split count check). */
  async function migratedCounts(ids: string[]): Promise<{ pii: number; training: number }> {
    return withActor(ctx.db, SYSTEM_ACTOR, async (trx) => {
      const { rows } = await sql<{ pii: number; training: number }>`select
          (select count(*)::int from client_profile_pii where client_id = any(${ids}::uuid[])) as pii,
          (select count(*)::int from client_profile_training where client_id = any(${ids}::uuid[])) as training`.execute(trx);
      return { pii: Number(rows[0]!.pii), training: Number(rows[0]!.training) };
    });
  }

  const reads = createPiiReads(ctx);

  /**
   * Training data and alias (no PII) for an admin, an assigned trainer or the AI service; the AI
   * service gets 403 `PROCESSING_RESTRICTED` while the client's processing is restricted.
   *
   * @example
   * ```ts
   * const t = await pii.getTraining(clientId, { id: aiId, role: 'ai_service' }); // { alias: 'Orbit Swan', age: 34, … }
   * ```
   */
  async function getTraining(clientId: string, actor: Actor): Promise<TrainingRecord> {
    if (actor?.role === 'ai_service' && (await isProcessingRestricted(ctx.db, checkClientId(clientId)))) throw errors.processingRestricted();
    return reads.getTraining(clientId, actor);
  }

  return {
    /** Application handle the service runs on. */
    db: ctx.db,
    keys: ctx.keys,
    /** Blind indexes (email, phone) under the service's index key. */
    index: ctx.index,
    /** Seals other packages' free text about a client under its data key (e.g. `createConsent({ db, sealer: pii.sealer })`). */
    sealer: createSealer(ctx),
    /** The purposes a PII read may state. */
    purposes: [...ctx.purposes],
    ...reads,
    getTraining,
    ...createPiiWrites(ctx),
    ...createPiiRectify(ctx),
    ...createPiiRestriction(ctx),
    ...createClientsList(ctx),
    ...createPiiExport(ctx),
    rotateKeys,
    migratedIds,
    migratedCounts,
  };
}

/** The PII service {@link createPii} returns. */
export type PiiService = ReturnType<typeof createPii>;
