import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestDatabase, until } from '@swan/test-utils';
import { createOutbox, createScheduler, createScheduleStore, createWorker, migrations, removeSchedule, scheduleKey, setSchedule, type OutboxEvent } from '@swan/outbox';

const HOUR = 3_600_000;

describe.each(testEngines())('recurring schedules on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await engine.create([migrations]);
  });
  afterAll(() => t.close());

  const events = async (type: string) =>
    (await sql<{ idempotency_key: string; status: string; scheduled_for: Date }>`
      select idempotency_key, status, scheduled_for from swan_outbox where event_type = ${type} order by scheduled_for`.execute(t.admin)).rows;

  it('queues the next occurrence at start, keyed by name and slot, once however many schedulers start', async () => {
    const now = new Date('2030-01-01T10:30:00Z');
    const def = { name: 'daily_report', cron: '0 3 * * *', eventType: 'report_due', timezone: 'America/Los_Angeles', payload: { kind: 'daily' } };
    const schedulers = Array.from({ length: 4 }, () => createScheduler({ db: t.connectApp(2), schedules: [def], now: () => now }));
    await Promise.all(schedulers.map((s) => s.tick()));
    const rows = await events('report_due');
    // 03:00 in Los Angeles (PST, UTC-8) on Jan 1st is 11:00Z
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'pending', idempotency_key: 'schedule:daily_report:2030-01-01T11:00:00.000Z' });
    expect(new Date(rows[0]!.scheduled_for).toISOString()).toBe('2030-01-01T11:00:00.000Z');
  });

  it('backfills the slots missed while everything was down, within the window only, once', async () => {
    const def = { name: 'hourly_sync', cron: '0 * * * *', eventType: 'sync_due', backfill: 3 * HOUR };
    let now = new Date('2030-02-01T00:10:00Z');
    await createScheduler({ db: t.db, schedules: [def], now: () => now }).tick(); // queues 01:00
    // everything down from 00:10 to 08:10: slots 01:00 (queued already) … 08:00 were missed
    now = new Date('2030-02-01T08:10:00Z');
    await Promise.all([1, 2, 3].map(() => createScheduler({ db: t.connectApp(2), schedules: [def], now: () => now }).tick()));
    const keys = (await events('sync_due')).map((r) => r.idempotency_key);
    expect(keys).toEqual([
      scheduleKey('hourly_sync', new Date('2030-02-01T01:00:00Z')), // the queued one runs late, once
      // 3 h backfill (plus the 2 min grace): 06:00, 07:00, 08:00; 02:00–05:00 are skipped
      scheduleKey('hourly_sync', new Date('2030-02-01T06:00:00Z')),
      scheduleKey('hourly_sync', new Date('2030-02-01T07:00:00Z')),
      scheduleKey('hourly_sync', new Date('2030-02-01T08:00:00Z')),
      scheduleKey('hourly_sync', new Date('2030-02-01T09:00:00Z')), // and the next one is queued
    ]);
  });

  it('a slot is never published again, even after retention removed its completed event', async () => {
    const def = { name: 'pruned_slots', cron: '0 * * * *', eventType: 'pruned_due', backfill: 24 * HOUR };
    let now = new Date('2030-03-01T00:10:00Z');
    const scheduler = createScheduler({ db: t.db, schedules: [def], now: () => now });
    await scheduler.tick();
    now = new Date('2030-03-01T01:10:00Z');
    await scheduler.tick();
    await sql`delete from swan_outbox where event_type = 'pruned_due' and scheduled_for < '2030-03-01T01:30:00Z'`.execute(t.admin);
    await scheduler.tick();
    await createScheduler({ db: t.db, schedules: [def], now: () => now }).tick();
    expect((await events('pruned_due')).map((r) => r.idempotency_key)).toEqual([scheduleKey('pruned_slots', new Date('2030-03-01T02:00:00Z'))]);
  });

  it('workers on two connections fire every slot of a per-second schedule exactly once, each occurrence queuing the next', async () => {
    const runs: OutboxEvent[] = [];
    const make = () => createWorker({
      db: t.connectApp(3),
      handlers: { tick_due: async (e) => void runs.push(e) },
      schedules: [{ name: 'every_second', cron: '* * * * * *', eventType: 'tick_due' }],
      pollIntervalMs: 50,
    });
    const workers = [make(), make()];
    await Promise.all(workers.map((w) => w.start()));
    try {
      await until(() => runs.length >= 4, 15_000);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    const slots = runs.map((e) => e.schedule!.slot.getTime());
    expect(new Set(slots).size).toBe(slots.length); // no slot twice
    expect(runs.every((e) => e.schedule?.name === 'every_second' && e.idempotencyKey === scheduleKey('every_second', e.schedule.slot))).toBe(true);
    // the next occurrence is always queued: a pending event after the last slot handled
    const pending = (await events('tick_due')).filter((r) => r.status === 'pending');
    expect(pending.length).toBeGreaterThanOrEqual(1);
    expect(Math.min(...pending.map((r) => new Date(r.scheduled_for).getTime()))).toBeGreaterThan(Math.max(...slots));
  });

  it('stored (per-client) schedules: set queues the next slot, replacing cancels it, the repair pass keeps them going, remove ends them', async () => {
    const outbox = createOutbox({ db: t.db, eventTypes: ['client_nudge'] });
    const client = '7d0f4c38-5a6c-4f3e-9d53-0c6a8f1e2b11';
    const name = `nudge:${client}`;
    const { next } = await t.db.transaction().execute((trx) =>
      setSchedule(trx, outbox, { name, cron: '0 7 * * *', timezone: 'Europe/Paris', eventType: 'client_nudge', payload: { clientId: client }, aggregateType: 'client', aggregateId: client }));
    expect(next!.getTime()).toBeGreaterThan(Date.now());
    let rows = await events('client_nudge');
    expect(rows.map((r) => r.idempotency_key)).toEqual([scheduleKey(name, next!)]);
    // a new time replaces the queued occurrence
    const replaced = await t.db.transaction().execute((trx) =>
      setSchedule(trx, outbox, { name, cron: '30 19 * * *', timezone: 'Europe/Paris', eventType: 'client_nudge', payload: { clientId: client } }));
    rows = await events('client_nudge');
    expect(rows.map((r) => r.idempotency_key)).toEqual([scheduleKey(name, replaced.next!)]);
    // its last occurrence (yesterday) was handled by a worker without a scheduler and pruned since:
    // nothing is queued; every instance's repair pass queues the next one
    await sql`delete from swan_outbox where event_type = 'client_nudge'`.execute(t.admin);
    await sql`update swan_outbox_schedules set last_slot = ${new Date(replaced.next!.getTime() - 24 * HOUR).toISOString()}::timestamptz where name = ${name}`.execute(t.admin);
    await Promise.all([createScheduler({ db: t.db }).tick(), createScheduler({ db: t.connectApp(2) }).tick()]);
    rows = await events('client_nudge');
    expect(rows.map((r) => [r.idempotency_key, r.status])).toEqual([[scheduleKey(name, replaced.next!), 'pending']]);
    expect(await t.db.transaction().execute((trx) => removeSchedule(trx, name))).toBe(true);
    expect((await events('client_nudge')).filter((r) => r.status === 'pending')).toHaveLength(0);
    expect((await sql`select 1 from swan_outbox_schedules where name = ${name}`.execute(t.admin)).rows).toHaveLength(0);
  });

  it('the ScheduleStore: the slot goes into the payload, an unchanged upsert keeps the queued event, remove after an advance leaves nothing queued', async () => {
    const outbox = createOutbox({ db: t.db, eventTypes: ['store_nudge'] });
    const store = createScheduleStore({ outbox });
    const def = { name: 'store:one', cron: '0 9 * * *', timezone: 'Asia/Tokyo', eventType: 'store_nudge', payload: { who: 'one' }, slotField: 'at' };
    const first = await t.db.transaction().execute((trx) => store.upsert(trx, def));
    let rows = await sql<{ event_id: string; payload: any }>`select event_id, payload from swan_outbox where event_type = 'store_nudge'`.execute(t.admin);
    expect(rows.rows).toEqual([{ event_id: first.eventId, payload: { who: 'one', at: first.next!.toISOString() } }]);
    // the same definition (payload keys in another order): same queued event
    expect(await t.db.transaction().execute((trx) => store.upsert(trx, { ...def, payload: { who: 'one' } }))).toEqual(first);
    // the queued slot came: a worker advanced the schedule (next slot queued), then the schedule is removed
    const later = new Date(first.next!.getTime() + 60_000);
    await createScheduler({ db: t.db, now: () => later }).advance('store:one');
    rows = await sql<{ event_id: string; payload: any }>`select event_id, payload from swan_outbox where event_type = 'store_nudge' order by scheduled_for`.execute(t.admin);
    expect(rows.rows.map((r) => r.payload.at)).toEqual([first.next!.toISOString(), new Date(first.next!.getTime() + 86_400_000).toISOString()]);
    expect(await t.db.transaction().execute((trx) => store.remove(trx, 'store:one'))).toBe(true);
    rows = await sql<{ event_id: string; payload: any }>`select event_id, payload from swan_outbox where event_type = 'store_nudge'`.execute(t.admin);
    expect(rows.rows.map((r) => r.event_id)).toEqual([first.eventId]); // the one already due (for the fake clock) stays
    expect(await t.db.transaction().execute((trx) => store.remove(trx, 'store:one'))).toBe(false);
    await expect(t.db.transaction().execute((trx) => store.upsert(trx, { ...def, slotField: 'bad-key' }))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await sql`select 1 from swan_outbox_schedules where name = 'store:one'`.execute(t.admin)).rows).toEqual([]);
  });

  it('refuses invalid definitions with VALIDATION_FAILED', () => {
    expect(() => createScheduler({ db: t.db, schedules: [{ name: 'bad', cron: '61 * * * *', eventType: 'x_due' }] })).toThrow(/invalid cron/);
    expect(() => createScheduler({ db: t.db, schedules: [{ name: 'bad', cron: '0 * * * *', eventType: 'x_due', timezone: 'Mars/Olympus' }] })).toThrow(/time zone/);
    expect(() => createScheduler({ db: t.db, schedules: [{ name: 'has space', cron: '0 * * * *', eventType: 'x_due' }] })).toThrow(/name/);
  });
});
