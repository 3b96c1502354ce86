import { sql, type Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import { appendAudit, errors, isUuid, textProblem, withActor, type Actor, type ErasureParticipant, type EventPublisher } from '@swan/core';
import { BlindIndex } from './blind-index.js';
import { buf, ciphertextKeyVersion, decryptField } from './cipher.js';
import type { KeyProvider } from './keys.js';
import type { KeyRow } from './rotation.js';
import type { PiiServiceOptions } from './types.js';
import { TRAINING_COLUMNS, validationFailed } from './validation.js';

// What the parts of the PII service (reads, writes, export) share: its settings, the data-key
// cache and decryption, the table's columns, and the checks every part makes.

/** The PII table; ciphertexts are bound to it (`encryptField(key, 1, v, { table: PII_TABLE, column, clientId })`). */
export const PII_TABLE = 'client_profile_pii';
/** Encrypted columns of {@link PII_TABLE}, in API.md's names (`PII_FIELDS.includes('email')`). */
export const PII_FIELDS = ['full_name', 'preferred_name', 'date_of_birth', 'blood_type', 'phone_number', 'email', 'emergency_contact', 'address'] as const;
export type PiiField = (typeof PII_FIELDS)[number];
export const JSON_FIELDS = new Set<PiiField>(['emergency_contact', 'address']);

/** The state one PII service's parts share. */
export interface PiiContext {
  readonly db: Kysely<any>;
  readonly keys: KeyProvider;
  readonly index: BlindIndex;
  readonly events: EventPublisher | undefined;
  /** The erasure participants installed now (see `PiiServiceOptions.erasureParticipants`). */
  readonly erasureParticipants: () => readonly ErasureParticipant[];
  readonly retentionDays: number;
  readonly now: () => Date;
  /** Unwrapped data keys by `clientId:keyVersion`; `null` when disabled. */
  readonly cache: LRUCache<string, { keyId: string; wrapped: string; key: Buffer }> | null;
  readonly fastReads: boolean;
  readonly readBatching: { maxInFlight: number; maxBatch: number };
  /** The highest alias tier this service has seen filled (a hint for the next creation). */
  aliasTier: number | undefined;
}

export function createPiiContext(options: PiiServiceOptions): PiiContext {
  return {
    db: options.db,
    keys: options.keys,
    index: new BlindIndex(options.indexKey, options.defaultPhoneCountry ? { defaultCountry: options.defaultPhoneCountry } : {}),
    events: options.events,
    erasureParticipants: (() => {
      const p = options.erasureParticipants;
      return typeof p === 'function' ? p : () => p ?? [];
    })(),
    retentionDays: options.aliasRetentionDays ?? 30,
    now: options.now ?? (() => new Date()),
    fastReads: options.readCommit === 'fast',
    readBatching: { maxInFlight: options.readBatching?.maxInFlight ?? 2, maxBatch: options.readBatching?.maxBatch ?? 32 },
    cache: options.keyCache === false ? null : new LRUCache({
      max: options.keyCache?.max ?? 10_000,
      ttl: options.keyCache?.ttlMs ?? 5 * 60_000,
      // best effort: the evicted copy is zeroed; V8 may have copied it before
      dispose: (v) => v.key.fill(0),
    }),
    aliasTier: undefined,
  };
}

export interface PiiRow extends Record<PiiField, Uint8Array | null> {
  client_id: string;
}

export const PII_COLUMNS = sql.join(PII_FIELDS.map((f) => sql.ref(`p.${f}`)));
/** Training columns of `t` as JSON-friendly values: numerics as numbers, dates as YYYY-MM-DD. */
export const TRAINING_COLUMNS_SQL = sql.join([
  sql`t.age`,
  ...Object.entries(TRAINING_COLUMNS).map(([name, col]) =>
    col.cast === 'numeric' ? sql`${sql.ref(`t.${name}`)}::float8 as ${sql.ref(name)}`
    : col.cast === 'date' ? sql`to_char(${sql.ref(`t.${name}`)}, 'YYYY-MM-DD') as ${sql.ref(name)}`
    : sql.ref(`t.${name}`)),
]);

export const forbidden = (message = 'Not allowed') => errors.forbidden(message);
export const notFound = () => errors.notFound('Client not found');

export function checkClientId(clientId: unknown): string {
  if (!isUuid(clientId)) throw validationFailed([{ path: 'clientId', message: 'must be a UUID' }], 'Malformed client id');
  return clientId.toLowerCase();
}

export async function dataKey(ctx: PiiContext, clientId: string, row: KeyRow): Promise<Buffer> {
  const id = `${clientId}:${row.key_version}`;
  const wrapped = buf(row.wrapped_key);
  const w = wrapped.toString('base64');
  const hit = ctx.cache?.get(id);
  if (hit && hit.keyId === row.master_key_id && hit.wrapped === w) return Buffer.from(hit.key);
  const key = await ctx.keys.unwrap(row.master_key_id, wrapped, { clientId });
  ctx.cache?.set(id, { keyId: row.master_key_id, wrapped: w, key: Buffer.from(key) });
  return key;
}

export async function decrypt(ctx: PiiContext, clientId: string, row: PiiRow, keyRows: KeyRow[]): Promise<Record<PiiField, unknown>> {
  const out = {} as Record<PiiField, unknown>;
  const keys = new Map<number, Buffer>();
  try {
    for (const field of PII_FIELDS) {
      const c = row[field];
      if (c === null || c === undefined) { out[field] = null; continue; }
      const version = ciphertextKeyVersion(c);
      let key = keys.get(version);
      if (!key) {
        const kr = keyRows.find((k) => Number(k.key_version) === version);
        if (!kr) throw errors.piiDecryptionFailed('A PII value is under an unknown data-key version');
        key = await dataKey(ctx, clientId, kr);
        keys.set(version, key);
      }
      const text = decryptField(key, c, { table: PII_TABLE, column: field, clientId });
      out[field] = JSON_FIELDS.has(field) ? JSON.parse(text) : text;
    }
  } finally {
    for (const k of keys.values()) k.fill(0);
  }
  return out;
}

/** Audits a denied attempt (with its reason when it gave a usable one) and throws `FORBIDDEN`. */
export async function deny(ctx: PiiContext, actor: Actor, clientId: string, action: string, reason: unknown, message: string): Promise<never> {
  const why = typeof reason === 'string' && reason.trim() !== '' && !textProblem(reason, { max: 500, multiline: true }) ? reason.trim() : null;
  await withActor(ctx.db, actor, (trx) => appendAudit(trx, { actor, action, resource: PII_TABLE, resourceId: clientId, outcome: 'denied', reason: why }));
  throw forbidden(message);
}
