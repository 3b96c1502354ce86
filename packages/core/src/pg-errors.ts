/**
 * What kind of failure a PostgreSQL (or PGlite) error is, read from its SQLSTATE (`code`) or,
 * for a failure to reach the server, from the socket error code (`ECONNREFUSED`, `ENOTFOUND`, …).
 *
 * - `unique_violation` (23505), `serialization_failure` (40001), `deadlock` (40P01)
 * - `connection`: the server could not be reached or went away (socket errors, class 08,
 *   57P01–57P03 shutdown / cannot connect now)
 * - `authentication`: the server refused the role or password (28000, 28P01) or the database
 *   does not exist (3D000)
 * - `insufficient_privilege` (42501), e.g. `permission denied for schema public`
 * - `undefined_object`: a table, function, schema or type is missing (42P01, 42883, 3F000, 42704),
 *   usually because migrations were not applied
 * - `other`: anything else, including errors that are not from the database
 */
export type PgErrorKind =
  | 'unique_violation'
  | 'serialization_failure'
  | 'deadlock'
  | 'connection'
  | 'authentication'
  | 'insufficient_privilege'
  | 'undefined_object'
  | 'other';

/** The result of {@link classifyPgError}. */
export interface PgErrorClass {
  kind: PgErrorKind;
  /** The SQLSTATE or socket error code found, if any. */
  code: string | undefined;
  /**
   * Running the same transaction again may succeed: serialization failures, deadlocks and lost
   * connections. A unique violation is not retryable in general (see {@link isUniqueViolation}).
   */
  retryable: boolean;
  /** For `connection` failures: the host and port the error names, when it names them. */
  address?: { host: string; port?: number };
}

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const UNDEFINED = new Set(['42P01', '42883', '3F000', '42704']);
const SQLSTATE = /^[0-9A-Z]{5}$/;

interface ErrorLike {
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
  address?: unknown;
  hostname?: unknown;
  port?: unknown;
}

/**
 * The first error in `error`, its `cause` chain and `AggregateError.errors` that carries a SQLSTATE
 * or a socket error code (a `SwanError`'s own code is skipped, its `cause` is looked at).
 */
function withCode(error: unknown, depth = 0): ErrorLike | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  const e = error as ErrorLike;
  if (typeof e.code === 'string' && (SQLSTATE.test(e.code) || SOCKET_CODES.has(e.code)) && (e as Error).name !== 'SwanError') return e;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = withCode(inner, depth + 1);
      if (found) return found;
    }
  }
  return withCode(e.cause, depth + 1);
}

/**
 * The SQLSTATE (or socket error code) of `error`, looking through `cause` chains and
 * `AggregateError`s; `undefined` when there is none.
 *
 * @example
 * ```ts
 * if (pgErrorCode(e) === '23505') throw errors.conflict('Already published');
 * ```
 */
export function pgErrorCode(error: unknown): string | undefined {
  return withCode(error)?.code as string | undefined;
}

/**
 * Classifies a database error (see {@link PgErrorKind}). Works for `pg`, PGlite and Kysely errors
 * and for errors wrapped with `cause`.
 *
 * @example
 * ```ts
 * const { kind, retryable } = classifyPgError(error);
 * if (retryable) return retry();
 * if (kind === 'undefined_object') logger.error('run `swan migrate`');
 * ```
 */
export function classifyPgError(error: unknown): PgErrorClass {
  const found = withCode(error);
  const code = found?.code as string | undefined;
  const of = (kind: PgErrorKind, retryable = false): PgErrorClass => ({ kind, code, retryable });
  if (code === undefined) return of('other');
  if (code === '23505') return of('unique_violation');
  if (code === '40001') return of('serialization_failure', true);
  if (code === '40P01') return of('deadlock', true);
  if (SOCKET_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') {
    const result = of('connection', true);
    const host = typeof found!.address === 'string' ? found!.address : typeof found!.hostname === 'string' ? found!.hostname : undefined;
    if (host) result.address = typeof found!.port === 'number' ? { host, port: found!.port } : { host };
    return result;
  }
  if (code === '28000' || code === '28P01' || code === '3D000') return of('authentication');
  if (code === '42501') return of('insufficient_privilege');
  if (UNDEFINED.has(code)) return of('undefined_object');
  return of('other');
}

/**
 * A unique constraint was violated (23505), optionally a given one (matched on the error's
 * `constraint` field or, on engines without it, its message).
 *
 * @example
 * ```ts
 * if (isUniqueViolation(e, 'client_profile_pii_email_idx')) throw errors.conflict('Email already registered');
 * ```
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const found = withCode(error) as (ErrorLike & { constraint?: unknown; message?: unknown }) | undefined;
  if (found?.code !== '23505') return false;
  if (constraint === undefined) return true;
  return found.constraint === constraint || String(found.message ?? '').includes(constraint);
}

/**
 * The transaction may succeed if run again: serialization failure (40001), deadlock (40P01) or a
 * lost connection.
 *
 * @example
 * ```ts
 * for (let attempt = 1; ; attempt++) {
 *   try { return await db.transaction().setIsolationLevel('serializable').execute(work); }
 *   catch (e) { if (attempt === 3 || !isRetryablePgError(e)) throw e; }
 * }
 * ```
 */
export function isRetryablePgError(error: unknown): boolean {
  return classifyPgError(error).retryable;
}
