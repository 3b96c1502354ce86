import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { createDatabase } from '@swan/core';
import { UsageError, type CommandValues, type OptionSpec } from './command.js';

/**
 * The connection options every database command takes: `--database-url` (default `DATABASE_URL`)
 * or `--embedded DIR`, an embedded PGlite database in that directory. With neither, a command
 * refuses (exit 2) rather than guess a database.
 */
export const databaseOptions = {
  'database-url': {
    type: 'string',
    value: 'url',
    description: 'PostgreSQL connection string (postgres://user:password@host:5432/db)',
    defaultText: '$DATABASE_URL',
  },
  embedded: {
    type: 'string',
    value: 'dir',
    description: 'Use the embedded PGlite database in this directory instead of PostgreSQL',
    defaultText: 'none',
  },
} as const satisfies Record<string, OptionSpec>;

/** Which database a command talks to, as far as the options and environment say. */
export type DatabaseTarget =
  | { kind: 'postgres'; url: string; host: string; port: number }
  | { kind: 'embedded'; dir: string };

/**
 * Resolves {@link databaseOptions}: `--embedded DIR` or `--database-url`, else `DATABASE_URL`.
 * Throws a {@link UsageError} when there is none, or when both options are given.
 *
 * @example
 * ```ts
 * const target = databaseTarget(values, io.env); // { kind: 'postgres', url, host, port }
 * ```
 */
export function databaseTarget(values: CommandValues, env: Record<string, string | undefined>): DatabaseTarget {
  const url = typeof values['database-url'] === 'string' ? values['database-url'] : undefined;
  const dir = typeof values.embedded === 'string' ? values.embedded : undefined;
  if (url !== undefined && dir !== undefined) throw new UsageError('Give --database-url or --embedded, not both');
  if (dir !== undefined) {
    if (dir === '') throw new UsageError('--embedded needs a directory');
    return { kind: 'embedded', dir: resolve(dir) };
  }
  const chosen = url || env.DATABASE_URL;
  if (!chosen) {
    throw new UsageError('No database: give --database-url URL (or set DATABASE_URL), or --embedded DIR for an embedded PGlite database in DIR');
  }
  return { kind: 'postgres', url: chosen, ...hostAndPort(chosen) };
}

/** Host and port of a PostgreSQL URL, for messages (never the user or password). */
export function hostAndPort(url: string): { host: string; port: number } {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return { host, port: Number(u.port || u.searchParams.get('port') || 5432) };
  } catch {
    throw new UsageError('The database URL is not a valid URL (postgres://user:password@host:5432/db)');
  }
}

/**
 * Opens the database named by {@link databaseOptions}. An embedded directory must already hold a
 * database unless `create` is set (only `swan migrate` creates one).
 *
 * @example
 * ```ts
 * const db = openDatabase(values, io.env);
 * try { await verifyAuditChain(db); } finally { await db.destroy(); }
 * ```
 */
export function openDatabase(values: CommandValues, env: Record<string, string | undefined>, options: { create?: boolean } = {}): Kysely<any> {
  const target = databaseTarget(values, env);
  if (target.kind === 'postgres') return createDatabase({ url: target.url, poolSize: 2, applicationName: 'swan-cli' });
  if (options.create) {
    mkdirSync(target.dir, { recursive: true });
  } else if (!existsSync(target.dir)) {
    throw new UsageError(`No embedded database in ${target.dir}; create one with \`swan migrate --embedded ${target.dir}\``);
  }
  return createDatabase({ dataDir: target.dir });
}

/**
 * Runs `fn` with a database from {@link openDatabase} and always closes it.
 *
 * @example
 * ```ts
 * const stats = await withDatabase(values, io.env, (db) => createOutbox({ db }).stats());
 * ```
 */
export async function withDatabase<T>(
  values: CommandValues,
  env: Record<string, string | undefined>,
  fn: (db: Kysely<any>) => Promise<T>,
  options: { create?: boolean } = {},
): Promise<T> {
  const db = openDatabase(values, env, options);
  try {
    return await fn(db);
  } finally {
    await db.destroy().catch(() => undefined);
  }
}
