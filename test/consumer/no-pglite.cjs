// The CommonJS twin of no-pglite.mjs.
const { createDatabase, isSwanError } = require('@swan/core');
const { sql } = require('kysely');

sql`select 1`.execute(createDatabase()).then(
  () => {
    console.error('no-pglite: the query ran without PGlite installed');
    process.exit(1);
  },
  (error) => {
    if (!isSwanError(error) || error.code !== 'CONFIG_INVALID' || !error.message.includes('npm install @electric-sql/pglite')) {
      console.error('no-pglite: unexpected error', error);
      process.exit(1);
    }
    console.log(`no-pglite (cjs): ${error.message}`);
  },
);
