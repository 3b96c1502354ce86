import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';
// `@electric-sql/pglite` is an optional peer: types only here, the module itself is loaded on
// first use (see loadPGlite), so an app on PostgreSQL never needs it installed.
import type { PGlite, PGliteOptions } from '@electric-sql/pglite';
import { SwanError } from './errors.js';

/**
 * Options of the embedded database, handed to `PGlite.create` (see PGlite's documentation).
 * Described here rather than imported, so that this package's types do not need PGlite installed.
 */
export interface PGliteDialectOptions {
  /** Data directory; unset → in memory. */
  dataDir?: string;
  [option: string]: unknown;
}

/**
 * Vacuuming and analyzing of the embedded database. A PostgreSQL server's autovacuum does this;
 * PGlite has none, so without it the dead row versions of updated tables (every outbox event is
 * updated twice) and their index entries would pile up for good, statistics would never exist,
 * and claims and look-ups would slow down with every event ever handled.
 */
export interface PGliteMaintenance {
  /** How often tables are checked (default 60 s, as autovacuum's `autovacuum_naptime`). */
  intervalMs?: number;
  /** A pass that failed (it is tried again at the next interval). Default: ignored. */
  onError?: (error: unknown) => void;
}

// Autovacuum's default thresholds: a table is vacuumed when its dead row versions exceed 50 +
// 20 % of its live rows, analyzed when its changes since the last analyze exceed 50 + 10 %; the
// database is vacuumed whole before its transaction ids age halfway to autovacuum_freeze_max_age.
const DUE_TABLES = `
  select format('%I.%I', schemaname, relname) as name,
         n_dead_tup > 50 + 0.2 * n_live_tup as vacuum
    from pg_stat_user_tables
   where n_dead_tup > 50 + 0.2 * n_live_tup or n_mod_since_analyze > 50 + 0.1 * n_live_tup`;
const FREEZE_DUE = `
  select age(datfrozenxid) > current_setting('autovacuum_freeze_max_age')::bigint / 2 as due
    from pg_database where datname = current_database()`;

const PGLITE = '@electric-sql/pglite';

/**
 * Imports PGlite, or explains what to do when it is not installed: it is an optional peer of
 * `@swan/core`, needed only for the embedded database (no PostgreSQL URL).
 */
async function loadPGlite(): Promise<typeof import('@electric-sql/pglite')> {
  try {
    return await import('@electric-sql/pglite');
  } catch (error) {
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    const notFound = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String(message).includes(`'${PGLITE}'`);
    if (!notFound) throw error;
    throw new SwanError({
      code: 'CONFIG_INVALID',
      message:
        `No database URL was given, so Swan uses the embedded PGlite database, but ${PGLITE} is not installed. ` +
        `Set DATABASE_URL (createDatabase({ url })) to use PostgreSQL, or install the embedded engine for development and tests: npm install ${PGLITE}@^0.5.16`,
      cause: error,
    });
  }
}

/** Prefix that marks a multi-statement script (migrations); see `runScript`. */
export const SCRIPT_MARKER = '/* swan:script */\n';

/**
 * A Kysely driver for one embedded PGlite session that behaves like a pool of one: a
 * transaction holds the session until it ends, so concurrent callers queue instead of
 * interleaving their statements inside each other's transactions.
 */
class PGliteDriver implements Driver {
  #client: PGlite | undefined;
  #queue: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  readonly #options: PGliteDialectOptions;
  readonly #maintenance: PGliteMaintenance | false;

  constructor(options: PGliteDialectOptions, maintenance: PGliteMaintenance | false) {
    this.#options = options;
    this.#maintenance = maintenance;
  }

  async init(): Promise<void> {
    const { PGlite } = await loadPGlite();
    this.#client = await PGlite.create(this.#options as PGliteOptions);
    if (this.#maintenance) {
      const { intervalMs = 60_000, onError } = this.#maintenance;
      let running = false;
      this.#timer = setInterval(() => {
        if (running) return;
        running = true;
        this.#maintain().catch((e) => onError?.(e)).finally(() => (running = false));
      }, intervalMs);
      this.#timer.unref();
    }
  }

  /**
   * One pass of what autovacuum would do: vacuums and analyzes the tables that changed enough,
   * between transactions (it takes the session as a transaction would).
   */
  async #maintain(): Promise<void> {
    const connection = (await this.acquireConnection()) as PGliteConnection;
    const run = <R>(text: string) => connection.executeQuery<R>(CompiledQuery.raw(text));
    try {
      // the session's own counters reach pg_stat_user_tables when it next reports them: now
      await run('select pg_stat_force_next_flush()');
      const tables = await run<{ name: string; vacuum: boolean }>(DUE_TABLES);
      // VACUUM and ANALYZE go through PGlite's exec (the simple query protocol), as scripts do
      for (const t of tables.rows) await run(`${SCRIPT_MARKER}${t.vacuum ? 'vacuum (analyze)' : 'analyze'} ${t.name}`);
      const freeze = await run<{ due: boolean }>(FREEZE_DUE);
      if (freeze.rows[0]?.due) await run(`${SCRIPT_MARKER}vacuum`);
    } finally {
      connection.release();
    }
  }

  acquireConnection(): Promise<DatabaseConnection> {
    const client = this.#client;
    if (!client) throw new Error('PGlite driver used before init');
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const acquired = this.#queue.then(() => new PGliteConnection(client, release));
    this.#queue = this.#queue.then(() => released);
    return acquired;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PGliteConnection).release();
  }

  async destroy(): Promise<void> {
    clearInterval(this.#timer);
    await this.#queue;
    await this.#client?.close();
    this.#client = undefined;
  }
}

class PGliteConnection implements DatabaseConnection {
  constructor(
    private readonly client: PGlite,
    readonly release: () => void,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (query.sql.startsWith(SCRIPT_MARKER)) {
      await this.client.exec(query.sql);
      return { rows: [] };
    }
    const result = await this.client.query<R>(query.sql, [...query.parameters]);
    return {
      rows: result.rows,
      ...(result.affectedRows === undefined ? {} : { numAffectedRows: BigInt(result.affectedRows) }),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite does not support streaming queries');
  }
}

/**
 * Kysely dialect for an embedded PGlite database (in memory, or in `dataDir`). PGlite is loaded
 * when the first query runs; without it installed that query fails with `CONFIG_INVALID`. Tables
 * are vacuumed and analyzed as autovacuum would (see {@link PGliteMaintenance}); `false` turns
 * that off.
 */
export function pgliteDialect(options: PGliteDialectOptions = {}, maintenance: PGliteMaintenance | false = {}): Dialect {
  const intervalMs = maintenance ? maintenance.intervalMs : undefined;
  if (intervalMs !== undefined && !(intervalMs > 0 && Number.isFinite(intervalMs))) {
    throw new TypeError('maintenance.intervalMs must be a positive number of milliseconds');
  }
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PGliteDriver(options, maintenance),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
