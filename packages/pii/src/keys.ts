import { createCipheriv, createDecipheriv } from 'node:crypto';
import { SwanError, errors } from '@swan/core';
import { freshNonce } from './cipher.js';

/** What a data key is bound to: wrapping under one context and unwrapping under another fails. */
export interface KeyContext {
  clientId: string;
}

/** A data key wrapped by a master key. */
export interface WrappedKey {
  /** Id of the master key that wrapped it (kept next to the wrapped bytes for rotation). */
  keyId: string;
  wrapped: Buffer;
}

/**
 * Where master keys live. Data keys (32 random bytes, one per client) are only ever stored wrapped.
 * Implementations: {@link LocalKeyProvider} (keys from configuration) and `AwsKmsKeyProvider`.
 *
 * @example
 * ```ts
 * const keys: KeyProvider = LocalKeyProvider.fromEnv(process.env.SWAN_MASTER_KEYS);
 * const { keyId, wrapped } = await keys.wrap(randomBytes(32), { clientId });
 * ```
 */
export interface KeyProvider {
  /** The newest master key id: new data keys and rotation wrap under it. */
  readonly currentKeyId: string;
  /** Optional: let the provider make the data key (KMS GenerateDataKey); else 32 random bytes are wrapped. */
  generateDataKey?(context: KeyContext): Promise<WrappedKey & { plaintext: Buffer }>;
  wrap(dataKey: Buffer, context: KeyContext): Promise<WrappedKey>;
  /** Fails (SwanError) for an unknown key id, tampered bytes, another context or a forgotten client. */
  unwrap(keyId: string, wrapped: Buffer, context: KeyContext): Promise<Buffer>;
  /**
   * Called after a client is erased: the provider refuses to unwrap that client's keys from now on,
   * so a database copy taken before the erasure cannot be decrypted through it.
   */
  forget?(context: KeyContext): Promise<void>;
}

/** Remembers erased clients for a provider (in memory by default; the example server persists it). */
export interface ForgottenClients {
  has(clientId: string): boolean;
  add(clientId: string): unknown;
}

/**
 * The error for a key that can't be used (`PII_KEY_UNAVAILABLE`, HTTP 500); never carries key material or PII.
 *
 * @example
 * ```ts
 * throw keyError(`Unknown master key id "${keyId}"`);
 * ```
 */
export function keyError(message: string, cause?: unknown): SwanError {
  return errors.piiKeyUnavailable(message, cause);
}

const WRAP_VERSION = 1;
const KEY_ID = /^[A-Za-z0-9._-]{1,50}$/;

/**
 * Parses `keyId:base64,keyId:base64` (newest last), each key exactly 32 bytes.
 *
 * @example
 * ```ts
 * parseMasterKeys('k1:' + randomBytes(32).toString('base64')); // Map { 'k1' => Buffer }
 * ```
 */
export function parseMasterKeys(spec: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf(':');
    const id = i > 0 ? part.slice(0, i) : '';
    const key = Buffer.from(part.slice(i + 1), 'base64');
    if (!KEY_ID.test(id)) throw errors.configInvalid('SWAN_MASTER_KEYS: each entry is keyId:base64 with a key id of letters, digits, . _ -');
    if (key.length !== 32) throw errors.configInvalid(`SWAN_MASTER_KEYS: key "${id}" must be 32 bytes (base64 of 32 random bytes)`);
    if (keys.has(id)) throw errors.configInvalid(`SWAN_MASTER_KEYS: key id "${id}" appears twice`);
    keys.set(id, key);
  }
  if (keys.size === 0) throw errors.configInvalid('SWAN_MASTER_KEYS is empty');
  return keys;
}

function wrapAad(keyId: string, context: KeyContext): Buffer {
  return Buffer.from(`swan/dek/v${WRAP_VERSION}\0${keyId}\0${context.clientId}`, 'utf8');
}

/**
 * Master keys from configuration (`SWAN_MASTER_KEYS`): AES-256-GCM key wrapping bound to the key id
 * and the client id. Several keys may be configured; the last is current, older ones still unwrap
 * until `rotateKeys()` reports 0 keys left under them.
 *
 * @example
 * ```ts
 * const keys = new LocalKeyProvider(parseMasterKeys(process.env.SWAN_MASTER_KEYS!));
 * ```
 */
export class LocalKeyProvider implements KeyProvider {
  readonly currentKeyId: string;
  readonly #keys: Map<string, Buffer>;
  readonly #forgotten: ForgottenClients;

  constructor(keys: Map<string, Buffer>, options: { forgotten?: ForgottenClients } = {}) {
    if (keys.size === 0) throw errors.configInvalid('LocalKeyProvider needs at least one master key');
    this.#keys = new Map(keys);
    this.currentKeyId = [...keys.keys()].at(-1)!;
    this.#forgotten = options.forgotten ?? new Set<string>();
  }

  /**
   * From `keyId:base64,…` text (newest last).
   *
   * @example
   * ```ts
   * const keys = LocalKeyProvider.fromEnv(process.env.SWAN_MASTER_KEYS!);
   * ```
   */
  static fromEnv(spec: string, options: { forgotten?: ForgottenClients } = {}): LocalKeyProvider {
    return new LocalKeyProvider(parseMasterKeys(spec), options);
  }

  async wrap(dataKey: Buffer, context: KeyContext): Promise<WrappedKey> {
    const keyId = this.currentKeyId;
    const nonce = freshNonce();
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(keyId)!, nonce);
    cipher.setAAD(wrapAad(keyId, context));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { keyId, wrapped: Buffer.concat([Buffer.from([WRAP_VERSION]), nonce, body, cipher.getAuthTag()]) };
  }

  async unwrap(keyId: string, wrapped: Buffer, context: KeyContext): Promise<Buffer> {
    if (this.#forgotten.has(context.clientId)) throw keyError('The data key of an erased client cannot be unwrapped');
    const master = this.#keys.get(keyId);
    if (!master) throw keyError(`Unknown master key id "${keyId}"`);
    if (wrapped.length !== 1 + 12 + 32 + 16 || wrapped[0] !== WRAP_VERSION) throw keyError('Malformed wrapped data key');
    try {
      const decipher = createDecipheriv('aes-256-gcm', master, wrapped.subarray(1, 13));
      decipher.setAAD(wrapAad(keyId, context));
      decipher.setAuthTag(wrapped.subarray(-16));
      return Buffer.concat([decipher.update(wrapped.subarray(13, -16)), decipher.final()]);
    } catch (e) {
      throw keyError('Wrapped data key failed authentication', e);
    }
  }

  async forget(context: KeyContext): Promise<void> {
    await this.#forgotten.add(context.clientId);
  }
}
