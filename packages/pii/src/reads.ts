import { sql } from 'kysely';
import { appendAudit, assertActor, prepared, queryWhileCommitting, SYSTEM_ACTOR, withActor, type Actor, type Role, type SwanError } from '@swan/core';
import { InFlightBatcher } from './batcher.js';
import { accessOf, checkClientId, decrypt, deny, forbidden, noteOf, notFound, PII_TABLE, sealedNote, TRAINING_COLUMNS_SQL, type PiiContext, type PiiRow } from './context.js';
import { SERVICE_DELIVERY_PURPOSE } from './purposes.js';
import type { KeyRow } from './rotation.js';
import type { ClientRef, DecryptedPII, PiiAccess, TrainingRecord } from './types.js';
import { tracePiiRead } from './telemetry.js';

/** One audited read as swan_pii_audited_reads() takes it: the purpose in plaintext, the note sealed in `details`. */
interface ReadRequest {
  actor: Actor;
  clientId: string;
  action: string;
  purpose: string;
  details: Record<string, unknown>;
}
type ReadRow = PiiRow & KeyRow & { ord: number; outcome: string; alias: string | null };
/** What one audited read came to, decrypted (the batch's commit has succeeded when it is seen). */
type ReadResult = { outcome: 'allowed'; record: DecryptedPII } | { outcome: 'denied' | 'not_found' } | { outcome: 'error'; error: unknown };

const READER_ROLES: Role[] = ['admin', 'trainer'];

/**
 * The reads of the PII service: the audited PII read (batched: one statement and one commit for
 * the reads that wait together), the purpose-bound email and phone reads, training data, and the
 * lookups by blind index. Each runs under its actor, so row-level security decides what it sees.
 */
export function createPiiReads(ctx: PiiContext) {
  const reads = new InFlightBatcher<ReadRequest, ReadResult>((batch) => readBatch(batch), ctx.readBatching);

  /**
   * Decrypts a client's PII for an admin or an assigned trainer, for one of the configured
   * purposes (`createPii({ purposes })`, default `DEFAULT_PURPOSES`) with an optional note of at
   * most 200 characters, appending an audit entry in the same statement: the purpose in plaintext,
   * the note sealed under the client's data key (erasure shreds it). `last_accessed_at` /
   * `accessed_by` are copied from the entry when the audit chainer links it. `access` is
   * `{ purpose, note? }` (`reason` is accepted as the note), or a string `"purpose"` or
   * `"purpose: note"`. A missing or unknown purpose, or a longer note, is `VALIDATION_FAILED` and
   * writes nothing. Denied (`FORBIDDEN`) and unknown (`NOT_FOUND`) attempts are audited and
   * committed before the error is thrown.
   *
   * @example
   * ```ts
   * const pii = await service.getClientPII(clientId, { id: trainerId, role: 'trainer' }, { purpose: 'session_planning', note: 'Tuesday call' });
   * ```
   */
  async function getClientPII(clientId: string, actor: Actor, access: PiiAccess | string): Promise<DecryptedPII> {
    const id = checkClientId(clientId);
    // a role that may never read PII is denied (and audited) whatever else is wrong with the request
    if (!actor || !READER_ROLES.includes(actor.role)) return deny(ctx, actor, id, 'PII_ACCESS', access, 'This role may not read PII');
    const { purpose, note } = accessOf(ctx, access);
    return audited(id, actor, purpose, note, 'PII_ACCESS');
  }

  /**
   * The client's own email for the service itself (e.g. prefilling a Stripe checkout), for the
   * client themself or an admin. Read and audited like {@link getClientPII} under the purpose
   * `service_delivery`, with `note` (optional, at most 200 characters) sealed: a client's read by
   * the system actor on the client's behalf, an admin's under its own id; only the email leaves
   * this method.
   *
   * @example
   * ```ts
   * const email = await pii.emailFor({ id: clientId, role: 'client' }, clientId, 'prefill Stripe checkout email');
   * ```
   */
  async function emailFor(actor: Actor, clientId: string, note?: string | null): Promise<string | null> {
    return (await ownRecord(actor, clientId, note, 'email')).email ?? null;
  }

  /**
   * The client's phone number and alias for the service itself (e.g. sending a check-in SMS), for
   * an admin or service actor (role `admin`) or the client themself. Read and audited like
   * {@link emailFor} (purpose `service_delivery`, the note sealed); an admin's read is on record
   * under its own id. Only the phone and the alias leave this method. `NOT_FOUND` when the client
   * is soft-deleted, erased or unknown.
   *
   * @example
   * ```ts
   * const { phone, alias } = await pii.phoneFor(checkinsServiceActor, clientId, 'checkin_sms: send a check-in');
   * ```
   */
  async function phoneFor(actor: Actor, clientId: string, note?: string | null): Promise<{ phone: string | null; alias: string | null }> {
    const record = await ownRecord(actor, clientId, note, 'phone number');
    return { phone: record.phone_number ?? null, alias: record.alias };
  }

  /**
   * One audited read (purpose `service_delivery`) for the client themself (by the system actor on
   * the client's behalf, `details.onBehalfOf: 'client'`) or an admin (under its own id); everyone
   * else is denied, on record.
   */
  async function ownRecord(actor: Actor, clientId: string, note: unknown, what: string): Promise<DecryptedPII> {
    const id = checkClientId(clientId);
    const access = { purpose: SERVICE_DELIVERY_PURPOSE, note };
    if (actor?.role === 'admin') return audited(id, actor, SERVICE_DELIVERY_PURPOSE, noteOf(note), 'PII_ACCESS');
    if (actor?.role !== 'client' || actor.id !== id) return deny(ctx, actor, id, 'PII_ACCESS', access, `Only the client or an admin may read this ${what}`);
    return audited(id, SYSTEM_ACTOR, SERVICE_DELIVERY_PURPOSE, noteOf(note), 'PII_ACCESS', { onBehalfOf: 'client' });
  }

  /** The audited read itself, for an actor its callers have let through (an admin or a trainer). */
  function audited(clientId: string, actor: Actor, purpose: string, note: string | null, action: string, extra: Record<string, unknown> = {}): Promise<DecryptedPII> {
    return tracePiiRead({ action, reason: purpose, role: actor?.role ?? 'none' }, () => auditedRead(clientId, actor, purpose, note, action, extra));
  }

  async function auditedRead(clientId: string, actor: Actor, purpose: string, note: string | null, action: string, extra: Record<string, unknown>): Promise<DecryptedPII> {
    // checked here, not by the statement: a malformed read must fail alone, never the batch it joins
    assertActor(actor);
    // sealed before the read, under the client's key (dropped when the client has none: unknown or erased)
    const details = { ...extra, ...(await sealedNote(ctx, ctx.db, clientId, note)) };
    const read = await reads.submit({ actor, clientId, action, purpose, details });
    if (read.outcome === 'denied') throw forbidden('This trainer is not assigned to the client');
    if (read.outcome === 'error') {
      const code = (read.error as SwanError).code;
      if (code === 'PII_DECRYPTION_FAILED' || code === 'PII_KEY_UNAVAILABLE') {
        // the access is on record; record that it failed, too
        await withActor(ctx.db, actor, (trx) => appendAudit(trx, { actor, action, resource: PII_TABLE, resourceId: clientId, outcome: 'error', reason: purpose, details: { ...details, error: code } }));
      }
      throw read.error;
    }
    if (read.outcome !== 'allowed') throw notFound();
    return read.record;
  }

  /**
   * One statement for a batch of reads (swan_pii_audited_reads, migration pii/0003): each under its
   * own actor's settings, confined to the call. The rows are decrypted while PostgreSQL commits the
   * batch's audit entries, and handed out only once that commit has succeeded.
   */
  function readBatch(batch: ReadRequest[]): Promise<ReadResult[]> {
    const query = sql<ReadRow>`${prepared}
      select * from swan_pii_audited_reads(${batch.map((r) => r.actor.id)}::uuid[], ${batch.map((r) => r.actor.role)}::text[],
        ${batch.map((r) => r.clientId)}::uuid[], ${batch.map((r) => r.action)}::text[], ${batch.map((r) => r.purpose)}::text[],
        ${batch.map((r) => JSON.stringify(r.details))}::jsonb[], ${ctx.fastReads})`.compile(ctx.db);
    const open = (rows: ReadRow[]) => {
      const byRequest = batch.map((): ReadRow[] => []);
      for (const row of rows) byRequest[row.ord - 1]!.push(row);
      return Promise.all(byRequest.map((r, i) => openRead(batch[i]!.clientId, r)));
    };
    return queryWhileCommitting(ctx.db, query, open);
  }

  /** Decrypts one read's rows (one per data-key version) when it was allowed. */
  async function openRead(clientId: string, rows: ReadRow[]): Promise<ReadResult> {
    const outcome = rows[0]?.outcome;
    if (outcome !== 'allowed') return { outcome: outcome === 'denied' ? 'denied' : 'not_found' };
    try {
      const fields = await decrypt(ctx, clientId, rows[0]!, rows);
      return { outcome, record: { clientId, alias: rows[0]!.alias, ...fields } as DecryptedPII };
    } catch (error) {
      return { outcome: 'error', error };
    }
  }

  // ------------------------------------------------------------------ training, lookups

  /**
   * Training data and alias (no PII) for an admin, an assigned trainer or the AI service.
   *
   * @example
   * ```ts
   * const t = await pii.getTraining(clientId, { id: aiId, role: 'ai_service' }); // { alias: 'Orbit Swan', age: 34, … }
   * ```
   */
  async function getTraining(clientId: string, actor: Actor): Promise<TrainingRecord> {
    const id = checkClientId(clientId);
    if (!actor || !['admin', 'trainer', 'ai_service'].includes(actor.role)) throw forbidden('This role may not read training data');
    return withActor(ctx.db, actor, async (trx) => {
      const { rows } = await sql<Record<string, unknown>>`
        select t.client_id, a.alias, ${TRAINING_COLUMNS_SQL}
          from client_profile_training t left join client_aliases a on a.client_id = t.client_id
         where t.client_id = ${id}::uuid and t.deleted_at is null`.execute(trx);
      const row = rows[0];
      if (!row) {
        if (actor.role === 'trainer') {
          const { rows: e } = await sql<{ e: boolean }>`select swan_pii_client_exists(${id}::uuid) as e`.execute(trx);
          if (e[0]?.e) throw forbidden('This trainer is not assigned to the client');
        }
        throw notFound();
      }
      const { client_id, ...rest } = row;
      return { clientId: client_id as string, ...rest } as TrainingRecord;
    });
  }

  /**
   * A lookup through a blind index, audited in its transaction as `PII_LOOKUP` with the index used
   * (`details.index`: `email` or `phone`) and the outcome (`allowed` with the client found as the
   * resource, or `not_found`); never the value looked up.
   */
  async function findBy(kind: 'email' | 'phone', index: Buffer | null, actor: Actor): Promise<ClientRef | null> {
    return withActor(ctx.db, actor, async (trx) => {
      const { rows } = index === null ? { rows: [] } : await sql<{ client_id: string; alias: string | null }>`
        select p.client_id, a.alias from client_profile_pii p left join client_aliases a on a.client_id = p.client_id
         where ${sql.ref(`p.${kind}_index`)} = ${index} and p.deleted_at is null limit 1`.execute(trx);
      const found = rows[0] ? { clientId: rows[0].client_id, alias: rows[0].alias } : null;
      await appendAudit(trx, { actor, action: 'PII_LOOKUP', resource: PII_TABLE, resourceId: found?.clientId ?? null, outcome: found ? 'allowed' : 'not_found', details: { index: kind } });
      return found;
    });
  }

  /**
   * Finds a live client by email through its blind index, without decrypting anything. Row-level
   * security applies: a trainer only finds assigned clients. Audited as `PII_LOOKUP` (the index
   * and the outcome, never the email).
   *
   * @example
   * ```ts
   * await pii.findClientByEmail(' Ada@Example.com', admin); // { clientId, alias } or null
   * ```
   */
  async function findClientByEmail(email: string, actor: Actor): Promise<ClientRef | null> {
    return findBy('email', ctx.index.email(email), actor);
  }

  /**
   * Finds a live client by phone (any format that normalizes to the same E.164 number). Audited
   * as `PII_LOOKUP` like {@link findClientByEmail}.
   *
   * @example
   * ```ts
   * await pii.findClientByPhone('+1 213 373 4253', serviceActor);
   * ```
   */
  async function findClientByPhone(phone: string, actor: Actor): Promise<ClientRef | null> {
    return findBy('phone', ctx.index.phone(phone), actor);
  }

  /**
   * The alias of a client (what trainers, AI prompts, SMS and logs show), or `null` when the actor can't see it.
   *
   * @example
   * ```ts
   * await pii.getAlias(clientId, aiActor); // 'Pulsar Swan'
   * ```
   */
  async function getAlias(clientId: string, actor: Actor): Promise<string | null> {
    const id = checkClientId(clientId);
    return withActor(ctx.db, actor, async (trx) => {
      const { rows } = await sql<{ alias: string }>`select alias from client_aliases where client_id = ${id}::uuid`.execute(trx);
      return rows[0]?.alias ?? null;
    });
  }

  return { getClientPII, emailFor, phoneFor, getTraining, findClientByEmail, findClientByPhone, getAlias };
}
