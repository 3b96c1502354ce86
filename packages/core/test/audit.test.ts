import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { appendAudit, chainAuditLog, startAuditChainer, verifyAuditChain, withActor, type Actor } from '@swan/core';

const admin: Actor = { id: randomUUID(), role: 'admin' };

/** Runs `statement` as a superuser with triggers off, the way an attacker with the owner's keys would. */
async function tamper(db: Kysely<any>, statement: string) {
  await db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    await sql.raw(statement).execute(trx);
  });
}

describe.each(testEngines())('audit chain on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => { t = await engine.create(); });
  afterAll(() => t?.close());

  it('8 concurrent writers x 500 appends form one valid linear chain', async () => {
    const chainer = startAuditChainer(t.db, { intervalMs: 5 });
    await Promise.all(
      Array.from({ length: 8 }, (_, w) =>
        (async () => {
          for (let i = 0; i < 500; i++) {
            await withActor(t.db, admin, (trx) =>
              appendAudit(trx, { actor: admin, action: 'TEST_APPEND', resource: 'writer', resourceId: String(w), details: { i, text: 'ünïcødé ✓' } }),
            );
          }
        })(),
      ),
    );
    await chainer.stop();
    expect(await verifyAuditChain(t.db)).toEqual({ valid: true, entries: 4000 });
    const { rows } = await sql<{ n: number; max: number; distinct_prev: number }>`
      select count(*)::int as n, max(chain_seq)::int as max, count(distinct prev_hash)::int as distinct_prev from swan_audit_log`.execute(t.admin);
    expect(rows[0]).toEqual({ n: 4000, max: 4000, distinct_prev: 4000 });
  });

  it('refuses UPDATE, DELETE and TRUNCATE as the application role', async () => {
    for (const statement of ['update swan_audit_log set reason = $$x$$', 'delete from swan_audit_log', 'truncate swan_audit_log']) {
      await expect(withActor(t.db, admin, (trx) => sql.raw(statement).execute(trx))).rejects.toThrow(/permission denied|append-only/);
    }
    // and the triggers refuse even the owner
    await expect(sql`update swan_audit_log set reason = 'x' where chain_seq = 1`.execute(t.admin)).rejects.toThrow(/append-only/);
    await expect(sql`delete from swan_audit_log where chain_seq = 1`.execute(t.admin)).rejects.toThrow(/append-only/);
    await expect(sql`truncate swan_audit_log`.execute(t.admin)).rejects.toThrow(/append-only/);
    expect((await verifyAuditChain(t.db)).valid).toBe(true);
  });

  it('a denied action is logged too, and an appended row cannot set its own hash', async () => {
    await withActor(t.db, admin, (trx) => appendAudit(trx, { actor: admin, action: 'PII_ACCESS', resource: 'client_profile_pii', outcome: 'denied', reason: 'test' }));
    await expect(
      withActor(t.db, admin, (trx) => sql`insert into swan_audit_log (action, resource, hash, chain_seq) values ('X', 'y', 'forged', 99999)`.execute(trx)),
    ).rejects.toThrow(/permission denied/);
    await chainAuditLog(t.db);
    const { rows } = await sql<{ outcome: string }>`select outcome from swan_audit_log where action = 'PII_ACCESS'`.execute(t.admin);
    expect(rows).toEqual([{ outcome: 'denied' }]);
  });

  it('finds a row altered by a superuser', async () => {
    const { rows } = await sql<{ id: number }>`select id from swan_audit_log where chain_seq = 1234`.execute(t.admin);
    const id = Number(rows[0]!.id);
    await tamper(t.admin, `update swan_audit_log set details = '{"i": 1, "forged": true}' where id = ${id}`);
    expect(await verifyAuditChain(t.db)).toEqual({ valid: false, entries: 1233, firstBrokenId: id });
  });

  it('finds a deleted row and a removed tail', async () => {
    const fresh = await engine.create();
    try {
      for (let i = 0; i < 10; i++) await appendAudit(fresh.admin, { actor: admin, action: 'A', resource: 'r', details: { i } });
      expect(await verifyAuditChain(fresh.db)).toEqual({ valid: true, entries: 10 });
      const ids = (await sql<{ id: number }>`select id from swan_audit_log order by chain_seq`.execute(fresh.admin)).rows.map((r) => Number(r.id));
      await tamper(fresh.admin, `delete from swan_audit_log where id = ${ids[9]}`);
      expect(await verifyAuditChain(fresh.db)).toMatchObject({ valid: false, entries: 9 });
      await tamper(fresh.admin, `delete from swan_audit_log where id = ${ids[4]}`);
      expect(await verifyAuditChain(fresh.db)).toEqual({ valid: false, entries: 4, firstBrokenId: ids[5] });
    } finally {
      await fresh.close();
    }
  });

  it.runIf(engine.name === 'postgres')("finds one subject's entries through an index, not by reading the log", async () => {
    const subject = randomUUID();
    await sql`insert into swan_audit_log (actor_id, actor_role, action, resource, resource_id, outcome)
      select ${admin.id}, 'admin', 'PII_ACCESS', 'client_profile_pii', case when g % 1000 = 0 then ${subject} else gen_random_uuid()::text end, 'allowed'
        from generate_series(1, 20000) g`.execute(t.admin);
    await sql`analyze swan_audit_log`.execute(t.admin);
    const { rows } = await sql<{ 'QUERY PLAN': string }>`explain select id, action from swan_audit_log where resource_id = ${subject} order by id`.execute(t.admin);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Scan (using|on) swan_audit_log_subject/);
    expect(plan).not.toMatch(/Seq Scan/);
  });
});
