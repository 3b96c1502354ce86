// The outbox's statements: one small function per statement, every parameter typed in SQL
// ($1::bigint[], …) so PostgreSQL plans them once and never sees string-built SQL. The hot ones
// (publish, claim, complete, fail, heartbeat) are `prepared`: parsed once per pooled connection.
import { sql, type Kysely } from 'kysely';
import { prepared } from '@swan/core';

/** An event as workers receive it. */
export interface OutboxEvent<P = Record<string, unknown>> {
  /** Internal sequence number (bigint identity). */
  id: number | string;
  /** Public id (uuid): the relay's `Nats-Msg-Id`, the admin routes' `:eventId`. */
  eventId: string;
  eventType: string;
  payload: P;
  /** `''` when the event has no aggregate. */
  aggregateType: string;
  aggregateId: string | null;
  /** Failed handler runs so far (a crashed worker's expired lease does not count). */
  attempts: number;
  maxAttempts: number;
  /**
   * Steps of a multi-step handler (`[local, relay]`) that already succeeded in an earlier run;
   * the worker resumes after them. 0 for single handlers.
   */
  stepsDone: number;
  /** Expired leases so far (workers lost while holding it); see `maxLeaseExpiries`. */
  leaseExpiries?: number;
  /** The idempotency key it was published with, if any. */
  idempotencyKey?: string | null;
  /** Set for an occurrence of a recurring schedule (key `schedule:<name>:<slot ISO time>`). */
  schedule?: { name: string; slot: Date };
  createdAt: Date;
  /** W3C trace context of the publisher (JSON), or null; the handler's span continues it. */
  traceContext?: string | null;
}

/**
 * A claimed row. Values that are almost always the default come back as NULL instead (an empty
 * aggregate type, zero attempts, steps or lease expiries, not poisoned): the driver skips a NULL
 * at no cost, and every other column is one more string to decode per event.
 */
interface EventRow {
  id: number | string;
  event_id: string;
  event_type: string;
  payload: unknown;
  aggregate_type: string | null;
  aggregate_id: string | null;
  attempts: number | null;
  max_attempts: number;
  steps_done: number | null;
  lease_expiries: number | null;
  idempotency_key: string | null;
  /** milliseconds since the epoch (a number is parsed faster than a timestamptz, on both sides) */
  created_ms: number | string;
  trace_context: string | null;
  /** true when the claim found the event's lease expired for the last time: it went dead */
  poisoned: boolean | null;
}

// Worker bookkeeping commits asynchronously (no WAL flush wait): if PostgreSQL itself crashes,
// the last few hundred ms of claims or completions may be forgotten, which only re-delivers
// those events (at least once holds). Published events use the caller's setting.
const ASYNC = sql.raw(`cross join (select set_config('synchronous_commit', 'off', true)) as async_commit`);

const EVENT_COLUMNS = sql.raw(`o.id, o.event_id, o.event_type, o.payload, nullif(o.aggregate_type, '') as aggregate_type, o.aggregate_id,
  nullif(o.attempts, 0) as attempts, o.max_attempts, nullif(o.steps_done, 0) as steps_done, nullif(o.lease_expiries, 0) as lease_expiries,
  o.idempotency_key, extract(epoch from o.created_at)::float8 * 1000 as created_ms, o.trace_context::text as trace_context,
  nullif(o.status = 'dead', false) as poisoned`);

const SCHEDULE_KEY = /^schedule:(.+):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$/;

/** The schedule name and slot of an idempotency key `schedule:<name>:<slot ISO time>`, or null. */
export function parseScheduleKey(key: string | null): { name: string; slot: Date } | null {
  const m = key ? SCHEDULE_KEY.exec(key) : null;
  return m ? { name: m[1]!, slot: new Date(m[2]!) } : null;
}

function toEvent(r: EventRow): OutboxEvent {
  const event: OutboxEvent = {
    leaseExpiries: Number(r.lease_expiries ?? 0),
    idempotencyKey: r.idempotency_key,
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
    aggregateType: r.aggregate_type ?? '',
    aggregateId: r.aggregate_id,
    attempts: Number(r.attempts ?? 0),
    maxAttempts: Number(r.max_attempts),
    stepsDone: Number(r.steps_done ?? 0),
    createdAt: new Date(Number(r.created_ms)),
    traceContext: r.trace_context,
  };
  if (r.idempotency_key !== null) {
    const schedule = parseScheduleKey(r.idempotency_key);
    if (schedule) event.schedule = schedule;
  }
  return event;
}

/** Row to insert; `scheduledFor` null means now. */
export interface InsertRow {
  eventId: string;
  eventType: string;
  aggregateType: string;
  aggregateId: string | null;
  idempotencyKey: string | null;
  payload: string;
  scheduledFor: string | null;
  maxAttempts: number;
  /** W3C trace context (JSON) of the publishing span, or null. */
  traceContext?: string | null;
}

/**
 * The largest notification text a push may send; PostgreSQL takes less than 8000 bytes, and the
 * event id goes in front of it.
 */
const PUSH_MAX_BYTES = 7950;

/**
 * Inserts events; rows whose idempotency key exists already are skipped (not returned). One due
 * event that may fit a notification goes through {@link insertOne}, which can push it.
 */
export async function insertEvents(trx: Kysely<any>, rows: readonly InsertRow[]): Promise<{ event_id: string }[]> {
  const [one] = rows;
  // its UTF-8 bytes are at least its UTF-16 length
  if (rows.length === 1 && one!.scheduledFor === null && one!.payload.length <= PUSH_MAX_BYTES) return insertOne(trx, one!);
  const col = <K extends keyof InsertRow>(k: K) => rows.map((r) => r[k]);
  const { rows: inserted } = await sql<{ event_id: string }>`${prepared}
    insert into swan_outbox (event_id, event_type, aggregate_type, aggregate_id, idempotency_key, payload, scheduled_for, max_attempts, trace_context)
    select e, t, a, ai, k, p::jsonb, coalesce(s::timestamptz, now()), m, tc::jsonb
      from unnest(${col('eventId')}::uuid[], ${col('eventType')}::text[], ${col('aggregateType')}::text[],
                  ${col('aggregateId')}::text[], ${col('idempotencyKey')}::text[], ${col('payload')}::text[],
                  ${col('scheduledFor')}::text[], ${col('maxAttempts')}::int[], ${rows.map((r) => r.traceContext ?? null)}::text[]) as x(e, t, a, ai, k, p, s, m, tc)
    on conflict (idempotency_key) where idempotency_key is not null do nothing
    returning event_id`.execute(trx);
  return inserted;
}

/**
 * Inserts one due event, and pushes it when it can: if a registered
 * worker that accepts pushes handles its type (see {@link registerListener}), the event is leased
 * to that worker (picked at random among them) and sent whole on the worker's channel at commit,
 * so it runs without a claim. Otherwise, or in a transaction that is not READ COMMITTED (reading
 * the listeners there would add them to its snapshot or serialization checks), or when the event
 * is too large for a notification, it is inserted pending.
 */
async function insertOne(trx: Kysely<any>, r: InsertRow): Promise<{ event_id: string }[]> {
  const { rows } = await sql<{ event_id: string }>`${prepared}
    with m as (
      select json_build_object('event_id', ${r.eventId}::uuid, 'event_type', ${r.eventType}::text, 'payload', ${r.payload}::jsonb,
               'aggregate_type', nullif(${r.aggregateType}::text, ''), 'aggregate_id', ${r.aggregateId}::text,
               'max_attempts', ${r.maxAttempts}::int, 'idempotency_key', ${r.idempotencyKey}::text,
               'created_ms', extract(epoch from now())::float8 * 1000, 'trace_context', ${r.traceContext ?? null}::text)::text as body
    ), l as (
      select w.worker_id, w.channel, w.lease_ms from swan_outbox_listeners w, m
       where current_setting('transaction_isolation') = 'read committed'
         and w.accepting and w.expires_at > clock_timestamp()
         and (w.event_types is null or ${r.eventType}::text = any(w.event_types))
         and octet_length(m.body) <= ${PUSH_MAX_BYTES}::int
       order by random()
       limit 1
    ), ins as (
      insert into swan_outbox (event_id, event_type, aggregate_type, aggregate_id, idempotency_key, payload, max_attempts, trace_context,
                               status, lease_owner, locked_until)
      select ${r.eventId}::uuid, ${r.eventType}::text, ${r.aggregateType}::text, ${r.aggregateId}::text, ${r.idempotencyKey}::text,
             ${r.payload}::jsonb, ${r.maxAttempts}::int, ${r.traceContext ?? null}::jsonb,
             case when l.worker_id is null then 'pending' else 'processing' end, l.worker_id,
             clock_timestamp() + l.lease_ms * interval '1 millisecond'
        from (select 1) as one left join l on true
       where set_config('swan.outbox_pushed', case when l.worker_id is null then '' else 'on' end, true) is not null
      on conflict (idempotency_key) where idempotency_key is not null do nothing
      returning id, event_id, lease_owner
    )
    select ins.event_id, case when ins.lease_owner is not null then pg_notify(l.channel, ins.id || ' ' || m.body) end as pushed
      from ins cross join m left join l on true`.execute(trx);
  return rows;
}

/** Event ids of existing events by idempotency key. */
export async function eventIdsByKey(trx: Kysely<any>, keys: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await sql<{ event_id: string; idempotency_key: string }>`
    select event_id, idempotency_key from swan_outbox where idempotency_key = any(${keys}::text[])`.execute(trx);
  return new Map(rows.map((r) => [r.idempotency_key, r.event_id]));
}

export interface ClaimParams {
  owner: string;
  leaseMs: number;
  limit: number;
  /** Only these types; `null` for every type. */
  eventTypes: readonly string[] | null;
  ordered: boolean;
  /** An event found with an expired lease for the Nth time goes dead instead (default 3). */
  maxLeaseExpiries?: number;
  /** Events of this owner to mark completed in the same statement (see {@link complete}). */
  completed?: readonly (number | string)[];
}

/** What one claim statement did: events now held, and events that went dead as poison. */
export interface ClaimResult {
  events: OutboxEvent[];
  /** Events whose lease expired `maxLeaseExpiries` times: now dead ("worker lost N times"). */
  poisoned: { eventId: string; leaseExpiries: number }[];
}

/**
 * Event ids as one array literal (`{1,2,3}`): the driver would otherwise quote and escape every
 * element of a JS array, per completed event.
 */
const idArray = (ids: readonly (number | string)[]): string => `{${ids.join(',')}}`;

// Statements on held events look rows up by id (primary key) and test `lease_owner` and
// `locked_until is not null`, which the table's check constraint makes equivalent to
// status = 'processing'. Testing the status itself would lead the planner to the partial index
// of leases, and to compare every held row with every id of the batch.

/** The update that marks events completed (only those this owner still holds). */
const completeRows = (owner: string, ids: readonly (number | string)[]) => sql`
    update swan_outbox
       set status = 'completed', processed_at = now(), updated_at = now(), lease_owner = null, locked_until = null
      from (select set_config('synchronous_commit', 'off', true)) as async_commit
     where id = any(${idArray(ids)}::bigint[]) and lease_owner = ${owner}::text and locked_until is not null`;

/**
 * Claims up to `limit` due events, and events whose lease expired (counting a lease expiry, not
 * an attempt), in one statement. An event whose lease expires for the `maxLeaseExpiries`th time
 * goes dead with the error "worker lost N times" instead of being claimed again. Ordered: only
 * the oldest unfinished event of each aggregate is eligible. In the update, the old status
 * `processing` marks the expired ones (the statement holds the locks of both sets). It takes the
 * claimed ids as an array, not as a join, so PostgreSQL looks them up by primary key however many
 * completed events the table keeps (a join hashes the whole table at every claim). The same
 * statement marks the `completed` events completed: one statement instead of two when events come
 * one at a time. They are kept out of the expired ones (one statement must not update a row twice).
 */
export async function claim(db: Kysely<any>, p: ClaimParams): Promise<ClaimResult> {
  const types = p.eventTypes ? sql`and o.event_type = any(${p.eventTypes}::text[])` : sql``;
  const ordered = p.ordered
    ? sql`and (o.aggregate_id is null or not exists (
             select 1 from swan_outbox b
              where b.aggregate_type = o.aggregate_type and b.aggregate_id = o.aggregate_id
                and b.status in ('pending', 'processing') and b.id < o.id))`
    : sql``;
  const maxLost = Math.max(1, Math.trunc(p.maxLeaseExpiries ?? 3));
  const { rows } = await sql<EventRow>`${prepared}
    with completed as (
      ${completeRows(p.owner, p.completed ?? [])}
    ), expired as (
      select o.id from swan_outbox o
       where o.status = 'processing' and o.locked_until < now() and o.id <> all(${idArray(p.completed ?? [])}::bigint[]) ${types}
       order by o.locked_until
       limit ${p.limit}::int
       for update skip locked
    ), due as (
      select o.id from swan_outbox o
       where o.status = 'pending' and o.scheduled_for <= now() ${types} ${ordered}
       order by o.scheduled_for, o.id
       limit ${p.limit}::int
       for update skip locked
    )
    update swan_outbox o
       set lease_expiries = o.lease_expiries + case when o.status = 'processing' then 1 else 0 end,
           status = case when o.status = 'processing' and o.lease_expiries + 1 >= ${maxLost}::int then 'dead' else 'processing' end,
           lease_owner = case when o.status = 'processing' and o.lease_expiries + 1 >= ${maxLost}::int then null else ${p.owner}::text end,
           locked_until = case when o.status = 'processing' and o.lease_expiries + 1 >= ${maxLost}::int then null
                               else now() + ${p.leaseMs}::float8 * interval '1 millisecond' end,
           last_error = case when o.status = 'processing' and o.lease_expiries + 1 >= ${maxLost}::int
                             then 'worker lost ' || (o.lease_expiries + 1) || ' times' else o.last_error end,
           last_error_at = case when o.status = 'processing' and o.lease_expiries + 1 >= ${maxLost}::int then now() else o.last_error_at end,
           updated_at = now()
      from (select set_config('synchronous_commit', 'off', true)) as async_commit
     where o.id = any(array(select id from expired union all select id from due))
    returning ${EVENT_COLUMNS}`.execute(db);
  const events: OutboxEvent[] = [];
  const poisoned: ClaimResult['poisoned'] = [];
  for (const r of rows) {
    if (r.poisoned) poisoned.push({ eventId: r.event_id, leaseExpiries: Number(r.lease_expiries) });
    else events.push(toEvent(r));
  }
  events.sort((a, b) => Number(a.id) - Number(b.id));
  return { events, poisoned };
}

/** Marks events completed (only those this owner still holds). */
export async function complete(db: Kysely<any>, owner: string, ids: readonly (number | string)[]): Promise<void> {
  await sql`${prepared} ${completeRows(owner, ids)}`.execute(db);
}

export interface Failure {
  id: number | string;
  error: string;
  delayMs: number;
  /** Dead-letter at once: retrying cannot help (see `PermanentError`). */
  dead?: boolean;
  /**
   * Not the handler's fault (a dependency such as NATS is unreachable, see `UnavailableError`):
   * back to pending after `delayMs` without counting an attempt.
   */
  deferred?: boolean;
  /** Steps of the event's handler that succeeded (resumed after on retry). */
  stepsDone?: number;
}

/**
 * Records failed runs in one statement: back to pending after `delayMs`, or dead after the last
 * attempt; deferred runs go back to pending without counting an attempt.
 */
export async function fail(db: Kysely<any>, owner: string, failures: readonly Failure[]): Promise<{ eventId: string; status: string }[]> {
  const { rows } = await sql<{ event_id: string; status: string }>`${prepared}
    update swan_outbox o
       set attempts = o.attempts + case when f.deferred then 0 else 1 end,
           status = case when f.deferred then 'pending'
                         when f.dead or o.attempts + 1 >= o.max_attempts then 'dead' else 'pending' end,
           scheduled_for = case when not f.deferred and (f.dead or o.attempts + 1 >= o.max_attempts) then o.scheduled_for
                                else now() + f.delay_ms * interval '1 millisecond' end,
           steps_done = greatest(o.steps_done, f.steps_done),
           last_error = f.error, last_error_at = now(), updated_at = now(), lease_owner = null, locked_until = null
      from unnest(${failures.map((f) => f.id)}::bigint[], ${failures.map((f) => f.error)}::text[],
                  ${failures.map((f) => f.delayMs)}::float8[], ${failures.map((f) => f.dead === true)}::boolean[],
                  ${failures.map((f) => f.deferred === true)}::boolean[], ${failures.map((f) => f.stepsDone ?? 0)}::smallint[])
           as f(id, error, delay_ms, dead, deferred, steps_done) ${ASYNC}
     where o.id = any(${idArray(failures.map((f) => f.id))}::bigint[]) and o.id = f.id and o.lease_owner = ${owner}::text and o.locked_until is not null
    returning o.event_id, o.status`.execute(db);
  return rows.map((r) => ({ eventId: r.event_id, status: r.status }));
}

/** Gives events back without counting an attempt (shutdown): these, or every event the owner holds. */
export async function release(db: Kysely<any>, owner: string, ids: readonly (number | string)[] | 'all'): Promise<void> {
  // all: found through the partial index of leases
  const which = ids === 'all' ? sql`status = 'processing'` : sql`id = any(${idArray(ids)}::bigint[]) and locked_until is not null`;
  await sql`
    update swan_outbox set status = 'pending', lease_owner = null, locked_until = null, updated_at = now()
     where ${which} and lease_owner = ${owner}::text`.execute(db);
}

/** Extends the leases this owner holds; returns the ids it still holds. */
export async function extendLeases(db: Kysely<any>, owner: string, ids: readonly (number | string)[], leaseMs: number): Promise<Set<string>> {
  const { rows } = await sql<{ id: number | string }>`${prepared}
    update swan_outbox set locked_until = now() + ${leaseMs}::float8 * interval '1 millisecond'
     where id = any(${idArray(ids)}::bigint[]) and lease_owner = ${owner}::text and locked_until is not null
    returning id`.execute(db);
  return new Set(rows.map((r) => String(r.id)));
}

/** Wakes listening workers (redrive). */
export async function notify(db: Kysely<any>): Promise<void> {
  await sql`select pg_notify('swan_outbox', '')`.execute(db);
}

/** A worker's entry in `swan_outbox_listeners`: publishers push single due events to it. */
export interface Listener {
  owner: string;
  /** Its LISTEN channel, `swan_outbox.<16 hex digits>`. */
  channel: string;
  /** Types it handles; `null` for every type. */
  eventTypes: readonly string[] | null;
  leaseMs: number;
  /** False while its buffer is full. */
  accepting: boolean;
  /** Publishers stop pushing to it this long after the last refresh. */
  ttlMs: number;
}

/** Registers a worker for pushes, or refreshes its entry. */
export async function registerListener(db: Kysely<any>, l: Listener): Promise<void> {
  await sql`${prepared}
    insert into swan_outbox_listeners (worker_id, channel, event_types, lease_ms, accepting, expires_at)
    values (${l.owner}::text, ${l.channel}::text, ${l.eventTypes}::text[], ${Math.round(l.leaseMs)}::int, ${l.accepting}::boolean,
            clock_timestamp() + ${l.ttlMs}::float8 * interval '1 millisecond')
    on conflict (worker_id) do update
      set channel = excluded.channel, event_types = excluded.event_types, lease_ms = excluded.lease_ms,
          accepting = excluded.accepting, expires_at = excluded.expires_at`.execute(db);
}

/** Removes a worker's entry, and entries of workers that stopped without removing theirs an hour ago. */
export async function unregisterListener(db: Kysely<any>, owner: string): Promise<void> {
  await sql`delete from swan_outbox_listeners where worker_id = ${owner}::text or expires_at < now() - interval '1 hour'`.execute(db);
}

/**
 * Events pushed to this owner that it does not know of (`known`: held, or being written): pushed
 * while its LISTEN connection was down. Their leases are renewed and they are returned, to be run.
 * A pushed event is one still as it was inserted (`updated_at = created_at`): every claim,
 * completion, failure and release of a row sets `updated_at`, so events this owner claimed (a
 * claim may be on its way back) are never taken twice.
 */
export async function adopt(db: Kysely<any>, owner: string, known: readonly (number | string)[], leaseMs: number): Promise<OutboxEvent[]> {
  const { rows } = await sql<EventRow>`
    update swan_outbox o set locked_until = now() + ${leaseMs}::float8 * interval '1 millisecond', updated_at = now()
     where o.status = 'processing' and o.lease_owner = ${owner}::text and o.updated_at = o.created_at
       and o.id <> all(${idArray(known)}::bigint[])
    returning ${EVENT_COLUMNS}`.execute(db);
  return rows.map(toEvent).sort((a, b) => Number(a.id) - Number(b.id));
}

/** The event of a push notification (`<id> <json>`, see {@link insertOne}). */
export function pushedEvent(message: string): OutboxEvent {
  const space = message.indexOf(' ');
  // a pushed event is new: no attempts, steps or lease expiries yet
  const row = JSON.parse(message.slice(space + 1)) as Omit<EventRow, 'id' | 'attempts' | 'steps_done' | 'lease_expiries' | 'poisoned'>;
  return toEvent({ ...row, id: message.slice(0, space), attempts: null, steps_done: null, lease_expiries: null, poisoned: null });
}
