import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestDatabase, until } from '@swan/test-utils';
import { createOutbox, createWorker, migrations, type Worker } from '@swan/outbox';

describe.each(testEngines())('poison events on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await engine.create([migrations]);
  });
  afterAll(() => t.close());

  const row = async (eventId: string) =>
    (await sql<{ status: string; attempts: number; lease_expiries: number; last_error: string | null; lease_owner: string | null }>`
      select status, attempts, lease_expiries, last_error, lease_owner from swan_outbox where event_id = ${eventId}::uuid`.execute(t.admin)).rows[0]!;

  /**
   * A worker whose handler never completes and that never renews its lease: what a killed or hung
   * process looks like to the others. Its lease expires; the next claim takes the event over.
   */
  const lostWorker = (type: string, started: (id: string) => void): Worker =>
    createWorker({
      db: t.db,
      handlers: { [type]: async (e) => { started(e.eventId); await new Promise(() => undefined); } },
      leaseMs: 150,
      heartbeat: false,
      pollIntervalMs: 30,
      maxLeaseExpiries: 3,
    });

  it('an event whose lease expired 3 times goes dead with "worker lost 3 times", no attempt counted', async () => {
    const outbox = createOutbox({ db: t.db, eventTypes: ['poison_test'] });
    const { eventId } = await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'poison_test', payload: {}, maxAttempts: 2 }));
    const starts: string[] = [];
    const deadReports: string[] = [];
    const workers: Worker[] = [];
    try {
      // one "process" after another takes the event and is lost with it
      for (let i = 0; i < 3; i++) {
        const w = lostWorker('poison_test', (id) => starts.push(id));
        workers.push(w);
        await w.start();
        await until(() => starts.length === i + 1);
        const r = await row(eventId);
        expect(r).toMatchObject({ status: 'processing', attempts: 0, lease_expiries: i });
        // the "process" dies: it stops claiming, its handler never returns, its lease runs out
        void w.stop({ graceful: true, timeoutMs: 60_000 });
      }
      // a healthy worker finds the third expired lease: the event is poison, not handed out again
      let handled = 0;
      const healthy = createWorker({
        db: t.db,
        handlers: { poison_test: async () => void handled++ },
        pollIntervalMs: 30,
        onError: (_e, c) => c.phase === 'dead' && c.eventId && deadReports.push(c.eventId),
      });
      workers.push(healthy);
      await healthy.start();
      await until(async () => (await row(eventId)).status === 'dead');
      expect(await row(eventId)).toMatchObject({ status: 'dead', attempts: 0, lease_expiries: 3, last_error: 'worker lost 3 times', lease_owner: null });
      expect(handled).toBe(0);
      expect(starts).toEqual([eventId, eventId, eventId]);
      expect(deadReports).toEqual([eventId]);
      const [dead] = await outbox.dead({ eventType: 'poison_test' });
      expect(dead).toMatchObject({ eventId, attempts: 0, lastError: 'worker lost 3 times' });
      // redrive gives it a fresh start: the healthy worker completes it
      expect(await outbox.redrive([eventId])).toEqual([eventId]);
      await until(async () => (await row(eventId)).status === 'completed');
      expect(await row(eventId)).toMatchObject({ attempts: 0, lease_expiries: 0 });
      expect(handled).toBe(1);
    } finally {
      await Promise.all(workers.slice(-1).map((w) => w.stop()));
    }
  });

  it('lost leases below the limit only count: the event is retried and completes, its attempts untouched', async () => {
    const outbox = createOutbox({ db: t.db, eventTypes: ['survivor_test'] });
    const { eventId } = await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'survivor_test', payload: {} }));
    const starts: string[] = [];
    const lost = lostWorker('survivor_test', (id) => starts.push(id));
    await lost.start();
    await until(() => starts.length === 1);
    void lost.stop({ graceful: true, timeoutMs: 60_000 });
    const healthy = createWorker({ db: t.db, handlers: { survivor_test: async () => undefined }, pollIntervalMs: 30, maxLeaseExpiries: 3 });
    await healthy.start();
    try {
      await until(async () => (await row(eventId)).status === 'completed');
    } finally {
      await healthy.stop();
    }
    expect(await row(eventId)).toMatchObject({ status: 'completed', attempts: 0, lease_expiries: 1 });
  });

  it('maxLeaseExpiries must be an integer ≥ 1', () => {
    expect(() => createWorker({ db: t.db, handlers: { x: async () => undefined }, maxLeaseExpiries: 0 })).toThrow(/maxLeaseExpiries/);
  });
});
