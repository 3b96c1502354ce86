import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestDatabase, until as waitUntil } from '@swan/test-utils';
import { backoffDelay, createOutbox, createWorker, migrations, UnavailableError, type Outbox, type OutboxEvent } from '@swan/outbox';
import { pgListen } from '@swan/outbox/pg-listen';

const until = (check: () => Promise<boolean> | boolean, ms?: number) => waitUntil(check, ms, 'condition', 10);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(testEngines())('worker behaviour on $name', (engine) => {
  let t: TestDatabase;
  let outbox: Outbox;
  beforeAll(async () => {
    t = await engine.create([migrations]);
    outbox = createOutbox({ db: t.db, eventTypes: ['sched_test', 'jitter_test', 'stop_test', 'starve_test', 'chain_test', 'steps_test', 'defer_test', 'ride_test'] });
  });
  afterAll(() => t.close());

  const statuses = async (type: string) =>
    (await sql<{ event_id: string; status: string; attempts: number; lease_owner: string | null; steps_done: number; scheduled_for: Date; last_error_at: Date | null; delay_ms: number | null }>`
      select event_id, status, attempts, lease_owner, steps_done, scheduled_for, last_error_at,
             extract(epoch from scheduled_for - last_error_at) * 1000 as delay_ms
        from swan_outbox where event_type = ${type} order by id`.execute(t.admin)).rows;

  it('does not claim an event scheduled for the future before it is due', async () => {
    const runs: { eventId: string; at: number }[] = [];
    const dueAt = Date.now() + 1500;
    const [later, now] = await t.db.transaction().execute((trx) =>
      outbox.publishMany(trx, [
        { eventType: 'sched_test', payload: { n: 1 }, scheduledFor: new Date(dueAt) },
        { eventType: 'sched_test', payload: { n: 2 } },
      ]),
    );
    const worker = createWorker({ db: t.db, handlers: { sched_test: async (e) => void runs.push({ eventId: e.eventId, at: Date.now() }) }, pollIntervalMs: 20 });
    await worker.start();
    try {
      await until(() => runs.some((r) => r.eventId === now!.eventId));
      await sleep(500); // dozens of polls while the other one is not due yet
      expect(runs.map((r) => r.eventId)).toEqual([now!.eventId]);
      expect((await statuses('sched_test')).find((r) => r.event_id === later!.eventId)).toMatchObject({ status: 'pending', lease_owner: null });
      await until(() => runs.length === 2, 10_000);
    } finally {
      await worker.stop();
    }
    expect(runs[1]!.eventId).toBe(later!.eventId);
    expect(runs[1]!.at).toBeGreaterThanOrEqual(dueAt - 50); // clock of the database vs ours: small slack
  });

  it('retries with full jitter: every delay within [0, min(cap, base·2^attempts)], spread over the range', async () => {
    const base = 1000;
    const cap = 5000;
    const perLevel = 15;
    const levels = [0, 1, 2, 3]; // bounds 1000, 2000, 4000, capped 5000 (not 8000)
    const published = await t.db.transaction().execute((trx) =>
      outbox.publishMany(trx, levels.flatMap((n) => Array.from({ length: perLevel }, () => ({ eventType: 'jitter_test', payload: { n }, maxAttempts: 10 })))),
    );
    await sql`update swan_outbox set attempts = (payload->>'n')::int where event_type = 'jitter_test'`.execute(t.admin);
    // each event fails once; an event claimed again (a delay near 0) waits until the worker stops,
    // which releases it without touching its recorded delay or attempts
    const failedOnce = new Set<string>();
    const worker = createWorker({
      db: t.db,
      handlers: {
        jitter_test: async (e, { signal }) => {
          if (failedOnce.has(e.eventId)) return void (await new Promise((r) => signal.addEventListener('abort', r)));
          failedOnce.add(e.eventId);
          throw new Error('transient');
        },
      },
      pollIntervalMs: 20,
      backoff: { baseMs: base, capMs: cap },
    });
    await worker.start();
    try {
      await until(async () => (await statuses('jitter_test')).every((r) => r.last_error_at !== null));
    } finally {
      await worker.stop({ graceful: false });
    }
    expect(failedOnce.size).toBe(published.length);
    const rows = await statuses('jitter_test');
    for (const n of levels) {
      const bound = Math.min(cap, base * 2 ** n);
      const delays = rows.filter((r) => r.attempts === n + 1).map((r) => Number(r.delay_ms));
      expect(delays).toHaveLength(perLevel);
      for (const d of delays) {
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(bound + 1);
      }
      // full jitter, not "equal jitter" or a fixed delay: some delays fall in the lower half
      expect(delays.some((d) => d < bound / 2)).toBe(true);
    }
    // the pure function, many draws including the extremes of random()
    for (const r of [0, 0.5, 0.999999]) expect(backoffDelay(12, base, 300_000, () => r)).toBeCloseTo(r * 300_000);
    for (let i = 0; i < 1000; i++) {
      const n = i % 20;
      const d = backoffDelay(n, base, 60_000);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(60_000, base * 2 ** n));
    }
  });

  it('graceful stop lets an in-flight handler finish and releases the unclaimed prefetched events', async () => {
    const published = await t.db.transaction().execute((trx) => outbox.publishMany(trx, Array.from({ length: 6 }, (_, i) => ({ eventType: 'stop_test', payload: { i } }))));
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    let startedRun!: () => void;
    const running = new Promise<void>((r) => (startedRun = r));
    const runs: string[] = [];
    let aborted = false;
    const worker = createWorker({
      db: t.db,
      handlers: {
        stop_test: async (e, { signal }) => {
          runs.push(e.eventId);
          signal.addEventListener('abort', () => (aborted = true));
          startedRun();
          await finished;
        },
      },
      concurrency: 1,
      batchSize: 10,
      pollIntervalMs: 20,
    });
    await worker.start();
    await running;
    // the whole batch is claimed: one running, five buffered
    expect((await statuses('stop_test')).every((r) => r.status === 'processing')).toBe(true);
    const stopping = worker.stop({ graceful: true, timeoutMs: 10_000 });
    await sleep(200);
    expect(runs).toHaveLength(1); // no new handler starts once stop() is called
    finish();
    await stopping;
    expect(aborted).toBe(false);
    const rows = await statuses('stop_test');
    const inFlight = rows.find((r) => r.event_id === runs[0])!;
    expect(inFlight).toMatchObject({ status: 'completed', attempts: 0 });
    const rest = rows.filter((r) => r.event_id !== runs[0]);
    expect(rest).toHaveLength(published.length - 1);
    for (const r of rest) expect(r).toMatchObject({ status: 'pending', attempts: 0, lease_owner: null });
  });

  it('ordered mode: an aggregate with a long backlog does not delay the events of other aggregates', async () => {
    const backlog = engine.name === 'postgres' ? 120 : 60;
    const busy = randomUUID();
    const others = Array.from({ length: 20 }, () => randomUUID());
    // the backlog first: its events are the oldest in the table
    await t.db.transaction().execute((trx) =>
      outbox.publishMany(trx, [
        ...Array.from({ length: backlog }, (_, i) => ({ eventType: 'starve_test', payload: { a: busy, i }, aggregateType: 'client', aggregateId: busy })),
        ...others.map((a) => ({ eventType: 'starve_test', payload: { a, i: 0 }, aggregateType: 'client', aggregateId: a })),
      ]),
    );
    const done: string[] = [];
    const worker = createWorker({
      db: t.db,
      handlers: { starve_test: async (e: OutboxEvent<{ a: string }>) => { await sleep(5); done.push(e.payload.a); } },
      ordered: true,
      concurrency: 4,
      batchSize: 10,
      pollIntervalMs: 10,
    });
    await worker.start();
    try {
      await until(() => done.length === backlog + others.length, 60_000);
    } finally {
      await worker.stop();
    }
    const lastOther = Math.max(...others.map((a) => done.indexOf(a)));
    const busyBefore = done.slice(0, lastOther + 1).filter((a) => a === busy).length;
    // the backlog runs one at a time; the others run beside it: all of them are done while the
    // backlog has barely started (a FIFO queue would finish them after the whole backlog)
    expect(busyBefore).toBeLessThan(backlog / 10);
  });

  it('ordered mode: the next event of an aggregate is claimed once the previous one is written, without waiting for a poll', async () => {
    const aggregate = randomUUID();
    const n = 8;
    await t.db.transaction().execute((trx) =>
      outbox.publishMany(trx, Array.from({ length: n }, (_, i) => ({ eventType: 'chain_test', payload: { i }, aggregateType: 'client', aggregateId: aggregate }))),
    );
    const done: number[] = [];
    // one poll a minute: only the worker's own claims after each completion can run the chain in time
    const worker = createWorker({ db: t.db, handlers: { chain_test: async (e: OutboxEvent<{ i: number }>) => void done.push(e.payload.i) }, ordered: true, pollIntervalMs: 60_000 });
    await worker.start();
    try {
      await until(() => done.length === n, 10_000);
    } finally {
      await worker.stop();
    }
    expect(done).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('a completion waiting for its flush is written by the next claim', async () => {
    const handled: string[] = [];
    const worker = createWorker({ db: t.db, handlers: { ride_test: async (e) => void handled.push(e.eventId) }, pollIntervalMs: 20, flushMs: 60_000 });
    await worker.start();
    try {
      const { eventId } = await outbox.publish(t.db, { eventType: 'ride_test', payload: { n: 1 } });
      // a poll's claim writes it, long before the flush would
      await until(async () => (await statuses('ride_test')).some((r) => r.event_id === eventId && r.status === 'completed'), 5000);
      expect(handled).toEqual([eventId]);
    } finally {
      await worker.stop();
    }
  });

  it('an event whose lease expired while its completion waited is completed by the next claim, not claimed again', async () => {
    const handled: string[] = [];
    const { eventId } = await outbox.publish(t.db, { eventType: 'ride_test', payload: { n: 2 } });
    // claimed at start with a 100 ms lease and no heartbeat; the first poll comes after it expired
    const worker = createWorker({ db: t.db, handlers: { ride_test: async (e) => void handled.push(e.eventId) }, leaseMs: 100, heartbeat: false, pollIntervalMs: 400, flushMs: 60_000 });
    await worker.start();
    try {
      await until(async () => (await statuses('ride_test')).some((r) => r.event_id === eventId && r.status === 'completed'), 5000);
    } finally {
      await worker.stop();
    }
    expect(handled).toEqual([eventId]);
    const { rows } = await sql<{ lease_expiries: number }>`select lease_expiries from swan_outbox where event_id = ${eventId}`.execute(t.admin);
    expect(rows).toEqual([{ lease_expiries: 0 }]);
  });

  it('resumes a multi-step handler after the steps that succeeded; an unavailable step burns no attempt', async () => {
    const { eventId } = await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'steps_test', payload: {} }));
    const calls: string[] = [];
    let relayFailures = 0;
    const worker = createWorker({
      db: t.db,
      handlers: {
        steps_test: [
          async () => void calls.push('local'),
          async () => {
            calls.push('relay');
            relayFailures++;
            if (relayFailures === 1) throw new Error('rejected once'); // an ordinary failure: counts
            if (relayFailures <= 3) throw new UnavailableError('broker down'); // unreachable: does not count
          },
        ],
      },
      pollIntervalMs: 20,
      backoff: { baseMs: 10, capMs: 20 },
      unavailableBackoff: { baseMs: 10, capMs: 50 },
    });
    await worker.start();
    try {
      await until(async () => (await statuses('steps_test'))[0]?.status === 'completed');
    } finally {
      await worker.stop();
    }
    expect(calls).toEqual(['local', 'relay', 'relay', 'relay', 'relay']);
    expect((await statuses('steps_test')).find((r) => r.event_id === eventId)).toMatchObject({ status: 'completed', attempts: 1, steps_done: 1 });
  });

  it('never dead-letters an event whose dependency stays unavailable', async () => {
    const { eventId } = await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'defer_test', payload: {}, maxAttempts: 1 }));
    let runs = 0;
    const worker = createWorker({
      db: t.db,
      handlers: { defer_test: async () => { runs++; throw new UnavailableError('down'); } },
      pollIntervalMs: 10,
      unavailableBackoff: { baseMs: 10, capMs: 20 },
    });
    await worker.start();
    try {
      await until(() => runs >= 5);
    } finally {
      await worker.stop();
    }
    expect((await statuses('defer_test')).find((r) => r.event_id === eventId)).toMatchObject({ status: 'pending', attempts: 0 });
  });
});

const postgres = testEngines().find((e) => e.name === 'postgres');

describe.skipIf(!postgres)('wake-up on postgres', () => {
  let t: TestDatabase;
  let outbox: Outbox;
  beforeAll(async () => {
    t = await postgres!.create([migrations]);
    outbox = createOutbox({ db: t.db, eventTypes: ['wake_test', 'poll_test'] });
  });
  afterAll(() => t?.close());

  const listeners = async (app: string) =>
    (await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database() and application_name = ${app}`.execute(t.admin)).rows.map((r) => r.pid);

  it('LISTEN/NOTIFY wakes a worker whose poll interval is 60 s, and again after its connection is killed', { timeout: 60_000 }, async () => {
    const app = `swan-listen-${randomUUID().slice(0, 8)}`;
    const seen = new Map<string, number>();
    const errors: unknown[] = [];
    const worker = createWorker({
      db: t.db,
      handlers: { wake_test: async (e) => void seen.set(e.eventId, Date.now()) },
      pollIntervalMs: 60_000,
      listen: pgListen(t.appUrl!, { applicationName: app, onError: (e) => errors.push(e), reconnect: { minMs: 100, maxMs: 1000 } }),
    });
    const publishAndWait = async () => {
      const at = Date.now();
      const { eventId } = await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'wake_test', payload: {} }));
      await until(() => seen.has(eventId), 5000);
      return seen.get(eventId)! - at;
    };
    await worker.start();
    try {
      await sleep(200); // the start-up claim is done: from here on only a notification wakes it
      expect(await publishAndWait()).toBeLessThan(500);
      const [pid] = await listeners(app);
      expect(pid).toBeGreaterThan(0);
      await sql`select pg_terminate_backend(${pid}::int)`.execute(t.admin);
      await until(async () => {
        const now = await listeners(app);
        return now.length === 1 && now[0] !== pid;
      }, 10_000);
      await sleep(200);
      expect(await publishAndWait()).toBeLessThan(500);
    } finally {
      await worker.stop();
    }
    expect(await listeners(app)).toEqual([]); // stop() closes the LISTEN session
  });

  it('without LISTEN (PgBouncer transaction pooling mode) opens no listening session and relies on polling', async () => {
    const seen = new Map<string, number>();
    const worker = createWorker({ db: t.db, handlers: { poll_test: async (e) => void seen.set(e.eventId, Date.now()) }, pollIntervalMs: 300, listen: false });
    await worker.start();
    try {
      await sleep(100);
      const { rows } = await sql<{ n: number }>`select count(*) as n from pg_stat_activity
         where datname = current_database() and query ilike 'listen%'`.execute(t.admin);
      expect(Number(rows[0]!.n)).toBe(0);
      const at = Date.now();
      const { eventId } = await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'poll_test', payload: {} }));
      await until(() => seen.has(eventId), 5000);
      // picked up by the next poll: within one interval (plus slack), never by a notification
      expect(seen.get(eventId)! - at).toBeLessThan(300 + 400);
    } finally {
      await worker.stop();
    }
  });
});
