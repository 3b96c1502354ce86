import type { Actor } from './actor.js';

/**
 * The actor of maintenance work no person asked for (seeders, key rotation, alias release,
 * legacy split, data-subject export from the CLI): an admin with the nil UUID, so the audit log
 * tells it apart from every real caller.
 *
 * @example
 * ```ts
 * import { SYSTEM_ACTOR, withActor } from '@swan/core';
 * await withActor(db, SYSTEM_ACTOR, (trx) => trx.selectFrom('consent_versions').selectAll().execute());
 * ```
 */
export const SYSTEM_ACTOR: Actor = Object.freeze({ id: '00000000-0000-0000-0000-000000000000', role: 'admin' });
