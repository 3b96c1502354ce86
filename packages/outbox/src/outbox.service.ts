import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { isUuid, errors, type EventPublisher, type PublishableEvent } from '@swan/core';
import { EVENT_TYPE, builtInValidators, validateEvent, type PayloadValidator, type SwanEventMap, type SwanEventType } from './events.js';
import { eventIdsByKey, insertEvents, notify, type InsertRow } from './sql.js';
import { tracePublish } from './telemetry.js';

/** An event to publish; built-in types get their payload type checked at compile time. */
export type OutboxEventInput<T extends string = string> = Omit<PublishableEvent, 'eventType' | 'payload'> & {
  eventType: T;
  payload: T extends SwanEventType ? SwanEventMap[T] : Record<string, unknown>;
  /** Failed runs before the event is dead-lettered (default: the outbox's `maxAttempts`). */
  maxAttempts?: number;
};

export interface PublishResult {
  eventId: string;
  /** True when the idempotency key existed: nothing was written, `eventId` is the first event's. */
  duplicate: boolean;
}

export interface OutboxOptions {
  db: Kysely<any>;
  /** Validators of extra event types (or `null` to accept any object payload); built-ins can be overridden. */
  schemas?: Record<string, PayloadValidator | null>;
  /** Extra event types accepted with any object payload. */
  eventTypes?: readonly string[];
  /** Default failed runs before dead letter (default 5). */
  maxAttempts?: number;
}

export interface OutboxStats {
  /** Counts by status: pending, processing, completed, dead. */
  byStatus: Record<'pending' | 'processing' | 'completed' | 'dead', number>;
  /** Counts by event type and status. */
  byType: Record<string, Partial<Record<'pending' | 'processing' | 'completed' | 'dead', number>>>;
  /** Seconds since the oldest due pending event became due (0 when none). */
  oldestPendingAgeSeconds: number;
  dead: number;
}

export interface DeadEvent {
  eventId: string;
  eventType: string;
  aggregateType: string;
  aggregateId: string | null;
  payload: Record<string, unknown>;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  lastErrorAt: string | null;
  createdAt: string;
}

/** Options of {@link Outbox.dead}. */
export interface DeadEventsOptions {
  /** At most this many, newest first (default 100). */
  limit?: number;
  /** Only events of this type. */
  eventType?: string;
}

export interface PruneOptions {
  /** Completed events processed longer ago than this (ms, or a Date cut-off) are removed. */
  olderThan: number | Date;
  /** Rows per statement (default 1000). */
  batchSize?: number;
  /** Copy to `swan_outbox_archive` before deleting. */
  archive?: boolean;
}

/** The transactional outbox: implements core's `EventPublisher`. */
export interface Outbox extends EventPublisher {
  /** Inserts one event in `trx`: it exists if and only if `trx` commits. */
  publish<T extends string>(trx: Kysely<any>, event: OutboxEventInput<T>): Promise<PublishResult>;
  /** Inserts events in one statement in `trx`; results in input order. */
  publishMany(trx: Kysely<any>, events: readonly OutboxEventInput[]): Promise<PublishResult[]>;
  /** Accepts another event type (optionally with a validator). */
  register(eventType: string, validator?: PayloadValidator | null): void;
  /** Event types publish accepts. */
  eventTypes(): string[];
  stats(): Promise<OutboxStats>;
  /** Dead-lettered events, newest first. */
  dead(options?: DeadEventsOptions): Promise<DeadEvent[]>;
  /** Dead events back to pending with attempts reset; returns the event ids that were dead. */
  redrive(eventIds: readonly string[]): Promise<string[]>;
  /** Deletes (or archives) completed events in batches; returns how many. */
  prune(options: PruneOptions): Promise<number>;
  readonly db: Kysely<any>;
}

function checkMaxAttempts(n: unknown): number {
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 1000) {
    throw errors.validation('maxAttempts must be an integer from 1 to 1000');
  }
  return n as number;
}

function optionalText(name: string, v: unknown, max: number): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw errors.validation(`${name} must be a non-empty string of at most ${max} characters`);
  }
  return v;
}

/**
 * Creates the outbox over the application's database handle.
 *
 * @example
 * ```ts
 * const outbox = createOutbox({ db });
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto('checkins').values(row).execute();
 *   await outbox.publish(trx, {
 *     eventType: 'morning_checkin_scheduled',
 *     payload: { clientId, scheduledFor: '2025-11-05T07:00:00Z', timezone: 'America/Los_Angeles' },
 *     aggregateType: 'client', aggregateId: clientId,
 *   });
 * });
 * ```
 */
export function createOutbox(options: OutboxOptions): Outbox {
  const { db } = options;
  const defaultMax = checkMaxAttempts(options.maxAttempts ?? 5);
  const validators = new Map<string, PayloadValidator | null>(Object.entries(builtInValidators));
  for (const t of options.eventTypes ?? []) validators.set(t, null);
  for (const [t, v] of Object.entries(options.schemas ?? {})) validators.set(t, v);

  const toRow = (e: OutboxEventInput): InsertRow => {
    if (typeof e !== 'object' || e === null) throw errors.validation('An event must be an object');
    validateEvent(validators, e.eventType, e.payload);
    const scheduledFor = e.scheduledFor ?? null;
    if (scheduledFor !== null && (!(scheduledFor instanceof Date) || Number.isNaN(scheduledFor.getTime()))) {
      throw errors.validation('scheduledFor must be a valid Date');
    }
    return {
      eventId: randomUUID(),
      eventType: e.eventType,
      aggregateType: optionalText('aggregateType', e.aggregateType, 100) ?? '',
      aggregateId: optionalText('aggregateId', e.aggregateId, 200),
      idempotencyKey: optionalText('idempotencyKey', e.idempotencyKey, 200),
      payload: JSON.stringify(e.payload),
      scheduledFor: scheduledFor ? scheduledFor.toISOString() : null,
      maxAttempts: e.maxAttempts === undefined ? defaultMax : checkMaxAttempts(e.maxAttempts),
    };
  };

  const publishMany = async (trx: Kysely<any>, events: readonly OutboxEventInput[]): Promise<PublishResult[]> => {
    if (events.length === 0) return [];
    const rows = events.map(toRow);
    return tracePublish(rows.map((r) => r.eventType), (traceContext) => insert(trx, rows.map((r) => ({ ...r, traceContext }))));
  };

  const insert = async (trx: Kysely<any>, rows: InsertRow[]): Promise<PublishResult[]> => {
    const inserted = new Set((await insertEvents(trx, rows)).map((r) => r.event_id));
    const skipped = rows.filter((r) => !inserted.has(r.eventId)).map((r) => r.idempotencyKey as string);
    const existing = skipped.length ? await eventIdsByKey(trx, skipped) : new Map<string, string>();
    const firstInCall = new Map<string, string>();
    return rows.map((r) => {
      if (inserted.has(r.eventId)) {
        if (r.idempotencyKey) firstInCall.set(r.idempotencyKey, r.eventId);
        return { eventId: r.eventId, duplicate: false };
      }
      const key = r.idempotencyKey as string;
      const eventId = existing.get(key) ?? firstInCall.get(key);
      if (!eventId) throw errors.conflict('An event with this idempotency key is being written concurrently');
      return { eventId, duplicate: true };
    });
  };

  return {
    db,
    publishMany,
    async publish(trx, event) {
      const [result] = await publishMany(trx, [event as OutboxEventInput]);
      return result as PublishResult;
    },
    register(eventType, validator = null) {
      validateEventTypeName(eventType);
      validators.set(eventType, validator);
    },
    eventTypes: () => [...validators.keys()].sort(),
    async stats() {
      const { rows } = await sql<{ status: string; event_type: string; n: number | string }>`
        select status, event_type, count(*) as n from swan_outbox group by status, event_type`.execute(db);
      const { rows: [age] } = await sql<{ age: number | string | null }>`
        select extract(epoch from now() - min(scheduled_for)) as age
          from swan_outbox where status = 'pending' and scheduled_for <= now()`.execute(db);
      const byStatus = { pending: 0, processing: 0, completed: 0, dead: 0 };
      const byType: OutboxStats['byType'] = {};
      for (const r of rows) {
        const status = r.status as keyof typeof byStatus;
        byStatus[status] += Number(r.n);
        (byType[r.event_type] ??= {})[status] = Number(r.n);
      }
      return { byStatus, byType, oldestPendingAgeSeconds: Math.max(0, Number(age?.age ?? 0)), dead: byStatus.dead };
    },
    async dead({ limit = 100, eventType } = {}) {
      const n = Math.min(Math.max(1, Math.trunc(Number(limit)) || 100), 1000);
      const byType = eventType ? sql`and event_type = ${eventType}::text` : sql``;
      const { rows } = await sql<Record<string, any>>`
        select event_id, event_type, aggregate_type, aggregate_id, payload, attempts, max_attempts, last_error,
               last_error_at, created_at
          from swan_outbox where status = 'dead' ${byType} order by id desc limit ${n}::int`.execute(db);
      return rows.map((r) => ({
        eventId: r.event_id,
        eventType: r.event_type,
        aggregateType: r.aggregate_type,
        aggregateId: r.aggregate_id,
        payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
        attempts: Number(r.attempts),
        maxAttempts: Number(r.max_attempts),
        lastError: r.last_error,
        lastErrorAt: r.last_error_at ? new Date(r.last_error_at).toISOString() : null,
        createdAt: new Date(r.created_at).toISOString(),
      }));
    },
    async redrive(eventIds) {
      const ids = eventIds.filter(isUuid);
      if (ids.length === 0) return [];
      return db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ event_id: string }>`
          update swan_outbox set status = 'pending', attempts = 0, lease_expiries = 0, scheduled_for = now(), updated_at = now()
           where event_id = any(${ids}::uuid[]) and status = 'dead'
          returning event_id`.execute(trx);
        if (rows.length) await notify(trx);
        return rows.map((r) => r.event_id);
      });
    },
    async prune({ olderThan, batchSize = 1000, archive = false }) {
      const cutoff = olderThan instanceof Date ? olderThan : new Date(Date.now() - olderThan);
      if (Number.isNaN(cutoff.getTime())) throw errors.validation('olderThan must be a Date or milliseconds');
      const n = Math.max(1, Math.trunc(batchSize));
      let total = 0;
      let cursor = 0;
      for (;;) {
        const doomed = sql`select id from swan_outbox
           where status = 'completed' and processed_at < ${cutoff.toISOString()}::timestamptz and id > ${cursor}::bigint
           order by id limit ${n}::int for update skip locked`;
        const { rows } = archive
          ? await sql<{ id: number | string }>`
              with gone as (delete from swan_outbox o where o.id in (${doomed}) returning o.*)
              insert into swan_outbox_archive select * from gone returning id`.execute(db)
          : await sql<{ id: number | string }>`delete from swan_outbox where id in (${doomed}) returning id`.execute(db);
        total += rows.length;
        if (rows.length < n) return total;
        cursor = Math.max(...rows.map((r) => Number(r.id)));
      }
    },
  };
}

function validateEventTypeName(eventType: string): void {
  if (!EVENT_TYPE.test(eventType)) {
    throw errors.validation('eventType must be lower_snake_case (a-z, 0-9, _ and .), at most 100 characters');
  }
}
