import { Kysely, PostgresDialect, sql } from 'kysely';
import { SCRIPT_MARKER, pgliteDialect } from './pglite-driver.js';

/** Which engine a database handle talks to. */
export type DatabaseEngine = 'pglite' | 'postgres';

export interface DatabaseConfig {
  /** PostgreSQL connection string. Unset → embedded PGlite. */
  url?: string | undefined;
  /** PGlite data directory; unset → in memory. Ignored with `url`. */
  dataDir?: string | undefined;
  /** Pool size for PostgreSQL (default 10). */
  poolSize?: number | undefined;
  /** Application name reported to PostgreSQL. */
  applicationName?: string | undefined;
  /**
   * Called when an idle pooled connection fails (server restart, admin termination). The pool
   * drops that connection and opens a new one on demand; without a handler such an error would
   * crash the process, so the default ignores it.
   */
  onPoolError?: ((error: Error) => void) | undefined;
}

const engines = new WeakMap<object, DatabaseEngine>();

// int8 (count(*), bigserial) as a JS number on PostgreSQL, as PGlite returns it, so both
// engines give the same shapes. Scoped to our pool, never the host's global `pg.types`.
const INT8_OID = 20;

/**
 * Creates the database handle every Swan service takes. With no `url` it is an embedded PGlite
 * (development and tests: not a security boundary, see docs/deployment.md); with a URL, a
 * PostgreSQL pool through `pg`. Both behind the same Kysely API.
 *
 * @example
 * ```ts
 * const db = createDatabase({ url: process.env.DATABASE_URL });
 * await migrate(db, [coreMigrations]);
 * ```
 */
export function createDatabase<DB = any>(config: DatabaseConfig = {}): Kysely<DB> {
  let db: Kysely<DB>;
  if (config.url) {
    const url = config.url;
    db = new Kysely<DB>({
      dialect: new PostgresDialect({
        pool: async () => {
          const pg = await import('pg');
          const Pool = pg.default?.Pool ?? (pg as unknown as typeof pg.default).Pool;
          const types = pg.default?.types ?? (pg as unknown as typeof pg.default).types;
          const pool = new Pool({
            connectionString: url,
            max: config.poolSize ?? 10,
            application_name: config.applicationName ?? 'swan',
            types: {
              getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
                oid === INT8_OID ? (v: string) => Number(v) : types.getTypeParser(oid, format as 'text')) as typeof types.getTypeParser,
            },
          });
          pool.on('error', (error: Error) => config.onPoolError?.(error));
          return pool;
        },
      }),
    });
    engines.set(db, 'postgres');
  } else {
    db = new Kysely<DB>({ dialect: pgliteDialect(config.dataDir ? { dataDir: config.dataDir } : {}) });
    engines.set(db, 'pglite');
  }
  return db;
}

/** The engine behind a handle made by {@link createDatabase} (transactions report their root's). */
export function engineOf(db: Kysely<any>): DatabaseEngine {
  return engines.get(db) ?? 'postgres';
}

/**
 * Runs a multi-statement SQL script (migrations) as one simple-protocol round trip.
 * Not for user input: the script is sent as is.
 */
export async function runScript(db: Kysely<any>, script: string): Promise<void> {
  await sql.raw(SCRIPT_MARKER + script).execute(db);
}
