import { sql } from 'kysely';
import { appendAudit, errors, isUniqueViolation, withActor, type Actor } from '@swan/core';
import { encryptField } from './cipher.js';
import { checkClientId, dataKey, forbidden, JSON_FIELDS, notFound, PII_FIELDS, PII_TABLE, type PiiContext, type PiiField } from './context.js';
import type { KeyRow } from './rotation.js';
import { ageOn, TRAINING_COLUMNS, validatePiiChanges, validateTrainingChanges, type ClientTrainingInput } from './validation.js';

/** The training table, as audit entries name it. */
export const TRAINING_TABLE = 'client_profile_training';

/** Training columns that are `not null` in the table: `null` in a rectification resets them to their default. */
const TRAINING_DEFAULTS: Partial<Record<keyof ClientTrainingInput, unknown>> = {
  training_goals: [], injury_history: [], movement_screen: {}, current_medications: [], supplements: [], allergies: [], wearable_integration_active: false,
};

/** What a rectification answers: the client and the names of the fields it set (never their values). */
export interface RectifyResult {
  clientId: string;
  fields: string[];
}

/**
 * Rectification (GDPR Art. 16): changes to a client's PII (admin) and training data (admin or the
 * assigned trainer), with the create checks, blind indexes kept in step, re-encryption under the
 * client's data key, and an audit entry naming the changed fields, never their values.
 */
export function createPiiRectify(ctx: PiiContext) {
  /**
   * Changes any subset of a live client's PII (admin only). The values are checked as on create,
   * encrypted under the client's newest data key; a new email or phone gets its blind index, and a
   * new date of birth the derived age. An email another live client has → `CONFLICT`, and nothing
   * changes. Audited as `PII_RECTIFIED` with `details.fields` (names only).
   *
   * @example
   * ```ts
   * await pii.updatePII(admin, clientId, { email: 'ada@new.example', phone_number: null });
   * ```
   */
  async function updatePII(actor: Actor, clientId: string, changes: Record<string, unknown>): Promise<RectifyResult> {
    const id = checkClientId(clientId);
    if (actor?.role !== 'admin') throw forbidden('Only an admin may rectify PII');
    const now = ctx.now();
    const parsed: { phone: string | null } = { phone: null };
    const valid = validatePiiChanges(changes, now, (v) => (parsed.phone = ctx.index.normalizePhone(v)) !== null) as Record<string, unknown>;
    const phone = valid.phone_number === null || valid.phone_number === undefined ? null : parsed.phone;
    const fields = PII_FIELDS.filter((f) => Object.hasOwn(valid, f));
    try {
      const result = await withActor(ctx.db, actor, async (trx) => {
        const { rows: keys } = await sql<KeyRow>`
          select k.key_version, k.master_key_id, k.wrapped_key
            from client_profile_pii p join client_data_keys k on k.client_id = p.client_id
           where p.client_id = ${id}::uuid and p.deleted_at is null and p.erased_at is null
           order by k.key_version desc limit 1
             for update of p`.execute(trx);
        if (!keys[0]) return null;
        const key = await dataKey(ctx, id, keys[0]);
        const version = Number(keys[0].key_version);
        try {
          const value = (f: PiiField): unknown => {
            const v = f === 'phone_number' ? phone : f === 'email' ? (valid[f] as string).trim() : valid[f];
            if (v === null || v === undefined) return null;
            return encryptField(key, version, JSON_FIELDS.has(f) ? JSON.stringify(v) : String(v), { table: PII_TABLE, column: f, clientId: id });
          };
          const sets = fields.map((f) => sql`${sql.ref(f)} = ${value(f)}`);
          if (fields.includes('email')) sets.push(sql`email_index = ${ctx.index.email(valid.email as string)}`);
          if (fields.includes('phone_number')) sets.push(sql`phone_index = ${phone ? ctx.index.phoneE164(phone) : null}`);
          await sql`update client_profile_pii set ${sql.join(sets)}, encrypted_at = now(), updated_at = now()
                     where client_id = ${id}::uuid`.execute(trx);
        } finally {
          key.fill(0);
        }
        if (fields.includes('date_of_birth')) {
          await sql`update client_profile_training set age = ${ageOn(valid.date_of_birth as string, now)}, updated_at = now()
                     where client_id = ${id}::uuid`.execute(trx);
        }
        await appendAudit(trx, { actor, action: 'PII_RECTIFIED', resource: PII_TABLE, resourceId: id, outcome: 'allowed', details: { fields } });
        return { clientId: id, fields: [...fields] };
      });
      if (!result) {
        await withActor(ctx.db, actor, (trx) => appendAudit(trx, { actor, action: 'PII_RECTIFIED', resource: PII_TABLE, resourceId: id, outcome: 'not_found', details: { fields } }));
        throw notFound();
      }
      return result;
    } catch (e) {
      if (isUniqueViolation(e, 'client_profile_pii_email_live')) throw errors.conflict('Another client has this email');
      throw e;
    }
  }

  /**
   * Changes any subset of a live client's training data (admin, or the assigned trainer), checked
   * as on create. Audited as `TRAINING_RECTIFIED` with `details.fields`; an unassigned trainer gets
   * `FORBIDDEN` (audited as denied), an unknown client `NOT_FOUND`.
   *
   * @example
   * ```ts
   * await pii.updateTraining(trainer, clientId, { weight_lbs: 148.2, training_goals: ['endurance'] });
   * ```
   */
  async function updateTraining(actor: Actor, clientId: string, changes: Record<string, unknown>): Promise<RectifyResult> {
    const id = checkClientId(clientId);
    if (actor?.role !== 'admin' && actor?.role !== 'trainer') throw forbidden('Only an admin or the assigned trainer may rectify training data');
    const valid = validateTrainingChanges(changes) as Record<string, unknown>;
    const fields = Object.keys(TRAINING_COLUMNS).filter((f) => Object.hasOwn(valid, f)) as Array<keyof ClientTrainingInput>;
    const outcome = await withActor(ctx.db, actor, async (trx) => {
      const sets = fields.map((f) => {
        const col = TRAINING_COLUMNS[f];
        const v = valid[f] ?? TRAINING_DEFAULTS[f] ?? null;
        const param = v !== null && col.cast === 'jsonb' ? JSON.stringify(v) : v;
        return sql`${sql.ref(f)} = ${param}::${sql.raw(col.cast)}`;
      });
      const { rows } = await sql`update client_profile_training set ${sql.join(sets)}, updated_at = now()
         where client_id = ${id}::uuid and deleted_at is null returning client_id`.execute(trx);
      let result: 'allowed' | 'denied' | 'not_found' = 'allowed';
      if (!rows[0]) {
        const { rows: e } = await sql<{ e: boolean }>`select swan_pii_client_exists(${id}::uuid) as e`.execute(trx);
        result = actor.role === 'trainer' && e[0]?.e ? 'denied' : 'not_found';
      }
      await appendAudit(trx, { actor, action: 'TRAINING_RECTIFIED', resource: TRAINING_TABLE, resourceId: id, outcome: result, details: { fields } });
      return result;
    });
    if (outcome === 'denied') throw forbidden('This trainer is not assigned to the client');
    if (outcome === 'not_found') throw notFound();
    return { clientId: id, fields: [...fields] };
  }

  return { updatePII, updateTraining };
}
