import { sql } from 'kysely';
import { appendAudit, withActor, type Actor, type ExportContributor } from '@swan/core';
import { checkClientId, decrypt, deny, notFound, PII_COLUMNS, PII_TABLE, TRAINING_COLUMNS_SQL, type PiiContext, type PiiRow } from './context.js';
import { restrictionHistory } from './restrict.js';
import type { KeyRow } from './rotation.js';
import { openSealed } from './sealer.js';

/**
 * One access-log entry as a subject's export shows it (GDPR Art. 15(4): the right of access must
 * not adversely affect others). Staff and service actors keep their ids, as the controller's
 * accountable people; an actor who is itself a data subject — another client — appears by role
 * only, without id or note. `reason` is the code in plaintext (a read's purpose, a change's record
 * code), `note` the entry's sealed free text opened (the client's own data). The audit log itself
 * is unchanged.
 */
function accessLogEntry(row: Record<string, unknown>, note: string | null, subjectId: string): Record<string, unknown> {
  const { details: _details, ...rest } = row;
  const entry = { ...rest, id: Number(row.id), occurred_at: new Date(row.occurred_at as string).toISOString(), note };
  const otherSubject = row.actor_role === 'client' && String(row.actor_id).toLowerCase() !== subjectId;
  return otherSubject ? { ...entry, actor_id: null, reason: null, note: null } : entry;
}

/** The sealed note of an audit entry's details, if any. */
function noteIn(details: unknown): string | null {
  const d = (typeof details === 'string' ? JSON.parse(details) : details) as { note?: unknown } | null;
  return typeof d?.note === 'string' ? d.note : null;
}

/** The data-subject export of the PII service. */
export function createPiiExport(ctx: PiiContext) {
  /**
   * Data-subject export (GDPR art. 15/20) for an admin or the client themself: decrypted PII
   * (audited as `PII_EXPORT`), training data, alias, this client's access log and every
   * contributor's part (consents, master prompts, subscriptions, …).
   *
   * @example
   * ```ts
   * const doc = await pii.exportClientData(clientId, { id: clientId, role: 'client' }, ctx.exportContributors);
   * ```
   */
  async function exportClientData(clientId: string, actor: Actor, contributors: readonly ExportContributor[] = []): Promise<Record<string, unknown>> {
    const id = checkClientId(clientId);
    const allowed = actor?.role === 'admin' || (actor?.role === 'client' && actor.id.toLowerCase() === id);
    if (!allowed) return deny(ctx, actor, id, 'PII_EXPORT', { purpose: 'data_subject_request' }, 'Only an admin or the client may export this client');
    const doc = await withActor(ctx.db, actor, async (trx) => {
      const { rows } = await sql<PiiRow & KeyRow & { alias: string | null; created_at: Date; deleted_at: Date | null }>`
        select p.client_id, ${PII_COLUMNS}, p.created_at, p.deleted_at, k.key_version, k.master_key_id, k.wrapped_key, al.alias
          from client_profile_pii p
          left join client_data_keys k on k.client_id = p.client_id
          left join client_aliases al on al.client_id = p.client_id
         where p.client_id = ${id}::uuid and p.erased_at is null`.execute(trx);
      await appendAudit(trx, { actor, action: 'PII_EXPORT', resource: PII_TABLE, resourceId: id, outcome: rows[0] ? 'allowed' : 'not_found', reason: 'data_subject_request' });
      if (!rows[0]) return null;
      const pii = await decrypt(ctx, id, rows[0], rows);
      const { rows: training } = await sql<Record<string, unknown>>`
        select ${TRAINING_COLUMNS_SQL} from client_profile_training t where t.client_id = ${id}::uuid`.execute(trx);
      const { rows: accessLog } = await sql<Record<string, unknown>>`
        select id, occurred_at, actor_id, actor_role, action, outcome, reason, details from swan_audit_log
         where resource_id = ${id} order by id`.execute(trx);
      const notes = await openSealed(ctx, trx, id, accessLog.map((r) => [noteIn(r.details), 'audit.note'] as const));
      const out: Record<string, unknown> = {
        exportedAt: ctx.now().toISOString(),
        clientId: id,
        alias: rows[0].alias,
        createdAt: new Date(rows[0].created_at).toISOString(),
        deletedAt: rows[0].deleted_at ? new Date(rows[0].deleted_at).toISOString() : null,
        pii,
        training: training[0] ?? null,
        accessLog: accessLog.map((r, i) => accessLogEntry(r, notes[i]!, id)),
        restrictions: await restrictionHistory(ctx, trx, id),
      };
      for (const c of contributors) out[c.name] = await c.collect(trx, id);
      return out;
    });
    if (!doc) throw notFound();
    return doc;
  }

  return { exportClientData };
}
