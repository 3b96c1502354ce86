import { sql, type Kysely } from 'kysely';
import { SwanError, engineOf, ok, okSchema, type DocumentedRoute, type MigrationSet } from '@swan/core';
import type { ModuleInstance } from './modules/types.js';

/**
 * `GET /healthz` (public), liveness: `{ success, status: "ok", database, redis, nats }`. `database` is the
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

/** What readiness checks besides the database: the migrations the server needs, and which services are required. */
export interface ReadinessOptions {
  /** The migration sets the server runs with (every file must be recorded as applied). */
  migrations: readonly MigrationSet[];
  /** REDIS_URL is set: Redis must be connected. */
  redis: boolean;
  /** NATS_URL is set and this process relays: NATS must be connected. */
  nats: boolean;
}

async function migrationCheck(db: Kysely<any>, sets: readonly MigrationSet[]): Promise<string> {
  try {
    const { rows } = await sql<{ package: string; name: string }>`select package, name from swan_migrations`.execute(db);
    const applied = new Set(rows.map((r) => `${r.package}/${r.name}`));
    const missing = sets.flatMap((set) => set.migrations.map((m) => `${set.package}/${m.name}`)).filter((key) => !applied.has(key));
    return missing.length === 0 ? 'ok' : `missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} (run swan migrate)`;
  } catch {
    return 'unknown: swan_migrations cannot be read (run swan migrate)';
  }
}

/**
 * `GET /readyz` (public): readiness for a load balancer. 200 `{ success, status: "ready", checks }`
 * when the database answers, every migration the server needs is applied, and the required
 * services are up (Redis when `REDIS_URL` is set, NATS when `NATS_URL` is set and this process
 * relays); else 503 `UNAVAILABLE` whose `details.failed` names the failed checks and
 * `details.checks` says what each one found. `/healthz` stays the liveness check.
 *
 * @example
 * ```ts
 * const routes = [healthRoute(db, instances), readyRoute(db, instances, { migrations: sets, redis: true, nats: false })];
 * ```
 */
export function readyRoute(db: Kysely<any>, instances: readonly ModuleInstance[], options: ReadinessOptions): DocumentedRoute {
  const checkNames = ['database', 'migrations', 'redis', 'nats'];
  return {
    method: 'GET',
    path: '/readyz',
    access: 'public',
    body: 'none',
    summary: 'Readiness: the database answers, migrations are applied, required services (Redis, NATS) are up',
    tags: ['health'],
    schema: {
      response: {
        body: okSchema({
          status: { const: 'ready' },
          checks: {
            type: 'object',
            description: 'What each check found: ok, or why not; not used for a service that is not configured',
            properties: Object.fromEntries(checkNames.map((n) => [n, { type: 'string' }])),
            required: checkNames,
            additionalProperties: { type: 'string' },
          },
        }),
      },
      errors: ['UNAVAILABLE'],
    },
    async handler() {
      const checks: Record<string, string> = {};
      try {
        await sql`select 1`.execute(db);
        checks.database = 'ok';
      } catch {
        checks.database = 'down: the database does not answer';
      }
      checks.migrations = checks.database === 'ok' ? await migrationCheck(db, options.migrations) : 'unknown: no database';
      const reported: Record<string, string> = {};
      for (const instance of instances) {
        if (!instance.health) continue;
        try {
          Object.assign(reported, await instance.health());
        } catch {
          // a module whose check throws reports nothing: its service counts as down below
        }
      }
      checks.redis = options.redis ? (reported.redis === 'ok' ? 'ok' : `down: Redis is ${reported.redis ?? 'not reported'}`) : 'not used';
      checks.nats = options.nats ? (reported.nats === 'ok' ? 'ok' : `down: NATS is ${reported.nats ?? 'not reported'}`) : 'not used';
      const failed = Object.entries(checks).filter(([, v]) => v !== 'ok' && v !== 'not used').map(([k]) => k);
      if (failed.length) {
        throw new SwanError({ code: 'UNAVAILABLE', message: `Not ready: ${failed.map((k) => `${k} ${checks[k]}`).join('; ')}`, details: { failed, checks } });
      }
      return ok({ status: 'ready', checks });
    },
  };
}
