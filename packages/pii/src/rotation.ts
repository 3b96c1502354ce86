import { sql, type Kysely } from 'kysely';
import { appendAudit, SYSTEM_ACTOR, withActor } from '@swan/core';
import { buf } from './cipher.js';
import type { KeyProvider } from './keys.js';

/** A wrapped data key as stored in `client_data_keys`. */
export interface KeyRow {
  key_version: number;
  master_key_id: string;
  wrapped_key: Uint8Array;
}

/** Progress of {@link rotateKeys}. */
export interface RotationProgress {
  done: number;
  total: number;
}

export interface RotateKeysOptions {
  /** Keys per transaction (default 500). */
  batchSize?: number;
  onProgress?: (p: RotationProgress) => void;
}

export interface RotationResult {
  rewrapped: number;
  /** Keys this run could not unwrap (unknown or retired master key); they stay where they are. */
  failed: number;
  /** Keys still under a master key other than the newest: 0 before an old key may be retired. */
  remaining: number;
}

/**
 * Re-wraps every data key that is not under `keys.currentKeyId`, in batches, each its own
 * transaction (`for update skip locked`, keyset order), so a stopped run resumes where it was and
 * two runs don't collide. Ciphertexts are untouched: the data keys stay the same.
 *
 * @example
 * ```ts
 * const { remaining } = await rotateKeys(db, LocalKeyProvider.fromEnv(env.SWAN_MASTER_KEYS!), { onProgress: console.log });
 * ```
 */
export async function rotateKeys(db: Kysely<any>, keys: KeyProvider, options: RotateKeysOptions = {}): Promise<RotationResult> {
  const batch = options.batchSize ?? 500;
  const current = keys.currentKeyId;
  const countOld = () => withActor(db, SYSTEM_ACTOR, async (trx) => {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from client_data_keys where master_key_id <> ${current}`.execute(trx);
    return Number(rows[0]!.n);
  });
  const total = await countOld();
  let done = 0;
  let failed = 0;
  let after = SYSTEM_ACTOR.id;
  options.onProgress?.({ done, total });
  for (;;) {
    const rows = await withActor(db, SYSTEM_ACTOR, async (trx) => {
      const { rows } = await sql<KeyRow & { client_id: string }>`
        select client_id, key_version, master_key_id, wrapped_key from client_data_keys
         where master_key_id <> ${current} and client_id > ${after}::uuid
         order by client_id, key_version limit ${batch} for update skip locked`.execute(trx);
      let rewrapped = 0;
      for (const r of rows) {
        let key: Buffer | undefined;
        try {
          key = await keys.unwrap(r.master_key_id, buf(r.wrapped_key), { clientId: r.client_id });
        } catch {
          failed += 1;
          continue;
        }
        const w = await keys.wrap(key, { clientId: r.client_id });
        key.fill(0);
        await sql`update client_data_keys set master_key_id = ${w.keyId}, wrapped_key = ${w.wrapped}, rewrapped_at = now()
           where client_id = ${r.client_id}::uuid and key_version = ${r.key_version}`.execute(trx);
        await sql`update client_profile_pii set encryption_key_id = ${w.keyId} where client_id = ${r.client_id}::uuid`.execute(trx);
        rewrapped += 1;
      }
      if (rewrapped) await appendAudit(trx, { actor: SYSTEM_ACTOR, action: 'KEYS_ROTATED', resource: 'client_data_keys', details: { rewrapped, toKeyId: current } });
      done += rewrapped;
      return rows;
    });
    options.onProgress?.({ done, total });
    if (rows.length < batch) break;
    after = rows.at(-1)!.client_id;
  }
  return { rewrapped: done, failed, remaining: await countOld() };
}
