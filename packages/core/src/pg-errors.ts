// PostgreSQL error classification by SQLSTATE. pg's DatabaseError and PGlite's both carry `code`
// (and, for constraint violations, `constraint`); these read only that, so they work for both.

/** The SQLSTATE of a PostgreSQL error (`'23505'`…), `undefined` for anything else. */
export function pgErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * `23505 unique_violation`; with `constraint`, only a violation of that constraint (by the
 * error's `constraint` field, or its name in the message where a driver leaves the field out).
 *
 * @example
 * ```ts
 * if (isUniqueViolation(e, 'client_aliases_alias')) throw errors.conflict('That alias is taken');
 * ```
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (pgErrorCode(error) !== '23505') return false;
  if (constraint === undefined) return true;
  const e = error as { constraint?: unknown; message?: unknown };
  return e.constraint === constraint || String(e.message).includes(constraint);
}

/** `40001 serialization_failure`: a serializable or repeatable-read transaction lost a race. */
export function isSerializationFailure(error: unknown): boolean {
  return pgErrorCode(error) === '40001';
}

/** `40P01 deadlock_detected`. */
export function isDeadlock(error: unknown): boolean {
  return pgErrorCode(error) === '40P01';
}

/**
 * True when running the whole transaction again may succeed: a serialization failure or a
 * deadlock. (Whether a unique violation is a lost race worth retrying is the caller's call.)
 *
 * @example
 * ```ts
 * for (let attempt = 1; ; attempt++) {
 *   try { return await db.transaction().setIsolationLevel('serializable').execute(work); }
 *   catch (e) { if (attempt >= 5 || !isRetryable(e)) throw e; }
 * }
 * ```
 */
export function isRetryable(error: unknown): boolean {
  return isSerializationFailure(error) || isDeadlock(error);
}
