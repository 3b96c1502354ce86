import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { runScript } from './database.js';
import { errors } from './errors.js';

/** One numbered SQL file, bundled into its package at build time. */
export interface Migration {
  /** File name without `.sql`, e.g. `0001_roles`. */
  name: string;
  sql: string;
}

/** The migrations one package owns (from `migrations/<package>/`). */
export interface MigrationSet {
  package: string;
  migrations: readonly Migration[];
  /** Packages whose migrations must run first (core is always first). */
  dependsOn?: readonly string[];
}

export interface MigrateResult {
  /** `package/name` of every file applied by this call, in order. */
  applied: string[];
}

/** Advisory lock key ('Swan' in ASCII) that serializes concurrent migrators on one database. */
const MIGRATION_LOCK = 1400332654;

/** SHA-256 (hex) of a migration's text, as recorded in `swan_migrations`. */
export function checksumOf(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function orderSets(sets: readonly MigrationSet[]): MigrationSet[] {
  const byName = new Map(sets.map((s) => [s.package, s]));
  const ordered: MigrationSet[] = [];
  const visiting = new Set<string>();
  const visit = (set: MigrationSet) => {
    if (ordered.includes(set)) return;
    if (visiting.has(set.package)) throw errors.migration('MIGRATION_CYCLE', `Migration dependency cycle at ${set.package}`);
    visiting.add(set.package);
    for (const dep of ['core', ...(set.dependsOn ?? [])]) {
      if (dep === set.package) continue;
      const d = byName.get(dep);
      if (!d) throw errors.migration('MIGRATION_MISSING_DEPENDENCY', `Migrations of ${set.package} need ${dep}; add its migration set`);
      visit(d);
    }
    ordered.push(set);
  };
  sets.forEach(visit);
  return ordered;
}

/**
 * Applies the migrations of the selected packages that are not yet applied, in order, each file
 * in its own transaction, recording name and checksum in `swan_migrations`. Two instances that
 * start at once are serialized by an advisory lock. Refuses to run (`MIGRATION_CHECKSUM_MISMATCH`)
 * if an applied file has changed since.
 *
 * @example
 * ```ts
 * import { migrate, migrations as core } from '@swan/core';
 * import { migrations as pii } from '@swan/pii';
 * await migrate(db, [core, pii]);
 * ```
 */
export async function migrate(db: Kysely<any>, sets: readonly MigrationSet[]): Promise<MigrateResult> {
  const ordered = orderSets(sets);
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
    try {
      await runScript(
        conn,
        `create table if not exists swan_migrations (
           package text not null,
           name text not null,
           checksum text not null,
           applied_at timestamptz not null default now(),
           primary key (package, name)
         )`,
      );
      const { rows } = await sql<{ package: string; name: string; checksum: string }>`
        select package, name, checksum from swan_migrations`.execute(conn);
      const done = new Map(rows.map((r) => [`${r.package}/${r.name}`, r.checksum]));
      const applied: string[] = [];
      for (const set of ordered) {
        for (const m of set.migrations) {
          const key = `${set.package}/${m.name}`;
          const checksum = checksumOf(m.sql);
          const recorded = done.get(key);
          if (recorded !== undefined) {
            if (recorded !== checksum) {
              throw errors.migration(
                'MIGRATION_CHECKSUM_MISMATCH',
                `Migration ${key} was changed after it was applied; restore the original file and add a new migration instead`,
                { migration: key },
              );
            }
            continue;
          }
          await conn.transaction().execute(async (trx) => {
            await runScript(trx, m.sql);
            await sql`insert into swan_migrations (package, name, checksum) values (${set.package}, ${m.name}, ${checksum})`.execute(trx);
          });
          applied.push(key);
        }
      }
      return { applied };
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
    }
  });
}
