// `@swan/pii/aws-kms`: the one module that imports the AWS SDK (an optional peer), so the main
// entry loads without it.
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { keyError, type ForgottenClients, type KeyContext, type KeyProvider, type WrappedKey } from './keys.js';

/** The part of `KMSClient` this provider uses (so tests and hosts can pass a configured client). */
export type KmsLike = Pick<KMSClient, 'send'>;

/**
 * Master key in AWS KMS: data keys come from `GenerateDataKey` (AES_256) and are unwrapped with
 * `Decrypt`, both under the encryption context `{ clientId, purpose: "swan-pii" }`, so a wrapped
 * key copied to another client fails in KMS. Rotation re-wraps with `Encrypt` under `keyId`.
 *
 * Install the SDK next to this package: `npm install @aws-sdk/client-kms`.
 *
 * @example
 * ```ts
 * import { KMSClient } from '@aws-sdk/client-kms';
 * import { AwsKmsKeyProvider } from '@swan/pii/aws-kms';
 *
 * const keys = new AwsKmsKeyProvider({ keyId: 'alias/swan-pii', client: new KMSClient({ region: 'eu-west-1' }) });
 * ```
 */
export class AwsKmsKeyProvider implements KeyProvider {
  readonly currentKeyId: string;
  readonly #client: KmsLike;
  readonly #forgotten: ForgottenClients;

  constructor(options: { keyId: string; client?: KmsLike; region?: string; forgotten?: ForgottenClients }) {
    this.currentKeyId = options.keyId;
    this.#client = options.client ?? new KMSClient(options.region ? { region: options.region } : {});
    this.#forgotten = options.forgotten ?? new Set<string>();
  }

  #context(context: KeyContext): Record<string, string> {
    return { clientId: context.clientId, purpose: 'swan-pii' };
  }

  async generateDataKey(context: KeyContext): Promise<WrappedKey & { plaintext: Buffer }> {
    const out = await this.#call(() =>
      this.#client.send(new GenerateDataKeyCommand({ KeyId: this.currentKeyId, KeySpec: 'AES_256', EncryptionContext: this.#context(context) })),
    );
    if (!out.Plaintext || !out.CiphertextBlob) throw keyError('KMS GenerateDataKey returned no key');
    return { keyId: this.currentKeyId, wrapped: Buffer.from(out.CiphertextBlob), plaintext: Buffer.from(out.Plaintext) };
  }

  async wrap(dataKey: Buffer, context: KeyContext): Promise<WrappedKey> {
    const out = await this.#call(() =>
      this.#client.send(new EncryptCommand({ KeyId: this.currentKeyId, Plaintext: dataKey, EncryptionContext: this.#context(context) })),
    );
    if (!out.CiphertextBlob) throw keyError('KMS Encrypt returned no ciphertext');
    return { keyId: this.currentKeyId, wrapped: Buffer.from(out.CiphertextBlob) };
  }

  async unwrap(keyId: string, wrapped: Buffer, context: KeyContext): Promise<Buffer> {
    if (this.#forgotten.has(context.clientId)) throw keyError('The data key of an erased client cannot be unwrapped');
    const out = await this.#call(() =>
      this.#client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped, EncryptionContext: this.#context(context) })),
    );
    if (!out.Plaintext || out.Plaintext.length !== 32) throw keyError('KMS Decrypt returned no 32-byte key');
    return Buffer.from(out.Plaintext);
  }

  async forget(context: KeyContext): Promise<void> {
    await this.#forgotten.add(context.clientId);
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      // KMS error names (InvalidCiphertextException, NotFoundException, …) are safe to report.
      throw keyError(`KMS request failed: ${(e as Error).name}`, e);
    }
  }
}
