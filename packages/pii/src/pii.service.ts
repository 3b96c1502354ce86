import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { CountryCode } from 'libphonenumber-js';
import { appendAudit, assertActor, isUuid, prepared, queryWhileCommitting, SwanError, textProblem, withActor, type Actor, type EventPublisher, type ExportContributor, type Role } from '@swan/core';
import { aliasCandidates, insertAliasSql, lowestOpenTier, parseAlias } from './aliases.js';
import { InFlightBatcher } from './batcher.js';
import { BlindIndex } from './blind-index.js';
import { buf, ciphertextKeyVersion, decryptField, encryptField } from './cipher.js';
import type { KeyProvider } from './keys.js';
import { rotateKeys, SYSTEM_ACTOR, type KeyRow, type RotateKeysOptions, type RotationResult } from './rotation.js';
import { ageOn, requireReason, TRAINING_COLUMNS, validateCreateClient, validationFailed, type ClientPII, type ClientTrainingInput, type CreateClientInput } from './validation.js';
import { tracePiiRead } from './telemetry.js';

/** The PII table; ciphertexts are bound to it (`encryptField(key, 1, v, { table: PII_TABLE, column, clientId })`). */
export const PII_TABLE = 'client_profile_pii';
/** Encrypted columns of {@link PII_TABLE}, in API.md's names (`PII_FIELDS.includes('email')`). */
export const PII_FIELDS = ['full_name', 'preferred_name', 'date_of_birth', 'blood_type', 'phone_number', 'email', 'emergency_contact', 'address'] as const;
type PiiField = (typeof PII_FIELDS)[number];
const JSON_FIELDS = new Set<PiiField>(['emergency_contact', 'address']);


/**
 * Options of {@link PiiService}.
 *
 * @example
 * ```ts
 * const options: PiiServiceOptions = { db, keys, indexKey, events: outbox, aliasRetentionDays: 30 };
 * ```
 */
export interface PiiServiceOptions {
  /** Application handle (swan_app on PostgreSQL). */
  db: Kysely<any>;
  keys: KeyProvider;
  /** Blind-index key (`SWAN_INDEX_KEY`, ≥ 32 bytes), separate from the master keys. */
  indexKey: Buffer;
  /** The outbox, when installed: `client_erased` is published in the erasure's transaction. */
  events?: EventPublisher;
  /** Country for national phone numbers (default `US`). */
  defaultPhoneCountry?: CountryCode;
  /** Days an erased client's alias stays reserved on its tombstone (default 30). */
  aliasRetentionDays?: number;
  /**
   * Commit of audited reads: `durable` (default) waits for the audit entry to reach disk; `fast`
   * sets `synchronous_commit = off` for that transaction only, so a database crash may lose the
   * last few hundred milliseconds of read-audit entries (never a write: creates, deletes and
   * erasures always commit durably). See docs/pii.md.
   */
  readCommit?: 'durable' | 'fast';
  /**
   * Audited reads are sent in batches: while `maxInFlight` statements of reads run (default 2),
   * the reads that arrive wait and leave together as one statement and one commit, at most
   * `maxBatch` of them (default 32). A read that finds a free slot leaves at once. Each read keeps
   * its own actor, row-level security and audit entry; see docs/pii.md.
   */
  readBatching?: { maxInFlight?: number; maxBatch?: number };
  /** Unwrapped data-key cache: bounded LRU with a TTL (default 10,000 keys, 5 minutes); `false` disables it. */
  keyCache?: { max?: number; ttlMs?: number } | false;
  now?: () => Date;
}

/** A client as shown outside PII access: id and alias only. */
export interface ClientRef {
  clientId: string;
  alias: string | null;
}

/** Decrypted PII, API.md's names. */
export type DecryptedPII = { clientId: string; alias: string | null } & { [K in keyof ClientPII]-?: ClientPII[K] | null };

/** Training data with the alias, never PII. */
export type TrainingRecord = { clientId: string; alias: string | null; age: number } & { [K in keyof ClientTrainingInput]-?: ClientTrainingInput[K] | null };

interface PiiRow extends Record<PiiField, Uint8Array | null> {
  client_id: string;
}

/** One audited read as swan_pii_audited_reads() takes it. */
interface ReadRequest {
  actor: Actor;
  clientId: string;
  action: string;
  reason: string;
}
type ReadRow = PiiRow & KeyRow & { ord: number; outcome: string; alias: string | null };
/** What one audited read came to, decrypted (the batch's commit has succeeded when it is seen). */
type ReadResult = { outcome: 'allowed'; record: DecryptedPII } | { outcome: 'denied' | 'not_found' } | { outcome: 'error'; error: unknown };

const PII_COLUMNS = sql.join(PII_FIELDS.map((f) => sql.ref(`p.${f}`)));
/** Training columns of `t` as JSON-friendly values: numerics as numbers, dates as YYYY-MM-DD. */
const TRAINING_COLUMNS_SQL = sql.join([
  sql`t.age`,
  ...Object.entries(TRAINING_COLUMNS).map(([name, col]) =>
    col.cast === 'numeric' ? sql`${sql.ref(`t.${name}`)}::float8 as ${sql.ref(name)}`
    : col.cast === 'date' ? sql`to_char(${sql.ref(`t.${name}`)}, 'YYYY-MM-DD') as ${sql.ref(name)}`
    : sql.ref(`t.${name}`)),
]);
/**
 * One access-log entry as a subject's export shows it (GDPR Art. 15(4): the right of access must
 * not adversely affect others). Staff and service actors keep their ids, as the controller's
 * accountable people; an actor who is itself a data subject — another client — appears by role
 * only, without id or free text. The audit log itself is unchanged.
 */
function accessLogEntry(row: Record<string, unknown>, subjectId: string): Record<string, unknown> {
  const entry = { ...row, id: Number(row.id), occurred_at: new Date(row.occurred_at as string).toISOString() };
  const otherSubject = row.actor_role === 'client' && String(row.actor_id).toLowerCase() !== subjectId;
  return otherSubject ? { ...entry, actor_id: null, reason: null } : entry;
}

const AUDIT_COLUMNS = sql`(actor_id, actor_role, action, resource, resource_id, outcome, reason, details)`;

const forbidden = (message = 'Not allowed') => new SwanError({ code: 'FORBIDDEN', message });
const READER_ROLES: Role[] = ['admin', 'trainer'];
const notFound = () => new SwanError({ code: 'NOT_FOUND', message: 'Client not found' });

function checkClientId(clientId: unknown): string {
  if (!isUuid(clientId)) throw validationFailed([{ path: 'clientId', message: 'must be a UUID' }], 'Malformed client id');
  return clientId.toLowerCase();
}

function isUniqueViolation(e: unknown, constraint: string): boolean {
  const err = e as { code?: string; constraint?: string; message?: string };
  return err?.code === '23505' && (err.constraint === constraint || String(err.message).includes(constraint));
}


/**
 * The PII service: create, audited read, lookups, soft delete, erasure, rotation, export.
 * Every database access runs in `withActor`, so row-level security decides what each actor sees.
 *
 * @example
 * ```ts
 * const pii = new PiiService({ db, keys: LocalKeyProvider.fromEnv(env.SWAN_MASTER_KEYS!), indexKey });
 * const { clientId, alias } = await pii.createClient(admin, { pii: {...}, training: {...} });
 * const record = await pii.getClientPII(clientId, trainer, 'session planning');
 * ```
 */
export class PiiService {
  readonly db: Kysely<any>;
  readonly keys: KeyProvider;
  readonly index: BlindIndex;
  readonly #events: EventPublisher | undefined;
  readonly #retentionDays: number;
  readonly #now: () => Date;
  readonly #cache: LRUCache<string, { keyId: string; wrapped: string; key: Buffer }> | null;
  #aliasTier: number | undefined;
  readonly #fastReads: boolean;
  readonly #reads: InFlightBatcher<ReadRequest, ReadResult>;

  constructor(options: PiiServiceOptions) {
    this.db = options.db;
    this.keys = options.keys;
    this.index = new BlindIndex(options.indexKey, options.defaultPhoneCountry ? { defaultCountry: options.defaultPhoneCountry } : {});
    this.#events = options.events;
    this.#retentionDays = options.aliasRetentionDays ?? 30;
    this.#now = options.now ?? (() => new Date());
    this.#fastReads = options.readCommit === 'fast';
    this.#reads = new InFlightBatcher((batch) => this.#readBatch(batch), {
      maxInFlight: options.readBatching?.maxInFlight ?? 2,
      maxBatch: options.readBatching?.maxBatch ?? 32,
    });
    this.#cache = options.keyCache === false ? null : new LRUCache({
      max: options.keyCache?.max ?? 10_000,
      ttl: options.keyCache?.ttlMs ?? 5 * 60_000,
      // best effort: the evicted copy is zeroed; V8 may have copied it before
      dispose: (v) => v.key.fill(0),
    });
  }

  // ------------------------------------------------------------------ keys

  async #dataKey(clientId: string, row: KeyRow): Promise<Buffer> {
    const id = `${clientId}:${row.key_version}`;
    const wrapped = buf(row.wrapped_key);
    const w = wrapped.toString('base64');
    const hit = this.#cache?.get(id);
    if (hit && hit.keyId === row.master_key_id && hit.wrapped === w) return Buffer.from(hit.key);
    const key = await this.keys.unwrap(row.master_key_id, wrapped, { clientId });
    this.#cache?.set(id, { keyId: row.master_key_id, wrapped: w, key: Buffer.from(key) });
    return key;
  }

  async #decrypt(clientId: string, row: PiiRow, keyRows: KeyRow[]): Promise<Record<PiiField, unknown>> {
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
          if (!kr) throw new SwanError({ code: 'PII_DECRYPTION_FAILED', message: 'A PII value is under an unknown data-key version' });
          key = await this.#dataKey(clientId, kr);
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

  // ------------------------------------------------------------------ create

  /** Validates a create body as {@link createClient} would (`VALIDATION_FAILED` with paths, never values). */
  validate(body: unknown, now: Date = this.#now()) {
    return this.#validate(body, now).input;
  }

  /** {@link validate}, with the phone number as E.164 (parsed once, by the check itself). */
  #validate(body: unknown, now: Date) {
    let phone: string | null = null;
    const input = validateCreateClient(body, now, (v) => (phone = this.index.normalizePhone(v)) !== null);
    return { input, phone: input.pii.phone_number ? phone : null };
  }

  /**
   * Creates a client (admin only): PII encrypted under a fresh data key, blind indexes, training
   * row with the age derived from the date of birth, a Galaxy-Swan alias and an audit entry, all in
   * one transaction. Duplicate email among live clients → `CONFLICT`.
   *
   * @example
   * ```ts
   * const { clientId, alias } = await pii.createClient(admin, { pii: { full_name: 'Ada', date_of_birth: '1990-01-01', email: 'a@x.com', emergency_contact: { name: 'Bo' } }, training: {} });
   * ```
   * `options.clientId` keeps an existing id (the legacy split); new clients get a random UUID.
   */
  async createClient(actor: Actor, input: CreateClientInput, options: { clientId?: string } = {}): Promise<{ clientId: string; alias: string }> {
    if (actor?.role !== 'admin') throw forbidden('Only an admin may create clients');
    const now = this.#now();
    // typed for callers, still checked: the body of an HTTP request arrives here unchecked
    const { input: valid, phone } = this.#validate(input, now);
    const clientId = options.clientId === undefined ? randomUUID() : checkClientId(options.clientId);
    const context = { clientId };
    let dataKey: Buffer;
    let wrapped: { keyId: string; wrapped: Buffer };
    if (this.keys.generateDataKey) {
      const g = await this.keys.generateDataKey(context);
      dataKey = g.plaintext;
      wrapped = { keyId: g.keyId, wrapped: g.wrapped };
    } else {
      dataKey = randomBytes(32);
      wrapped = await this.keys.wrap(dataKey, context);
    }
    const p = valid.pii;
    const enc = (field: PiiField, value: unknown) =>
      value === undefined || value === null ? null : encryptField(dataKey, 1, JSON_FIELDS.has(field) ? JSON.stringify(value) : String(value), { table: PII_TABLE, column: field, clientId });
    const values = PII_FIELDS.map((f) => enc(f, f === 'phone_number' ? phone : f === 'email' ? p.email.trim() : p[f]));
    const emailIndex = this.index.email(p.email);
    const phoneIndex = phone ? this.index.phoneE164(phone) : null;
    const age = ageOn(p.date_of_birth, now);
    const training = JSON.stringify(valid.training ?? {});

    try {
      // One statement (swan_pii_create, migration pii/0002). When every candidate alias is taken
      // or being claimed it writes nothing (SWA01) and we retry with a window twice as wide (up to
      // 32 tiers), from the highest tier this service has seen filled, and every second attempt
      // from the lowest open tier counted over committed rows. A burst of concurrent creations
      // thus settles in a few rounds instead of one round per twelve names.
      const openTier = () => withActor(this.db, actor, lowestOpenTier);
      this.#aliasTier ??= await openTier();
      let tier = this.#aliasTier;
      let alias: string | null = null;
      for (let attempt = 1; alias === null; attempt++) {
        const c = aliasCandidates(tier, Math.min(2 ** attempt, 32));
        try {
          const { rows } = await sql<{ alias: string }>`${prepared}
            select swan_pii_create(${actor.id}::uuid, ${clientId}::uuid, ${values}::bytea[], ${emailIndex}, ${phoneIndex},
              ${wrapped.keyId}, ${wrapped.wrapped}, ${age}, ${training}::jsonb, ${c.names}::text[], ${c.ordinals}::int[]) as alias`.execute(this.db);
          alias = rows[0]!.alias;
        } catch (e) {
          if ((e as { code?: string }).code !== 'SWA01') throw e;
          tier = attempt % 2 === 0 ? await openTier() : Math.max(tier, this.#aliasTier ?? 1);
        }
      }
      const ordinal = parseAlias(alias)?.ordinal ?? tier;
      if (ordinal > (this.#aliasTier ?? 1)) this.#aliasTier = ordinal;
      this.#cache?.set(`${clientId}:1`, { keyId: wrapped.keyId, wrapped: wrapped.wrapped.toString('base64'), key: Buffer.from(dataKey) });
      return { clientId, alias };
    } catch (e) {
      if (isUniqueViolation(e, 'client_profile_pii_email_live')) {
        throw new SwanError({ code: 'CONFLICT', message: 'A client with this email already exists' });
      }
      throw e;
    } finally {
      dataKey.fill(0);
    }
  }

  // ------------------------------------------------------------------ audited read

  /**
   * Decrypts a client's PII for an admin or an assigned trainer, appending an audit entry in the
   * same statement (`last_accessed_at` / `accessed_by` are copied from it when the audit chainer
   * links it). Denied (`FORBIDDEN`) and
   * unknown (`NOT_FOUND`) attempts are audited and committed before the error is thrown.
   *
   * @example
   * ```ts
   * const pii = await service.getClientPII(clientId, { id: trainerId, role: 'trainer' }, 'session planning');
   * ```
   */
  async getClientPII(clientId: string, actor: Actor, reason: string): Promise<DecryptedPII> {
    const id = checkClientId(clientId);
    // a role that may never read PII is denied (and audited) whatever else is wrong with the request
    if (!actor || !READER_ROLES.includes(actor.role)) return this.#deny(actor, id, 'PII_ACCESS', reason, 'This role may not read PII');
    return this.#audited(id, actor, requireReason(reason), 'PII_ACCESS');
  }

  /**
   * The client's own email for one stated purpose (e.g. prefilling a Stripe checkout), for the
   * client themself or an admin. Read and audited like {@link getClientPII}: a client's read by the
   * system actor on the client's behalf, an admin's under its own id; only the email leaves this method.
   *
   * @example
   * ```ts
   * const email = await pii.emailFor({ id: clientId, role: 'client' }, clientId, 'prefill Stripe checkout email');
   * ```
   */
  async emailFor(actor: Actor, clientId: string, purpose: string): Promise<string | null> {
    return (await this.#ownRecord(actor, clientId, purpose, 'email')).email ?? null;
  }

  /**
   * The client's phone number and alias for one stated purpose (e.g. sending a check-in SMS), for
   * an admin or service actor (role `admin`) or the client themself. Read and audited like
   * {@link emailFor}; an admin's read is on record under its own id. Only the phone and the alias
   * leave this method. `NOT_FOUND` when the client is soft-deleted, erased or unknown.
   *
   * @example
   * ```ts
   * const { phone, alias } = await pii.phoneFor(checkinsServiceActor, clientId, 'checkin_sms: send a check-in');
   * ```
   */
  async phoneFor(actor: Actor, clientId: string, purpose: string): Promise<{ phone: string | null; alias: string | null }> {
    const record = await this.#ownRecord(actor, clientId, purpose, 'phone number');
    return { phone: record.phone_number ?? null, alias: record.alias };
  }

  /**
   * One audited read for the client themself (by the system actor on the client's behalf, the
   * client named in the reason) or an admin (under its own id); everyone else is denied, on record.
   */
  async #ownRecord(actor: Actor, clientId: string, purpose: string, what: string): Promise<DecryptedPII> {
    const id = checkClientId(clientId);
    if (actor?.role === 'admin') return this.#audited(id, actor, requireReason(purpose), 'PII_ACCESS');
    if (actor?.role !== 'client' || actor.id !== id) return this.#deny(actor, id, 'PII_ACCESS', purpose, `Only the client or an admin may read this ${what}`);
    return this.#audited(id, SYSTEM_ACTOR, `${requireReason(purpose)} (for client ${actor.id})`, 'PII_ACCESS');
  }

  /** Audits a denied attempt (with its reason when it gave a usable one) and throws `FORBIDDEN`. */
  async #deny(actor: Actor, clientId: string, action: string, reason: unknown, message: string): Promise<never> {
    const why = typeof reason === 'string' && reason.trim() !== '' && !textProblem(reason, { max: 500, multiline: true }) ? reason.trim() : null;
    await withActor(this.db, actor, (trx) => appendAudit(trx, { actor, action, resource: PII_TABLE, resourceId: clientId, outcome: 'denied', reason: why }));
    throw forbidden(message);
  }

  /** The audited read itself, for an actor its callers have let through (an admin or a trainer). */
  #audited(clientId: string, actor: Actor, reason: string, action: string): Promise<DecryptedPII> {
    return tracePiiRead({ action, reason, role: actor?.role ?? 'none' }, () => this.#auditedRead(clientId, actor, reason, action));
  }

  async #auditedRead(clientId: string, actor: Actor, reason: string, action: string): Promise<DecryptedPII> {
    // checked here, not by the statement: a malformed read must fail alone, never the batch it joins
    assertActor(actor);
    const read = await this.#reads.submit({ actor, clientId, action, reason });
    if (read.outcome === 'denied') throw forbidden('This trainer is not assigned to the client');
    if (read.outcome === 'error') {
      const code = (read.error as SwanError).code;
      if (code === 'PII_DECRYPTION_FAILED' || code === 'PII_KEY_UNAVAILABLE') {
        // the access is on record; record that it failed, too
        await withActor(this.db, actor, (trx) => appendAudit(trx, { actor, action, resource: PII_TABLE, resourceId: clientId, outcome: 'error', reason, details: { error: code } }));
      }
      throw read.error;
    }
    if (read.outcome !== 'allowed') throw notFound();
    return read.record;
  }

  /**
   * One statement for a batch of reads (swan_pii_audited_reads, migration pii/0004): each under its
   * own actor's settings, confined to the call. The rows are decrypted while PostgreSQL commits the
   * batch's audit entries, and handed out only once that commit has succeeded.
   */
  #readBatch(batch: ReadRequest[]): Promise<ReadResult[]> {
    const query = sql<ReadRow>`${prepared}
      select * from swan_pii_audited_reads(${batch.map((r) => r.actor.id)}::uuid[], ${batch.map((r) => r.actor.role)}::text[],
        ${batch.map((r) => r.clientId)}::uuid[], ${batch.map((r) => r.action)}::text[], ${batch.map((r) => r.reason)}::text[],
        ${this.#fastReads})`.compile(this.db);
    const open = (rows: ReadRow[]) => {
      const byRequest = batch.map((): ReadRow[] => []);
      for (const row of rows) byRequest[row.ord - 1]!.push(row);
      return Promise.all(byRequest.map((r, i) => this.#open(batch[i]!.clientId, r)));
    };
    return queryWhileCommitting(this.db, query, open);
  }

  /** Decrypts one read's rows (one per data-key version) when it was allowed. */
  async #open(clientId: string, rows: ReadRow[]): Promise<ReadResult> {
    const outcome = rows[0]?.outcome;
    if (outcome !== 'allowed') return { outcome: outcome === 'denied' ? 'denied' : 'not_found' };
    try {
      const fields = await this.#decrypt(clientId, rows[0]!, rows);
      return { outcome, record: { clientId, alias: rows[0]!.alias, ...fields } as DecryptedPII };
    } catch (error) {
      return { outcome: 'error', error };
    }
  }

  // ------------------------------------------------------------------ training, lookups

  /**
   * Training data and alias (no PII) for an admin, an assigned trainer or the AI service.
   *
   * @example
   * ```ts
   * const t = await pii.getTraining(clientId, { id: aiId, role: 'ai_service' }); // { alias: 'Orbit Swan', age: 34, … }
   * ```
   */
  async getTraining(clientId: string, actor: Actor): Promise<TrainingRecord> {
    const id = checkClientId(clientId);
    if (!actor || !['admin', 'trainer', 'ai_service'].includes(actor.role)) throw forbidden('This role may not read training data');
    return withActor(this.db, actor, async (trx) => {
      const { rows } = await sql<Record<string, unknown>>`
        select t.client_id, a.alias, ${TRAINING_COLUMNS_SQL}
          from client_profile_training t left join client_aliases a on a.client_id = t.client_id
         where t.client_id = ${id}::uuid and t.deleted_at is null`.execute(trx);
      const row = rows[0];
      if (!row) {
        if (actor.role === 'trainer') {
          const { rows: e } = await sql<{ e: boolean }>`select swan_pii_client_exists(${id}::uuid) as e`.execute(trx);
          if (e[0]?.e) throw forbidden('This trainer is not assigned to the client');
        }
        throw notFound();
      }
      const { client_id, ...rest } = row;
      return { clientId: client_id as string, ...rest } as TrainingRecord;
    });
  }

  async #findBy(column: 'email_index' | 'phone_index', index: Buffer | null, actor: Actor): Promise<ClientRef | null> {
    if (!index) return null;
    return withActor(this.db, actor, async (trx) => {
      const { rows } = await sql<{ client_id: string; alias: string | null }>`
        select p.client_id, a.alias from client_profile_pii p left join client_aliases a on a.client_id = p.client_id
         where ${sql.ref(`p.${column}`)} = ${index} and p.deleted_at is null limit 1`.execute(trx);
      return rows[0] ? { clientId: rows[0].client_id, alias: rows[0].alias } : null;
    });
  }

  /**
   * Finds a live client by email through its blind index, without decrypting anything. Row-level
   * security applies: a trainer only finds assigned clients.
   *
   * @example
   * ```ts
   * await pii.findClientByEmail(' Ada@Example.com', admin); // { clientId, alias } or null
   * ```
   */
  async findClientByEmail(email: string, actor: Actor): Promise<ClientRef | null> {
    return this.#findBy('email_index', this.index.email(email), actor);
  }

  /**
   * Finds a live client by phone (any format that normalizes to the same E.164 number).
   *
   * @example
   * ```ts
   * await pii.findClientByPhone('+1 213 373 4253', serviceActor);
   * ```
   */
  async findClientByPhone(phone: string, actor: Actor): Promise<ClientRef | null> {
    return this.#findBy('phone_index', this.index.phone(phone), actor);
  }

  /**
   * The alias of a client (what trainers, AI prompts, SMS and logs show), or `null` when the actor can't see it.
   *
   * @example
   * ```ts
   * await pii.getAlias(clientId, aiActor); // 'Pulsar Swan'
   * ```
   */
  async getAlias(clientId: string, actor: Actor): Promise<string | null> {
    const id = checkClientId(clientId);
    return withActor(this.db, actor, async (trx) => {
      const { rows } = await sql<{ alias: string }>`select alias from client_aliases where client_id = ${id}::uuid`.execute(trx);
      return rows[0]?.alias ?? null;
    });
  }

  // ------------------------------------------------------------------ admin changes

  /** Runs an admin-only change that must find a row; audits not-found attempts too. */
  async #adminChange<T>(clientId: unknown, actor: Actor, reason: string | null, action: string, change: (trx: Transaction<any>, id: string) => Promise<T | null>): Promise<T> {
    const id = checkClientId(clientId);
    if (actor?.role !== 'admin') throw forbidden('Only an admin may do this');
    const result = await withActor(this.db, actor, async (trx) => {
      const r = await change(trx, id);
      await appendAudit(trx, { actor, action, resource: PII_TABLE, resourceId: id, outcome: r === null ? 'not_found' : 'allowed', reason });
      return r;
    });
    if (result === null) throw notFound();
    return result;
  }

  /**
   * Assigns a trainer to a client (admin only; idempotent).
   *
   * @example
   * ```ts
   * await pii.assignTrainer(admin, trainerId, clientId);
   * ```
   */
  async assignTrainer(actor: Actor, trainerId: string, clientId: string): Promise<{ trainerId: string; clientId: string }> {
    if (!isUuid(trainerId)) throw validationFailed([{ path: 'trainerId', message: 'must be a UUID' }], 'Malformed trainer id');
    return this.#adminChange(clientId, actor, null, 'TRAINER_ASSIGNED', async (trx, id) => {
      // the client's row stays locked until commit (pii/0005), so no assignment outlives an erasure
      const { rows } = await sql`insert into trainer_client_assignments (trainer_id, client_id, assigned_by)
        select ${trainerId}::uuid, ${id}::uuid, ${actor.id}::uuid where swan_pii_lock_live_client(${id}::uuid)
        on conflict (trainer_id, client_id) do update set assigned_at = trainer_client_assignments.assigned_at
        returning client_id`.execute(trx);
      return rows.length ? { trainerId: trainerId.toLowerCase(), clientId: id } : null;
    });
  }

  /**
   * Soft delete (admin): hides the client from everyone but admins; {@link restore} undoes it.
   *
   * @example
   * ```ts
   * await pii.softDelete(clientId, admin, 'client asked to pause');
   * ```
   */
  async softDelete(clientId: string, actor: Actor, reason: string): Promise<{ clientId: string; deletedAt: string }> {
    const why = requireReason(reason);
    return this.#adminChange(clientId, actor, why, 'PII_DELETED', async (trx, id) => {
      const { rows } = await sql<{ deleted_at: Date }>`update client_profile_pii set deleted_at = now(), deletion_reason = ${why}, updated_at = now()
         where client_id = ${id}::uuid and deleted_at is null returning deleted_at`.execute(trx);
      if (!rows[0]) return null;
      await sql`update client_profile_training set deleted_at = now() where client_id = ${id}::uuid`.execute(trx);
      return { clientId: id, deletedAt: new Date(rows[0].deleted_at).toISOString() };
    });
  }

  /**
   * Restores a soft-deleted (not erased) client (admin). `CONFLICT` when another live client took its email.
   *
   * @example
   * ```ts
   * await pii.restore(clientId, admin, 'deleted by mistake');
   * ```
   */
  async restore(clientId: string, actor: Actor, reason: string): Promise<{ clientId: string }> {
    const why = requireReason(reason);
    try {
      return await this.#adminChange(clientId, actor, why, 'PII_RESTORED', async (trx, id) => {
        const { rows } = await sql`update client_profile_pii set deleted_at = null, deletion_reason = null, updated_at = now()
           where client_id = ${id}::uuid and deleted_at is not null and erased_at is null returning client_id`.execute(trx);
        if (!rows[0]) return null;
        await sql`update client_profile_training set deleted_at = null where client_id = ${id}::uuid`.execute(trx);
        return { clientId: id };
      });
    } catch (e) {
      if (isUniqueViolation(e, 'client_profile_pii_email_live')) throw new SwanError({ code: 'CONFLICT', message: 'Another live client has this email' });
      throw e;
    }
  }

  /**
   * Irreversible erasure by crypto-shredding (admin): the data key is destroyed, ciphertexts, blind
   * indexes, training data and assignments removed; a tombstone (id, alias until the retention
   * window ends, timestamps, reason) stays. Audited; `client_erased` is published in the same
   * transaction; afterwards the key provider forgets the client, so older copies can't be unwrapped.
   *
   * @example
   * ```ts
   * await pii.erase(clientId, admin, 'GDPR art. 17 request #42');
   * ```
   */
  async erase(clientId: string, actor: Actor, reason: string): Promise<{ clientId: string; erasedAt: string }> {
    const why = requireReason(reason);
    const result = await this.#adminChange(clientId, actor, why, 'PII_ERASED', async (trx, id) => {
      const { rows } = await sql<{ erased_at: Date }>`update client_profile_pii set
          ${sql.join(PII_FIELDS.map((f) => sql`${sql.ref(f)} = null`))}, email_index = null, phone_index = null,
          erased_at = now(), deleted_at = coalesce(deleted_at, now()), deletion_reason = ${why}, updated_at = now()
         where client_id = ${id}::uuid and erased_at is null returning erased_at`.execute(trx);
      if (!rows[0]) return null;
      const erasedAt = new Date(rows[0].erased_at).toISOString();
      await sql`delete from client_data_keys where client_id = ${id}::uuid`.execute(trx);
      await sql`delete from client_profile_training where client_id = ${id}::uuid`.execute(trx);
      await sql`delete from trainer_client_assignments where client_id = ${id}::uuid`.execute(trx);
      const { rows: a } = await sql<{ alias: string }>`update client_aliases set release_after = now() + make_interval(days => ${this.#retentionDays}::int)
         where client_id = ${id}::uuid returning alias`.execute(trx);
      await this.#events?.publish(trx, { eventType: 'client_erased', aggregateType: 'client', aggregateId: id, payload: { clientId: id, alias: a[0]?.alias ?? null, erasedAt } });
      return { clientId: id, erasedAt };
    });
    for (const key of [...(this.#cache?.keys() ?? [])]) if (key.startsWith(`${result.clientId}:`)) this.#cache?.delete(key);
    await this.keys.forget?.({ clientId: result.clientId });
    return result;
  }

  /**
   * Re-assigns a client's alias (admin): to `alias` when given (a free Galaxy-Swan alias), else to a random free one.
   *
   * @example
   * ```ts
   * await pii.reassignAlias(admin, clientId, 'Aurora Swan');
   * ```
   */
  async reassignAlias(actor: Actor, clientId: string, alias?: string): Promise<ClientRef> {
    const parsed = alias === undefined ? null : parseAlias(alias);
    if (alias !== undefined && !parsed) throw validationFailed([{ path: 'alias', message: 'must be a Galaxy-Swan alias' }], 'Unknown alias');
    try {
      return await this.#adminChange(clientId, actor, null, 'ALIAS_REASSIGNED', async (trx, id) => {
        const { rows: live } = await sql`select 1 from client_profile_pii where client_id = ${id}::uuid and erased_at is null`.execute(trx);
        if (!live[0]) return null;
        await sql`delete from client_aliases where client_id = ${id}::uuid`.execute(trx);
        if (parsed) {
          await sql`insert into client_aliases (client_id, alias, alias_ordinal) values (${id}::uuid, ${alias}, ${parsed.ordinal})`.execute(trx);
          return { clientId: id, alias: alias! };
        }
        let tier = await lowestOpenTier(trx);
        for (;;) {
          const { rows } = await insertAliasSql(id, aliasCandidates(tier)).execute(trx);
          const got = (rows[0] as { alias?: string } | undefined)?.alias;
          if (got) return { clientId: id, alias: got };
          tier += 1;
        }
      });
    } catch (e) {
      if (isUniqueViolation(e, 'client_aliases_alias')) throw new SwanError({ code: 'CONFLICT', message: 'That alias is taken' });
      throw e;
    }
  }

  /**
   * Frees the aliases of clients erased more than the retention window ago; returns how many.
   *
   * @example
   * ```ts
   * await pii.releaseErasedAliases(); // run daily
   * ```
   */
  async releaseErasedAliases(now: Date = this.#now()): Promise<number> {
    const n = await withActor(this.db, SYSTEM_ACTOR, async (trx) => {
      const { rows } = await sql`delete from client_aliases where release_after <= ${now} returning 1`.execute(trx);
      return rows.length;
    });
    if (n > 0) this.#aliasTier = undefined;
    return n;
  }

  // ------------------------------------------------------------------ rotation

  /**
   * Re-wraps every data key under the newest master key (see {@link rotateKeys}).
   *
   * @example
   * ```ts
   * const { remaining } = await pii.rotateKeys({ batchSize: 500 });
   * ```
   */
  rotateKeys(options: RotateKeysOptions = {}): Promise<RotationResult> {
    return rotateKeys(this.db, this.keys, options);
  }

  /** Of `ids`, those that already have a PII row (legacy split idempotence). */
  async migratedIds(ids: string[]): Promise<Set<string>> {
    return withActor(this.db, SYSTEM_ACTOR, async (trx) => {
      const { rows } = await sql<{ id: string }>`select client_id::text as id from client_profile_pii where client_id = any(${ids}::uuid[])`.execute(trx);
      return new Set(rows.map((r) => r.id));
    });
  }

  /** How many of `ids` have a PII row and a training row (legacy split count check). */
  async migratedCounts(ids: string[]): Promise<{ pii: number; training: number }> {
    return withActor(this.db, SYSTEM_ACTOR, async (trx) => {
      const { rows } = await sql<{ pii: number; training: number }>`select
          (select count(*)::int from client_profile_pii where client_id = any(${ids}::uuid[])) as pii,
          (select count(*)::int from client_profile_training where client_id = any(${ids}::uuid[])) as training`.execute(trx);
      return { pii: Number(rows[0]!.pii), training: Number(rows[0]!.training) };
    });
  }

  // ------------------------------------------------------------------ export

  /**
   * Data-subject export (GDPR art. 15/20) for an admin or the client themself: decrypted PII
   * (audited as `PII_EXPORT`), training data, alias, this client's access log and every
   * contributor's part (consents, master prompts, subscriptions, …).
   *
   * @example
   * ```ts
   * const doc = await pii.exportClientData(clientId, { id: clientId, role: 'client' }, ctx.exportContributors);
   * ```
   */
  async exportClientData(clientId: string, actor: Actor, contributors: readonly ExportContributor[] = []): Promise<Record<string, unknown>> {
    const id = checkClientId(clientId);
    const allowed = actor?.role === 'admin' || (actor?.role === 'client' && actor.id.toLowerCase() === id);
    if (!allowed) return this.#deny(actor, id, 'PII_EXPORT', 'data-subject export', 'Only an admin or the client may export this client');
    const doc = await withActor(this.db, actor, async (trx) => {
      const { rows } = await sql<PiiRow & KeyRow & { alias: string | null; created_at: Date; deleted_at: Date | null }>`
        select p.client_id, ${PII_COLUMNS}, p.created_at, p.deleted_at, k.key_version, k.master_key_id, k.wrapped_key, al.alias
          from client_profile_pii p
          left join client_data_keys k on k.client_id = p.client_id
          left join client_aliases al on al.client_id = p.client_id
         where p.client_id = ${id}::uuid and p.erased_at is null`.execute(trx);
      await appendAudit(trx, { actor, action: 'PII_EXPORT', resource: PII_TABLE, resourceId: id, outcome: rows[0] ? 'allowed' : 'not_found', reason: 'data-subject export' });
      if (!rows[0]) return null;
      const pii = await this.#decrypt(id, rows[0], rows);
      const { rows: training } = await sql<Record<string, unknown>>`
        select ${TRAINING_COLUMNS_SQL} from client_profile_training t where t.client_id = ${id}::uuid`.execute(trx);
      const { rows: accessLog } = await sql<Record<string, unknown>>`
        select id, occurred_at, actor_id, actor_role, action, outcome, reason from swan_audit_log
         where resource_id = ${id} order by id`.execute(trx);
      const out: Record<string, unknown> = {
        exportedAt: this.#now().toISOString(),
        clientId: id,
        alias: rows[0].alias,
        createdAt: new Date(rows[0].created_at).toISOString(),
        deletedAt: rows[0].deleted_at ? new Date(rows[0].deleted_at).toISOString() : null,
        pii,
        training: training[0] ?? null,
        accessLog: accessLog.map((r) => accessLogEntry(r, id)),
      };
      for (const c of contributors) out[c.name] = await c.collect(trx, id);
      return out;
    });
    if (!doc) throw notFound();
    return doc;
  }
}
