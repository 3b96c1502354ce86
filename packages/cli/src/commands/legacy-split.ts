import { PiiService, indexKeyFromEnv, keyProviderFromEnv, splitLegacyMasterPrompts } from '@swan/pii';
import { EXIT, UsageError, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';
import { startProgress } from '../progress.js';

/**
 * `swan legacy split [--dry-run]`: the legacy `master_prompts` split of `@swan/pii`
 * (`splitLegacyMasterPrompts`), with progress; prints its report. Exit 1 when the count check
 * fails (a row with a client profile was not, or would not be, migrated).
 */
export const legacySplitCommand: Command = {
  name: 'legacy split',
  summary: 'Split legacy master_prompts documents into encrypted PII and training rows (with --dry-run)',
  description: [
    'Moves each legacy master_prompts(id uuid, data jsonb) document into an encrypted',
    'client_profile_pii row and a client_profile_training row (client id = legacy id). Idempotent:',
    'rows already migrated are skipped. A real run first copies the table to <table>_backup (once).',
    'Connect as a role that can read the legacy table and write the PII tables (the owner).',
  ].join('\n'),
  options: {
    ...databaseOptions,
    'dry-run': { type: 'boolean', description: 'Report what would be migrated; write nothing (no backup either)', default: false },
    table: { type: 'string', value: 'name', description: 'The legacy table (columns id uuid, data jsonb)', default: 'master_prompts' },
  },
  environment: {
    SWAN_MASTER_KEYS: 'keyId:base64,… (newest last), or SWAN_KMS_KEY_ID (AWS KMS, AWS_REGION)',
    SWAN_INDEX_KEY: 'base64 of the 32-byte blind-index key',
  },
  output: [
    'The report on stdout: {"dryRun","sourceRows","withProfile","migrated","alreadyMigrated",',
    '"unmigrated":[{"id","reason"}],"counts":{"pii","training"},"countCheck","backupTable"} (ids and',
    'reasons only, never PII); progress on stderr.',
    'Exit 0 when every row with a client profile is (or would be) migrated, 1 when the count check',
    'fails or on failure, 2 wrong usage or keys.',
  ].join('\n'),
  examples: [
    'swan legacy split --dry-run --database-url postgres://swan_owner@db/swan',
    'swan legacy split --database-url postgres://swan_owner@db/swan',
  ],
  async run({ values, io }) {
    const table = String(values.table);
    if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new UsageError('--table must be a lower-case table name');
    const keys = await keyProviderFromEnv(io.env);
    const indexKey = indexKeyFromEnv(io.env);
    const progress = startProgress(io, 'legacy split', 'rows');
    try {
      const report = await withDatabase(values, io.env, (db) =>
        splitLegacyMasterPrompts(db, {
          service: new PiiService({ db, keys, indexKey, keyCache: false }),
          dryRun: values['dry-run'] === true,
          table,
          onProgress: (p) => progress.update(p),
        }));
      progress.end();
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      return report.countCheck ? EXIT.ok : EXIT.failed;
    } finally {
      progress.end();
    }
  },
};
