import { errors } from '@swan/core';
import { LocalKeyProvider, type ForgottenClients, type KeyProvider } from './keys.js';

/** The AWS KMS provider's entry point, imported only when `SWAN_KMS_KEY_ID` is set. */
const AWS_KMS_ENTRY = '@swan/pii/aws-kms';

/** The environment variables {@link keyProviderFromEnv} and {@link indexKeyFromEnv} read. */
export interface KeyEnv {
  /** `keyId:base64,keyId:base64` (32-byte keys, newest last): local master keys. */
  SWAN_MASTER_KEYS?: string | undefined;
  /** An AWS KMS key id, ARN or alias: master key in KMS (takes precedence over `SWAN_MASTER_KEYS`). */
  SWAN_KMS_KEY_ID?: string | undefined;
  /** Region of the KMS key (else the AWS SDK's default chain). */
  AWS_REGION?: string | undefined;
  /** Base64 of at least 32 random bytes: the blind-index key (lookups by email and phone). */
  SWAN_INDEX_KEY?: string | undefined;
}

/**
 * The master-key provider named by the environment: AWS KMS when `SWAN_KMS_KEY_ID` is set (the AWS
 * SDK is loaded only then), else the local keys of `SWAN_MASTER_KEYS`. Throws `CONFIG_INVALID`
 * when neither is set or the keys are malformed (the message never contains key material).
 *
 * @example
 * ```ts
 * const keys = await keyProviderFromEnv(process.env);
 * const pii = createPii({ db, keys, indexKey: indexKeyFromEnv(process.env) });
 * ```
 */
export async function keyProviderFromEnv(env: KeyEnv, options: { forgotten?: ForgottenClients } = {}): Promise<KeyProvider> {
  const forgotten = options.forgotten ? { forgotten: options.forgotten } : {};
  if (env.SWAN_KMS_KEY_ID) {
    // the subpath, not './aws-kms.js': kept external by the build, so the AWS SDK loads only here
    // (typed from the source: the package's own declarations do not exist yet while it builds)
    const { AwsKmsKeyProvider } = (await import(AWS_KMS_ENTRY)) as typeof import('./aws-kms.js');
    return new AwsKmsKeyProvider({ keyId: env.SWAN_KMS_KEY_ID, ...forgotten, ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}) });
  }
  if (!env.SWAN_MASTER_KEYS) {
    throw errors.configInvalid('Set SWAN_MASTER_KEYS (keyId:base64,…, newest last) or SWAN_KMS_KEY_ID');
  }
  return LocalKeyProvider.fromEnv(env.SWAN_MASTER_KEYS, forgotten);
}

/**
 * The blind-index key from `SWAN_INDEX_KEY` (base64 of at least 32 bytes). Throws `CONFIG_INVALID`
 * when it is unset or too short.
 *
 * @example
 * ```ts
 * const indexKey = indexKeyFromEnv(process.env);
 * ```
 */
export function indexKeyFromEnv(env: KeyEnv): Buffer {
  if (!env.SWAN_INDEX_KEY) throw errors.configInvalid('Set SWAN_INDEX_KEY (base64 of 32 random bytes)');
  const key = Buffer.from(env.SWAN_INDEX_KEY, 'base64');
  if (key.length < 32) throw errors.configInvalid('SWAN_INDEX_KEY must be at least 32 bytes (base64)');
  return key;
}
