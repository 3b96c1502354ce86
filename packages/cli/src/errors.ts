import { classifyPgError, isSwanError } from '@swan/core';
import type { DatabaseTarget } from './database.js';

/** An error as `swan` prints it on stderr: `{"error":{"code","message","hint"?}}`. */
export interface CliErrorReport {
  code: string;
  message: string;
  /** What to do about it, when `swan` knows. */
  hint?: string;
}

/**
 * Turns what a command threw into the report `swan` prints. Database failures are classified
 * once, by `classifyPgError` of `@swan/core`, and carry a code and a hint:
 *
 * | code | when | hint |
 * |---|---|---|
 * | `DATABASE_UNREACHABLE` | connection refused, unknown host, lost connection | is PostgreSQL running at host:port? |
 * | `DATABASE_AUTH_FAILED` | wrong role or password, no such database | check the URL |
 * | `DATABASE_PERMISSION_DENIED` | e.g. `permission denied for schema public` | run migrations as the owning role |
 * | `DATABASE_NOT_MIGRATED` | `relation … does not exist`, a missing function | run `swan migrate` |
 *
 * Any other `SwanError` keeps its code and message; anything else is `INTERNAL`.
 *
 * @example
 * ```ts
 * io.stderr(`${JSON.stringify({ error: describeError(error, target) })}\n`);
 * ```
 */
export function describeError(error: unknown, target?: DatabaseTarget): CliErrorReport {
  const where = target?.kind === 'postgres' ? `${target.host}:${target.port}` : undefined;
  const pg = classifyPgError(error);
  const driverMessage = error instanceof Error ? firstMessage(error) : String(error);
  switch (pg.kind) {
    case 'connection': {
      const at = where ?? (pg.address ? `${pg.address.host}${pg.address.port ? `:${pg.address.port}` : ''}` : 'the configured host');
      const what = pg.code === 'ENOTFOUND' || pg.code === 'EAI_AGAIN' ? `cannot resolve the database host (${pg.code})` : `connection failed (${pg.code})`;
      return { code: 'DATABASE_UNREACHABLE', message: `Cannot reach PostgreSQL at ${at}: ${what}`, hint: `is PostgreSQL running at ${at}?` };
    }
    case 'authentication':
      return {
        code: 'DATABASE_AUTH_FAILED',
        message: `PostgreSQL${where ? ` at ${where}` : ''} refused the connection (${pg.code})`,
        hint: 'check the user, password and database name in the database URL',
      };
    case 'insufficient_privilege':
      return {
        code: 'DATABASE_PERMISSION_DENIED',
        message: driverMessage,
        hint: /schema public/.test(driverMessage)
          ? 'run migrations as the owning role, see docs/deployment.md'
          : 'connect as the owning role for `swan migrate` and as the application role (swan_app) otherwise, see docs/deployment.md',
      };
    case 'undefined_object':
      return { code: 'DATABASE_NOT_MIGRATED', message: driverMessage, hint: 'run `swan migrate`' };
    default:
      if (isSwanError(error)) return { code: error.code, message: error.message };
      return { code: 'INTERNAL', message: driverMessage };
  }
}

/** The message of the innermost error that carries the database's text (SwanErrors wrap it in `cause`). */
function firstMessage(error: Error): string {
  let e: unknown = error;
  for (let i = 0; i < 5 && isSwanError(e) && e.cause instanceof Error; i++) e = e.cause;
  return (e as Error).message;
}
