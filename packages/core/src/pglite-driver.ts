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
import type { PGlite, PGliteOptions } from '@electric-sql/pglite';

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
  readonly #options: PGliteOptions;

  constructor(options: PGliteOptions) {
    this.#options = options;
  }

  async init(): Promise<void> {
    const { PGlite } = await import('@electric-sql/pglite');
    this.#client = await PGlite.create(this.#options);
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

/** Kysely dialect for an embedded PGlite database (in memory, or in `dataDir`). */
export function pgliteDialect(options: PGliteOptions = {}): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PGliteDriver(options),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
