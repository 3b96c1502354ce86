import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { runScript } from './database.js';
import { SwanError } from './errors.js';

/** One numbered SQL file, bundled into its package at build time. */
export interface Migration {
  /** File name without `.sql`, e.g. `0001_core`. */
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

/**
 * Files of the pre-release (0.0.x) migration chains that 0.1.0 squashed into one baseline per
 * package (`0001_<package>`). A database that recorded any of them was migrated by a pre-release
 * and is refused with `MIGRATION_PRE_RELEASE`: its bookkeeping does not match the baselines.
 */
const PRE_RELEASE_MIGRATIONS: readonly string[] = [
  'core/0001_roles', 'core/0002_audit_log', 'core/0003_audit_chain_bulk', 'core/0004_audit_log_by_subject',
  'core/0005_audit_links', 'core/0006_audit_chain_cursor',
  'pii/0002_read_path', 'pii/0003_access_stamp_from_audit', 'pii/0004_batched_reads', 'pii/0005_lock_live_client',
  'pii/0006_access_stamp_from_links', 'pii/0007_stamp_room',
  'consent/0002_inactive_clients', 'schema/0001_master_prompts', 'schema/0002_inactive_clients',
  'outbox/0002_outbox_steps', 'billing/0002_webhook_lookup', 'checkins/0002_send_claim_erasure',
];

const PRE_RELEASE_HINT =
  'recreate the database (development data), or see docs/deployment.md#upgrading-from-a-pre-release';

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
    if (visiting.has(set.package)) throw new SwanError({ code: 'MIGRATION_CYCLE', message: `Migration dependency cycle at ${set.package}` });
    visiting.add(set.package);
    for (const dep of ['core', ...(set.dependsOn ?? [])]) {
      if (dep === set.package) continue;
      const d = byName.get(dep);
      if (!d) throw new SwanError({ code: 'MIGRATION_MISSING_DEPENDENCY', message: `Migrations of ${set.package} need ${dep}; add its migration set` });
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
 * start at once are serialized by an advisory lock. Refuses to run, changing nothing, if an applied
 * file has changed since (`MIGRATION_CHECKSUM_MISMATCH`) or if the database was migrated by a
 * pre-release (0.0.x) whose migrations were squashed for 0.1.0 (`MIGRATION_PRE_RELEASE`).
 *
 * @example
 * ```ts
 * import { migrate, migrations as core } from '@swan/core';
 * import { migrations as pii } from '@swan/pii';
 * await migrate(db, [core, pii]);
 * ```
 */
export async function migrate(
  db: Kysely<any>,
  sets: readonly MigrationSet[],
  options: { onProgress?: (p: { done: number; total: number; migration?: string }) => void } = {},
): Promise<MigrateResult> {
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
      const bundled = new Set(ordered.flatMap((set) => set.migrations.map((m) => `${set.package}/${m.name}`)));
      const preRelease = PRE_RELEASE_MIGRATIONS.filter((key) => done.has(key) && !bundled.has(key));
      if (preRelease.length > 0) {
        throw new SwanError({
          code: 'MIGRATION_PRE_RELEASE',
          message:
            `This database was migrated by a pre-release Swan (0.0.x), whose migrations were squashed into one ` +
            `baseline per package for 0.1.0 (it records ${preRelease[0]}${preRelease.length > 1 ? ` and ${preRelease.length - 1} more` : ''}); ` +
            `nothing was changed. To go on: ${PRE_RELEASE_HINT}`,
          details: { migrations: preRelease, hint: PRE_RELEASE_HINT },
        });
      }
      const applied: string[] = [];
      // files to apply, for `onProgress` (`swan migrate` draws its progress from it)
      const total = ordered.reduce((n, set) => n + set.migrations.filter((m) => !done.has(`${set.package}/${m.name}`)).length, 0);
      options.onProgress?.({ done: 0, total });
      for (const set of ordered) {
        for (const m of set.migrations) {
          const key = `${set.package}/${m.name}`;
          const checksum = checksumOf(m.sql);
          const recorded = done.get(key);
          if (recorded !== undefined) {
            if (recorded !== checksum) {
              throw new SwanError({
                code: 'MIGRATION_CHECKSUM_MISMATCH',
                message: `Migration ${key} was changed after it was applied; restore the original file and add a new migration instead`,
                details: { migration: key },
              });
            }
            continue;
          }
          await conn.transaction().execute(async (trx) => {
            await runScript(trx, m.sql);
            await sql`insert into swan_migrations (package, name, checksum) values (${set.package}, ${m.name}, ${checksum})`.execute(trx);
          });
          applied.push(key);
          options.onProgress?.({ done: applied.length, total, migration: key });
        }
      }
      return { applied };
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
    }
  });
}
