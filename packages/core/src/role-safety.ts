import { sql, type Kysely } from 'kysely';
import { engineOf } from './database.js';
import { errors } from './errors.js';

export interface RoleSafety {
  engine: 'pglite' | 'postgres';
  role: string;
  /** False on PGlite, whose session user is always a superuser (development only). */
  enforced: boolean;
}

/**
 * Startup guard: refuses (`UNSAFE_DATABASE_ROLE`) when the connected role, or any role it can
 * become, is a superuser, has BYPASSRLS, or owns tables — any of which would let it read past
 * row-level security. Connect the application as `swan_app` (see docs/deployment.md).
 * On PGlite it reports `enforced: false`: the embedded engine is for development and tests.
 */
export async function assertRowLevelSecuritySafe(db: Kysely<any>): Promise<RoleSafety> {
  const { rows } = await sql<{ me: string; rolname: string; rolsuper: boolean; rolbypassrls: boolean; owns: boolean }>`
    select current_user as me, r.rolname, r.rolsuper, r.rolbypassrls,
           exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                    where c.relowner = r.oid and c.relkind in ('r', 'p', 'v', 'm')
                      and n.nspname not in ('pg_catalog', 'information_schema')
                      and n.nspname not like 'pg_toast%') as owns
      from pg_roles r
     where pg_has_role(current_user, r.oid, 'member')`.execute(db);
  const me = rows[0]?.me ?? 'unknown';
  if (engineOf(db) === 'pglite') return { engine: 'pglite', role: me, enforced: false };
  const unsafe = rows.filter((r) => r.rolsuper || r.rolbypassrls || r.owns);
  if (unsafe.length > 0) {
    const why = unsafe.map((r) => `${r.rolname}${r.rolsuper ? ' is a superuser' : r.rolbypassrls ? ' has BYPASSRLS' : ' owns tables'}`);
    throw errors.unsafeDatabaseRole(
      `Refusing to run: the database role "${me}" could bypass row-level security (${why.join('; ')}). Connect as swan_app (see docs/deployment.md).`,
      { role: me, reasons: why },
    );
  }
  return { engine: 'postgres', role: me, enforced: true };
}
