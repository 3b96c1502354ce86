import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { appendAudit, errors, isUniqueViolation, isUuid, prepared, SYSTEM_ACTOR, withActor, type Actor } from '@swan/core';
import { aliasCandidates, insertAliasSql, lowestOpenTier, parseAlias } from './aliases.js';
import { encryptField } from './cipher.js';
import { checkClientId, forbidden, JSON_FIELDS, notFound, PII_FIELDS, PII_TABLE, recordedReasonOf, sealedNote, type PiiContext, type PiiField } from './context.js';
import { sealIfKeyed } from './sealer.js';
import type { ClientRef, RecordedReason } from './types.js';
import { ageOn, validateCreateClient, validationFailed, type CreateClientInput } from './validation.js';

/**
 * The writes of the PII service: creation (encrypted under a fresh data key, with blind indexes,
 * the training row and a Galaxy-Swan alias), trainer assignment, soft delete and restore,
 * erasure by crypto-shredding, and alias changes. Every change is audited in its transaction.
 */
export function createPiiWrites(ctx: PiiContext) {
  /** Validates a create body as {@link createClient} would (`VALIDATION_FAILED` with paths, never values). */
  function validate(body: unknown, now: Date = ctx.now()) {
    return validateBody(body, now).input;
  }

  /** {@link validate}, with the phone number as E.164 (parsed once, by the check itself). */
  function validateBody(body: unknown, now: Date) {
    let phone: string | null = null;
    const input = validateCreateClient(body, now, (v) => (phone = ctx.index.normalizePhone(v)) !== null);
    return { input, phone: input.pii.phone_number ? phone : null };
  }

  /**
   * Creates a client (admin only): PII encrypted under a fresh data key, blind indexes, training
   * row with the age derived from the date of birth, a Galaxy-Swan alias and an audit entry, all in
   * one transaction. Duplicate email among live clients → `CONFLICT`.
   *
   * @example
   * ```ts
   * const { clientId, alias } = await pii.createClient(admin, { pii: { full_name: 'Ada', date_of_birth: '1990-01-01', email: 'a@x.com', emergency_contact: { name: 'Bo' } }, training: {} });
   * ```
   * `options.clientId` keeps an existing id (the legacy split); new clients get a random UUID.
   */
  async function createClient(actor: Actor, input: CreateClientInput, options: { clientId?: string } = {}): Promise<{ clientId: string; alias: string }> {
    if (actor?.role !== 'admin') throw forbidden('Only an admin may create clients');
    const now = ctx.now();
    // typed for callers, still checked: the body of an HTTP request arrives here unchecked
    const { input: valid, phone } = validateBody(input, now);
    const clientId = options.clientId === undefined ? randomUUID() : checkClientId(options.clientId);
    const context = { clientId };
    let dataKey: Buffer;
    let wrapped: { keyId: string; wrapped: Buffer };
    if (ctx.keys.generateDataKey) {
      const g = await ctx.keys.generateDataKey(context);
      dataKey = g.plaintext;
      wrapped = { keyId: g.keyId, wrapped: g.wrapped };
    } else {
      dataKey = randomBytes(32);
      wrapped = await ctx.keys.wrap(dataKey, context);
    }
    const p = valid.pii;
    const enc = (field: PiiField, value: unknown) =>
      value === undefined || value === null ? null : encryptField(dataKey, 1, JSON_FIELDS.has(field) ? JSON.stringify(value) : String(value), { table: PII_TABLE, column: field, clientId });
    const values = PII_FIELDS.map((f) => enc(f, f === 'phone_number' ? phone : f === 'email' ? p.email.trim() : p[f]));
    const emailIndex = ctx.index.email(p.email);
    const phoneIndex = phone ? ctx.index.phoneE164(phone) : null;
    const age = ageOn(p.date_of_birth, now);
    const training = JSON.stringify(valid.training ?? {});

    try {
      // One statement (swan_pii_create, migration pii/0002). When every candidate alias is taken
      // or being claimed it writes nothing (SWA01) and we retry with a window twice as wide (up to
      // 32 tiers), from the highest tier this service has seen filled, and every second attempt
      // from the lowest open tier counted over committed rows. A burst of concurrent creations
      // thus settles in a few rounds instead of one round per twelve names.
      const openTier = () => withActor(ctx.db, actor, lowestOpenTier);
      ctx.aliasTier ??= await openTier();
      let tier = ctx.aliasTier;
      let alias: string | null = null;
      for (let attempt = 1; alias === null; attempt++) {
        const c = aliasCandidates(tier, Math.min(2 ** attempt, 32));
        try {
          const { rows } = await sql<{ alias: string }>`${prepared}
            select swan_pii_create(${actor.id}::uuid, ${clientId}::uuid, ${values}::bytea[], ${emailIndex}, ${phoneIndex},
              ${wrapped.keyId}, ${wrapped.wrapped}, ${age}, ${training}::jsonb, ${c.names}::text[], ${c.ordinals}::int[]) as alias`.execute(ctx.db);
          alias = rows[0]!.alias;
        } catch (e) {
          if ((e as { code?: string }).code !== 'SWA01') throw e;
          tier = attempt % 2 === 0 ? await openTier() : Math.max(tier, ctx.aliasTier ?? 1);
        }
      }
      const ordinal = parseAlias(alias)?.ordinal ?? tier;
      if (ordinal > (ctx.aliasTier ?? 1)) ctx.aliasTier = ordinal;
      ctx.cache?.set(`${clientId}:1`, { keyId: wrapped.keyId, wrapped: wrapped.wrapped.toString('base64'), key: Buffer.from(dataKey) });
      return { clientId, alias };
    } catch (e) {
      if (isUniqueViolation(e, 'client_profile_pii_email_live')) {
        throw errors.conflict('A client with this email already exists');
      }
      throw e;
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * Runs an admin-only change that must find a row; audits not-found attempts too. The audit entry
   * keeps the record code in plaintext and the reason's text sealed under the client's key (sealed
   * before the change, which may shred the key).
   */
  async function adminChange<T>(clientId: unknown, actor: Actor, why: { text: string; code: string } | null, action: string, change: (trx: Transaction<any>, id: string) => Promise<T | null>): Promise<T> {
    const id = checkClientId(clientId);
    if (actor?.role !== 'admin') throw forbidden('Only an admin may do this');
    const result = await withActor(ctx.db, actor, async (trx) => {
      const details = await sealedNote(ctx, trx, id, why?.text ?? null);
      const r = await change(trx, id);
      await appendAudit(trx, { actor, action, resource: PII_TABLE, resourceId: id, outcome: r === null ? 'not_found' : 'allowed', reason: why?.code ?? null, details });
      return r;
    });
    if (result === null) throw notFound();
    return result;
  }

  /**
   * Assigns a trainer to a client (admin only; idempotent).
   *
   * @example
   * ```ts
   * await pii.assignTrainer(admin, trainerId, clientId);
   * ```
   */
  async function assignTrainer(actor: Actor, trainerId: string, clientId: string): Promise<{ trainerId: string; clientId: string }> {
    if (!isUuid(trainerId)) throw validationFailed([{ path: 'trainerId', message: 'must be a UUID' }], 'Malformed trainer id');
    return adminChange(clientId, actor, null, 'TRAINER_ASSIGNED', async (trx, id) => {
      // the client's row stays locked until commit (pii/0005), so no assignment outlives an erasure
      const { rows } = await sql`insert into trainer_client_assignments (trainer_id, client_id, assigned_by)
        select ${trainerId}::uuid, ${id}::uuid, ${actor.id}::uuid where swan_pii_lock_live_client(${id}::uuid)
        on conflict (trainer_id, client_id) do update set assigned_at = trainer_client_assignments.assigned_at
        returning client_id`.execute(trx);
      return rows.length ? { trainerId: trainerId.toLowerCase(), clientId: id } : null;
    });
  }

  /**
   * Soft delete (admin): hides the client from everyone but admins; {@link restore} undoes it. The
   * reason is stored sealed under the client's key; the audit entry's code defaults to
   * `operator_request`.
   *
   * @example
   * ```ts
   * await pii.softDelete(clientId, admin, 'client asked to pause');
   * ```
   */
  async function softDelete(clientId: string, actor: Actor, reason: RecordedReason): Promise<{ clientId: string; deletedAt: string }> {
    const why = recordedReasonOf(reason, 'operator_request');
    return adminChange(clientId, actor, why, 'PII_DELETED', async (trx, id) => {
      const sealed = await sealIfKeyed(ctx, trx, id, why.text, 'pii.deletion_reason');
      const { rows } = await sql<{ deleted_at: Date }>`update client_profile_pii set deleted_at = now(), deletion_reason = ${sealed}, updated_at = now()
         where client_id = ${id}::uuid and deleted_at is null returning deleted_at`.execute(trx);
      if (!rows[0]) return null;
      await sql`update client_profile_training set deleted_at = now() where client_id = ${id}::uuid`.execute(trx);
      return { clientId: id, deletedAt: new Date(rows[0].deleted_at).toISOString() };
    });
  }

  /**
   * Restores a soft-deleted (not erased) client (admin). `CONFLICT` when another live client took its email.
   *
   * @example
   * ```ts
   * await pii.restore(clientId, admin, 'deleted by mistake');
   * ```
   */
  async function restore(clientId: string, actor: Actor, reason: RecordedReason): Promise<{ clientId: string }> {
    const why = recordedReasonOf(reason, 'operator_request');
    try {
      return await adminChange(clientId, actor, why, 'PII_RESTORED', async (trx, id) => {
        const { rows } = await sql`update client_profile_pii set deleted_at = null, deletion_reason = null, updated_at = now()
           where client_id = ${id}::uuid and deleted_at is not null and erased_at is null returning client_id`.execute(trx);
        if (!rows[0]) return null;
        await sql`update client_profile_training set deleted_at = null where client_id = ${id}::uuid`.execute(trx);
        return { clientId: id };
      });
    } catch (e) {
      if (isUniqueViolation(e, 'client_profile_pii_email_live')) throw errors.conflict('Another live client has this email');
      throw e;
    }
  }

  /**
   * Irreversible erasure by crypto-shredding (admin): the data key is destroyed, ciphertexts, blind
   * indexes, training data and assignments removed; a tombstone (id, alias until the retention
   * window ends, timestamps, the record code) stays. The reason's text is sealed in the audit entry
   * under the client's key, so the erasure shreds it too; the entry keeps the record code
   * (default `data_subject_request`). Every installed erasure participant (`erasureParticipants`,
   * e.g. check-in replies) erases its part in the same transaction, and a participant that fails
   * rolls the erasure back. Audited; `client_erased` is published in the same transaction; afterwards the key provider forgets the client, so older copies can't be unwrapped.
   *
   * @example
   * ```ts
   * await pii.erase(clientId, admin, 'GDPR art. 17 request #42');
   * ```
   */
  async function erase(clientId: string, actor: Actor, reason: RecordedReason): Promise<{ clientId: string; erasedAt: string }> {
    const why = recordedReasonOf(reason, 'data_subject_request');
    const result = await adminChange(clientId, actor, why, 'PII_ERASED', async (trx, id) => {
      const { rows } = await sql<{ erased_at: Date }>`update client_profile_pii set
          ${sql.join(PII_FIELDS.map((f) => sql`${sql.ref(f)} = null`))}, email_index = null, phone_index = null,
          erased_at = now(), deleted_at = coalesce(deleted_at, now()), deletion_reason = ${why.code}, updated_at = now()
         where client_id = ${id}::uuid and erased_at is null returning erased_at`.execute(trx);
      if (!rows[0]) return null;
      const erasedAt = new Date(rows[0].erased_at).toISOString();
      await sql`delete from client_data_keys where client_id = ${id}::uuid`.execute(trx);
      await sql`delete from client_profile_training where client_id = ${id}::uuid`.execute(trx);
      await sql`delete from trainer_client_assignments where client_id = ${id}::uuid`.execute(trx);
      const { rows: a } = await sql<{ alias: string }>`update client_aliases set release_after = now() + make_interval(days => ${ctx.retentionDays}::int)
         where client_id = ${id}::uuid returning alias`.execute(trx);
      // the other packages' parts of the erasure, in this transaction (all or nothing)
      for (const participant of ctx.erasureParticipants()) await participant.erase(trx, id);
      await ctx.events?.publish(trx, { eventType: 'client_erased', aggregateType: 'client', aggregateId: id, payload: { clientId: id, alias: a[0]?.alias ?? null, erasedAt } });
      return { clientId: id, erasedAt };
    });
    for (const key of [...(ctx.cache?.keys() ?? [])]) if (key.startsWith(`${result.clientId}:`)) ctx.cache?.delete(key);
    await ctx.keys.forget?.({ clientId: result.clientId });
    return result;
  }

  /**
   * Re-assigns a client's alias (admin): to `alias` when given (a free Galaxy-Swan alias), else to a random free one.
   *
   * @example
   * ```ts
   * await pii.reassignAlias(admin, clientId, 'Aurora Swan');
   * ```
   */
  async function reassignAlias(actor: Actor, clientId: string, alias?: string): Promise<ClientRef> {
    const parsed = alias === undefined ? null : parseAlias(alias);
    if (alias !== undefined && !parsed) throw validationFailed([{ path: 'alias', message: 'must be a Galaxy-Swan alias' }], 'Unknown alias');
    try {
      return await adminChange(clientId, actor, null, 'ALIAS_REASSIGNED', async (trx, id) => {
        const { rows: live } = await sql`select 1 from client_profile_pii where client_id = ${id}::uuid and erased_at is null`.execute(trx);
        if (!live[0]) return null;
        await sql`delete from client_aliases where client_id = ${id}::uuid`.execute(trx);
        if (parsed) {
          await sql`insert into client_aliases (client_id, alias, alias_ordinal) values (${id}::uuid, ${alias}, ${parsed.ordinal})`.execute(trx);
          return { clientId: id, alias: alias! };
        }
        let tier = await lowestOpenTier(trx);
        for (;;) {
          const { rows } = await insertAliasSql(id, aliasCandidates(tier)).execute(trx);
          const got = (rows[0] as { alias?: string } | undefined)?.alias;
          if (got) return { clientId: id, alias: got };
          tier += 1;
        }
      });
    } catch (e) {
      if (isUniqueViolation(e, 'client_aliases_alias')) throw errors.conflict('That alias is taken');
      throw e;
    }
  }

  /**
   * Frees the aliases of clients erased more than the retention window ago; returns how many.
   *
   * @example
   * ```ts
   * await pii.releaseErasedAliases(); // run daily
   * ```
   */
  async function releaseErasedAliases(now: Date = ctx.now()): Promise<number> {
    const n = await withActor(ctx.db, SYSTEM_ACTOR, async (trx) => {
      const { rows } = await sql`delete from client_aliases where release_after <= ${now} returning 1`.execute(trx);
      return rows.length;
    });
    if (n > 0) ctx.aliasTier = undefined;
    return n;
  }

  return { validate, createClient, assignTrainer, softDelete, restore, erase, reassignAlias, releaseErasedAliases };
}
