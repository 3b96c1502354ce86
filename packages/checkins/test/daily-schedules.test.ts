/**
 * Daily check-ins on the outbox's stored schedules: the next occurrence is a scheduled outbox
 * event, a slot fires once however many workers run, cancelling, erasing or soft-deleting ends
 * it, croner's time zones hold across daylight-saving changes, and schedules of the previous
 * recurrence (checkin_schedules.next_run_at) move over without a slot firing twice.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, migrations as coreMigrations, withActor } from '@swan/core';
import { createOutbox, createScheduler, createScheduleStore, createWorker, migrations as outboxMigrations, scheduleKey, type Worker } from '@swan/outbox';
import { createPii, LocalKeyProvider, migrations as piiMigrations } from '@swan/pii';
import { testEngines, until } from '@swan/test-utils';
import { checkinScheduleName, createCheckins, createTwilioClient, migrations, type CheckInKind, type Checkins } from '../src/index.js';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, FROM } from './fake-twilio.js';
import { admin, startHarness, type Harness } from './harness.js';

const LA = 'America/Los_Angeles';
const DAY = 86_400_000;

interface Row { event_id: string; event_type: string; status: string; idempotency_key: string; scheduled_for: Date; payload: any }

/** The outbox events of a client's daily check-in, oldest slot first. */
async function occurrences(db: Kysely<any>, clientId: string, kind: CheckInKind = 'morning'): Promise<Row[]> {
  return (await sql<Row>`select event_id, event_type, status, idempotency_key, scheduled_for, payload from swan_outbox
     where idempotency_key like ${`schedule:${checkinScheduleName(clientId, kind)}:%`} order by scheduled_for`.execute(db)).rows;
}

const iso = (d: Date | string) => new Date(d).toISOString();
const localTime = (d: Date | string, timeZone: string) =>
  new Intl.DateTimeFormat('en-US', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(d));

describe.each(testEngines())('daily check-ins on the outbox schedules on $name', (engine) => {
  let h: Harness;
  let n = 100;
  beforeAll(async () => {
    h = await startHarness(engine);
  }, 60_000);
  afterAll(async () => h?.close());

  const client = () => h.createClient(n++);
  const setDaily = (clientId: string, local: string, timezone = LA, kind: CheckInKind = 'morning') =>
    withActor(h.t.db, admin, (trx) => h.checkins.setDailySchedule(trx, { clientId, kind, localTime: local, timezone }));
  const storedRow = async (clientId: string, kind: CheckInKind = 'morning') =>
    (await sql<any>`select cron, timezone, last_slot, slot_field from swan_outbox_schedules where name = ${checkinScheduleName(clientId, kind)}`.execute(h.t.admin)).rows[0];
  /**
   * The queued occurrence's time arrives: it becomes the slot one day earlier (due now), as if the
   * clock had moved on a day. Returns that slot and the slot that follows it (the original one).
   */
  const arrive = async (clientId: string, kind: CheckInKind = 'morning') => {
    const [queued] = (await occurrences(h.t.admin, clientId, kind)).filter((r) => r.status === 'pending');
    const next = new Date(queued!.scheduled_for);
    const due = new Date(next.getTime() - DAY);
    const name = checkinScheduleName(clientId, kind);
    await sql`update swan_outbox set scheduled_for = ${iso(due)}::timestamptz, idempotency_key = ${scheduleKey(name, due)},
        payload = payload || jsonb_build_object('scheduledFor', ${iso(due)}::text) where event_id = ${queued!.event_id}::uuid`.execute(h.t.admin);
    await sql`update swan_outbox_schedules set last_slot = ${iso(due)}::timestamptz where name = ${name}`.execute(h.t.admin);
    return { due, next, eventId: queued!.event_id };
  };
  const eventOf = (r: Row) => ({ eventId: r.event_id, eventType: r.event_type, payload: r.payload });

  it('a daily check-in is a stored schedule whose next occurrence is a scheduled outbox event', async () => {
    const c = await client();
    const { eventId, nextRunAt } = await setDaily(c.clientId, '07:00');
    expect(nextRunAt.getTime()).toBeGreaterThan(Date.now());
    expect(localTime(nextRunAt, LA)).toBe('07:00');
    const rows = await occurrences(h.t.admin, c.clientId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      event_id: eventId, event_type: 'morning_checkin_scheduled', status: 'pending',
      idempotency_key: `schedule:checkin:${c.clientId}:morning:${iso(nextRunAt)}`,
      payload: { clientId: c.clientId, timezone: LA, recurring: true, localTime: '07:00', scheduledFor: iso(nextRunAt) },
    });
    expect(iso(rows[0]!.scheduled_for)).toBe(iso(nextRunAt));
    expect(await storedRow(c.clientId)).toMatchObject({ cron: '0 7 * * *', timezone: LA, slot_field: 'scheduledFor' });
    expect(iso((await storedRow(c.clientId)).last_slot)).toBe(iso(nextRunAt));

    // the same schedule again keeps its queued occurrence; a new time replaces it
    expect(await setDaily(c.clientId, '07:00')).toEqual({ eventId, nextRunAt });
    const replaced = await setDaily(c.clientId, '19:30');
    expect(localTime(replaced.nextRunAt, LA)).toBe('19:30');
    expect((await occurrences(h.t.admin, c.clientId)).map((r) => [r.event_id, r.status])).toEqual([[replaced.eventId, 'pending']]);
    expect(await storedRow(c.clientId)).toMatchObject({ cron: '30 19 * * *' });
  });

  it('two workers on their own connections fire a slot once, and the next one is queued once', async () => {
    const c = await client();
    await setDaily(c.clientId, '06:15', 'UTC');
    const workers: Worker[] = [h.t.db, h.t.connectApp(3)].map((db) => createWorker({
      db, handlers: h.checkins.handlers, schedules: [], pollIntervalMs: 20, flushMs: 1, concurrency: 4,
    }));
    const { due, next } = await arrive(c.clientId);
    try {
      await Promise.all([...workers.map((w) => w.start()), createScheduler({ db: h.t.connectApp(2) }).tick()]);
      await until(async () => (await occurrences(h.t.admin, c.clientId)).map((r) => r.status).join() === 'completed,pending');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    expect(h.fake.sentTo(c.phone!)).toHaveLength(1);
    const rows = await occurrences(h.t.admin, c.clientId);
    expect(rows.map((r) => [r.idempotency_key, r.status])).toEqual([
      [scheduleKey(checkinScheduleName(c.clientId, 'morning'), due), 'completed'],
      [scheduleKey(checkinScheduleName(c.clientId, 'morning'), next), 'pending'],
    ]);
    expect(rows[1]!.payload.scheduledFor).toBe(iso(next));
  });

  it('each occurrence queues the next one itself, once, even with workers that run no scheduler', async () => {
    const c = await client();
    await setDaily(c.clientId, '07:00');
    const { next } = await arrive(c.clientId);
    // the occurrence's slot came and its queued successor went missing (pruned, or a worker without `schedules`)
    await sql`update swan_outbox_schedules set last_slot = ${iso(new Date(next.getTime() - DAY))}::timestamptz where name = ${checkinScheduleName(c.clientId, 'morning')}`.execute(h.t.admin);
    const [due] = await occurrences(h.t.admin, c.clientId);
    // handled twice, as a redelivery would
    expect(await h.checkins.handleCheckInEvent(eventOf(due!))).toBe('sent');
    expect(await h.checkins.handleCheckInEvent(eventOf(due!))).toBe('already_sent');
    const pending = (await occurrences(h.t.admin, c.clientId)).filter((r) => r.status === 'pending' && r.event_id !== due!.event_id);
    expect(pending.map((r) => iso(r.scheduled_for))).toEqual([iso(next)]);
    expect(h.fake.sentTo(c.phone!)).toHaveLength(1);
  });

  it('cancelling removes the queued occurrence and the stored schedule; one already due is skipped', async () => {
    const c = await client();
    await setDaily(c.clientId, '07:00');
    const { eventId } = await arrive(c.clientId);
    const [due] = await occurrences(h.t.admin, c.clientId);
    // set again: the due occurrence stays (it is already due), a new one is queued for tomorrow
    const { eventId: queued } = await setDaily(c.clientId, '07:00');
    expect((await occurrences(h.t.admin, c.clientId)).map((r) => r.event_id)).toEqual([eventId, queued]);
    expect(await withActor(h.t.db, admin, (trx) => h.checkins.cancelDailySchedule(trx, c.clientId, 'morning'))).toBe(true);
    expect((await occurrences(h.t.admin, c.clientId)).map((r) => r.event_id)).toEqual([eventId]);
    expect(await storedRow(c.clientId)).toBeUndefined();
    expect(await h.checkins.handleCheckInEvent(eventOf(due!))).toBe('superseded');
    expect((await occurrences(h.t.admin, c.clientId)).map((r) => r.event_id)).toEqual([eventId]);
    expect(await storedRow(c.clientId)).toBeUndefined();
    expect(h.fake.sentTo(c.phone!)).toHaveLength(0);
    expect(await withActor(h.t.db, admin, (trx) => h.checkins.cancelDailySchedule(trx, c.clientId, 'morning'))).toBe(false);
  });

  it('an occurrence of a replaced schedule is skipped; the new time goes on', async () => {
    const c = await client();
    await setDaily(c.clientId, '07:00');
    await arrive(c.clientId);
    const [due] = await occurrences(h.t.admin, c.clientId);
    const replaced = await setDaily(c.clientId, '08:45');
    expect(await h.checkins.handleCheckInEvent(eventOf(due!))).toBe('superseded');
    expect((await occurrences(h.t.admin, c.clientId)).filter((r) => r.status === 'pending').map((r) => r.event_id)).toEqual([due!.event_id, replaced.eventId]);
    expect(h.fake.sentTo(c.phone!)).toHaveLength(0);
  });

  it('a soft-deleted client: its next occurrence ends the schedule and sends nothing', async () => {
    const c = await client();
    await setDaily(c.clientId, '07:00');
    await setDaily(c.clientId, '21:00', LA, 'evening');
    await arrive(c.clientId);
    const [due] = await occurrences(h.t.admin, c.clientId);
    await h.pii.softDelete(c.clientId, admin, 'client asked to pause');
    expect(await h.checkins.handleCheckInEvent(eventOf(due!))).toBe('superseded');
    expect(h.fake.sentTo(c.phone!)).toHaveLength(0);
    expect(await storedRow(c.clientId)).toBeUndefined();
    expect(await storedRow(c.clientId, 'evening')).toBeUndefined();
    expect(await occurrences(h.t.admin, c.clientId, 'evening')).toEqual([]);
    expect((await sql<any>`select kind, active from checkin_schedules where client_id = ${c.clientId}::uuid order by kind`.execute(h.t.admin)).rows)
      .toEqual([{ kind: 'evening', active: false }, { kind: 'morning', active: false }]);
  });

  it("the client's time zone holds across daylight-saving changes (croner)", async () => {
    const c = await client();
    await setDaily(c.clientId, '07:00');
    await setDaily(c.clientId, '02:30', LA, 'evening');
    const name = checkinScheduleName(c.clientId, 'morning');
    /** The slot queued after `last` when the clock reads `now`. */
    const after = async (kind: CheckInKind, last: string, now: string) => {
      const n = checkinScheduleName(c.clientId, kind);
      await sql`delete from swan_outbox where idempotency_key like ${`schedule:${n}:%`}`.execute(h.t.admin);
      await sql`update swan_outbox_schedules set last_slot = ${last}::timestamptz where name = ${n}`.execute(h.t.admin);
      const [slot] = await createScheduler({ db: h.t.db, now: () => new Date(now) }).advance(n);
      const [row] = await occurrences(h.t.admin, c.clientId, kind);
      expect(row!.payload.scheduledFor).toBe(iso(slot!));
      return iso(slot!);
    };
    expect(name).toBe(`checkin:${c.clientId}:morning`);
    // 07:00 PST (UTC-8) the day before spring forward, then 07:00 PDT (UTC-7)
    expect(await after('morning', '2030-03-09T15:00:00Z', '2030-03-09T15:00:30Z')).toBe('2030-03-10T14:00:00.000Z');
    expect(await after('morning', '2030-03-10T14:00:00Z', '2030-03-10T14:00:30Z')).toBe('2030-03-11T14:00:00.000Z');
    // fall back: 07:00 PDT, then 07:00 PST
    expect(await after('morning', '2030-11-02T14:00:00Z', '2030-11-02T14:00:30Z')).toBe('2030-11-03T15:00:00.000Z');
    // 02:30 does not exist on the spring-forward night: it runs when the clock resumes (03:00 PDT)
    expect(await after('evening', '2030-03-09T10:30:00Z', '2030-03-09T10:30:30Z')).toBe('2030-03-10T10:00:00.000Z');
    expect(await after('evening', '2030-03-10T10:00:00Z', '2030-03-10T10:00:30Z')).toBe('2030-03-11T09:30:00.000Z');
  });

  it('without a schedule store, daily check-ins are refused with CONFIG_INVALID and nothing is written', async () => {
    const c = await client();
    const bare = createCheckins({ db: h.t.db, events: h.outbox, pii: h.pii, twilio: null, from: null, authToken: null });
    await expect(withActor(h.t.db, admin, (trx) => bare.setDailySchedule(trx, { clientId: c.clientId, kind: 'morning', localTime: '07:00', timezone: LA })))
      .rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect((await sql`select 1 from checkin_schedules where client_id = ${c.clientId}::uuid`.execute(h.t.admin)).rows).toEqual([]);
  });
});

describe.each(testEngines())('moving daily check-ins of checkin_schedules.next_run_at to the outbox schedules on $name', (engine) => {
  const upTo = <T extends { migrations: readonly unknown[] }>(set: T, count: number): T => ({ ...set, migrations: set.migrations.slice(0, count) });

  it('an already queued occurrence fires once, as the schedule\'s; the next is queued once; inactive schedules stay off', async () => {
    // the last release: outbox up to 0003, check-ins up to 0003
    const t = await engine.create([piiMigrations, upTo(outboxMigrations, 3), upTo(migrations, 3)]);
    const workers: Worker[] = [];
    try {
      const pii = createPii({ db: t.db, keys: LocalKeyProvider.fromEnv(`k1:${randomBytes(32).toString('base64')}`), indexKey: randomBytes(32) });
      const make = async (i: number) => (await pii.createClient(admin, {
        pii: { full_name: `Mover ${i}`, date_of_birth: '1990-04-01', email: `mover${i}.${randomBytes(3).toString('hex')}@example.com`, phone_number: `+1415555${2000 + i}`, emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
        training: { training_goals: ['strength'] },
      })).clientId;
      const [active, cancelled, later] = [await make(1), await make(2), await make(3)];
      // the previous recurrence's state: a daily 'morning' at the minute that just passed (its queued
      // occurrence is due: everything was down at that time), one whose queued occurrence is
      // tomorrow at 07:00 UTC, and a cancelled one with a stale event
      const slot = new Date(Math.floor((Date.now() - 60_000) / 60_000) * 60_000);
      const hhmm = `${String(slot.getUTCHours()).padStart(2, '0')}:${String(slot.getUTCMinutes()).padStart(2, '0')}`;
      const seven = new Date(new Date().setUTCHours(7, 0, 0, 0));
      if (seven.getTime() <= Date.now()) seven.setTime(seven.getTime() + DAY);
      await sql`insert into checkin_schedules (client_id, kind, local_time, timezone, active, next_run_at) values
        (${active}::uuid, 'morning', ${hhmm}, 'UTC', true, ${iso(slot)}::timestamptz),
        (${later}::uuid, 'morning', '07:00', 'UTC', true, ${iso(seven)}::timestamptz),
        (${cancelled}::uuid, 'morning', '07:00', 'UTC', false, null)`.execute(t.admin);
      const oldOutbox = createOutbox({ db: t.admin });
      for (const [clientId, at] of [[active, slot], [later, seven], [cancelled, slot]] as const) {
        await t.admin.transaction().execute((trx) => oldOutbox.publish(trx, {
          eventType: 'morning_checkin_scheduled', payload: { clientId, scheduledFor: iso(at), timezone: 'UTC', recurring: true },
          aggregateType: 'client', aggregateId: clientId, scheduledFor: at, idempotencyKey: `checkin:${clientId}:morning:${iso(at)}`,
        }));
      }

      await migrate(t.admin, [coreMigrations, piiMigrations, outboxMigrations, migrations]);

      const name = checkinScheduleName(active, 'morning');
      const stored = (await sql<any>`select name, cron, timezone, last_slot, event_type, payload, slot_field from swan_outbox_schedules
         where cron is not null and name = ${name}`.execute(t.admin)).rows;
      expect(stored).toEqual([{
        name, cron: `${slot.getUTCMinutes()} ${slot.getUTCHours()} * * *`, timezone: 'UTC', last_slot: expect.anything(), event_type: 'morning_checkin_scheduled',
        payload: { clientId: active, timezone: 'UTC', recurring: true, localTime: hhmm }, slot_field: 'scheduledFor',
      }]);
      expect(iso(stored[0].last_slot)).toBe(iso(slot));
      expect((await occurrences(t.admin, active)).map((r) => [r.idempotency_key, r.status])).toEqual([[scheduleKey(name, slot), 'pending']]);
      expect((await sql`select column_name from information_schema.columns where table_name = 'checkin_schedules' and column_name = 'next_run_at'`.execute(t.admin)).rows).toEqual([]);

      // two workers and a repair pass after the upgrade
      const fake = new FakeTwilio();
      const outbox = createOutbox({ db: t.db });
      const checkins: Checkins = createCheckins({
        db: t.db, events: outbox, schedules: createScheduleStore({ outbox }), pii, from: FROM, authToken: AUTH_TOKEN,
        twilio: createTwilioClient({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, httpClient: fake }),
      });
      for (const db of [t.db, t.connectApp(3)]) workers.push(createWorker({ db, handlers: checkins.handlers, schedules: [], pollIntervalMs: 20, flushMs: 1 }));
      await Promise.all([...workers.map((w) => w.start()), createScheduler({ db: t.connectApp(2) }).tick()]);
      const next = new Date(slot.getTime() + DAY);
      await until(async () => (await occurrences(t.admin, active)).map((r) => r.status).join() === 'completed,pending');
      await until(async () => (await sql<{ n: number }>`select count(*)::int as n from swan_outbox where status in ('pending', 'processing') and scheduled_for <= now()`.execute(t.admin)).rows[0]!.n === 0);
      await new Promise((r) => setTimeout(r, 300));
      expect(fake.sentTo('+14155552001')).toHaveLength(1);
      expect((await occurrences(t.admin, active)).map((r) => [r.idempotency_key, r.status])).toEqual([
        [scheduleKey(name, slot), 'completed'],
        [scheduleKey(name, next), 'pending'],
      ]);
      // tomorrow's queued occurrence is the schedule's: the repair pass and the workers queued no other
      const laterName = checkinScheduleName(later, 'morning');
      expect((await sql<Row>`select idempotency_key, status from swan_outbox where payload->>'clientId' = ${later}`.execute(t.admin)).rows)
        .toEqual([{ idempotency_key: scheduleKey(laterName, seven), status: 'pending' }]);
      expect((await sql`select 1 from swan_outbox_schedules where cron is not null`.execute(t.admin)).rows).toHaveLength(2);
      // the cancelled schedule's stale event is skipped and starts nothing
      expect(fake.sentTo('+14155552002')).toHaveLength(0);
      expect((await sql`select 1 from swan_outbox_schedules where name = ${checkinScheduleName(cancelled, 'morning')}`.execute(t.admin)).rows).toEqual([]);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await t.close();
    }
  }, 60_000);
});
