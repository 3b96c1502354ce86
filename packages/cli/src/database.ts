import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { createDatabase } from '@swan/core';
import type { CommandValues } from './command.js';

/**
 * The connection options every database command takes: `--database-url` (default `DATABASE_URL`),
 * else an embedded PGlite in `--data-dir` (default `DATA_DIR`, else `.data/`, the example
 * server's directory).
 */
export const databaseOptions = {
  'database-url': { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

/**
 * Opens the database named by {@link databaseOptions}. Use the owner role's URL for `migrate`.
 *
 * @example
 * ```ts
 * const db = openDatabase(values, io.env);
 * try { await migrate(db, sets); } finally { await db.destroy(); }
 * ```
 */
export function openDatabase(values: CommandValues, env: Record<string, string | undefined>): Kysely<any> {
  const url = (values['database-url'] as string | undefined) || env.DATABASE_URL || undefined;
  if (url) return createDatabase({ url, poolSize: 2, applicationName: 'swan-cli' });
  const dataDir = resolve((values['data-dir'] as string | undefined) || env.DATA_DIR || '.data/');
  mkdirSync(dataDir, { recursive: true });
  return createDatabase({ dataDir });
}

/** Runs `fn` with a database from {@link openDatabase} and always closes it. */
export async function withDatabase<T>(values: CommandValues, env: Record<string, string | undefined>, fn: (db: Kysely<any>) => Promise<T>): Promise<T> {
  const db = openDatabase(values, env);
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}
