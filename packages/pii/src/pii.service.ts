import { sql } from 'kysely';
import { SYSTEM_ACTOR, withActor } from '@swan/core';
import { createPiiContext } from './context.js';
import { createPiiExport } from './export.js';
import { createPiiReads } from './reads.js';
import { rotateKeys as rotateDataKeys, type RotateKeysOptions, type RotationResult } from './rotation.js';
import type { PiiServiceOptions } from './types.js';
import { createPiiWrites } from './writes.js';

export { PII_FIELDS, PII_TABLE } from './context.js';
export type { ClientRef, DecryptedPII, PiiServiceOptions, TrainingRecord } from './types.js';

/**
 * Creates the PII service: create, audited read, lookups, soft delete, erasure, rotation, export.
 * Every database access runs in `withActor`, so row-level security decides what each actor sees.
 *
 * @example
 * ```ts
 * const pii = createPii({ db, keys: LocalKeyProvider.fromEnv(env.SWAN_MASTER_KEYS!), indexKey });
 * const { clientId, alias } = await pii.createClient(admin, { pii: {...}, training: {...} });
 * const record = await pii.getClientPII(clientId, trainer, 'session planning');
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

  return {
    /** Application handle the service runs on. */
    db: ctx.db,
    keys: ctx.keys,
    /** Blind indexes (email, phone) under the service's index key. */
    index: ctx.index,
    ...createPiiReads(ctx),
    ...createPiiWrites(ctx),
    ...createPiiExport(ctx),
    rotateKeys,
    migratedIds,
    migratedCounts,
  };
}

/** The PII service {@link createPii} returns. */
export type PiiService = ReturnType<typeof createPii>;
