// Run in an app without @electric-sql/pglite: no URL → the first query fails with a SwanError
// that says what to install. Prints the message; exits non-zero otherwise.
import { createDatabase, isSwanError } from '@swan/core';
import { sql } from 'kysely';

const db = createDatabase();
try {
  await sql`select 1`.execute(db);
  console.error('no-pglite: the query ran without PGlite installed');
  process.exit(1);
} catch (error) {
  if (!isSwanError(error) || error.code !== 'CONFIG_INVALID' || !error.message.includes('npm install @electric-sql/pglite')) {
    console.error('no-pglite: unexpected error', error);
    process.exit(1);
  }
  console.log(`no-pglite (esm): ${error.message}`);
}
