import { writeFileSync } from 'node:fs';
import { isUuid } from '@swan/core';
import { PiiService, SYSTEM_ACTOR } from '@swan/pii';
import { EXIT, UsageError, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';
import { keyProviderFromEnv } from './keys-rotate.js';

/**
 * `swan export <clientId>`: the data-subject export (decrypted PII, training data, alias, access
 * log) as JSON on stdout or into `--out` (mode 600). Audited as `PII_EXPORT` by the system actor.
 * Parts contributed by other packages (consents, master prompts, subscriptions) are added by the
 * host app's contributors: use `GET /api/clients/:clientId/export` for the complete document.
 */
export const exportCommand: Command = {
  name: 'export',
  summary: 'Data-subject export of one client (PII decrypted, audited) as JSON',
  options: { ...databaseOptions, out: { type: 'string' } },
  positionals: true,
  usage: 'Usage: swan export <clientId> [--out file.json]. Environment: SWAN_MASTER_KEYS (or SWAN_KMS_KEY_ID) and SWAN_INDEX_KEY.',
  async run({ values, positionals, io }) {
    const clientId = positionals[0];
    if (positionals.length !== 1 || !isUuid(clientId)) throw new UsageError('Give exactly one client id (a UUID)');
    if (!io.env.SWAN_INDEX_KEY) throw new UsageError('Set SWAN_INDEX_KEY');
    const keys = await keyProviderFromEnv(io.env);
    const doc = await withDatabase(values, io.env, (db) =>
      new PiiService({ db, keys, indexKey: Buffer.from(io.env.SWAN_INDEX_KEY!, 'base64'), keyCache: false }).exportClientData(clientId, SYSTEM_ACTOR));
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (typeof values.out === 'string') {
      writeFileSync(values.out, text, { mode: 0o600 });
      io.stderr(`wrote ${values.out}\n`);
    } else {
      io.stdout(text);
    }
    return EXIT.ok;
  },
};
