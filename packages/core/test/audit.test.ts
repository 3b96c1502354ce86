import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { testEngines, type TestDatabase, until } from '@swan/test-utils';
import { appendAudit, chainAuditLog, startAuditChainer, verifyAuditChain, withActor, type Actor } from '@swan/core';

const admin: Actor = { id: randomUUID(), role: 'admin' };

/** Runs `statement` as a superuser with triggers off, the way an attacker with the owner's keys would. */
async function tamper(db: Kysely<any>, statement: string) {
  await db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    await sql.raw(statement).execute(trx);
  });
}

/** Appends an entry in a transaction left open until `commit()`: an entry that commits late. */
async function appendInOpenTransaction(db: Kysely<any>, action: string): Promise<{ commit(): Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let written!: () => void;
  const wrote = new Promise<void>((r) => { written = r; });
  const done = withActor(db, admin, async (trx) => {
    await appendAudit(trx, { actor: admin, action, resource: 'r' });
    written();
    await held;
  });
  await wrote;
  return { commit: () => { release(); return done; } };
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
    const { rows } = await sql<{ n: number; max: number; distinct_prev: number; entries: number }>`
      select count(*)::int as n, max(chain_seq)::int as max, count(distinct prev_hash)::int as distinct_prev,
             count(distinct entry_id)::int as entries from swan_audit_chain`.execute(t.admin);
    expect(rows[0]).toEqual({ n: 4000, max: 4000, distinct_prev: 4000, entries: 4000 });
  });

  it('never reports tampering that did not happen: verify back to back while writers append and the chainer links', async () => {
    const chainer = startAuditChainer(t.db, { intervalMs: 5 });
    let writing = true;
    const writers = Array.from({ length: 4 }, (_, w) =>
      (async () => {
        for (let i = 0; writing; i++) {
          await withActor(t.db, admin, (trx) => appendAudit(trx, { actor: admin, action: 'RACE', resource: 'writer', resourceId: String(w), details: { i } }));
        }
      })(),
    );
    const answers: Array<Awaited<ReturnType<typeof verifyAuditChain>>> = [];
    const until = Date.now() + 4000;
    try {
      // both ways the API is called: linking first (HTTP and CLI), and reading only what is linked
      while (Date.now() < until || answers.length < 10) answers.push(await verifyAuditChain(t.db, { chainFirst: answers.length % 2 === 0 }));
    } finally {
      writing = false;
      await Promise.all(writers);
      await chainer.stop();
    }
    expect(answers.filter((a) => !a.valid)).toEqual([]);
    // the last answers saw the chain grow: verification ran while entries were being linked
    expect(answers.at(-1)!.entries).toBeGreaterThan(answers[0]!.entries);
  });

  it('refuses UPDATE, DELETE and TRUNCATE as the application role', async () => {
    for (const statement of ['update swan_audit_log set reason = $$x$$', 'delete from swan_audit_log', 'truncate swan_audit_log']) {
      await expect(withActor(t.db, admin, (trx) => sql.raw(statement).execute(trx))).rejects.toThrow(/permission denied|append-only/);
    }
    // the application role cannot write links
    for (const statement of ['insert into swan_audit_chain values (999999, 1, $$x$$, $$y$$)', 'update swan_audit_chain set hash = $$x$$', 'delete from swan_audit_chain']) {
      await expect(withActor(t.db, admin, (trx) => sql.raw(statement).execute(trx))).rejects.toThrow(/permission denied/);
    }
    // and the triggers refuse even the owner, on entries and on links
    for (const table of ['swan_audit_log', 'swan_audit_chain']) {
      const first = table === 'swan_audit_log' ? sql`id = (select entry_id from swan_audit_chain where chain_seq = 1)` : sql`chain_seq = 1`;
      await expect(sql`update ${sql.table(table)} set ${sql.ref(table === 'swan_audit_log' ? 'reason' : 'hash')} = 'x' where ${first}`.execute(t.admin)).rejects.toThrow(/append-only/);
      await expect(sql`delete from ${sql.table(table)} where ${first}`.execute(t.admin)).rejects.toThrow(/append-only/);
      await expect(sql`truncate ${sql.table(table)}`.execute(t.admin)).rejects.toThrow(/append-only/);
    }
    expect((await verifyAuditChain(t.db)).valid).toBe(true);
  });

  // PostgreSQL only: the entry that arrives is written from another connection while the chainer's
  // is still held (PGlite has one connection)
  it.runIf(engine.name === 'postgres')('a call links what was committed before it and returns, however fast new entries arrive', async () => {
    const append = (i: number) => withActor(t.db, admin, (trx) => appendAudit(trx, { actor: admin, action: 'STREAM', resource: 'r', details: { i } }));
    await chainAuditLog(t.db);
    for (let i = 0; i < 5; i++) await append(i);
    // one more entry commits after every run of the chainer, as under a steady stream of requests
    let runs = 0;
    const streaming = t.db.withPlugin({
      transformQuery: (args) => args.node,
      transformResult: async (args) => { await append(100 + runs++); return args.result; },
    });
    // batches of 3: 3 of the first 5, then 3 (2 left + 1 new), then 1 (the one that arrived): not full, done
    expect(await chainAuditLog(streaming, { batch: 3 })).toBe(7);
    expect(runs).toBe(3);
    expect(await chainAuditLog(t.db)).toBe(1); // the entry that arrived during the last run
    expect((await verifyAuditChain(t.db)).valid).toBe(true);
  });

  it('a denied action is logged too, and an appended row cannot set its own hash', async () => {
    await withActor(t.db, admin, (trx) => appendAudit(trx, { actor: admin, action: 'PII_ACCESS', resource: 'client_profile_pii', outcome: 'denied', reason: 'test' }));
    await expect(
      withActor(t.db, admin, (trx) => sql`insert into swan_audit_log (action, resource, txid) values ('X', 'y', '1')`.execute(trx)),
    ).rejects.toThrow(/permission denied/);
    await chainAuditLog(t.db);
    const { rows } = await sql<{ outcome: string }>`select outcome from swan_audit_log where action = 'PII_ACCESS'`.execute(t.admin);
    expect(rows).toEqual([{ outcome: 'denied' }]);
  });

  it('finds a row altered by a superuser', async () => {
    const { rows } = await sql<{ id: number }>`select entry_id as id from swan_audit_chain where chain_seq = 1234`.execute(t.admin);
    const id = Number(rows[0]!.id);
    await tamper(t.admin, `update swan_audit_log set details = '{"i": 1, "forged": true}' where id = ${id}`);
    expect(await verifyAuditChain(t.db)).toEqual({ valid: false, entries: 1233, firstBrokenId: id });
  });

  it('finds a deleted row and a removed tail', async () => {
    const fresh = await engine.create();
    try {
      for (let i = 0; i < 10; i++) await appendAudit(fresh.admin, { actor: admin, action: 'A', resource: 'r', details: { i } });
      expect(await verifyAuditChain(fresh.db)).toEqual({ valid: true, entries: 10 });
      const ids = (await sql<{ id: number }>`select entry_id as id from swan_audit_chain order by chain_seq`.execute(fresh.admin)).rows.map((r) => Number(r.id));
      await tamper(fresh.admin, `delete from swan_audit_log where id = ${ids[9]}`);
      expect(await verifyAuditChain(fresh.db)).toMatchObject({ valid: false, entries: 9 });
      await tamper(fresh.admin, `delete from swan_audit_log where id = ${ids[4]}`);
      expect(await verifyAuditChain(fresh.db)).toEqual({ valid: false, entries: 4, firstBrokenId: ids[5] });
    } finally {
      await fresh.close();
    }
  });

  it.runIf(engine.name === 'postgres')('links an entry whose transaction commits after later ones, and keeps linking while it is open', async () => {
    const f = await engine.create();
    try {
      const slow = await appendInOpenTransaction(f.db, 'SLOW');
      for (let i = 0; i < 3; i++) await appendAudit(f.db, { actor: admin, action: 'FAST', resource: 'r', details: { i } });
      await chainAuditLog(f.db);
      const linked = async () => (await sql<{ action: string }>`
        select e.action from swan_audit_chain c join swan_audit_log e on e.id = c.entry_id
         where e.action in ('SLOW', 'FAST') order by c.chain_seq`.execute(f.admin)).rows.map((r) => r.action);
      expect(await linked()).toEqual(['FAST', 'FAST', 'FAST']); // the open transaction held nothing back
      await slow.commit();
      await chainAuditLog(f.db);
      expect(await linked()).toEqual(['FAST', 'FAST', 'FAST', 'SLOW']);
      const { rows } = await sql<{ slow: number; fast: number }>`
        select max(id) filter (where action = 'SLOW') as slow, min(id) filter (where action = 'FAST') as fast from swan_audit_log`.execute(f.admin);
      expect(Number(rows[0]!.slow)).toBeLessThan(Number(rows[0]!.fast)); // linked after entries with higher ids
      expect(await verifyAuditChain(f.db)).toEqual({ valid: true, entries: 4 });
    } finally {
      await f.close();
    }
  });

  it('keeps linking after a restore into a cluster whose transaction ids are lower', async () => {
    const f = await engine.create();
    try {
      await appendAudit(f.db, { actor: admin, action: 'BEFORE', resource: 'r' });
      expect(await chainAuditLog(f.db)).toBe(1);
      // what pg_dump into a fresh cluster leaves: a horizon from the old cluster, far ahead
      await sql`update swan_audit_head set horizon = '9000000000000'`.execute(f.admin);
      for (let i = 0; i < 3; i++) await appendAudit(f.db, { actor: admin, action: 'AFTER', resource: 'r', details: { i } });
      expect(await chainAuditLog(f.db)).toBe(3);
      expect(await verifyAuditChain(f.db)).toEqual({ valid: true, entries: 4 });
      await appendAudit(f.db, { actor: admin, action: 'LATER', resource: 'r' });
      expect(await chainAuditLog(f.db)).toBe(1); // and the horizon is this cluster's again
    } finally {
      await f.close();
    }
  });

  it.runIf(engine.name === 'postgres')('links new entries through indexes, never reading the whole log or chain', async () => {
    await chainAuditLog(t.db);
    for (let i = 0; i < 3; i++) await appendAudit(t.db, { actor: admin, action: 'NEW', resource: 'r', details: { i } });
    const scans = await t.admin.transaction().execute(async (trx) => {
      // pending counters of this backend: read before and after, in one transaction (no flush between)
      const count = async () => (await sql<{ relname: string; seq_scan: number }>`
        select relname, seq_scan::int from pg_stat_xact_user_tables where relname in ('swan_audit_log', 'swan_audit_chain') order by relname`.execute(trx)).rows;
      const before = await count();
      const { rows } = await sql<{ n: number }>`select swan_audit_chain(1000, true) as n`.execute(trx);
      expect(rows[0]!.n).toBe(3);
      return (await count()).map((r) => ({ relname: r.relname, seq_scan: r.seq_scan - (before.find((b) => b.relname === r.relname)?.seq_scan ?? 0) }));
    });
    expect(scans).toEqual([{ relname: 'swan_audit_chain', seq_scan: 0 }, { relname: 'swan_audit_log', seq_scan: 0 }]);
  });

  it('catches up on a backlog in full batches, each entry linked once and in order', async () => {
    const f = await engine.create();
    try {
      for (let i = 0; i < 25; i++) await appendAudit(f.db, { actor: admin, action: 'BACKLOG', resource: 'r', details: { i } });
      expect(await chainAuditLog(f.db, { batch: 4 })).toBe(25); // the first run, then six that start from its cursor
      for (let i = 0; i < 9; i++) await appendAudit(f.db, { actor: admin, action: 'MORE', resource: 'r', details: { i } });
      expect(await chainAuditLog(f.db, { batch: 4 })).toBe(9);
      const { rows } = await sql<{ ok: boolean; cursor: string | null }>`
        select bool_and(c.chain_seq = r.n) as ok, (select cursor_id::text from swan_audit_head) as cursor
          from (select id, row_number() over (order by id) as n from swan_audit_log) r join swan_audit_chain c on c.entry_id = r.id`.execute(f.admin);
      expect(rows[0]).toEqual({ ok: true, cursor: null }); // linked in id order; the last run was not full
      expect(await verifyAuditChain(f.db)).toEqual({ valid: true, entries: 34 });
    } finally {
      await f.close();
    }
  });

  it('4 concurrent writers x 150 appends, linked 7 at a time while they write: one valid chain, each entry once', async () => {
    const f = await engine.create();
    try {
      let writing = true;
      const chaining = (async () => {
        while (writing) await chainAuditLog(f.db, { batch: 7, wait: false });
      })();
      await Promise.all(Array.from({ length: 4 }, (_, w) => (async () => {
        for (let i = 0; i < 150; i++) {
          await withActor(f.db, admin, (trx) => appendAudit(trx, { actor: admin, action: 'RACE', resource: 'writer', resourceId: String(w), details: { i } }));
        }
      })()));
      writing = false;
      await chaining;
      await chainAuditLog(f.db, { batch: 7 });
      expect(await verifyAuditChain(f.db)).toEqual({ valid: true, entries: 600 });
      const { rows } = await sql<{ links: number; entries: number }>`
        select count(*)::int as links, count(distinct entry_id)::int as entries from swan_audit_chain`.execute(f.admin);
      expect(rows[0]).toEqual({ links: 600, entries: 600 });
    } finally {
      await f.close();
    }
  });

  it.runIf(engine.name === 'postgres')('reads about one batch per run while catching up, not the backlog', async () => {
    const f = await engine.create();
    try {
      await appendAudit(f.db, { actor: admin, action: 'FIRST', resource: 'r' });
      await chainAuditLog(f.db);
      await sql`insert into swan_audit_log (actor_id, actor_role, action, resource, outcome)
        select ${admin.id}, 'admin', 'BULK', 'r', 'allowed' from generate_series(1, 1000)`.execute(f.admin);
      // Entries of transactions at or after the oldest one still open anywhere in the cluster may
      // commit behind the cursor, so each run looks at them again: let the transactions of other
      // tests that were open during the insert end first.
      const passed = async () => (await sql<{ past: boolean }>`
        select pg_snapshot_xmin(pg_current_snapshot()) > (select max(txid) from swan_audit_log) as past`.execute(f.admin)).rows[0]!.past;
      await until(passed, 30_000, 'the end of transactions older than the insert');
      const run = () => f.admin.transaction().execute(async (trx) => {
        const fetched = async () => (await sql<{ n: number }>`
          select (idx_tup_fetch + seq_tup_read)::int as n from pg_stat_xact_user_tables where relname = 'swan_audit_log'`.execute(trx)).rows[0]!.n;
        const before = await fetched();
        const { rows } = await sql<{ n: number }>`select swan_audit_chain(200, true) as n`.execute(trx);
        return { linked: rows[0]!.n, read: (await fetched()) - before };
      });
      const runs = [];
      for (let i = 0; i < 6; i++) runs.push(await run());
      expect(runs.map((r) => r.linked)).toEqual([200, 200, 200, 200, 200, 0]);
      // the first run reads the backlog (it has no cursor yet); every later one about its batch
      for (const r of runs.slice(1)) expect(r.read).toBeLessThanOrEqual(250);
      expect(await verifyAuditChain(f.db)).toEqual({ valid: true, entries: 1001 });
    } finally {
      await f.close();
    }
  });

  it.runIf(engine.name === 'postgres')('links an entry that commits behind the cursor while catching up', async () => {
    const f = await engine.create();
    try {
      const slow = await appendInOpenTransaction(f.db, 'SLOW');
      for (let i = 0; i < 8; i++) await appendAudit(f.db, { actor: admin, action: 'FAST', resource: 'r', details: { i } });
      // one full run: its cursor is past the open transaction's entry
      expect((await sql<{ n: number }>`select swan_audit_chain(3, true) as n`.execute(f.db)).rows[0]!.n).toBe(3);
      await slow.commit();
      expect(await chainAuditLog(f.db, { batch: 3 })).toBe(6);
      const { rows } = await sql<{ action: string }>`
        select e.action from swan_audit_chain c join swan_audit_log e on e.id = c.entry_id order by c.chain_seq`.execute(f.admin);
      expect(rows.map((r) => r.action)).toEqual(['FAST', 'FAST', 'FAST', 'SLOW', 'FAST', 'FAST', 'FAST', 'FAST', 'FAST']);
      expect(await verifyAuditChain(f.db)).toEqual({ valid: true, entries: 9 });
    } finally {
      await f.close();
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
