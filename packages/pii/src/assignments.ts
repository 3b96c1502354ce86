import { sql, type Kysely } from 'kysely';

/**
 * True when `trainerId` is assigned to `clientId`. Run it inside `withActor` (it honours row-level
 * security: a trainer sees only its own assignments, an admin all).
 *
 * @example
 * ```ts
 * await withActor(db, actor, (trx) => isAssignedTrainer(trx, actor.id, clientId));
 * ```
 */
export async function isAssignedTrainer(trx: Kysely<any>, trainerId: string, clientId: string): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`select exists (select 1 from trainer_client_assignments
    where trainer_id = ${trainerId}::uuid and client_id = ${clientId}::uuid) as ok`.execute(trx);
  return rows[0]?.ok === true;
}
