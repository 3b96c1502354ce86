import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { APP_DB_ROLE, assertRowLevelSecuritySafe, createDatabase, migrate, type MigrationSet } from '@swan/core';
import type { Logger, ServerConfig } from './modules/types.js';

/** The application's database handle and how it was opened. */
export interface OpenedDatabase {
  /** The handle modules use: `swan_app` on PostgreSQL, the embedded session on PGlite. */
  db: Kysely<any>;
  engine: 'pglite' | 'postgres';
  /** What the startup log prints (never a password). */
  description: Record<string, unknown>;
}

/** `postgres://user:pw@host:5432/db` → `{ host, port, database, user }` for logs. */
export function describePostgresUrl(url: string): Record<string, unknown> {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432), database: decodeURIComponent(u.pathname.slice(1)), user: decodeURIComponent(u.username) };
}

/** The same URL with its user replaced by `user` and no password (the default app connection). */
export function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
}

/** Keeps the first set of each package (several modules may list a shared dependency). */
export function uniqueSets(sets: readonly MigrationSet[]): MigrationSet[] {
  const seen = new Set<string>();
  return sets.filter((s) => !seen.has(s.package) && seen.add(s.package));
}

/** True for a role that may run migrations: it can create tables in `public` and is not `swan_app`. */
async function isMigratingRole(db: Kysely<any>): Promise<boolean> {
  const { rows } = await sql<{ can: boolean }>`
    select current_user <> ${APP_DB_ROLE} and has_schema_privilege(current_user, 'public', 'CREATE') as can`.execute(db);
  return rows[0]?.can === true;
}

/**
 * Opens the database the way docs/deployment.md describes, runs the migrations of `sets` and
 * checks the startup guard.
 *
 * - No `DATABASE_URL`: embedded PGlite in `DATA_DIR`, migrated on boot (development only).
 * - `DATABASE_URL` of a role that may create tables (the owner): migrations run with it, then the
 *   application connects as `swan_app` — `DATABASE_APP_URL` if set, else the same URL with the
 *   user replaced by `swan_app` and no password — and {@link assertRowLevelSecuritySafe} must pass.
 * - `DATABASE_URL` of `swan_app` or another role that cannot create tables (already the application
 *   role): nothing is migrated on boot (run `swan migrate` as the owner), the guard must pass.
 *
 * @example
 * ```ts
 * const { db, engine } = await openDatabase(config, logger, [coreMigrations, piiMigrations]);
 * ```
 */
export async function openDatabase(config: ServerConfig, logger: Logger, sets: readonly MigrationSet[]): Promise<OpenedDatabase> {
  if (!config.databaseUrl) {
    const dataDir = resolve(config.dataDir);
    mkdirSync(dataDir, { recursive: true });
    const db = createDatabase({ dataDir });
    try {
      const { applied } = await migrate(db, sets);
      logger.info('migrations applied', { count: applied.length, migrations: applied });
      await assertRowLevelSecuritySafe(db);
    } catch (error) {
      await db.destroy();
      throw error;
    }
    return { db, engine: 'pglite', description: { engine: 'pglite', dataDir, note: 'embedded PGlite: development only, not a security boundary' } };
  }

  const owner = createDatabase({ url: config.databaseUrl, poolSize: 2, applicationName: 'swan-migrate' });
  let appUrl: string;
  try {
    if (config.databaseAppUrl || (await isMigratingRole(owner))) {
      const { applied } = await migrate(owner, sets);
      logger.info('migrations applied', { count: applied.length, migrations: applied });
      appUrl = config.databaseAppUrl ?? withUser(config.databaseUrl, APP_DB_ROLE);
    } else {
      logger.info('migrations not run on boot: DATABASE_URL is an application role; run `swan migrate` as the owner', describePostgresUrl(config.databaseUrl));
      appUrl = config.databaseUrl;
    }
  } finally {
    await owner.destroy();
  }
  const db = createDatabase({ url: appUrl, applicationName: 'swan-example-server' });
  try {
    const safety = await assertRowLevelSecuritySafe(db);
    return { db, engine: 'postgres', description: { engine: 'postgres', ...describePostgresUrl(appUrl), role: safety.role, rowLevelSecurity: 'enforced' } };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}
