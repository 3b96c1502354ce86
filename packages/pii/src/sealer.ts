import { sql, type Kysely } from 'kysely';
import { errors, isSealed, SEALED_PREFIX, type ClientDataSealer } from '@swan/core';
import { ciphertextKeyVersion, decryptField, encryptField, type FieldBinding } from './cipher.js';
import { checkClientId, dataKey, type PiiContext } from './context.js';
import type { KeyRow } from './rotation.js';

// Free text about a client, sealed under the client's data key (ClientDataSealer of @swan/core):
// `swan:sealed:v1:` + base64 of an encryptField ciphertext bound to the client id and the value's
// field. Erasure deletes the data key, so every sealed value of the client is shredded with it.

const binding = (clientId: string, field: string): FieldBinding => ({ table: 'swan_sealed', column: field, clientId });

/** The newest data key of a live or soft-deleted client (any actor: see migration pii/0003), or `null`. */
async function sealingKey(db: Kysely<any>, clientId: string): Promise<KeyRow | null> {
  const { rows } = await sql<KeyRow>`select * from swan_pii_sealing_key(${clientId}::uuid)`.execute(db);
  return rows[0] ?? null;
}

/**
 * Seals `plaintext` under the client's data key; `null` when the client has no key (unknown or
 * erased): the text is then dropped, never stored in plaintext.
 */
export async function sealIfKeyed(ctx: PiiContext, db: Kysely<any>, clientId: string, plaintext: string, field: string): Promise<string | null> {
  const row = await sealingKey(db, clientId);
  if (!row) return null;
  const key = await dataKey(ctx, clientId, row);
  try {
    return SEALED_PREFIX + encryptField(key, Number(row.key_version), plaintext, binding(clientId, field)).toString('base64');
  } finally {
    key.fill(0);
  }
}

/**
 * Opens sealed values of one client in a transaction, loading the client's data keys (as the
 * transaction's actor sees them) once. Each item is `[value, field]`; an item that is `null` or not
 * sealed comes back as it is, a sealed one as its plaintext, or `null` when its key is gone (erased)
 * or not visible. A tampered value is `PII_DECRYPTION_FAILED`.
 */
export async function openSealed(ctx: PiiContext, trx: Kysely<any>, clientId: string, items: ReadonlyArray<readonly [string | null, string]>): Promise<Array<string | null>> {
  if (!items.some(([v]) => isSealed(v))) return items.map(([v]) => v);
  const { rows } = await sql<KeyRow>`select key_version, master_key_id, wrapped_key from client_data_keys where client_id = ${clientId}::uuid`.execute(trx);
  const keys = new Map<number, Buffer>();
  try {
    const out: Array<string | null> = [];
    for (const [value, field] of items) {
      if (!isSealed(value)) { out.push(value); continue; }
      const bytes = Buffer.from(value.slice(SEALED_PREFIX.length), 'base64');
      const version = ciphertextKeyVersion(bytes);
      let key = keys.get(version);
      if (!key) {
        const row = rows.find((r) => Number(r.key_version) === version);
        if (!row) { out.push(null); continue; }
        key = await dataKey(ctx, clientId, row);
        keys.set(version, key);
      }
      out.push(decryptField(key, bytes, binding(clientId, field)));
    }
    return out;
  } finally {
    for (const k of keys.values()) k.fill(0);
  }
}

/**
 * The {@link ClientDataSealer} of a PII service (`pii.sealer`): other packages seal their free text
 * about a client with it (consent proof and revocation reasons), so erasure shreds that text too.
 *
 * @example
 * ```ts
 * const consent = createConsent({ db, sealer: pii.sealer });
 * ```
 */
export function createSealer(ctx: PiiContext): ClientDataSealer {
  return {
    async seal(trx, clientId, plaintext, field) {
      const sealed = await sealIfKeyed(ctx, trx, checkClientId(clientId), plaintext, field);
      if (sealed === null) throw errors.notFound('Client not found');
      return sealed;
    },
    async open(trx, clientId, value, field) {
      return (await openSealed(ctx, trx, checkClientId(clientId), [[value, field]]))[0]!;
    },
  };
}
