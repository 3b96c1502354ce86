import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import { SCRIPT_MARKER, pgliteDialect, type PGliteMaintenance } from './pglite-driver.js';

/** Which engine a database handle talks to. */
export type DatabaseEngine = 'pglite' | 'postgres';

export interface DatabaseConfig {
  /** PostgreSQL connection string. Unset → embedded PGlite. */
  url?: string | undefined;
  /** PGlite data directory; unset → in memory. Ignored with `url`. */
  dataDir?: string | undefined;
  /**
   * PGlite only: vacuuming and analyzing of the embedded database, which has no autovacuum
   * (default every 60 s; `false` turns it off). Ignored with `url`: the server's autovacuum does it.
   */
  maintenance?: PGliteMaintenance | false | undefined;
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
  /**
   * Statements marked with {@link prepared} become named prepared statements, parsed and planned
   * once per connection (default `true`). Set `false` behind a pooler in transaction mode that
   * does not track prepared statements (PgBouncer before 1.21, or `max_prepared_statements = 0`).
   */
  preparedStatements?: boolean | undefined;
}

const engines = new WeakMap<object, DatabaseEngine>();

// int8 (count(*), bigserial) as a JS number on PostgreSQL, as PGlite returns it, so both
// engines give the same shapes. Scoped to our pool, never the host's global `pg.types`.
const INT8_OID = 20;

const PREPARED_MARKER = '/* swan:prepared */ ';

/**
 * Marks a hot statement to be prepared once per pooled connection (PostgreSQL; on PGlite it is
 * only a comment). Put it first in the statement; the statement's text must not vary between calls
 * (values go in parameters). Its name is derived from the text, so two texts never share one.
 *
 * @example
 * ```ts
 * await sql`${prepared}select * from swan_consent_status(${clientId}::uuid, ${type}, now())`.execute(db);
 * ```
 */
export const prepared = sql.raw(PREPARED_MARKER);

const statementNames = new Map<string, string>();
/** `swan_` + FNV-1a of the text: stable per text, cached (the texts are a handful of constants). */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    name = `swan_${(h >>> 0).toString(36)}_${text.length.toString(36)}`;
    if (statementNames.size < 1000) statementNames.set(text, name);
  }
  return name;
}

const REPLAN_FIRST = 64;
const REPLAN_LAST = 4_096;

/**
 * The name of a marked statement at its `runs`th execution on a connection: its base name, then
 * `_1` from the 64th execution, `_2` from the 256th, `_3` from the 1,024th and `_4` from the
 * 4,096th. Each new name is parsed and planned again. PostgreSQL keeps the generic plan it makes at
 * a statement's sixth execution until the table is next analyzed: a plan made while a table was
 * nearly empty (a sequential scan instead of a primary-key lookup) would stay in use while the
 * table grows, until the first autovacuum analyze, which re-plans everything from then on. Earlier
 * names are not deallocated (a failing `DEALLOCATE` would abort the caller's transaction): at most
 * five plans per statement and connection (the outbox's claim holds about 130 kB each).
 */
function replanName(base: string, runs: number): string {
  if (runs < REPLAN_FIRST) return base;
  const generation = Math.floor(Math.log2(Math.min(runs, REPLAN_LAST) / REPLAN_FIRST) / 2) + 1;
  return `${base}_${generation}`;
}

/** The statement name of a text marked {@link prepared} when naming is on; `undefined` otherwise. */
function preparedName(named: boolean, text: string): string | undefined {
  return named && text.startsWith(PREPARED_MARKER) ? statementName(text) : undefined;
}

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
    db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: () => createPool({ ...config, url }) }) });
    engines.set(db, 'postgres');
  } else {
    db = new Kysely<DB>({ dialect: pgliteDialect(config.dataDir ? { dataDir: config.dataDir } : {}, config.maintenance ?? {}) });
    engines.set(db, 'pglite');
  }
  return db;
}

type PgModule = typeof import('pg');

/** The pg pool behind a handle made with a URL; Kysely creates it on first use. */
async function createPool(config: DatabaseConfig & { url: string }): Promise<import('pg').Pool> {
  const pg = await import('pg');
  const { Pool, Client, types } = pg.default ?? (pg as unknown as PgModule['default']);
  // Statements marked with `prepared` become named prepared statements: parsed and planned
  // once per connection instead of at every call.
  const named = config.preparedStatements !== false;
  class PreparingClient extends Client {
    /** Executions of each named statement on this connection. */
    readonly #runs = new Map<string, number>();
    override query(query: unknown, values?: unknown, callback?: unknown): any {
      const base = typeof query === 'string' ? preparedName(named, query) : undefined;
      if (base === undefined) return (super.query as Function)(query, values, callback);
      const runs = (this.#runs.get(base) ?? 0) + 1;
      this.#runs.set(base, runs);
      return (super.query as Function)({ name: replanName(base, runs), text: query, values }, callback);
    }
  }
  const pool = new Pool({
    Client: PreparingClient as typeof Client,
    connectionString: config.url,
    max: config.poolSize ?? 10,
    application_name: config.applicationName ?? 'swan',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (v: string) => Number(v) : types.getTypeParser(oid, format as 'text')) as typeof types.getTypeParser,
    },
  });
  pool.on('error', (error: Error) => config.onPoolError?.(error));
  // The pool listens for errors of idle connections only. When a connection in use dies (server
  // restart, admin termination), the statement running on it rejects with the error and the pool
  // drops the connection when it comes back; without a listener of its own the client would also
  // throw that error as an uncaught exception.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Runs one statement in a transaction of its own and hands its rows to `work` while that
 * transaction commits, so work on the rows (decryption, say) overlaps the commit's WAL flush
 * instead of following it. Resolves with `work`'s result only after the commit has succeeded;
 * when the statement or its commit fails, rejects with that error and drops whatever `work`
 * produced: nothing derived from the rows leaves before their transaction is durable.
 *
 * It is a plain Kysely transaction (`BEGIN`, the statement, `COMMIT`) on any handle and engine;
 * `work` starts on the next turn of the event loop, once `COMMIT` is on its way. Inside a
 * transaction the statement joins it, and `work` runs on its rows at once (the caller's commit
 * is still to come). Statements beginning with {@link prepared} are prepared as usual.
 *
 * @example
 * ```ts
 * const query = sql`${prepared}select * from swan_pii_audited_reads(…)`.compile(db);
 * const records = await queryWhileCommitting(db, query, (rows) => rows.map(decrypt));
 * ```
 */
export async function queryWhileCommitting<R, T>(db: Kysely<any>, query: CompiledQuery<R>, work: (rows: R[]) => T | Promise<T>): Promise<T> {
  if (db.isTransaction) return work((await db.executeQuery(query)).rows);
  let working: Promise<T> | undefined;
  await db.transaction().execute(async (trx) => {
    const { rows } = await trx.executeQuery(query);
    // Kysely sends COMMIT as soon as this callback returns; `work` waits for the next turn
    working = new Promise<void>((resolve) => setImmediate(resolve)).then(() => work(rows));
    working.catch(() => {}); // its outcome is reported after the commit, or dropped with a failed one
  });
  return working!;
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
