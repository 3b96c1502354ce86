import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { createDatabase, migrate, migrations as coreMigrations, type DatabaseEngine, type MigrationSet } from '@swan/core';
import { postgresUrl } from './services.js';

/** A migrated, throw-away database for one test file. */
export interface TestDatabase {
  engine: DatabaseEngine;
  /** The application's handle: connected as `swan_app` on PostgreSQL; PGlite's one session. */
  db: Kysely<any>;
  /** Owner/superuser handle for setup and for tampering in tests. Same as `db` on PGlite. */
  admin: Kysely<any>;
  /** PostgreSQL URLs (`undefined` on PGlite). */
  appUrl?: string;
  adminUrl?: string;
  /** Opens another application handle (e.g. a second app instance). */
  connectApp(poolSize?: number): Kysely<any>;
  close(): Promise<void>;
}

export interface TestEngine {
  name: DatabaseEngine;
  create(sets?: readonly MigrationSet[], options?: { poolSize?: number }): Promise<TestDatabase>;
}

function withUser(url: string, user: string, database?: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  if (database) u.pathname = `/${database}`;
  return u.toString();
}

const pglite: TestEngine = {
  name: 'pglite',
  async create(sets = []) {
    const db = createDatabase();
    await migrate(db, [coreMigrations, ...sets.filter((s) => s.package !== 'core')]);
    return {
      engine: 'pglite',
      db,
      admin: db,
      connectApp: () => db,
      close: () => db.destroy(),
    };
  },
};

const postgres = (base: string): TestEngine => ({
  name: 'postgres',
  async create(sets = [], options = {}) {
    const name = `swan_t_${randomBytes(6).toString('hex')}`;
    const root = createDatabase({ url: base, poolSize: 1 });
    await sql.raw(`create database ${name}`).execute(root);
    await root.destroy();
    const adminUrl = withUser(base, new URL(base).username || 'postgres', name);
    const adminUrlWithPassword = (() => { const u = new URL(base); u.pathname = `/${name}`; return u.toString(); })();
    const admin = createDatabase({ url: adminUrlWithPassword, poolSize: 4 });
    await migrate(admin, [coreMigrations, ...sets.filter((s) => s.package !== 'core')]);
    const appUrl = withUser(base, 'swan_app', name);
    const extra: Kysely<any>[] = [];
    const connectApp = (poolSize = options.poolSize ?? 10) => {
      const db = createDatabase({ url: appUrl, poolSize });
      extra.push(db);
      return db;
    };
    const db = connectApp();
    return {
      engine: 'postgres',
      db,
      admin,
      appUrl,
      adminUrl,
      connectApp,
      async close() {
        await Promise.all(extra.map((d) => d.destroy()));
        await admin.destroy();
        const r = createDatabase({ url: base, poolSize: 1 });
        await sql.raw(`drop database if exists ${name} with (force)`).execute(r);
        await r.destroy();
      },
    };
  },
});

/**
 * The engines every SQL test runs on: PGlite always, PostgreSQL when `DATABASE_URL` is set
 * (required when CI=true).
 *
 * @example
 * ```ts
 * describe.each(testEngines())('audit on $name', (engine) => {
 *   let t: TestDatabase;
 *   beforeAll(async () => { t = await engine.create([piiMigrations]); });
 *   afterAll(() => t.close());
 * });
 * ```
 */
export function testEngines(): TestEngine[] {
  const url = postgresUrl();
  return url ? [pglite, postgres(url)] : [pglite];
}
