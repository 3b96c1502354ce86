// Recurring schedules (graphile-worker's crontab, on the outbox): each occurrence of a schedule is
// one outbox event whose idempotency key names the schedule and its slot, so any number of
// instances publish it once; the next occurrence is always queued, so operators see it coming.
import { sql, type Kysely } from 'kysely';
import { Cron } from 'croner';
import { errors, type ScheduleStore, type StoredSchedule } from '@swan/core';
import { builtInValidators, type PayloadValidator } from './events.js';
import { createOutbox, type Outbox } from './outbox.service.js';

export type { ScheduleStore, StoredSchedule } from '@swan/core';

/**
 * A recurring schedule: every slot of `cron` (in `timezone`) publishes one `eventType` event.
 *
 * @example
 * ```ts
 * const retention: Schedule = { name: 'retention', cron: '15 3 * * *', eventType: 'retention_run', timezone: 'UTC', backfill: 86_400_000 };
 * ```
 */
export interface Schedule {
  /** Unique name: letters, digits and `_ . : @ -`, at most 120 characters (e.g. `retention`, `checkin:<clientId>:morning`). */
  name: string;
  /** Cron expression read by croner: 5 fields (minute precision) or 6 (with seconds first); `@daily`, `@hourly` … too. */
  cron: string;
  /** Event type of each occurrence (must be accepted by the outbox: built-in or registered). */
  eventType: string;
  /** Payload of every occurrence (default `{}`); the slot is on `event.schedule.slot`. */
  payload?: Record<string, unknown>;
  /** Payload key that receives each occurrence's slot as an ISO time (e.g. `scheduledFor`). */
  slotField?: string;
  /** IANA time zone the cron fields are read in (default `UTC`); daylight-saving gaps follow croner. */
  timezone?: string;
  /**
   * Slots missed while no scheduler ran (every instance down) are published on the next start if
   * they are at most this many ms old (default 0: only slots missed by less than the scheduler's
   * grace of 2 × `intervalMs`). The occurrence that was already queued always runs, once, late.
   */
  backfill?: number;
  aggregateType?: string;
  aggregateId?: string;
  /** Failed runs of an occurrence before it is dead (default: the outbox's). */
  maxAttempts?: number;
}

/** Options of {@link createScheduler}. */
export interface SchedulerOptions {
  db: Kysely<any>;
  /** Schedules defined in code (every instance passes the same list). */
  schedules?: readonly Schedule[];
  /** Payload validators of custom event types (as `createOutbox({ schemas })`); built-ins are always checked. */
  schemas?: Record<string, PayloadValidator | null>;
  /**
   * The repair pass (default 60 s): queues the next occurrence of every schedule whose queued one
   * is due, in case no worker of that type advanced it. Missed slots younger than 2 × this are
   * always published.
   */
  intervalMs?: number;
  /** Also keep schedules stored with {@link setSchedule} queued (default true). */
  stored?: boolean;
  /** The clock (tests). */
  now?: () => Date;
  onError?: (error: unknown, context: { phase: string; schedule?: string }) => void;
}

/** Queues the occurrences of recurring schedules (see {@link createScheduler}). */
export interface Scheduler {
  /** Publishes what is due for every schedule, then repeats every `intervalMs` until `stop()`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Publishes, for one schedule, the missed slots within its backfill window and its next
   * occurrence (each at most once across instances); the worker calls it for every occurrence it
   * claims. Returns the slots published (empty when they were queued already).
   */
  advance(name: string): Promise<Date[]>;
  /** One repair pass over every schedule (what the timer runs). */
  tick(): Promise<void>;
  /** The schedules defined in code. */
  readonly schedules: readonly Schedule[];
}

const NAME = /^[A-Za-z0-9_.:@-]{1,120}$/;
const SLOT_FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The idempotency key of one occurrence: `schedule:<name>:<slot ISO time>`. */
export function scheduleKey(name: string, slot: Date): string {
  return `schedule:${name}:${slot.toISOString()}`;
}

/** A cron parser for a schedule; throws `VALIDATION_FAILED` naming what is wrong. */
function cronOf(s: Pick<Schedule, 'name' | 'cron' | 'timezone'>): Cron {
  let cron: Cron;
  try {
    cron = new Cron(s.cron, { timezone: s.timezone ?? 'UTC', paused: true });
    cron.nextRun(new Date());
  } catch (cause) {
    throw errors.validation(`Schedule ${s.name}: invalid cron expression or time zone (${(cause as Error).message})`);
  }
  return cron;
}

/**
 * Checks a schedule definition; throws `VALIDATION_FAILED`.
 *
 * @example
 * ```ts
 * validateSchedule({ name: 'nightly', cron: '0 2 * * *', eventType: 'audit_chain_verify' });
 * ```
 */
export function validateSchedule(s: Schedule): void {
  if (typeof s !== 'object' || s === null) throw errors.validation('A schedule must be an object');
  if (typeof s.name !== 'string' || !NAME.test(s.name)) throw errors.validation('Schedule name must be 1 to 120 letters, digits or _ . : @ -');
  if (typeof s.cron !== 'string' || s.cron.length === 0 || s.cron.length > 200) throw errors.validation(`Schedule ${s.name}: cron must be a string`);
  if (typeof s.eventType !== 'string' || !/^[a-z][a-z0-9_.]{0,99}$/.test(s.eventType)) throw errors.validation(`Schedule ${s.name}: eventType must be lower_snake_case`);
  if (s.payload !== undefined && (typeof s.payload !== 'object' || s.payload === null || Array.isArray(s.payload))) {
    throw errors.validation(`Schedule ${s.name}: payload must be an object`);
  }
  if (s.slotField !== undefined && (typeof s.slotField !== 'string' || !SLOT_FIELD.test(s.slotField))) {
    throw errors.validation(`Schedule ${s.name}: slotField must be a payload key (letters, digits, _)`);
  }
  if (s.backfill !== undefined && !(Number.isFinite(s.backfill) && s.backfill >= 0)) throw errors.validation(`Schedule ${s.name}: backfill must be milliseconds ≥ 0`);
  cronOf(s);
}

interface ScheduleRow {
  last_slot: Date | string | null;
  cron: string | null;
  timezone: string | null;
  event_type: string | null;
  payload: unknown;
  slot_field: string | null;
  aggregate_type: string | null;
  aggregate_id: string | null;
  active: boolean;
}

const MAX_BACKFILL_SLOTS = 1000;

interface Published {
  slot: Date;
  eventId: string;
}

/**
 * In `trx`: locks the schedule's row (creating it), publishes every slot after the last one
 * published that is within the window (older than `now`), then the first slot after `now`, and
 * records the last. A schedule seen for the first time starts at `now` (no backfill).
 */
async function publishDue(trx: Kysely<any>, outbox: Outbox, def: Schedule | null, name: string, now: Date, graceMs: number): Promise<Published[]> {
  await sql`insert into swan_outbox_schedules (name) values (${name}) on conflict (name) do nothing`.execute(trx);
  const { rows: [row] } = await sql<ScheduleRow>`
    select last_slot, cron, timezone, event_type, payload, slot_field, aggregate_type, aggregate_id, active
      from swan_outbox_schedules where name = ${name} for update`.execute(trx);
  const stored: Schedule | null = row?.cron && row.event_type && row.active
    ? {
        name,
        cron: row.cron,
        eventType: row.event_type,
        payload: (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) ?? {},
        ...(row.slot_field ? { slotField: row.slot_field } : {}),
        ...(row.timezone ? { timezone: row.timezone } : {}),
        ...(row.aggregate_type ? { aggregateType: row.aggregate_type } : {}),
        ...(row.aggregate_id ? { aggregateId: row.aggregate_id } : {}),
      }
    : null;
  const s = def ?? stored;
  if (!s || !row) return [];
  const cron = cronOf(s);
  const last = row.last_slot ? new Date(row.last_slot) : null;
  if (last && last.getTime() > now.getTime()) return []; // the next occurrence is queued already
  const window = (s.backfill ?? 0) + graceMs;
  const floor = last ? new Date(Math.max(last.getTime(), now.getTime() - window)) : now;
  const slots: Date[] = [];
  for (let at = cron.nextRun(floor); at && at.getTime() <= now.getTime(); at = cron.nextRun(at)) {
    slots.push(at);
    if (slots.length > MAX_BACKFILL_SLOTS) slots.shift();
  }
  const next = cron.nextRun(now);
  if (next) slots.push(next);
  if (!slots.length) return [];
  const published = await outbox.publishMany(trx, slots.map((slot) => ({
    eventType: s.eventType,
    payload: { ...s.payload, ...(s.slotField ? { [s.slotField]: slot.toISOString() } : {}) },
    scheduledFor: slot,
    idempotencyKey: scheduleKey(name, slot),
    ...(s.aggregateType ? { aggregateType: s.aggregateType } : {}),
    ...(s.aggregateId ? { aggregateId: s.aggregateId } : {}),
    ...(s.maxAttempts ? { maxAttempts: s.maxAttempts } : {}),
  })) as any);
  const newest = slots[slots.length - 1]!;
  await sql`update swan_outbox_schedules set last_slot = ${newest.toISOString()}::timestamptz, updated_at = now()
     where name = ${name}`.execute(trx);
  return slots.map((slot, i) => ({ slot, eventId: published[i]!.eventId }));
}

/**
 * Creates the scheduler of recurring schedules. `createWorker({ schedules })` makes one for you;
 * use it directly to queue occurrences from a process that runs no worker.
 *
 * Each occurrence is one outbox event with the idempotency key `schedule:<name>:<slot ISO time>`
 * and `scheduledFor` its slot: however many instances run the scheduler, a slot is published
 * once and handled once. The next occurrence of every schedule is always queued (published at
 * start, by the handling of each occurrence and by the repair pass), so `swan outbox stats` and
 * the outbox table show what is coming.
 *
 * @example
 * ```ts
 * const scheduler = createScheduler({ db, schedules: [{ name: 'retention', cron: '15 3 * * *', eventType: 'retention_run' }] });
 * await scheduler.start();
 * ```
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const { db } = options;
  const list = [...(options.schedules ?? [])];
  for (const s of list) validateSchedule(s);
  const byName = new Map(list.map((s) => [s.name, s]));
  if (byName.size !== list.length) throw errors.validation('Schedule names must be unique');
  const intervalMs = Math.max(1000, options.intervalMs ?? 60_000);
  const graceMs = 2 * intervalMs;
  const now = options.now ?? (() => new Date());
  const custom = new Set(list.map((s) => s.eventType).filter((t) => !(t in builtInValidators)));
  const outbox = createOutbox({ db, eventTypes: [...custom], ...(options.schemas ? { schemas: options.schemas } : {}) });
  const report = (error: unknown, phase: string, schedule?: string) => options.onError?.(error, schedule ? { phase, schedule } : { phase });
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();

  const advance = async (name: string): Promise<Date[]> => {
    const def = byName.get(name) ?? null;
    return db.transaction().execute(async (trx) => {
      if (!def) {
        // a stored schedule: its event type may be any registered type, checked when it was stored
        const { rows } = await sql<{ event_type: string | null }>`select event_type from swan_outbox_schedules where name = ${name}`.execute(trx);
        const type = rows[0]?.event_type;
        if (!type) return [];
        if (!outbox.eventTypes().includes(type)) outbox.register(type);
      }
      return (await publishDue(trx, outbox, def, name, now(), graceMs)).map((p) => p.slot);
    });
  };

  const tick = async (): Promise<void> => {
    for (const s of list) {
      try {
        await advance(s.name);
      } catch (e) {
        report(e, 'schedule', s.name);
      }
    }
    if (options.stored === false) return;
    try {
      for (;;) {
        const { rows } = await sql<{ name: string }>`
          select name from swan_outbox_schedules
           where cron is not null and active and (last_slot is null or last_slot <= ${now().toISOString()}::timestamptz)
           order by last_slot nulls first limit 200`.execute(db);
        let moved = 0;
        for (const r of rows) {
          try {
            if ((await advance(r.name)).length) moved++;
          } catch (e) {
            report(e, 'schedule', r.name);
          }
        }
        if (rows.length < 200 || moved === 0) break;
      }
    } catch (e) {
      report(e, 'schedule');
    }
  };

  return {
    schedules: list,
    advance,
    tick,
    async start() {
      if (timer) return;
      running = tick();
      await running;
      timer = setInterval(() => {
        running = running.then(tick);
      }, intervalMs);
      timer.unref?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}

/**
 * Stores a schedule in the database (per-client schedules: `checkin:<clientId>:morning`), in the
 * caller's transaction, and queues its next occurrence. A changed definition replaces the queued
 * occurrence that is not yet due; an unchanged one keeps it (queuing the next one when none is).
 * Every instance's scheduler keeps it going (repair pass) and every worker advances it when it
 * claims an occurrence. {@link createScheduleStore} offers it as the `ScheduleStore` of `@swan/core`.
 *
 * @example
 * ```ts
 * await db.transaction().execute((trx) => setSchedule(trx, outbox, {
 *   name: `checkin:${clientId}:morning`, cron: '0 7 * * *', timezone: 'America/Los_Angeles',
 *   eventType: 'morning_checkin_scheduled', payload: { clientId, timezone: 'America/Los_Angeles' }, slotField: 'scheduledFor',
 * }));
 * ```
 */
export async function setSchedule(trx: Kysely<any>, outbox: Outbox, schedule: StoredSchedule): Promise<{ next: Date | null; eventId: string | null }> {
  validateSchedule(schedule);
  if (!outbox.eventTypes().includes(schedule.eventType)) throw errors.validation(`Schedule ${schedule.name}: the outbox does not accept ${schedule.eventType}`);
  const { name } = schedule;
  const timezone = schedule.timezone ?? null;
  const payload = JSON.stringify(schedule.payload ?? {});
  const { rows: [row] } = await sql<{ last_slot: Date | string | null; same: boolean }>`
    select last_slot, (cron is not null and active and cron = ${schedule.cron} and timezone is not distinct from ${timezone}
        and event_type = ${schedule.eventType} and payload = ${payload}::jsonb and slot_field is not distinct from ${schedule.slotField ?? null}
        and aggregate_type is not distinct from ${schedule.aggregateType ?? null} and aggregate_id is not distinct from ${schedule.aggregateId ?? null}) as same
      from swan_outbox_schedules where name = ${name} for update`.execute(trx);
  if (row?.same) {
    const [published] = (await publishDue(trx, outbox, null, name, new Date(), 0)).slice(-1);
    if (published) return { next: published.slot, eventId: published.eventId };
    return queued(trx, name, row.last_slot);
  }
  await cancelQueued(trx, name, row?.last_slot ?? null);
  await sql`insert into swan_outbox_schedules (name, last_slot, cron, timezone, event_type, payload, slot_field, aggregate_type, aggregate_id, active)
    values (${name}, null, ${schedule.cron}, ${timezone}, ${schedule.eventType}, ${payload}::jsonb, ${schedule.slotField ?? null},
            ${schedule.aggregateType ?? null}, ${schedule.aggregateId ?? null}, true)
    on conflict (name) do update set last_slot = null, cron = excluded.cron, timezone = excluded.timezone,
      event_type = excluded.event_type, payload = excluded.payload, slot_field = excluded.slot_field, aggregate_type = excluded.aggregate_type,
      aggregate_id = excluded.aggregate_id, active = true, updated_at = now()`.execute(trx);
  const [published] = (await publishDue(trx, outbox, null, name, new Date(), 0)).slice(-1);
  return { next: published?.slot ?? null, eventId: published?.eventId ?? null };
}

/**
 * Removes a stored schedule and its queued occurrence that is not yet due, in the caller's
 * transaction. Returns whether it existed.
 *
 * @example
 * ```ts
 * await db.transaction().execute((trx) => removeSchedule(trx, `checkin:${clientId}:morning`));
 * ```
 */
export async function removeSchedule(trx: Kysely<any>, name: string): Promise<boolean> {
  // the row lock orders this after a worker advancing the schedule, so its new occurrence is seen
  const { rows: [row] } = await sql<{ last_slot: Date | string | null }>`
    select last_slot from swan_outbox_schedules where name = ${name} and cron is not null for update`.execute(trx);
  if (!row) return false;
  await cancelQueued(trx, name, row.last_slot);
  await sql`delete from swan_outbox_schedules where name = ${name}`.execute(trx);
  return true;
}

/**
 * The outbox's {@link ScheduleStore} (the contract of `@swan/core`): stored schedules for packages
 * that must not depend on `@swan/outbox`, e.g. `createCheckins({ schedules })`. `upsert` is
 * {@link setSchedule}, `remove` is {@link removeSchedule}. Workers run with `schedules` (even
 * `[]`) advance stored schedules as they claim occurrences, and their schedulers' repair pass
 * keeps every stored schedule queued.
 *
 * @example
 * ```ts
 * const outbox = createOutbox({ db });
 * const checkins = createCheckins({ db, events: outbox, schedules: createScheduleStore({ outbox }), pii, twilio, from, authToken });
 * ```
 */
export function createScheduleStore(options: { outbox: Outbox }): ScheduleStore {
  const { outbox } = options;
  return {
    upsert: (trx, schedule) => setSchedule(trx, outbox, schedule),
    remove: (trx, name) => removeSchedule(trx, name),
  };
}

/** The queued occurrence of a schedule: its slot (`last_slot`) and event id, when it is still pending. */
async function queued(trx: Kysely<any>, name: string, lastSlot: Date | string | null): Promise<{ next: Date | null; eventId: string | null }> {
  if (!lastSlot) return { next: null, eventId: null };
  const next = new Date(lastSlot);
  const { rows } = await sql<{ event_id: string }>`
    select event_id from swan_outbox where idempotency_key = ${scheduleKey(name, next)}`.execute(trx);
  return { next, eventId: rows[0]?.event_id ?? null };
}

/** Deletes the schedule's queued occurrence (the one of its last slot) if it is pending and not yet due. */
const cancelQueued = async (trx: Kysely<any>, name: string, lastSlot: Date | string | null) => {
  if (!lastSlot) return;
  await sql`delete from swan_outbox
     where idempotency_key = ${scheduleKey(name, new Date(lastSlot))} and status = 'pending' and scheduled_for > now()`.execute(trx);
};
