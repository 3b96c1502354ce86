import { sql, type Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import { appendAudit, checkText, errors, isUuid, withActor, type Actor, type ErasureParticipant, type EventPublisher } from '@swan/core';
import { BlindIndex } from './blind-index.js';
import { buf, ciphertextKeyVersion, decryptField } from './cipher.js';
import type { KeyProvider } from './keys.js';
import { DEFAULT_PURPOSES, RECORD_CODES, SERVICE_DELIVERY_PURPOSE, type RecordCode } from './purposes.js';
import type { KeyRow } from './rotation.js';
import { sealIfKeyed } from './sealer.js';
import type { PiiAccess, PiiServiceOptions, RecordedReason } from './types.js';
import { requireReason, TRAINING_COLUMNS, validationFailed } from './validation.js';

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
  /** The purposes `getClientPII` accepts (`PiiServiceOptions.purposes`). */
  readonly purposes: ReadonlySet<string>;
  /** The highest alias tier this service has seen filled (a hint for the next creation). */
  aliasTier: number | undefined;
}

const PURPOSE_CODE = /^[a-z][a-z0-9_]{0,49}$/;

export function createPiiContext(options: PiiServiceOptions): PiiContext {
  const purposes = options.purposes ?? DEFAULT_PURPOSES;
  if (!Array.isArray(purposes) || purposes.length === 0 || !purposes.every((p) => typeof p === 'string' && PURPOSE_CODE.test(p))) {
    throw errors.configInvalid('purposes: a non-empty list of snake_case codes (e.g. session_planning), at most 50 characters each');
  }
  return {
    purposes: new Set(purposes),
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

const NOTE = { max: 200, multiline: true } as const;

/** A read's optional note: at most 200 characters (core's text rule), trimmed; `null` when absent. */
export function noteOf(note: unknown): string | null {
  return checkText(typeof note === 'string' ? note.trim() : note, 'note', NOTE);
}

/** The purpose and note a read states, unchecked: `{ purpose, note?, reason? }` or `"purpose"` / `"purpose: note"`. */
function statedAccess(access: unknown): { purpose: unknown; note: unknown } {
  if (typeof access === 'string') {
    const i = access.indexOf(':');
    return { purpose: (i < 0 ? access : access.slice(0, i)).trim(), note: i < 0 ? null : access.slice(i + 1) };
  }
  if (typeof access === 'object' && access !== null) {
    const a = access as Record<string, unknown>;
    return { purpose: a.purpose, note: a.note ?? a.reason };
  }
  return { purpose: undefined, note: null };
}

/**
 * The purpose and note of a read: `{ purpose, note? }` (`reason` is accepted as the note), or a
 * string `"purpose"` / `"purpose: note"`. `VALIDATION_FAILED` when the purpose is missing or not
 * one of the configured purposes, or the note is longer than 200 characters.
 */
export function accessOf(ctx: PiiContext, access: PiiAccess | string): { purpose: string; note: string | null } {
  const { purpose, note } = statedAccess(access);
  const list = [...ctx.purposes].join(', ');
  if (typeof purpose !== 'string' || purpose === '') throw validationFailed([{ path: 'purpose', message: `is required, one of: ${list}` }], 'A purpose is required');
  if (!ctx.purposes.has(purpose)) throw validationFailed([{ path: 'purpose', message: `must be one of: ${list}` }], 'Unknown purpose');
  return { purpose, note: noteOf(note) };
}

/**
 * A change's reason: free text (1 to 500 characters, stored sealed) and the record code that
 * outlives erasure (`defaultCode` unless given). `reason` is a string or `{ reason, code? }`.
 */
export function recordedReasonOf(input: RecordedReason | unknown, defaultCode: RecordCode): { text: string; code: RecordCode } {
  const obj = typeof input === 'object' && input !== null ? (input as Record<string, unknown>) : null;
  const code = obj?.code ?? defaultCode;
  if (typeof code !== 'string' || !(RECORD_CODES as readonly string[]).includes(code)) {
    throw validationFailed([{ path: 'code', message: `must be one of: ${RECORD_CODES.join(', ')}` }], 'Unknown record code');
  }
  return { text: requireReason(obj ? obj.reason : input), code: code as RecordCode };
}

/** Audit details holding `text` sealed under the client's key (nothing when the client has no key). */
export async function sealedNote(ctx: PiiContext, db: Kysely<any>, clientId: string, text: string | null, field = 'audit.note'): Promise<Record<string, unknown>> {
  const sealed = text === null ? null : await sealIfKeyed(ctx, db, clientId, text, field);
  return sealed === null ? {} : { note: sealed };
}

/**
 * Audits a denied attempt and throws `FORBIDDEN`: with its purpose when it gave a usable one, and
 * its note sealed under the client's key; nothing else about the request is checked first.
 */
export async function deny(ctx: PiiContext, actor: Actor, clientId: string, action: string, access: unknown, message: string): Promise<never> {
  const stated = statedAccess(access);
  const known = typeof stated.purpose === 'string' && (ctx.purposes.has(stated.purpose) || stated.purpose === SERVICE_DELIVERY_PURPOSE);
  let note: string | null = null;
  try {
    note = noteOf(stated.note);
  } catch {
    // audited without a note it could not store
  }
  const details = await sealedNote(ctx, ctx.db, clientId, note);
  await withActor(ctx.db, actor, (trx) => appendAudit(trx, { actor, action, resource: PII_TABLE, resourceId: clientId, outcome: 'denied', reason: known ? (stated.purpose as string) : null, details }));
  throw forbidden(message);
}
