import { sql, type Kysely } from 'kysely';
import { SwanError, errors, isUuid, withActor, type Actor, type EventPublisher, type ExportContributor } from '@swan/core';
import { assertMasterPrompt } from './validation.js';
import type { ChangeLogEntry, MasterPrompt } from './types.js';

/** One stored version of a client's master prompt. */
export interface MasterPromptRecord {
  clientId: string;
  /** 1, 2, 3, … per client. */
  version: number;
  schemaVersion: string;
  /** ISO 8601. */
  createdAt: string;
  createdBy: string;
  masterPrompt: MasterPrompt;
}

export interface MasterPromptServiceOptions {
  /** Application handle (`swan_app` on PostgreSQL). */
  db: Kysely<any>;
  /** When the outbox is installed: `master_prompt_stored` is published in the write's transaction. */
  events?: EventPublisher;
  /** Clock, for tests. */
  now?: () => Date;
}

/** Event type published after each stored version (payload: clientId, version, schemaVersion). */
export const MASTER_PROMPT_STORED = 'master_prompt_stored';

const WRITERS = new Set(['admin', 'trainer']);
const READERS = new Set(['admin', 'trainer', 'ai_service']);

interface Row {
  client_id: string;
  version: number;
  schema_version: string;
  document: MasterPrompt | string;
  created_at: Date | string;
  created_by: string;
}

function toRecord(row: Row): MasterPromptRecord {
  return {
    clientId: row.client_id,
    version: Number(row.version),
    schemaVersion: row.schema_version,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
    masterPrompt: typeof row.document === 'string' ? (JSON.parse(row.document) as MasterPrompt) : row.document,
  };
}

/** `role:id`, as stored in `meta.last_updated_by` and change-log entries. */
export function actorLabel(actor: Actor): string {
  return `${actor.role}:${actor.id}`;
}

/**
 * The document as stored: the submitted one with the server-managed meta fields set.
 * - `client_id` from the URL; `client_alias` from @swan/pii's alias table (removed when none);
 * - `last_updated` = now, `last_updated_by` = the actor (`role:id`);
 * - `created_date` kept from the first version;
 * - `change_log`: on the first version the submitted log (one entry added if it is empty); later,
 *   the previous version's log plus one entry for this write, whose `changes` is the last new
 *   submitted entry's text (or "Master prompt updated").
 */
export function withServerFields(
  submitted: MasterPrompt,
  context: { clientId: string; actor: Actor; now: Date; previous: MasterPrompt | null; alias: string | null },
): MasterPrompt {
  const { clientId, actor, now, previous, alias } = context;
  const at = now.toISOString();
  const by = actorLabel(actor);
  const submittedLog = submitted.meta.change_log ?? [];
  const entry = (changes: string): ChangeLogEntry => ({ version: submitted.meta.prompt_version, date: at, changes, updated_by: by });
  let changeLog: ChangeLogEntry[];
  if (!previous) {
    changeLog = submittedLog.length > 0 ? [...submittedLog] : [entry('Initial version')];
  } else {
    const previousLog = previous.meta.change_log ?? [];
    const fresh = submittedLog.length > previousLog.length ? submittedLog[submittedLog.length - 1] : undefined;
    changeLog = [...previousLog, entry(fresh?.changes ?? 'Master prompt updated')];
  }
  const { client_alias: _ignored, ...meta } = submitted.meta;
  return {
    ...submitted,
    meta: {
      ...meta,
      client_id: clientId,
      ...(alias ? { client_alias: alias } : {}),
      created_date: previous?.meta.created_date ?? submitted.meta.created_date,
      last_updated: at,
      last_updated_by: by,
      change_log: changeLog,
    },
  };
}

function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps database refusals to contract errors: RLS → FORBIDDEN, missing client → NOT_FOUND. */
function translate(error: unknown): never {
  if (error instanceof SwanError) throw error;
  const code = pgCode(error);
  if (code === '42501') throw errors.forbidden('Not allowed to access this client');
  if (code === '23503') throw errors.notFound('Client not found');
  throw error;
}

function requireActor(actor: Actor | null, allowed: Set<string>): Actor {
  if (!actor) throw errors.unauthenticated();
  if (!allowed.has(actor.role)) throw errors.forbidden('This role may not access master prompts');
  return actor;
}

async function assertAssigned(trx: Kysely<any>, actor: Actor, clientId: string): Promise<void> {
  if (actor.role !== 'trainer') return;
  const { rows } = await sql<{ ok: boolean }>`select swan_is_assigned_trainer(${clientId}::uuid) as ok`.execute(trx);
  if (!rows[0]?.ok) throw errors.forbidden('Trainer is not assigned to this client');
}

async function selectVersions(trx: Kysely<any>, clientId: string, latestOnly: boolean): Promise<Row[]> {
  const query = trx
    .selectFrom('client_master_prompts')
    .select(['client_id', 'version', 'schema_version', 'document', 'created_at', 'created_by'])
    .where('client_id', '=', clientId);
  return (latestOnly ? query.orderBy('version', 'desc').limit(1) : query.orderBy('version', 'asc')).execute() as Promise<Row[]>;
}

/** The master prompt store's operations; every write validates (version, then schema). */
export interface MasterPromptService {
  /** Validates (it may come straight from a request) and stores a new version (admin, assigned trainer). */
  save(actor: Actor | null, clientId: string, masterPrompt: MasterPrompt): Promise<MasterPromptRecord>;
  /** The newest version (admin, assigned trainer, ai_service); `NOT_FOUND` when none. */
  latest(actor: Actor | null, clientId: string): Promise<MasterPromptRecord>;
  /** Every version, oldest first (same readers as {@link MasterPromptService.latest}). */
  history(actor: Actor | null, clientId: string): Promise<MasterPromptRecord[]>;
}

/**
 * Versioned master prompt storage over Kysely, with row-level security doing the final say.
 *
 * @example
 * ```ts
 * const prompts = createMasterPromptService({ db, events: outbox });
 * const stored = await prompts.save({ id: trainerId, role: 'trainer' }, clientId, body);
 * const latest = await prompts.latest({ id: aiId, role: 'ai_service' }, clientId);
 * ```
 */
export function createMasterPromptService(options: MasterPromptServiceOptions): MasterPromptService {
  const { db, events } = options;
  const now = options.now ?? (() => new Date());

  async function read(actor: Actor | null, clientId: string, latestOnly: boolean): Promise<Row[]> {
    const who = requireActor(actor, READERS);
    if (!isUuid(clientId)) throw errors.notFound('Client not found');
    return withActor(db, who, async (trx) => {
      await assertAssigned(trx, who, clientId);
      if (who.role === 'ai_service') {
        // restriction of processing (GDPR Art. 18, @swan/pii): the AI service reads nothing of the client
        const { rows } = await sql<{ r: boolean }>`select swan_pii_client_restricted(${clientId}::uuid) as r`.execute(trx);
        if (rows[0]?.r) throw errors.processingRestricted();
      }
      return selectVersions(trx, clientId, latestOnly);
    }).catch(translate);
  }

  return {
    async save(actor, clientId, body) {
      const who = requireActor(actor, WRITERS);
      if (!isUuid(clientId)) throw errors.notFound('Client not found');
      assertMasterPrompt(body);
      return withActor(db, who, async (trx) => {
        await assertAssigned(trx, who, clientId);
        const { rows: exists } = await sql<{ ok: boolean }>`select swan_pii_lock_live_client(${clientId}::uuid) as ok`.execute(trx);
        if (!exists[0]?.ok) throw errors.notFound('Client not found');
        // One writer per client at a time, so versions are consecutive without retries.
        await sql`select pg_advisory_xact_lock(hashtextextended(${`swan.master_prompt:${clientId}`}, 0))`.execute(trx);
        const [previous] = await selectVersions(trx, clientId, true);
        const aliasRow = await trx.selectFrom('client_aliases').select('alias').where('client_id', '=', clientId).executeTakeFirst();
        const document = withServerFields(body, {
          clientId,
          actor: who,
          now: now(),
          previous: previous ? toRecord(previous).masterPrompt : null,
          alias: (aliasRow?.alias as string | undefined) ?? null,
        });
        assertMasterPrompt(document); // the stored document is validated too (e.g. change_log length)
        const version = (previous ? Number(previous.version) : 0) + 1;
        const row = (await trx
          .insertInto('client_master_prompts')
          .values({
            client_id: clientId,
            version,
            schema_version: document.schema_version,
            document: JSON.stringify(document),
            created_by: who.id,
            created_by_role: who.role,
          })
          .returning(['client_id', 'version', 'schema_version', 'document', 'created_at', 'created_by'])
          .executeTakeFirstOrThrow()) as Row;
        await events?.publish(trx, {
          eventType: MASTER_PROMPT_STORED,
          payload: { clientId, version, schemaVersion: document.schema_version },
          aggregateType: 'client',
          aggregateId: clientId,
        });
        return toRecord(row);
      }).catch(translate);
    },

    async latest(actor, clientId) {
      const [row] = await read(actor, clientId, true);
      if (!row) throw errors.notFound('No master prompt stored for this client');
      return toRecord(row);
    },

    async history(actor, clientId) {
      return (await read(actor, clientId, false)).map(toRecord);
    },
  };
}

/**
 * Data-subject export: every stored version of the client's master prompts under `masterPrompts`.
 * Runs in the exporting actor's transaction (row-level security applies).
 *
 * @example
 * ```ts
 * ctx.exportContributors.push(masterPromptExportContributor);
 * ```
 */
export const masterPromptExportContributor: ExportContributor = {
  name: 'masterPrompts',
  async collect(trx, clientId) {
    if (!isUuid(clientId)) return [];
    return (await selectVersions(trx, clientId, false)).map(toRecord);
  },
};
