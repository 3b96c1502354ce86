import { writeFileSync } from 'node:fs';
import { isUuid, SYSTEM_ACTOR, type ExportContributor } from '@swan/core';
import { createPii, EXPORT_FORMATS, indexKeyFromEnv, keyProviderFromEnv, renderExportHtml, type ExportFormat } from '@swan/pii';
import { EXIT, UsageError, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';
import { installedExportContributors } from '../export-contributors.js';
import { startProgress, type Progress } from '../progress.js';

/** Reports a step after the PII part and after each contributor's part of the export. */
function withProgress(contributors: ExportContributor[], progress: Progress): ExportContributor[] {
  const total = contributors.length + 1;
  let done = 0;
  progress.update({ done, total });
  return contributors.map((c) => ({
    name: c.name,
    async collect(trx, clientId) {
      // the PII part is read before the first contributor is called
      if (done === 0) progress.update({ done: (done = 1), total });
      const part = await c.collect(trx, clientId);
      progress.update({ done: (done += 1), total });
      return part;
    },
  }));
}

/**
 * `swan export <clientId>`: the complete data-subject export, the same document as
 * `GET /api/clients/:clientId/export` — decrypted PII, training data, alias, access log and the
 * parts of every package installed in the database (consents, master prompts, subscriptions,
 * check-ins) — as JSON, or with `--format html` as the printable page of `?format=html`, on
 * stdout or into `--out` (mode 600). Audited as `PII_EXPORT` by the system actor.
 */
export const exportCommand: Command = {
  name: 'export',
  summary: 'Data-subject export of one client (the same document as the HTTP export), as JSON or HTML',
  args: '<clientId>',
  description: [
    'Prints the complete data-subject export of one client, the same document as',
    'GET /api/clients/:clientId/export: pii (decrypted), training, alias, accessLog and the parts of',
    'every package installed in the database (consents, masterPrompts, subscriptions, checkins), and',
    'restrictions. --format html prints the same document as a printable page without scripts.',
    'The read is audited as PII_EXPORT by the system actor.',
  ].join('\n'),
  options: {
    ...databaseOptions,
    format: { type: 'string', value: 'format', description: 'json, or html: a printable page of the same document', default: 'json' },
    out: { type: 'string', value: 'file', description: 'Write the document to this file (mode 600) instead of stdout', defaultText: 'stdout' },
  },
  positionals: true,
  environment: {
    SWAN_MASTER_KEYS: 'keyId:base64,… (newest last), or SWAN_KMS_KEY_ID (AWS KMS, AWS_REGION)',
    SWAN_INDEX_KEY: 'base64 of the 32-byte blind-index key',
  },
  output: [
    'The export document (JSON, or an HTML page with --format html) on stdout or in --out; progress on stderr.',
    'Exit 0 done, 1 failed (NOT_FOUND: no such client), 2 wrong usage or keys.',
  ].join('\n'),
  examples: [
    'swan export 3f2a…-…-… --database-url postgres://swan_app@db/swan --out client.json',
    'swan export 3f2a…-…-… --format html --database-url postgres://swan_app@db/swan --out client.html',
  ],
  async run({ values, positionals, io }) {
    const clientId = positionals[0];
    if (positionals.length !== 1 || !isUuid(clientId)) throw new UsageError('Give exactly one client id (a UUID)');
    const format = values.format as ExportFormat;
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
    const keys = await keyProviderFromEnv(io.env);
    const indexKey = indexKeyFromEnv(io.env);
    const progress = startProgress(io, 'export', 'parts');
    let doc: Record<string, unknown>;
    try {
      doc = await withDatabase(values, io.env, async (db) => {
        const pii = createPii({ db, keys, indexKey, keyCache: false });
        const contributors = withProgress(await installedExportContributors(db, pii), progress);
        const result = await pii.exportClientData(clientId, SYSTEM_ACTOR, contributors);
        progress.update({ done: contributors.length + 1, total: contributors.length + 1 });
        return result;
      });
    } finally {
      progress.end();
    }
    const text = format === 'html' ? renderExportHtml(doc) : `${JSON.stringify(doc, null, 2)}\n`;
    if (typeof values.out === 'string') {
      writeFileSync(values.out, text, { mode: 0o600 });
      io.stderr(`wrote ${values.out}\n`);
    } else {
      io.stdout(text);
    }
    return EXIT.ok;
  },
};
