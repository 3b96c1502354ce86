import { sql, type Kysely, type Transaction } from 'kysely';
import { errors } from './errors.js';

/** Roles of the HTTP contract. */
export const ROLES = ['admin', 'trainer', 'client', 'ai_service'] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller. `id` is a UUID; `role` decides privileges and the database role. */
export interface Actor {
  id: string;
  role: Role;
}

/** Login/application role: not superuser, not BYPASSRLS, owns nothing. */
export const APP_DB_ROLE = 'swan_app';
/** Role for AI services: training data only, no privilege on PII. */
export const AI_SERVICE_DB_ROLE = 'ai_service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a syntactically valid UUID. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Database role an actor's transaction runs as. */
export function dbRoleFor(actor: Actor | null): string {
  return actor?.role === 'ai_service' ? AI_SERVICE_DB_ROLE : APP_DB_ROLE;
}

/**
 * The check `withActor` makes of its actor, for code that passes an actor to the database another
 * way (a function's arguments): `UNAUTHENTICATED` unless the id is a UUID and the role is known.
 *
 * @example
 * ```ts
 * assertActor(actor); // before sending actor.id as a ::uuid parameter
 * ```
 */
export function assertActor(actor: Actor): Actor {
  if (!isUuid(actor.id) || !(ROLES as readonly string[]).includes(actor.role)) {
    throw errors.unauthenticated('Actor must have a UUID id and a known role');
  }
  return actor;
}

function normalize(actor: Actor | null | undefined): Actor | null {
  if (!actor || (actor.id as unknown) === '' || (actor.role as unknown) === '') return null;
  return assertActor(actor);
}

/**
 * Runs `fn` in one transaction whose settings belong to `actor`: `app.current_user_id`,
 * `app.current_user_role` (both via `set_config(…, true)`) and the database role (the
 * transaction-local `role` setting, i.e. `SET LOCAL ROLE`). Nothing outlives the transaction,
 * so a pooled connection never carries one caller's identity into another's request.
 * `null`, or an actor with `''` fields, runs as the application role with no user settings.
 *
 * @example
 * ```ts
 * const rows = await withActor(db, { id: trainerId, role: 'trainer' }, (trx) =>
 *   trx.selectFrom('client_profile_training').selectAll().execute());
 * ```
 */
export async function withActor<DB, T>(
  db: Kysely<DB>,
  actor: Actor | null,
  fn: (trx: Transaction<DB>) => Promise<T>,
): Promise<T> {
  const who = normalize(actor);
  return db.transaction().execute(async (trx) => {
    await sql`select set_config('role', ${dbRoleFor(who)}, true),
                     set_config('app.current_user_id', ${who?.id ?? ''}, true),
                     set_config('app.current_user_role', ${who?.role ?? ''}, true)`.execute(trx);
    return fn(trx);
  });
}

const SERVICE_ROLE = /^[a-z][a-z0-9_]*_service$/;

/**
 * Runs `fn` in one transaction as an internal service of a package (a webhook processor, an
 * outbox handler): the application database role, no user id, and `app.current_user_role` set
 * to `service` (which must end in `_service`, e.g. `billing_service`) so row-level-security
 * policies can grant that service exactly what it needs. Transaction-scoped like {@link withActor}.
 *
 * @example
 * ```ts
 * await withService(db, 'billing_service', (trx) =>
 *   trx.updateTable('client_subscriptions').set({ status: 'canceled' }).where('id', '=', id).execute());
 * ```
 */
export async function withService<DB, T>(db: Kysely<DB>, service: string, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  if (!SERVICE_ROLE.test(service) || service === 'ai_service') {
    throw errors.invalidServiceRole(`Service role setting must look like "<name>_service" (got "${service}")`);
  }
  return db.transaction().execute(async (trx) => {
    await sql`select set_config('role', ${APP_DB_ROLE}, true),
                     set_config('app.current_user_id', '', true),
                     set_config('app.current_user_role', ${service}, true)`.execute(trx);
    return fn(trx);
  });
}
