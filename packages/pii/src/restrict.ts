import { sql, type Kysely } from 'kysely';
import { appendAudit, errors, isUuid, withActor, type Actor } from '@swan/core';
import { checkClientId, forbidden, notFound, PII_TABLE, recordedReasonOf, sealedNote, type PiiContext } from './context.js';
import { openSealed, sealIfKeyed } from './sealer.js';
import type { RecordedReason } from './types.js';

/** One restriction of processing, as the export and the service answer it (reasons opened; `null` once shredded). */
export interface RestrictionRecord {
  restrictedAt: string;
  reason: string | null;
  liftedAt: string | null;
  liftReason: string | null;
}

/**
 * True while processing of the client's data is restricted (GDPR Art. 18): one call of the
 * security-definer `swan_pii_client_restricted`, so any handle and any actor may ask.
 *
 * @example
 * ```ts
 * if (await isProcessingRestricted(db, clientId)) throw errors.processingRestricted();
 * ```
 */
export async function isProcessingRestricted(db: Kysely<any>, clientId: string): Promise<boolean> {
  if (!isUuid(clientId)) return false;
  const { rows } = await sql<{ r: boolean }>`select swan_pii_client_restricted(${clientId.toLowerCase()}::uuid) as r`.execute(db);
  return rows[0]?.r === true;
}

/**
 * Throws 403 `PROCESSING_RESTRICTED` while processing of the client's data is restricted.
 *
 * @example
 * ```ts
 * await assertProcessingAllowed(trx, clientId); // before queueing AI work for the client
 * ```
 */
export async function assertProcessingAllowed(db: Kysely<any>, clientId: string): Promise<void> {
  if (await isProcessingRestricted(db, clientId)) throw errors.processingRestricted();
}

/** Restriction of processing (GDPR Art. 18): restrict, unrestrict, history. */
export function createPiiRestriction(ctx: PiiContext) {
  /**
   * Restricts processing of a live client's data (admin): the data is kept, exports and admin reads
   * still work, but the consent guard, AI and photo routes, check-in scheduling and sending and
   * `ai_service` reads refuse with 403 `PROCESSING_RESTRICTED` until {@link unrestrict}. Audited as
   * `PROCESSING_RESTRICTED`; `CONFLICT` when already restricted, `NOT_FOUND` for an unknown,
   * soft-deleted or erased client. The reason is stored sealed under the client's key; the audit
   * entry keeps the record code (default `data_subject_request`).
   *
   * @example
   * ```ts
   * await pii.restrict(admin, clientId, 'accuracy contested by the client (Art. 18(1)(a))');
   * ```
   */
  async function restrict(actor: Actor, clientId: string, reason: RecordedReason): Promise<{ clientId: string; restrictedAt: string }> {
    const id = checkClientId(clientId);
    if (actor?.role !== 'admin') throw forbidden('Only an admin may restrict processing');
    const why = recordedReasonOf(reason, 'data_subject_request');
    const result = await withActor(ctx.db, actor, async (trx) => {
      const { rows: live } = await sql<{ ok: boolean }>`select swan_pii_lock_live_client(${id}::uuid) as ok`.execute(trx);
      const audit = { actor, action: 'PROCESSING_RESTRICTED', resource: PII_TABLE, resourceId: id, reason: why.code, details: await sealedNote(ctx, trx, id, why.text) };
      if (!live[0]?.ok) {
        await appendAudit(trx, { ...audit, outcome: 'not_found' });
        return null;
      }
      const sealed = await sealIfKeyed(ctx, trx, id, why.text, 'restriction.reason');
      const { rows } = await sql<{ restricted_at: Date }>`insert into client_restrictions (client_id, restricted_by, reason)
        values (${id}::uuid, ${actor.id}::uuid, ${sealed}) on conflict (client_id) where lifted_at is null do nothing
        returning restricted_at`.execute(trx);
      if (!rows[0]) return 'conflict' as const;
      await appendAudit(trx, { ...audit, outcome: 'allowed' });
      return { clientId: id, restrictedAt: new Date(rows[0].restricted_at).toISOString() };
    });
    if (result === null) throw notFound();
    if (result === 'conflict') throw errors.conflict('Processing of this client is already restricted');
    return result;
  }

  /**
   * Lifts the restriction of processing (admin); the history keeps both reasons (sealed). Audited
   * as `PROCESSING_UNRESTRICTED` with the record code (default `data_subject_request`); `CONFLICT`
   * when the client is not restricted.
   *
   * @example
   * ```ts
   * await pii.unrestrict(admin, clientId, 'accuracy verified');
   * ```
   */
  async function unrestrict(actor: Actor, clientId: string, reason: RecordedReason): Promise<{ clientId: string; liftedAt: string }> {
    const id = checkClientId(clientId);
    if (actor?.role !== 'admin') throw forbidden('Only an admin may lift a restriction');
    const why = recordedReasonOf(reason, 'data_subject_request');
    const result = await withActor(ctx.db, actor, async (trx) => {
      const audit = { actor, action: 'PROCESSING_UNRESTRICTED', resource: PII_TABLE, resourceId: id, reason: why.code, details: await sealedNote(ctx, trx, id, why.text) };
      // a restricted client is live, so it has a key; without one nothing is updated below
      const sealed = await sealIfKeyed(ctx, trx, id, why.text, 'restriction.lift_reason');
      const { rows } = sealed === null ? { rows: [] } : await sql<{ lifted_at: Date }>`update client_restrictions
          set lifted_at = now(), lifted_by = ${actor.id}::uuid, lift_reason = ${sealed}
        where client_id = ${id}::uuid and lifted_at is null returning lifted_at`.execute(trx);
      if (rows[0]) {
        await appendAudit(trx, { ...audit, outcome: 'allowed' });
        return { clientId: id, liftedAt: new Date(rows[0].lifted_at).toISOString() };
      }
      const { rows: known } = await sql`select 1 from client_profile_pii where client_id = ${id}::uuid and erased_at is null`.execute(trx);
      if (!known[0]) {
        await appendAudit(trx, { ...audit, outcome: 'not_found' });
        return null;
      }
      return 'conflict' as const;
    });
    if (result === null) throw notFound();
    if (result === 'conflict') throw errors.conflict('Processing of this client is not restricted');
    return result;
  }

  /**
   * True while processing of the client's data is restricted.
   *
   * @example
   * ```ts
   * if (await pii.isRestricted(clientId)) skipNewsletter();
   * ```
   */
  function isRestricted(clientId: string): Promise<boolean> {
    return isProcessingRestricted(ctx.db, checkClientId(clientId));
  }

  return { restrict, unrestrict, isRestricted };
}

/** The restriction history of a client, oldest first, reasons opened, in a transaction that can see it (admin, the client). */
export async function restrictionHistory(ctx: PiiContext, trx: Kysely<any>, clientId: string): Promise<RestrictionRecord[]> {
  const { rows } = await sql<{ restricted_at: Date; reason: string; lifted_at: Date | null; lift_reason: string | null }>`
    select restricted_at, reason, lifted_at, lift_reason from client_restrictions where client_id = ${clientId}::uuid order by restricted_at, id`.execute(trx);
  const opened = await openSealed(ctx, trx, clientId, rows.flatMap((r) => [[r.reason, 'restriction.reason'], [r.lift_reason, 'restriction.lift_reason']] as const));
  return rows.map((r, i) => ({
    restrictedAt: new Date(r.restricted_at).toISOString(),
    reason: opened[2 * i]!,
    liftedAt: r.lifted_at ? new Date(r.lifted_at).toISOString() : null,
    liftReason: opened[2 * i + 1]!,
  }));
}
