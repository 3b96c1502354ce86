import { migrate } from '@swan/core';
import { EXIT, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';
import { migrationRegistry, resolveMigrationSets } from '../registry.js';

/** `swan migrate [--packages core,pii,…]`: applies pending migrations; prints `{ applied }` as JSON. */
export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Apply pending migrations (run as the role that owns the tables)',
  usage: `--packages is a comma-separated list (default: every package this CLI knows: ${Object.keys(migrationRegistry).join(', ')}); their dependencies are added.\nExample: swan migrate --packages core,pii --database-url postgres://owner@db/app`,
  options: { ...databaseOptions, packages: { type: 'string' } },
  async run({ values, io }) {
    const names = typeof values.packages === 'string' ? values.packages.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(migrationRegistry);
    const sets = await resolveMigrationSets(names);
    const result = await withDatabase(values, io.env, (db) => migrate(db, sets));
    io.stdout(`${JSON.stringify({ packages: sets.map((s) => s.package), applied: result.applied })}\n`);
    return EXIT.ok;
  },
};
