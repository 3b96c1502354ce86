import { LocalKeyProvider, rotateKeys, type KeyProvider, type RotationProgress } from '@swan/pii';
import { EXIT, UsageError, type CliIo, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';

/** The master keys from `SWAN_MASTER_KEYS` (newest last) or `SWAN_KMS_KEY_ID`. */
export async function keyProviderFromEnv(env: Record<string, string | undefined>): Promise<KeyProvider> {
  // the AWS SDK is an optional peer: loaded only when KMS is asked for
  if (env.SWAN_KMS_KEY_ID) return new (await import('@swan/pii/aws-kms')).AwsKmsKeyProvider({ keyId: env.SWAN_KMS_KEY_ID, ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}) });
  if (!env.SWAN_MASTER_KEYS) throw new UsageError('Set SWAN_MASTER_KEYS (keyId:base64,…, newest last) or SWAN_KMS_KEY_ID');
  return LocalKeyProvider.fromEnv(env.SWAN_MASTER_KEYS);
}

/**
 * A one-line progress bar on stderr, redrawn in place (`\r`). Hand-written rather than
 * cli-progress: one bar, no terminal control beyond carriage return, and it must also render into
 * the injected `io` of tests and non-TTY logs.
 */
export function progressBar(io: CliIo, width = 30): (p: RotationProgress) => void {
  return ({ done, total }) => {
    const filled = total === 0 ? width : Math.min(width, Math.round((done / total) * width));
    io.stderr(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} data keys re-wrapped`);
  };
}

/**
 * `swan keys rotate`: re-wraps every data key under the newest master key with a progress bar, then
 * prints `{ rewrapped, failed, remaining, currentKeyId }`. Exit 1 while keys remain under older
 * master keys (an old key may only be retired at `remaining: 0`). Safe to stop and run again.
 */
export const keysRotateCommand: Command = {
  name: 'keys rotate',
  summary: 'Re-wrap every PII data key under the newest master key (resumable); exit 1 while old keys remain',
  options: { ...databaseOptions, 'batch-size': { type: 'string', default: '500' } },
  usage: 'Environment: SWAN_MASTER_KEYS=old:…,new:… (newest last) or SWAN_KMS_KEY_ID. Connect as swan_app or the owner.',
  async run({ values, io }) {
    const batchSize = Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError('--batch-size must be a positive integer');
    const keys = await keyProviderFromEnv(io.env);
    const result = await withDatabase(values, io.env, (db) => rotateKeys(db, keys, { batchSize, onProgress: progressBar(io) }));
    io.stderr('\n');
    io.stdout(`${JSON.stringify({ ...result, currentKeyId: keys.currentKeyId })}\n`);
    return result.remaining === 0 ? EXIT.ok : EXIT.failed;
  },
};
