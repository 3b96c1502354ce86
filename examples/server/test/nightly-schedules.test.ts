/**
 * The example server's nightly schedules do their work when their slot comes: `retention` runs
 * every table's retention rule, `audit_chain_verify` raises an alert for a broken chain, and each
 * occurrence queues the next one. The slot's arrival is simulated by moving the queued occurrence
 * to the previous day's slot (due now), as if the clock had moved on.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, withActor } from '@swan/core';
import { scheduleKey } from '@swan/outbox';
import { alertReceiver, eventually } from './fakes.js';
import { bootServer, type TestServer } from './helpers.js';

const DAY = 86_400_000;

describe('nightly schedules of the example server', () => {
  let server: TestServer;
  let hook: Awaited<ReturnType<typeof alertReceiver>>;
  beforeAll(async () => {
    hook = await alertReceiver();
    server = await bootServer({ ALERT_WEBHOOK_URL: `${hook.url}/alerts` }, [], []);
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
    await hook?.close();
  });

  const occurrences = async (name: string) => (await sql<{ key: string; status: string }>`
    select idempotency_key as key, status from swan_outbox where idempotency_key like ${`schedule:${name}:%`} order by scheduled_for`.execute(server.ctx.db)).rows;

  /** The queued occurrence of `name` becomes the previous day's slot, due now; returns both slots. */
  async function arrive(name: string): Promise<{ due: Date; next: Date }> {
    const [queued] = (await sql<{ id: string; scheduled_for: Date }>`select id, scheduled_for from swan_outbox
      where idempotency_key like ${`schedule:${name}:%`} and status = 'pending'`.execute(server.ctx.db)).rows;
    const next = new Date(queued!.scheduled_for);
    const due = new Date(next.getTime() - DAY);
    await sql`update swan_outbox set scheduled_for = ${due.toISOString()}::timestamptz, idempotency_key = ${scheduleKey(name, due)} where id = ${queued!.id}`.execute(server.ctx.db);
    await sql`update swan_outbox_schedules set last_slot = ${due.toISOString()}::timestamptz where name = ${name}`.execute(server.ctx.db);
    return { due, next };
  }

  it('retention at its slot: old completed events are removed, recent ones kept, the next night queued', async () => {
    const old = randomUUID();
    const recent = randomUUID();
    await sql`insert into swan_outbox (event_id, event_type, payload, status, processed_at, created_at) values
      (${old}::uuid, 'client_erased', '{}'::jsonb, 'completed', now() - interval '30 days', now() - interval '30 days'),
      (${recent}::uuid, 'client_erased', '{}'::jsonb, 'completed', now() - interval '1 day', now() - interval '1 day')`.execute(server.ctx.db);
    const { due, next } = await arrive('retention');
    const done = await eventually(async () => (await occurrences('retention')).map((r) => [r.key, r.status]).join() === [
      [scheduleKey('retention', due), 'completed'], [scheduleKey('retention', next), 'pending']].join(), 15_000);
    expect(await occurrences('retention')).toEqual([
      { key: scheduleKey('retention', due), status: 'completed' },
      { key: scheduleKey('retention', next), status: 'pending' },
    ]);
    expect(done).toBe(true);
    const left = (await sql<{ event_id: string }>`select event_id from swan_outbox where event_id in (${old}::uuid, ${recent}::uuid)`.execute(server.ctx.db)).rows;
    expect(left.map((r) => r.event_id)).toEqual([recent]);
    const line = server.logger.entries.find((e) => e.msg === 'retention run') as { removed: Record<string, number> } | undefined;
    expect(line?.removed['outbox.completed']).toBeGreaterThanOrEqual(1);
  });

  it('audit chain verification at its slot: a broken chain raises an alert', async () => {
    const actor = { id: randomUUID(), role: 'admin' as const };
    for (let i = 0; i < 3; i++) await withActor(server.ctx.db, actor, (trx) => appendAudit(trx, { actor, action: 'NIGHTLY_TEST', resource: 'r' }));
    expect(await eventually(async () => (await sql<{ n: number }>`select count(*)::int as n from swan_audit_chain`.execute(server.ctx.db)).rows[0]!.n >= 3, 15_000)).toBe(true);
    // an entry removed behind the log's back (a superuser with triggers off)
    await server.ctx.db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ id: number }>`select entry_id as id from swan_audit_chain order by chain_seq limit 1`.execute(trx);
      await sql`set local session_replication_role = replica`.execute(trx);
      await sql`delete from swan_audit_log where id = ${rows[0]!.id}`.execute(trx);
      await sql`delete from swan_audit_chain where entry_id = ${rows[0]!.id}`.execute(trx);
    });
    const { due, next } = await arrive('audit_chain_verify');
    const alert = await eventually(() => hook.alerts.find((a) => a.kind === 'audit_chain_broken'), 15_000);
    expect(alert).toMatchObject({ kind: 'audit_chain_broken', service: 'swan-example-server' });
    await eventually(async () => (await occurrences('audit_chain_verify')).some((r) => r.status === 'completed'), 10_000);
    expect(await occurrences('audit_chain_verify')).toEqual([
      { key: scheduleKey('audit_chain_verify', due), status: 'completed' },
      { key: scheduleKey('audit_chain_verify', next), status: 'pending' },
    ]);
  });
});
