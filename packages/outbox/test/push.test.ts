// Push: a publish of one due event leases it to a registered worker and sends it on that worker's
// channel. Needs LISTEN, so PostgreSQL only; on PGlite every other test runs the same publish
// statement with no worker registered (events are inserted pending).
import { randomUUID } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestDatabase, until as waitUntil } from '@swan/test-utils';
import { createOutbox, createWorker, migrations, type ListenSource, type Outbox, type OutboxEventInput, type Worker, type WorkerOptions } from '@swan/outbox';
import { pgListen } from '@swan/outbox/pg-listen';
import { adopt, claim } from '../src/sql.js';

const postgres = testEngines().find((e) => e.name === 'postgres');
const until = (check: () => Promise<boolean> | boolean, ms = 5000) => waitUntil(check, ms, 'condition', 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!postgres)('push on postgres', () => {
  let t: TestDatabase;
  let outbox: Outbox;
  const types = ['push_a', 'push_b', 'push_other', 'push_ghost'];
  beforeAll(async () => {
    t = await postgres!.create([migrations]);
    outbox = createOutbox({ db: t.db, eventTypes: types });
  });
  afterAll(() => t?.close());

  const row = async (eventId: string) =>
    (await sql<{ status: string; lease_owner: string | null; attempts: number; lease_expiries: number }>`
      select status, lease_owner, attempts, lease_expiries from swan_outbox where event_id = ${eventId}::uuid`.execute(t.admin)).rows[0]!;
  const listenerRows = async () =>
    (await sql<{ worker_id: string; channel: string; event_types: string[] | null; accepting: boolean }>`
      select worker_id, channel, event_types, accepting from swan_outbox_listeners where expires_at > now() order by worker_id`.execute(t.admin)).rows;
  const publish = (eventType: string, payload: Record<string, unknown> = {}) =>
    t.db.transaction().execute((trx) => outbox.publish(trx, { eventType, payload }));
  /** Publishes and returns how the event was inserted, read in the publishing transaction: pending, or leased to a worker. */
  const inserted = (events: OutboxEventInput[], level?: 'serializable' | 'repeatable read') => {
    const trx = level ? t.db.transaction().setIsolationLevel(level) : t.db.transaction();
    return trx.execute(async (trx) => {
      const published = await outbox.publishMany(trx, events);
      return Promise.all(published.map(async ({ eventId }) => ({
        eventId,
        ...(await sql<{ status: string; lease_owner: string | null }>`select status, lease_owner from swan_outbox where event_id = ${eventId}::uuid`.execute(trx)).rows[0]!,
      })));
    });
  };

  /** A worker whose LISTEN source counts plain wake-ups (after its connect-time one). */
  async function startWorker(options: Partial<WorkerOptions> & { handlers: WorkerOptions['handlers'] }) {
    const counts = { wakeUps: 0 };
    const source = pgListen(t.appUrl!, { applicationName: `swan-push-${randomUUID().slice(0, 8)}` });
    const listen: ListenSource = (onNotify, push) => source(() => { counts.wakeUps++; onNotify(); }, push);
    const worker = createWorker({ db: t.db, pollIntervalMs: 60_000, listen, ...options });
    await worker.start();
    await sleep(100); // its start-up claim is done
    counts.wakeUps = 0;
    return { worker, counts };
  }

  it('a published event is leased at insert to one registered worker, which runs it without a claim; no other worker is woken', async () => {
    const ran = new Map<string, string>();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handlers = { push_a: async (e: { eventId: string }, ctx: { workerId: string }) => { ran.set(e.eventId, ctx.workerId); await gate; } };
    const a = await startWorker({ handlers, concurrency: 20 });
    const b = await startWorker({ handlers, concurrency: 20 });
    try {
      expect((await listenerRows()).map((l) => l.worker_id).sort()).toEqual([a.worker.workerId, b.worker.workerId].sort());
      const owners = new Set<string>();
      for (let i = 0; i < 20; i++) {
        // leased in the publishing transaction itself: nobody claimed it
        const [r] = await inserted([{ eventType: 'push_a', payload: { i } }]);
        const eventId = r!.eventId;
        expect(r!.status).toBe('processing');
        expect([a.worker.workerId, b.worker.workerId]).toContain(r!.lease_owner);
        await until(() => ran.has(eventId));
        expect(ran.get(eventId)).toBe(r!.lease_owner);
        owners.add(r!.lease_owner!);
      }
      expect(owners.size).toBe(2); // spread over the workers (at random: 2 × 0.5^20 to fail)
      expect(a.counts.wakeUps + b.counts.wakeUps).toBe(0);
      release();
      await Promise.all([a.worker.idle(), b.worker.idle()]);
      const { rows } = await sql<{ status: string; n: number }>`select status, count(*)::int as n from swan_outbox where event_type = 'push_a' group by status`.execute(t.admin);
      expect(rows).toEqual([{ status: 'completed', n: 20 }]);
    } finally {
      release();
      await a.worker.stop();
      await b.worker.stop();
    }
    expect(await listenerRows()).toEqual([]); // stop() unregisters
  });

  it('inserts the event pending, and wakes workers to claim it, when it cannot be pushed', async () => {
    const ran = new Set<string>();
    const { worker, counts } = await startWorker({ handlers: { push_b: async (e) => void ran.add(e.eventId) } });
    try {
      const pending: string[] = [];
      const expectPending = async (events: OutboxEventInput[], level?: 'serializable' | 'repeatable read') => {
        for (const r of await inserted(events, level)) {
          expect(r).toMatchObject({ status: 'pending', lease_owner: null });
          pending.push(r.eventId);
        }
      };
      // a type no registered worker handles
      const [other] = await inserted([{ eventType: 'push_other', payload: {} }]);
      expect(other!.status).toBe('pending');
      // larger than a notification can carry
      await expectPending([{ eventType: 'push_b', payload: { text: 'x'.repeat(7_900) } }]);
      // numbers PostgreSQL prints longer than JSON.stringify does: only the server's text counts
      await expectPending([{ eventType: 'push_b', payload: { n: Array.from({ length: 500 }, () => 1e300) } }]);
      // several events in one statement
      await expectPending([{ eventType: 'push_b', payload: {} }, { eventType: 'push_b', payload: {} }]);
      // a SERIALIZABLE or REPEATABLE READ transaction does not read the listeners
      await expectPending([{ eventType: 'push_b', payload: {} }], 'serializable');
      await expectPending([{ eventType: 'push_b', payload: {} }], 'repeatable read');
      // not due yet
      const [later] = await inserted([{ eventType: 'push_b', payload: {}, scheduledFor: new Date(Date.now() + 3_600_000) }]);
      expect(later!.status).toBe('pending');
      expect(counts.wakeUps).toBeGreaterThan(0);
      await until(() => pending.every((id) => ran.has(id)));
    } finally {
      await worker.stop();
    }
  });

  it('pushes an event only to a live worker that accepts it', async () => {
    const ran = new Set<string>();
    const { worker } = await startWorker({ handlers: { push_b: async (e) => void ran.add(e.eventId) } });
    // changes the worker's registration and publishes in one transaction (its refresh waits for the commit)
    const publishAfter = (change: RawBuilder<unknown>) =>
      t.db.transaction().execute(async (trx) => {
        await change.execute(trx);
        const { eventId } = await outbox.publish(trx, { eventType: 'push_b', payload: {} });
        return { eventId, ...(await sql<{ status: string }>`select status from swan_outbox where event_id = ${eventId}::uuid`.execute(trx)).rows[0]! };
      });
    try {
      const full = await publishAfter(sql`update swan_outbox_listeners set accepting = false where worker_id = ${worker.workerId}`);
      expect(full.status).toBe('pending');
      const expired = await publishAfter(sql`update swan_outbox_listeners set accepting = true, expires_at = now() - interval '1 second' where worker_id = ${worker.workerId}`);
      expect(expired.status).toBe('pending');
      // the worker's refresh registers it again
      await until(async () => (await listenerRows()).some((l) => l.worker_id === worker.workerId && l.accepting), 5000);
      const pushed = await publishAfter(sql`select 1`);
      expect(pushed.status).toBe('processing');
      await until(() => [full, expired, pushed].every((p) => ran.has(p.eventId)));
    } finally {
      await worker.stop();
    }
  });

  it('ordered workers, workers told `push: false` and workers without LISTEN do not register', async () => {
    const handlers = { push_b: async () => undefined };
    const workers: Worker[] = [
      (await startWorker({ handlers, ordered: true })).worker,
      (await startWorker({ handlers, push: false })).worker,
      createWorker({ db: t.db, handlers, listen: false }),
    ];
    await workers[2]!.start();
    try {
      expect(await listenerRows()).toEqual([]);
    } finally {
      for (const w of workers) await w.stop();
    }
  });

  it('a worker that died holding a pushed event: another worker claims it when its lease expires, counting a lease expiry', async () => {
    // a registered worker that never listens: as if it had been killed
    await sql`insert into swan_outbox_listeners (worker_id, channel, event_types, lease_ms, expires_at)
              values ('ghost', 'swan_outbox.00000000deadbeef', array['push_ghost'], 1000, now() + interval '1 minute')`.execute(t.admin);
    const ran: string[] = [];
    const survivor = createWorker({ db: t.db, handlers: { push_ghost: async (e) => void ran.push(e.eventId) }, pollIntervalMs: 100, listen: false });
    try {
      const { eventId } = await publish('push_ghost');
      expect(await row(eventId)).toMatchObject({ status: 'processing', lease_owner: 'ghost' });
      await survivor.start();
      await sleep(150);
      expect(ran).toEqual([]); // still leased
      await until(() => ran.includes(eventId));
      await survivor.idle();
      expect(await row(eventId)).toMatchObject({ status: 'completed', attempts: 0, lease_expiries: 1 });
      expect(ran).toEqual([eventId]);
    } finally {
      await survivor.stop();
      await sql`delete from swan_outbox_listeners where worker_id = 'ghost'`.execute(t.admin);
    }
  });

  it('takes over events pushed while its LISTEN connection was down, and runs each once', { timeout: 30_000 }, async () => {
    const runs: string[] = [];
    const app = `swan-push-${randomUUID().slice(0, 8)}`;
    const worker = createWorker({
      db: t.db,
      handlers: { push_a: async (e) => void runs.push(e.eventId) },
      pollIntervalMs: 60_000,
      listen: pgListen(t.appUrl!, { applicationName: app, reconnect: { minMs: 500, maxMs: 500 } }),
    });
    await worker.start();
    try {
      const pid = async () => (await sql<{ pid: number }>`select pid from pg_stat_activity where application_name = ${app}`.execute(t.admin)).rows[0]?.pid;
      const before = await pid();
      // The LISTEN session dies; publishers push to the worker before it can unregister (the
      // row lock holds its delete until they commit), and their notifications go nowhere.
      const missed = await t.admin.transaction().execute(async (trx) => {
        await sql`select 1 from swan_outbox_listeners where worker_id = ${worker.workerId} for update`.execute(trx);
        await sql`select pg_terminate_backend(${before}::int)`.execute(trx);
        return [await outbox.publish(trx, { eventType: 'push_a', payload: {} }), await outbox.publish(trx, { eventType: 'push_a', payload: {} })];
      });
      for (const m of missed) expect((await row(m.eventId)).lease_owner).toBe(worker.workerId);
      await until(async () => ((await pid()) ?? before) !== before, 10_000);
      await until(() => missed.every((m) => runs.includes(m.eventId)), 10_000);
      // and events pushed after the reconnection arrive as notifications
      const after = await publish('push_a');
      await until(() => runs.includes(after.eventId));
      await worker.idle();
      await sleep(300);
      expect([...runs].sort()).toEqual([...missed.map((m) => m.eventId), after.eventId].sort());
      for (const id of runs) expect(await row(id)).toMatchObject({ status: 'completed', lease_expiries: 0 });
    } finally {
      await worker.stop();
    }
  });

  it('at reconnection a worker takes over only events as they were pushed: none it claimed (a claim may be on its way back), none it holds', async () => {
    await sql`insert into swan_outbox_listeners (worker_id, channel, event_types, lease_ms, expires_at)
              values ('adopter', 'swan_outbox.00000000000000aa', array['push_ghost'], 60000, now() + interval '1 minute')`.execute(t.admin);
    try {
      const [held] = await inserted([{ eventType: 'push_ghost', payload: {} }]);
      const [missed] = await inserted([{ eventType: 'push_ghost', payload: {} }]);
      expect([held!.lease_owner, missed!.lease_owner]).toEqual(['adopter', 'adopter']);
      await t.db.transaction().execute((trx) => outbox.publishMany(trx, [{ eventType: 'push_ghost', payload: {} }, { eventType: 'push_ghost', payload: {} }]));
      const claimed = await claim(t.db, { owner: 'adopter', leaseMs: 60_000, limit: 10, eventTypes: ['push_ghost'], ordered: false });
      expect(claimed.events).toHaveLength(2);
      const heldId = (await sql<{ id: string }>`select id from swan_outbox where event_id = ${held!.eventId}::uuid`.execute(t.admin)).rows[0]!.id;
      const adopted = await adopt(t.db, 'adopter', [heldId], 60_000);
      expect(adopted.map((e) => e.eventId)).toEqual([missed!.eventId]);
    } finally {
      await sql`delete from swan_outbox_listeners where worker_id = 'adopter'`.execute(t.admin);
      await sql`update swan_outbox set status = 'completed', lease_owner = null, locked_until = null where lease_owner = 'adopter'`.execute(t.admin);
    }
  });

  it('stop() gives back pushed events it did not run, without counting an attempt', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { worker } = await startWorker({ handlers: { push_b: () => gate }, concurrency: 1 });
    const first = await publish('push_b');
    const second = await publish('push_b'); // buffered behind the first
    await until(async () => (await row(second.eventId)).lease_owner === worker.workerId);
    const stopping = worker.stop({ graceful: true, timeoutMs: 5000 });
    await sleep(100);
    // a publisher that read the registration before the worker removed it
    await sql`update swan_outbox set status = 'processing', lease_owner = ${worker.workerId}, locked_until = now() + interval '1 minute'
               where event_id = ${(await publish('push_other')).eventId}::uuid`.execute(t.admin);
    release();
    await stopping;
    expect((await row(first.eventId)).status).toBe('completed');
    expect(await row(second.eventId)).toMatchObject({ status: 'pending', lease_owner: null, attempts: 0 });
    const { rows } = await sql`select 1 from swan_outbox where lease_owner = ${worker.workerId}`.execute(t.admin);
    expect(rows).toEqual([]);
  });
});
