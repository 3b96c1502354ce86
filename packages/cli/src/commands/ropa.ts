import { EXIT, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';
import { assembleRopa, installedProcessingRecords, loadProcessingRecords, processingRecordRegistry, ropaMarkdown } from '../ropa.js';

const listOf = (value: unknown): string[] | undefined =>
  typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : undefined;

/**
 * `swan ropa`: the record of processing activities (GDPR Art. 30) of the Swan packages, assembled
 * from the processing record each package exports (purposes, consent types, tables with personal
 * data and what erasure does to each, processors, event types, retention rules, measures).
 */
export const ropaCommand: Command = {
  name: 'ropa',
  summary: 'The record of processing activities (GDPR Art. 30), generated from the packages',
  description: [
    'Prints the record of processing activities (GDPR Art. 30) as Markdown, or JSON with --json,',
    'assembled from the processing record each Swan package exports: processing activities and',
    'purposes, the purposes a PII read must state, consent types, every table holding personal data',
    'with what erasure does to it and how long rows stay, processors (Stripe, Twilio, AI services),',
    'event types with who publishes and handles them, retention rules and security measures.',
    'With --database-url or --embedded, only the packages installed in that database (a package counts',
    'as installed when one of its tables exists); without, every package the CLI knows.',
  ].join('\n'),
  options: {
    'database-url': { ...databaseOptions['database-url'], description: 'Only the packages installed in this PostgreSQL database', defaultText: 'none: every package' },
    embedded: { ...databaseOptions.embedded, description: 'Only the packages installed in the embedded PGlite database in this directory' },
    json: { type: 'boolean', description: 'Print the record as JSON', default: false },
    packages: { type: 'string', value: 'list', description: 'Only these packages (comma-separated)', defaultText: Object.keys(processingRecordRegistry).join(',') },
    purposes: { type: 'string', value: 'list', description: 'The read purposes your app configures (createPii({ purposes }))', defaultText: '@swan/pii DEFAULT_PURPOSES' },
  },
  output: 'The record on stdout: Markdown, or JSON with --json. Exit 0 done, 1 failed (database), 2 wrong usage.',
  examples: [
    'swan ropa > ropa.md',
    'swan ropa --json --purposes session_planning,data_subject_request',
    'swan ropa --database-url postgres://swan_app@db/swan > ropa.md',
  ],
  async run({ values, io }) {
    const purposes = listOf(values.purposes);
    const known = await loadProcessingRecords(listOf(values.packages), purposes ? { purposes } : {});
    // a database only when one is named here ($DATABASE_URL alone does not narrow the record)
    const named = typeof values['database-url'] === 'string' || typeof values.embedded === 'string';
    const records = named ? await withDatabase(values, {}, (db) => installedProcessingRecords(db, known)) : known;
    const ropa = assembleRopa(records);
    io.stdout(values.json === true ? `${JSON.stringify(ropa, null, 2)}\n` : ropaMarkdown(ropa));
    return EXIT.ok;
  },
};
