import { verifyAuditChain } from '@swan/core';
import { EXIT, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';

/** `swan audit verify`: links pending entries, checks the whole chain, prints `{ valid, entries, firstBrokenId? }`; exit 1 when broken. */
export const auditVerifyCommand: Command = {
  name: 'audit verify',
  summary: 'Verify the hash-chained audit log; exit code 1 when a link is broken',
  options: databaseOptions,
  async run({ values, io }) {
    const result = await withDatabase(values, io.env, (db) => verifyAuditChain(db));
    io.stdout(`${JSON.stringify(result)}\n`);
    return result.valid ? EXIT.ok : EXIT.failed;
  },
};
