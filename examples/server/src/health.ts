import { sql, type Kysely } from 'kysely';
import { SwanError, engineOf, ok, okSchema, type DocumentedRoute } from '@swan/core';
import type { ModuleInstance } from './modules/types.js';

/**
 * `GET /healthz` (public): `{ success, status: "ok", database, redis, nats }`. `database` is the
 * engine (`pglite` or `postgres`) after a round trip; `redis` and `nats` default to `memory` and
 * `disabled` and are overridden by modules' `health()` (`ok` / `down`). A database that does not
 * answer gives 503 `UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const routes = [healthRoute(db, instances), ...moduleRoutes];
 * ```
 */
export function healthRoute(db: Kysely<any>, instances: readonly ModuleInstance[]): DocumentedRoute {
  return {
    method: 'GET',
    path: '/healthz',
    access: 'public',
    body: 'none',
    summary: 'Liveness: the database answers; Redis and NATS as the modules report them',
    tags: ['health'],
    schema: {
      response: {
        body: {
          ...(okSchema({ status: { const: 'ok' }, database: { enum: ['pglite', 'postgres'] }, redis: { type: 'string', description: 'ok, down or memory' }, nats: { type: 'string', description: 'ok, down or disabled' } }) as object),
          additionalProperties: { type: 'string' },
        },
      },
      errors: ['UNAVAILABLE'],
    },
    async handler() {
      try {
        await sql`select 1`.execute(db);
      } catch (cause) {
        throw new SwanError({ code: 'UNAVAILABLE', message: 'The database does not answer', cause });
      }
      const checks: Record<string, string> = { redis: 'memory', nats: 'disabled' };
      // modules may add keys, never replace status or database
      for (const instance of instances) {
        if (!instance.health) continue;
        try {
          Object.assign(checks, await instance.health());
        } catch {
          // a module whose check throws reports nothing; its own health() should answer "down"
        }
      }
      const { redis, nats, ...more } = checks;
      return ok({ ...more, status: 'ok', database: engineOf(db), redis, nats });
    },
  };
}
