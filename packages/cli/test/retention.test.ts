import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, chainAuditLog, withActor } from '@swan/core';
import { swan, targets, using, type Target } from './harness.js';

const actor = { id: randomUUID(), role: 'admin' as const };

/** Row counts of every table retention touches. */
async function counts(db: Kysely<any>): Promise<Record<string, number>> {
  const { rows } = await sql<Record<string, number>>`
    select (select count(*)::int from swan_outbox where status = 'completed') as completed,
           (select count(*)::int from swan_outbox where status = 'dead') as dead,
           (select count(*)::int from swan_outbox where status = 'pending') as pending,
           (select count(*)::int from swan_outbox_archive) as archive,
           (select count(*)::int from stripe_events) as stripe_events,
           (select count(*)::int from checkin_messages) as checkin_messages,
           (select count(*)::int from checkin_responses) as checkin_responses,
           (select count(*)::int from swan_audit_log) as audit`.execute(db);
  return rows[0]!;
}

/** As the owner: `n` rows in every table, `ageHours` old. */
async function seed(owner: Kysely<any>, ageHours: number, n: number) {
  const age = sql`now() - ${ageHours} * interval '1 hour'`;
  for (let i = 0; i < n; i++) {
    const clientId = randomUUID();
    const eventId = randomUUID();
    await sql`insert into client_profile_pii (client_id, encryption_key_id, erased_at) values (${clientId}::uuid, 'k', now())`.execute(owner);
    await sql`insert into swan_outbox (event_id, event_type, payload, status, processed_at, created_at)
      values (gen_random_uuid(), 'client_erased', '{}'::jsonb, 'completed', ${age}, ${age}),
             (gen_random_uuid(), 'client_erased', '{}'::jsonb, 'pending', null, ${age})`.execute(owner);
    await sql`insert into swan_outbox (event_id, event_type, payload, status, attempts, last_error, last_error_at, created_at)
      values (gen_random_uuid(), 'client_erased', '{}'::jsonb, 'dead', 5, 'Error: boom', ${age}, ${age})`.execute(owner);
    await sql`insert into stripe_events (event_id, event_type, event_created, outcome, processed_at)
      values (${`evt_${randomUUID().replace(/-/g, '')}`}, 'invoice.paid', ${age}, 'processed', ${age})`.execute(owner);
    await sql`insert into checkin_messages (event_id, client_id, kind, scheduled_for, status, message_sid, created_at, updated_at)
      values (${eventId}::uuid, ${clientId}::uuid, 'morning', ${age}, 'sent', ${`SM${randomUUID().replace(/-/g, '')}`}, ${age}, ${age})`.execute(owner);
    await sql`insert into checkin_responses (message_sid, client_id, checkin_event_id, body, received_at)
      values (${`SM${randomUUID().replace(/-/g, '')}`}, ${clientId}::uuid, ${eventId}::uuid, 'fine', ${age})`.execute(owner);
  }
}

describe.each(targets)('swan retention run on $name', ({ create }) => {
  let target: Target;
  beforeAll(async () => {
    target = await create();
    const r = await swan(['migrate', ...target.args]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => target.dispose());

  it('with a tiny window the tables shrink to what it keeps; audit verify is valid from the checkpoint; a later deletion is still found', async () => {
    await using(target.open, async (owner) => {
      await seed(owner, 48, 4); // old
      for (let i = 0; i < 6; i++) {
        await sql`insert into swan_audit_log (occurred_at, actor_id, actor_role, action, resource)
          values (now() - interval '48 hours', ${actor.id}, 'admin', 'OLD_ENTRY', 'r')`.execute(owner);
      }
      await chainAuditLog(owner);
      await seed(owner, 0, 2); // within the window
      for (let i = 0; i < 3; i++) await withActor(owner, actor, (trx) => appendAudit(trx, { actor, action: 'NEW_ENTRY', resource: 'r' }));
      await chainAuditLog(owner);
    });
    const before = await using(target.open, counts);
    expect(before).toEqual({ completed: 6, dead: 6, pending: 6, archive: 0, stripe_events: 6, checkin_messages: 6, checkin_responses: 6, audit: 9 });

    const dry = await swan(['retention', 'run', '--dry-run', '--older-than', '1h', '--json', ...target.appArgs]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(Object.fromEntries(dry.json().map((r: any) => [r.rule, r.removed]))).toEqual({
      'outbox.completed': 4, 'outbox.archive': 0, 'outbox.dead': 4, 'billing.stripe_events': 4,
      'checkins.responses': 4, 'checkins.messages': 4, 'audit.log': 6,
    });
    expect(await using(target.open, counts)).toEqual(before);

    // the application role runs it (swan_app on PostgreSQL), in batches of 3
    const run = await swan(['retention', 'run', '--older-than', '1h', '--batch-size', '3', '--json', ...target.appArgs]);
    expect(run.code, run.stderr).toBe(0);
    const report = run.json();
    expect(report.map((r: any) => [r.rule, r.table, r.removed])).toEqual([
      ['outbox.completed', 'swan_outbox', 4],
      ['outbox.archive', 'swan_outbox_archive', 0],
      ['outbox.dead', 'swan_outbox', 4],
      ['billing.stripe_events', 'stripe_events', 4],
      ['checkins.responses', 'checkin_responses', 4],
      ['checkins.messages', 'checkin_messages', 4],
      ['audit.log', 'swan_audit_log', 6],
    ]);
    expect(report.at(-1).details.checkpoint.chainSeq).toBe(6);
    expect(await using(target.open, counts)).toEqual({ completed: 2, dead: 2, pending: 6, archive: 0, stripe_events: 2, checkin_messages: 2, checkin_responses: 2, audit: 3 });

    const verify = await swan(['audit', 'verify', ...target.appArgs]);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.json()).toMatchObject({ valid: true, entries: 3, checkpoint: { chainSeq: 6 } });

    // the text report
    const text = await swan(['retention', 'run', '--older-than', '2h', ...target.appArgs]);
    expect(text.stdout).toMatch(/^rule\s+table\s+removed\s+older than\n/);
    expect(text.stdout).toMatch(/^outbox\.completed\s+swan_outbox\s+0\s+\d{4}-/m);

    // an entry after the checkpoint removed by a superuser with triggers off: verify finds it
    await using(target.open, async (owner) => {
      const { rows } = await sql<{ id: number }>`select entry_id as id from swan_audit_chain order by chain_seq limit 1`.execute(owner);
      await owner.transaction().execute(async (trx) => {
        await sql`set local session_replication_role = replica`.execute(trx);
        await sql`delete from swan_audit_log where id = ${rows[0]!.id}`.execute(trx);
        await sql`delete from swan_audit_chain where entry_id = ${rows[0]!.id}`.execute(trx);
      });
    });
    const broken = await swan(['audit', 'verify', ...target.appArgs]);
    expect(broken.code).toBe(1);
    expect(broken.json()).toMatchObject({ valid: false });
  });

  it('refuses bad usage with exit 2', async () => {
    expect((await swan(['retention', 'run', '--older-than', 'soon', ...target.appArgs])).code).toBe(2);
    expect((await swan(['retention', 'run', '--window', 'outbox.nope=1d', ...target.appArgs])).code).toBe(2);
    expect((await swan(['retention', 'run', '--batch-size', '0', ...target.appArgs])).code).toBe(2);
  });
});
