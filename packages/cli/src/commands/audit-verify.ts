import { verifyAuditChain } from '@swan/core';
import { EXIT, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';
import { startProgress } from '../progress.js';

/** `swan audit verify`: links pending entries, checks the whole chain, prints `{ valid, entries, firstBrokenId? }`; exit 1 when broken. */
export const auditVerifyCommand: Command = {
  name: 'audit verify',
  summary: 'Verify the hash-chained audit log; exit code 1 when a link is broken',
  description: [
    'Links the audit entries still pending, then recomputes every hash of the chain in order and',
    'compares the last one with the recorded head. Read-only apart from linking.',
  ].join('\n'),
  options: databaseOptions,
  output: [
    '{"valid":true,"entries":1234} or {"valid":false,"entries":41,"firstBrokenId":42} on stdout;',
    'progress on stderr. Exit 0 intact, 1 broken or failed, 2 wrong usage.',
  ].join('\n'),
  examples: ['swan audit verify --database-url postgres://swan_app@db/swan', 'swan audit verify --embedded .data'],
  async run({ values, io }) {
    const progress = startProgress(io, 'audit verify', 'entries');
    try {
      const result = await withDatabase(values, io.env, (db) => verifyAuditChain(db, { onProgress: (p) => progress.update(p) }));
      progress.end();
      io.stdout(`${JSON.stringify(result)}\n`);
      return result.valid ? EXIT.ok : EXIT.failed;
    } finally {
      progress.end();
    }
  },
};
