import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestDatabase, until } from '@swan/test-utils';
import { createOutbox, createWorker, migrations, outboxRoutes, type Outbox, type OutboxEvent } from '@swan/outbox';
import type { SwanRequest } from '@swan/core';

const clientId = () => randomUUID();
const checkin = (id = clientId()) => ({
  eventType: 'morning_checkin_scheduled' as const,
  payload: { clientId: id, scheduledFor: '2025-11-05T07:00:00Z', timezone: 'America/Los_Angeles' },
});

async function statusOf(t: TestDatabase, eventId: string) {
  const { rows } = await sql<{ status: string; attempts: number; last_error: string | null }>`
    select status, attempts, last_error from swan_outbox where event_id = ${eventId}::uuid`.execute(t.admin);
  return rows[0];
}

describe.each(testEngines())('outbox on $name', (engine) => {
  let t: TestDatabase;
  let outbox: Outbox;
  beforeAll(async () => {
    t = await engine.create([migrations]);
    outbox = createOutbox({ db: t.db });
  });
  afterAll(() => t.close());

  it('writes nothing when the business transaction rolls back, exactly one event when it commits', async () => {
    const id = clientId();
    await expect(
      t.db.transaction().execute(async (trx) => {
        await outbox.publish(trx, checkin(id));
        throw new Error('business failure');
      }),
    ).rejects.toThrow('business failure');
    const count = async () => Number((await sql<{ n: number }>`select count(*) as n from swan_outbox where payload->>'clientId' = ${id}`.execute(t.admin)).rows[0]?.n);
    expect(await count()).toBe(0);
    const { eventId, duplicate } = await t.db.transaction().execute((trx) => outbox.publish(trx, checkin(id)));
    expect(duplicate).toBe(false);
    expect(await count()).toBe(1);
    expect(await statusOf(t, eventId)).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('returns the first event for a repeated idempotency key, also within one publishMany', async () => {
    const key = `k-${randomUUID()}`;
    const first = await t.db.transaction().execute((trx) => outbox.publish(trx, { ...checkin(), idempotencyKey: key }));
    const again = await t.db.transaction().execute((trx) => outbox.publish(trx, { ...checkin(), idempotencyKey: key }));
    expect(again).toEqual({ eventId: first.eventId, duplicate: true });
    const key2 = `k-${randomUUID()}`;
    const many = await t.db.transaction().execute((trx) =>
      outbox.publishMany(trx, [{ ...checkin(), idempotencyKey: key2 }, checkin(), { ...checkin(), idempotencyKey: key2 }]),
    );
    expect(many[0]!.duplicate).toBe(false);
    expect(many[2]).toEqual({ eventId: many[0]!.eventId, duplicate: true });
    expect(new Set(many.map((m) => m.eventId)).size).toBe(2);
    const { rows } = await sql<{ n: number }>`select count(*) as n from swan_outbox where idempotency_key in (${key}, ${key2})`.execute(t.admin);
    expect(Number(rows[0]!.n)).toBe(2);
  });

  it('rejects unknown types, bad payloads and PII fields without writing', async () => {
    const before = (await outbox.stats()).byStatus.pending;
    const bad = [
      { eventType: 'no_such_event', payload: {} },
      { eventType: 'morning_checkin_scheduled', payload: { clientId: 'nope', scheduledFor: 'x', timezone: 'Mars/Base' } },
      { eventType: 'client_erased', payload: { clientId: clientId(), email: 'a@b.c' } },
      { eventType: 'client_erased', payload: [] },
    ];
    for (const e of bad) {
      await expect(t.db.transaction().execute((trx) => outbox.publish(trx, e as never))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect((await outbox.stats()).byStatus.pending).toBe(before);
    outbox.register('invoice_sent');
    await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'invoice_sent', payload: { invoiceId: 'in_1' } }));
  });

  it('the database refuses an event type of the wrong format, inserted or updated past the library', async () => {
    const refused = /swan_outbox_event_type_format/;
    const insert = (eventType: string) => sql<{ id: number }>`
      insert into swan_outbox (event_id, event_type, payload) values (${randomUUID()}::uuid, ${eventType}, '{}'::jsonb) returning id`.execute(t.db);
    await expect(insert('Bad Type')).rejects.toThrow(refused);
    await expect(insert('x'.repeat(101))).rejects.toThrow(refused);
    const { rows: [row] } = await insert('format_check');
    try {
      await expect(sql`update swan_outbox set event_type = 'no spaces' where id = ${row!.id}`.execute(t.db)).rejects.toThrow(refused);
      await sql`update swan_outbox set status = 'dead' where id = ${row!.id}`.execute(t.db);
    } finally {
      await sql`delete from swan_outbox where id = ${row!.id}`.execute(t.db);
    }
  });

  it('runs handlers, dead-letters a poison event after max attempts while others flow, and redrives it', async () => {
    const seen: string[] = [];
    let poisonRuns = 0;
    let cure = false;
    const worker = createWorker({
      db: t.db,
      handlers: {
        client_erased: async (e: OutboxEvent<{ clientId: string; poison?: boolean }>) => {
          if (e.payload.poison && !cure) {
            poisonRuns++;
            throw new Error('poison');
          }
          seen.push(e.eventId);
        },
      },
      pollIntervalMs: 20,
      backoff: { baseMs: 5, capMs: 20 },
    });
    const published = await t.db.transaction().execute((trx) =>
      outbox.publishMany(trx, [
        { eventType: 'client_erased', payload: { clientId: clientId(), poison: true }, maxAttempts: 3 },
        ...Array.from({ length: 20 }, () => ({ eventType: 'client_erased', payload: { clientId: clientId() } })),
      ]),
    );
    const poison = published[0]!.eventId;
    await worker.start();
    try {
      await until(async () => (await statusOf(t, poison))?.status === 'dead' && seen.length === 20);
      expect(poisonRuns).toBe(3);
      expect(await statusOf(t, poison)).toMatchObject({ status: 'dead', attempts: 3, last_error: 'Error: poison' });
      const dead = await outbox.dead();
      expect(dead.map((d) => d.eventId)).toContain(poison);
      const stats = await outbox.stats();
      expect(stats.dead).toBeGreaterThanOrEqual(1);
      expect(stats.byType.client_erased?.completed).toBe(20);

      // redrive through the admin route; unknown ids and live events are 404
      const redrive = outboxRoutes(outbox).find((r) => r.path.endsWith('/redrive'))!;
      const req = (eventId: string) => ({ params: { eventId }, query: {}, headers: {}, body: undefined }) as unknown as SwanRequest;
      await expect(redrive.handler(req(randomUUID()))).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(redrive.handler(req(published[1]!.eventId))).rejects.toMatchObject({ code: 'NOT_FOUND' });
      cure = true;
      expect((await redrive.handler(req(poison))).status).toBe(200);
      await until(async () => (await statusOf(t, poison))?.status === 'completed');
      expect(seen).toContain(poison);
    } finally {
      await worker.stop();
    }
  });

  it('keeps per-aggregate order with 8 concurrent workers without starving other aggregates', async () => {
    // PGlite serializes every statement through one session: a smaller run keeps it quick
    const perAggregate = engine.name === 'postgres' ? 25 : 10;
    const aggregates = Array.from({ length: 6 }, () => randomUUID());
    const events = aggregates.flatMap((a) =>
      Array.from({ length: perAggregate }, (_, i) => ({ eventType: 'checkin_send_requested', payload: { clientId: a, checkinId: String(i) }, aggregateType: 'client', aggregateId: a })),
    );
    // interleave aggregates
    events.sort((x, y) => Number(x.payload.checkinId) - Number(y.payload.checkinId));
    await t.db.transaction().execute((trx) => outbox.publishMany(trx, events));
    const order = new Map<string, number[]>();
    const active = new Set<string>();
    let overlaps = 0;
    const handler = async (e: OutboxEvent<{ clientId: string; checkinId: string }>) => {
      if (active.has(e.payload.clientId)) overlaps++;
      active.add(e.payload.clientId);
      await new Promise((r) => setTimeout(r, Math.random() * 4));
      if (Math.random() < 0.1 && e.attempts === 0) {
        active.delete(e.payload.clientId);
        throw new Error('transient');
      }
      (order.get(e.payload.clientId) ?? order.set(e.payload.clientId, []).get(e.payload.clientId)!).push(Number(e.payload.checkinId));
      active.delete(e.payload.clientId);
    };
    const workers = Array.from({ length: 8 }, () =>
      createWorker({ db: engine.name === 'postgres' ? t.connectApp(3) : t.db, handlers: { checkin_send_requested: handler }, ordered: true, concurrency: 4, batchSize: 10, pollIntervalMs: engine.name === 'postgres' ? 10 : 50, backoff: { baseMs: 5, capMs: 10 } }),
    );
    await Promise.all(workers.map((w) => w.start()));
    try {
      await until(async () => [...order.values()].reduce((n, l) => n + l.length, 0) === events.length, 60_000);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    expect(overlaps).toBe(0);
    for (const a of aggregates) expect(order.get(a)).toEqual(Array.from({ length: perAggregate }, (_, i) => i));
  });

  it('extends the lease of a long handler so no other worker takes the event', async () => {
    const { eventId } = await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'ai_query_submitted', payload: { clientId: clientId() } }));
    const runs: string[] = [];
    const handler = async (_e: OutboxEvent, { workerId }: { workerId: string }) => {
      runs.push(workerId);
      await new Promise((r) => setTimeout(r, 1200));
    };
    const workers = [0, 1].map(() => createWorker({ db: t.db, handlers: { ai_query_submitted: handler }, leaseMs: 300, pollIntervalMs: 20 }));
    await Promise.all(workers.map((w) => w.start()));
    try {
      await until(async () => (await statusOf(t, eventId))?.status === 'completed');
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    expect(runs).toHaveLength(1);
  });

  it('releases buffered events on stop without counting an attempt', async () => {
    const { eventId } = await t.db.transaction().execute((trx) => outbox.publish(trx, { eventType: 'consent_revoked', payload: { clientId: clientId(), consentType: 'ai_processing' } }));
    let release!: () => void;
    const started = new Promise<void>((r) => (release = r));
    const worker = createWorker({ db: t.db, handlers: { consent_revoked: async (_e, { signal }) => { release(); await new Promise((r) => signal.addEventListener('abort', r)); } }, pollIntervalMs: 10 });
    await worker.start();
    await started;
    expect(await statusOf(t, eventId)).toMatchObject({ status: 'processing' });
    await worker.stop({ graceful: false });
    expect(await statusOf(t, eventId)).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('prunes completed events in batches, optionally into the archive', async () => {
    const { rows: [before] } = await sql<{ n: number }>`select count(*) as n from swan_outbox where status = 'completed'`.execute(t.admin);
    expect(Number(before!.n)).toBeGreaterThan(0);
    expect(await outbox.prune({ olderThan: new Date(Date.now() - 3_600_000) })).toBe(0);
    const archived = await outbox.prune({ olderThan: -1000, batchSize: 7, archive: true });
    expect(archived).toBe(Number(before!.n));
    const { rows: [after] } = await sql<{ n: number; a: number }>`select (select count(*) from swan_outbox where status = 'completed') as n,
      (select count(*) from swan_outbox_archive) as a`.execute(t.admin);
    expect(Number(after!.n)).toBe(0);
    expect(Number(after!.a)).toBe(archived);
  });
});
