import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
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
    const handle = memo(() => createPool(config as DatabaseConfig & { url: string }));
    db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: async () => (await handle()).pool }) });
    engines.set(db, 'postgres');
    pgHandles.set(db, handle);
  } else {
    db = new Kysely<DB>({ dialect: pgliteDialect(config.dataDir ? { dataDir: config.dataDir } : {}) });
    engines.set(db, 'pglite');
  }
  return db;
}

type PgModule = typeof import('pg');
type PgPool = import('pg').Pool;
type QueryConstructor = PgModule['default']['Query'];
interface PgHandle {
  pool: PgPool;
  /** Query class whose rows arrive before the commit (see {@link queryWhileCommitting}). */
  EarlyRowsQuery: ReturnType<typeof earlyRowsQueryClass>;
  named: boolean;
}
/** The pg pool behind each root handle made by {@link createDatabase} with a URL, made on first use. */
const pgHandles = new WeakMap<object, () => Promise<PgHandle>>();

function memo<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

async function createPool(config: DatabaseConfig & { url: string }): Promise<PgHandle> {
  const pg = await import('pg');
  const { Pool, Client, Query, types } = pg.default ?? (pg as unknown as PgModule['default']);
  // Statements marked with `prepared` become named prepared statements: parsed and planned
  // once per connection instead of at every call.
  const named = config.preparedStatements !== false;
  class PreparingClient extends Client {
    override query(query: unknown, values?: unknown, callback?: unknown): any {
      const name = typeof query === 'string' ? preparedName(named, query) : undefined;
      if (name !== undefined) return (super.query as Function)({ name, text: query, values }, callback);
      return (super.query as Function)(query, values, callback);
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
  return { pool, EarlyRowsQuery: earlyRowsQueryClass(Query, types), named };
}

/** How to read the rows of one named statement: its columns (checked at every use) and their parsers. */
interface RowShape {
  names: string[];
  oids: number[];
  parsers: ((value: string) => unknown)[];
}
type RowDescription = { fields: { name: string; dataTypeID: number }[] };

/**
 * A pg query that asks for its rows before the commit: `Flush` goes before `Sync`, so PostgreSQL
 * sends the rows and CommandComplete as soon as the statement has run and only then commits
 * (the implicit transaction of an extended-protocol statement ends at `Sync`). `work` starts on
 * the rows at CommandComplete; the query's callback still fires only at ReadyForQuery, after the
 * commit, or with the error when the statement or its commit fails. Should node-postgres stop
 * calling `_getRows`, rows simply arrive with the commit: slower, never less safe.
 *
 * Rows are read with the column parsers of the named statement's last run, kept after checking
 * the columns' names and types: node-postgres' own result rebuilds parsers and a dictionary-mode
 * row template at every run (21 µs for the audited PII read's 15 columns).
 */
function earlyRowsQueryClass(Query: QueryConstructor, types: PgModule['default']['types']) {
  const shapes = new Map<string, RowShape>();
  const sameShape = (shape: RowShape | undefined, fields: RowDescription['fields']): shape is RowShape =>
    shape !== undefined && shape.names.length === fields.length && fields.every((f, i) => f.name === shape.names[i] && f.dataTypeID === shape.oids[i]);

  return class EarlyRowsQuery extends Query {
    early: Promise<unknown> | undefined;
    #shape: RowShape | undefined;
    readonly #rows: Record<string, unknown>[] = [];
    constructor(config: import('pg').QueryConfig, readonly work: (rows: any[]) => unknown, callback: (error: Error | null) => void) {
      super(config as never, undefined, callback as never);
    }

    _getRows(connection: { execute(o: object): void; flush(): void; sync(): void }, rows?: number): void {
      connection.execute({ portal: (this as unknown as { portal: string }).portal, rows });
      connection.flush();
      if (!rows) connection.sync();
    }

    handleRowDescription(msg: RowDescription): void {
      const name = (this as unknown as { name?: string }).name;
      const known = name === undefined ? undefined : shapes.get(name);
      if (sameShape(known, msg.fields)) {
        this.#shape = known;
        return;
      }
      const parserTypes = (this as unknown as { _result: { _types?: typeof types } })._result._types ?? types;
      this.#shape = {
        names: msg.fields.map((f) => f.name),
        oids: msg.fields.map((f) => f.dataTypeID),
        parsers: msg.fields.map((f) => parserTypes.getTypeParser(f.dataTypeID, 'text') as (value: string) => unknown),
      };
      if (name !== undefined && shapes.size < 100) shapes.set(name, this.#shape);
    }

    handleDataRow(msg: { fields: (string | null)[] }): void {
      const self = this as unknown as { _canceledDueToError: unknown };
      if (self._canceledDueToError) return;
      const { names, parsers } = this.#shape!;
      const row: Record<string, unknown> = {};
      try {
        for (let i = 0; i < names.length; i++) {
          const value = msg.fields[i];
          row[names[i]!] = value === null || value === undefined ? null : parsers[i]!(value);
        }
      } catch (e) {
        self._canceledDueToError = e; // reported at ReadyForQuery, as node-postgres does
        return;
      }
      this.#rows.push(row);
    }

    handleCommandComplete(msg: unknown, connection: unknown): void {
      (Query.prototype as any).handleCommandComplete.call(this, msg, connection);
      if (this.early === undefined && !(this as unknown as { _canceledDueToError: unknown })._canceledDueToError) {
        this.early = Promise.resolve(this.#rows).then(this.work);
        this.early.catch(() => {}); // reported after the commit, or dropped with a failed one
      }
    }
  };
}

/**
 * Runs one autocommit statement and hands its rows to `work` while PostgreSQL is still committing
 * it, so work on the rows (decryption, say) overlaps the commit's WAL flush instead of following
 * it. Resolves with `work`'s result only after the commit has succeeded; when the statement or
 * its commit fails, rejects with that error and drops whatever `work` produced — nothing derived
 * from the rows leaves before their transaction is durable.
 *
 * Only a root handle made by {@link createDatabase} with a URL overlaps (the statement goes
 * through its pool directly: Kysely plugins and `log` do not see it). On PGlite, a transaction or
 * any other handle it is a plain `executeQuery` followed by `work`. Statements beginning with
 * {@link prepared} are prepared as usual.
 *
 * @example
 * ```ts
 * const query = sql`${prepared}select * from swan_pii_audited_reads(…)`.compile(db);
 * const records = await queryWhileCommitting(db, query, (rows) => rows.map(decrypt));
 * ```
 */
export async function queryWhileCommitting<R, T>(db: Kysely<any>, query: CompiledQuery<R>, work: (rows: R[]) => T | Promise<T>): Promise<T> {
  const pg = pgHandles.get(db);
  if (!pg) return work((await db.executeQuery(query)).rows);
  const handle = await pg();
  const client = await handle.pool.connect();
  // a checked-out client has no listener of its own: a dying connection would crash the process
  const ignore = () => {}; // the query's callback gets the same error
  client.on('error', ignore);
  const text = query.sql;
  const name = preparedName(handle.named, text);
  const config = { text, values: [...query.parameters], ...(name === undefined ? {} : { name }) };
  let q: InstanceType<PgHandle['EarlyRowsQuery']>;
  try {
    await new Promise<void>((resolve, reject) => {
      q = new handle.EarlyRowsQuery(config, work as (rows: any[]) => unknown, (error) => (error ? reject(error) : resolve()));
      client.query(q as never);
    });
  } catch (e) {
    // a statement's ERROR leaves the connection usable; anything else (FATAL, a dropped socket)
    // takes it out of the pool, listener kept: it may still report its end
    const broken = (e as { severity?: unknown }).severity !== 'ERROR';
    if (!broken) client.off('error', ignore);
    client.release(broken ? (e as Error) : undefined);
    throw e;
  }
  client.off('error', ignore);
  client.release();
  return (await (q!.early ?? work([]))) as T;
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
