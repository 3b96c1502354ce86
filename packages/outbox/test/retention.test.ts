import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { appendAudit, chainAuditLog, verifyAuditChain, withActor } from '@swan/core';
import { auditRetentionRule, createOutbox, migrations, outboxRetentionRules, parseDuration, runRetention, type Outbox } from '@swan/outbox';

const DAY = 86_400_000;

describe.each(testEngines())('retention on $name', (engine) => {
  let t: TestDatabase;
  let outbox: Outbox;
  beforeAll(async () => {
    t = await engine.create([migrations]);
    outbox = createOutbox({ db: t.db, eventTypes: ['kept_test'] });
  });
  afterAll(() => t.close());

  /** Events in each state, `ageDays` old. */
  async function seed(ageDays: number, n: number) {
    await t.db.transaction().execute((trx) => outbox.publishMany(trx, Array.from({ length: n * 4 }, (_, i) => ({ eventType: 'kept_test', payload: { ageDays, i } }))));
    await sql`
      with aged as (select id, row_number() over (order by id) % 4 as k from swan_outbox where (payload->>'ageDays')::int = ${ageDays} and status = 'pending')
      update swan_outbox o set
        status = case a.k when 0 then 'completed' when 1 then 'dead' when 2 then 'pending' else 'completed' end,
        processed_at = case when a.k in (0, 3) then now() - ${ageDays} * interval '1 day' end,
        last_error_at = case when a.k = 1 then now() - ${ageDays} * interval '1 day' end,
        last_error = case when a.k = 1 then 'boom' end,
        created_at = now() - ${ageDays} * interval '1 day'
      from aged a where o.id = a.id`.execute(t.admin);
  }

  const byStatus = async () => (await outbox.stats()).byStatus;

  it('removes completed events and dead letters past their windows, in batches, keeping the rest; dry run removes nothing', async () => {
    await seed(100, 5); // 10 completed, 5 dead, 5 pending, 100 days old
    await seed(10, 5); // 10 completed, 5 dead, 5 pending, 10 days old
    await seed(1, 5);
    expect(await byStatus()).toMatchObject({ completed: 30, dead: 15, pending: 15 });

    const dry = await runRetention(t.db, outboxRetentionRules(), { dryRun: true, batchSize: 3 });
    expect(dry.map((r) => [r.rule, r.removed])).toEqual([['outbox.completed', 20], ['outbox.archive', 0], ['outbox.dead', 5]]);
    expect(await byStatus()).toMatchObject({ completed: 30, dead: 15, pending: 15 });

    // defaults: completed 7 days, archive 90 days (by completion), dead 30 days; archive the completed ones
    const report = await runRetention(t.db, outboxRetentionRules({ archive: true }), { batchSize: 3 });
    expect(report.map((r) => [r.rule, r.table, r.removed])).toEqual([
      ['outbox.completed', 'swan_outbox', 20],
      ['outbox.archive', 'swan_outbox_archive', 10], // the 100-day-old ones it just received
      ['outbox.dead', 'swan_outbox', 5],
    ]);
    expect(report[0]!.windowMs).toBe(7 * DAY);
    expect(await byStatus()).toMatchObject({ completed: 10, dead: 10, pending: 15 });
    const { rows: [archived] } = await sql<{ n: number }>`select count(*)::int as n from swan_outbox_archive`.execute(t.admin);
    expect(archived!.n).toBe(10);

    // overrides per rule, and one window for everything (the CLI's --older-than)
    const archive = await runRetention(t.db, outboxRetentionRules(), { windows: { 'outbox.archive': 5 * DAY, 'outbox.completed': null, 'outbox.dead': null } });
    expect(archive.map((r) => [r.removed, r.cutoff === null])).toEqual([[0, true], [10, false], [0, true]]); // the 10-day-old archived rows
    const all = await runRetention(t.db, outboxRetentionRules(), { olderThanMs: 0 });
    expect(all.map((r) => r.removed)).toEqual([10, 0, 10]);
    // pending events are never touched
    expect(await byStatus()).toEqual({ completed: 0, dead: 0, pending: 15, processing: 0 });
  });

  it('audit.log prunes through the checkpoint; verify stays valid from it', async () => {
    const actor = { id: '0d9a4a8e-9a55-4c0e-8d61-2b1f1c9e7a01', role: 'admin' as const };
    for (let i = 0; i < 12; i++) await withActor(t.db, actor, (trx) => appendAudit(trx, { actor, action: 'OLD', resource: 'r' }));
    await chainAuditLog(t.db);
    await new Promise((r) => setTimeout(r, 30));
    const [result] = await runRetention(t.db, [auditRetentionRule()], { olderThanMs: 15 });
    expect(result).toMatchObject({ rule: 'audit.log', table: 'swan_audit_log', removed: 12, details: { checkpoint: { chainSeq: 12 } } });
    expect(await verifyAuditChain(t.db)).toMatchObject({ valid: true, entries: 0, checkpoint: { chainSeq: 12 } });
  });

  it('refuses unknown rule names and bad durations', async () => {
    await expect(runRetention(t.db, outboxRetentionRules(), { windows: { 'outbox.nope': 1 } })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(parseDuration('30d')).toBe(30 * DAY);
    expect(parseDuration('90m')).toBe(90 * 60_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(() => parseDuration('soon')).toThrow(/Not a duration/);
  });
});
