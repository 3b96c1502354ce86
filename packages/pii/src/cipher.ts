import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { errors, type SwanError } from '@swan/core';

/** Ciphertext format version (first byte). */
export const CIPHERTEXT_VERSION = 1;
const HEADER = 1 + 4 + 12;
const TAG = 16;

/** Where a ciphertext belongs: it only decrypts in this table, column and client's row. */
export interface FieldBinding {
  table: string;
  column: string;
  clientId: string;
}

/** A view of database bytes (`Buffer` from pg, `Uint8Array` from PGlite) as a Buffer, without copying. */
export function buf(v: Uint8Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.length);
}

const nonces = Buffer.alloc(4096);
let nonceOffset = nonces.length;

/**
 * A fresh 96-bit GCM nonce. Nonces are drawn from the CSPRNG 4 kB at a time and each byte is handed
 * out once (as node's `randomUUID` pools its randomness): `randomBytes(12)` costs a native job of
 * several microseconds per call, nine of them per client created. Only nonces come from the pool,
 * which are public (they are stored in every ciphertext's header); keys never do.
 */
export function freshNonce(): Buffer {
  if (nonceOffset + 12 > nonces.length) {
    randomFillSync(nonces);
    nonceOffset = 0;
  }
  const nonce = Buffer.from(nonces.subarray(nonceOffset, nonceOffset + 12));
  nonceOffset += 12;
  return nonce;
}

function aad(header: Buffer, b: FieldBinding): Buffer {
  return Buffer.concat([header, Buffer.from(`\0${b.table}\0${b.column}\0${b.clientId}`, 'utf8')]);
}

function decryptError(): SwanError {
  // Never says more: no bytes, no value, no key.
  return errors.piiDecryptionFailed('A PII value failed to decrypt (tampered, moved, or under an unknown key)');
}

/**
 * AES-256-GCM encryption of one field. Format: `[version:1][keyVersion:4 BE][nonce:12][ciphertext][tag:16]`;
 * the header plus table, column and client id are authenticated data.
 *
 * @example
 * ```ts
 * const c = encryptField(dataKey, 1, 'Ada', { table: 'client_profile_pii', column: 'full_name', clientId });
 * ```
 */
export function encryptField(dataKey: Buffer, keyVersion: number, plaintext: string, binding: FieldBinding): Buffer {
  const header = Buffer.alloc(HEADER);
  header[0] = CIPHERTEXT_VERSION;
  header.writeUInt32BE(keyVersion, 1);
  freshNonce().copy(header, 5);
  const cipher = createCipheriv('aes-256-gcm', dataKey, header.subarray(5));
  cipher.setAAD(aad(header, binding));
  return Buffer.concat([header, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
}

/**
 * The data-key version a ciphertext was made under; throws `PII_DECRYPTION_FAILED` for anything that
 * is not a v1 ciphertext (plaintext in a PII column is an error, never passed through).
 *
 * @example
 * ```ts
 * const version = ciphertextKeyVersion(row.full_name);
 * ```
 */
export function ciphertextKeyVersion(ciphertext: Uint8Array): number {
  if (ciphertext.length < HEADER + TAG || ciphertext[0] !== CIPHERTEXT_VERSION) throw decryptError();
  return buf(ciphertext).readUInt32BE(1);
}

/**
 * Decrypts a field made by {@link encryptField}. Fails closed (`PII_DECRYPTION_FAILED`) on a flipped
 * byte, a ciphertext from another row or column, or a wrong key.
 *
 * @example
 * ```ts
 * const name = decryptField(dataKey, row.full_name, { table: 'client_profile_pii', column: 'full_name', clientId });
 * ```
 */
export function decryptField(dataKey: Buffer, ciphertext: Uint8Array, binding: FieldBinding): string {
  ciphertextKeyVersion(ciphertext);
  const bytes = buf(ciphertext);
  const header = bytes.subarray(0, HEADER);
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, header.subarray(5));
    decipher.setAAD(aad(header, binding));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG));
    return Buffer.concat([decipher.update(bytes.subarray(HEADER, bytes.length - TAG)), decipher.final()]).toString('utf8');
  } catch {
    throw decryptError();
  }
}
