import { migrate } from '@swan/core';
import { EXIT, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';
import { startProgress } from '../progress.js';
import { migrationRegistry, resolveMigrationSets } from '../registry.js';

/** `swan migrate [--packages core,pii,…]`: applies pending migrations; prints `{ packages, applied }` as JSON. */
export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Apply pending migrations (run as the role that owns the tables)',
  description: [
    'Applies the pending SQL migrations of the selected packages, their dependencies first (core',
    'always), each file in its own transaction. Run it as the role that owns the tables, never as',
    'swan_app (docs/deployment.md). Without --database-url, DATABASE_URL or --embedded it refuses',
    '(exit 2) rather than create a database in the current directory.',
  ].join('\n'),
  options: {
    ...databaseOptions,
    embedded: { ...databaseOptions.embedded, description: 'Migrate the embedded PGlite database in this directory (created if missing)' },
    packages: {
      type: 'string',
      value: 'list',
      description: 'Comma-separated packages to migrate; their dependencies are added',
      defaultText: `every package this CLI knows: ${Object.keys(migrationRegistry).join(',')}`,
    },
  },
  output: [
    '{"packages":[…],"applied":["core/0001_…",…]} on stdout; progress on stderr.',
    'Exit 0 done (also when nothing was pending), 1 failed, 2 wrong usage or no database.',
  ].join('\n'),
  examples: [
    'swan migrate --database-url postgres://swan_owner@db:5432/swan',
    'swan migrate --packages core,pii --database-url postgres://swan_owner@db/swan',
    'swan migrate --embedded .data',
  ],
  async run({ values, io }) {
    const names = typeof values.packages === 'string' ? values.packages.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(migrationRegistry);
    const sets = await resolveMigrationSets(names);
    const progress = startProgress(io, 'migrate', 'migrations');
    try {
      const result = await withDatabase(values, io.env, (db) => migrate(db, sets, { onProgress: (p) => progress.update(p) }), { create: true });
      progress.end();
      io.stdout(`${JSON.stringify({ packages: sets.map((s) => s.package), applied: result.applied })}\n`);
      return EXIT.ok;
    } finally {
      progress.end();
    }
  },
};
