import { keyProviderFromEnv, rotateKeys } from '@swan/pii';
import { EXIT, UsageError, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';
import { startProgress } from '../progress.js';

/**
 * `swan keys rotate`: re-wraps every data key under the newest master key, with progress, then
 * prints `{ rewrapped, failed, remaining, currentKeyId }`. Exit 1 while keys remain under older
 * master keys (an old key may only be retired at `remaining: 0`). Safe to stop and run again.
 */
export const keysRotateCommand: Command = {
  name: 'keys rotate',
  summary: 'Re-wrap every PII data key under the newest master key (resumable); exit 1 while old keys remain',
  description: [
    'Re-wraps every client data key that is not under the newest master key, in batches, each its',
    'own transaction; the ciphertexts stay as they are. Safe to stop and run again. Retire an old',
    'master key only after a run that reports "remaining": 0.',
  ].join('\n'),
  options: {
    ...databaseOptions,
    'batch-size': { type: 'string', value: 'n', description: 'Data keys re-wrapped per transaction', default: '500' },
  },
  environment: {
    SWAN_MASTER_KEYS: 'keyId:base64,… (32-byte keys, newest last): the old keys and the new one',
    SWAN_KMS_KEY_ID: 'instead of SWAN_MASTER_KEYS: the AWS KMS key to wrap under (AWS_REGION for its region)',
  },
  output: [
    '{"rewrapped":500,"failed":0,"remaining":0,"currentKeyId":"k2"} on stdout; progress on stderr.',
    'Exit 0 when no key is left under an older master key, 1 while some remain or on failure, 2 wrong usage or keys.',
  ].join('\n'),
  examples: ['SWAN_MASTER_KEYS=k1:…,k2:… swan keys rotate --database-url postgres://swan_app@db/swan'],
  async run({ values, io }) {
    const batchSize = Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError('--batch-size must be a positive integer');
    const keys = await keyProviderFromEnv(io.env);
    const progress = startProgress(io, 'keys rotate', 'data keys');
    try {
      const result = await withDatabase(values, io.env, (db) => rotateKeys(db, keys, { batchSize, onProgress: (p) => progress.update(p) }));
      progress.end();
      io.stdout(`${JSON.stringify({ ...result, currentKeyId: keys.currentKeyId })}\n`);
      return result.remaining === 0 ? EXIT.ok : EXIT.failed;
    } finally {
      progress.end();
    }
  },
};
