import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompiledQuery, sql } from 'kysely';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { prepared, queryWhileCommitting } from '@swan/core';

// A table whose commit takes a row's delay_ms (a deferred constraint trigger sleeps at commit) and
// fails when a row says so: what happens to the rows while, and after, the commit runs.
const SETUP = [
  'create table qwc (id int primary key, delay_ms int not null default 0, fail boolean not null default false)',
  `create function qwc_at_commit() returns trigger language plpgsql as $$
   begin
     perform pg_sleep(new.delay_ms / 1000.0);
     if new.fail then raise exception 'refused at commit' using errcode = 'check_violation'; end if;
     return null;
   end $$`,
  `create constraint trigger qwc_commit after insert on qwc deferrable initially deferred
     for each row execute function qwc_at_commit()`,
  'grant select, insert on qwc to swan_app',
];

const insertReturning = (id: number, options: { delayMs?: number; fail?: boolean } = {}) =>
  sql<{ id: number }>`${prepared}insert into qwc (id, delay_ms, fail) values (${id}, ${options.delayMs ?? 0}, ${options.fail ?? false}) returning id`;

describe.each(testEngines())('queryWhileCommitting on $name', (engine) => {
  let t: TestDatabase;
  let nextId = 1;
  const committed = async (id: number) => (await sql<{ n: number }>`select count(*)::int as n from qwc where id = ${id}`.execute(t.admin)).rows[0]!.n === 1;

  beforeAll(async () => {
    t = await engine.create();
    for (const statement of SETUP) await sql.raw(statement).execute(t.admin);
  });
  afterAll(() => t?.close());

  it('resolves with what work made of the rows, after the commit', async () => {
    const id = nextId++;
    const out = await queryWhileCommitting(t.db, insertReturning(id).compile(t.db), (rows) => rows.map((r) => `row ${r.id}`));
    expect(out).toEqual([`row ${id}`]);
    expect(await committed(id)).toBe(true);
  });

  it('rows have the same columns and types as executeQuery gives, run after run', async () => {
    const query = sql`${prepared}select ${7}::int8 as big, ${'x'}::text as t, ${Buffer.from([1, 2, 255])}::bytea as b,
      '2026-01-02T03:04:05Z'::timestamptz as at, '{"a":[1]}'::jsonb as j, null::text as none, g as n
      from generate_series(1, ${3}::int) g`.compile(t.db);
    const expected = (await t.db.executeQuery(query)).rows;
    expect(expected).toHaveLength(3);
    for (let i = 0; i < 3; i++) expect(await queryWhileCommitting(t.db, query, (rows) => rows)).toEqual(expected);
  });

  it('a statement that fails before any row reaches work rejects without calling it', async () => {
    let called = false;
    await expect(queryWhileCommitting(t.db, CompiledQuery.raw('select 1 / 0 as x'), () => { called = true; }))
      .rejects.toMatchObject({ code: '22012' });
    expect(called).toBe(false);
  });

  it('work that throws rejects with its error once the statement has committed', async () => {
    const id = nextId++;
    await expect(queryWhileCommitting(t.db, insertReturning(id).compile(t.db), async () => { throw new Error('work failed'); }))
      .rejects.toThrow('work failed');
    expect(await committed(id)).toBe(true);
  });

  it('inside a transaction it runs as part of it (no commit of its own)', async () => {
    const id = nextId++;
    await t.db.transaction().execute(async (trx) => {
      const out = await queryWhileCommitting(trx, insertReturning(id).compile(trx), (rows) => rows.length);
      expect(out).toBe(1);
      if (engine.name === 'postgres') expect(await committed(id)).toBe(false);
    });
    expect(await committed(id)).toBe(true);
  });

  it('concurrent calls each get their own rows and commit', async () => {
    const ids = Array.from({ length: 12 }, () => nextId++);
    const out = await Promise.all(ids.map((id) => queryWhileCommitting(t.db, insertReturning(id).compile(t.db), (rows) => rows[0]!.id)));
    expect(out).toEqual(ids);
    for (const id of ids) expect(await committed(id)).toBe(true);
  });

  describe.runIf(engine.name === 'postgres')('on a pool (PostgreSQL)', () => {
    it('hands the rows to work while the commit is still running, and resolves only after it', async () => {
      const id = nextId++;
      const start = performance.now();
      let workedAt = 0;
      const out = await queryWhileCommitting(t.db, insertReturning(id, { delayMs: 300 }).compile(t.db), (rows) => {
        workedAt = performance.now();
        return rows[0]!.id;
      });
      const end = performance.now();
      expect(out).toBe(id);
      expect(workedAt - start).toBeLessThan(250); // rows came before the 300 ms commit ended…
      expect(end - workedAt).toBeGreaterThan(150); // …and the result waited for it
      expect(await committed(id)).toBe(true);
    });

    it('a commit that fails after work has run rejects with the commit error and drops what work made', async () => {
      const id = nextId++;
      let workRan = false;
      const result = queryWhileCommitting(t.db, insertReturning(id, { delayMs: 100, fail: true }).compile(t.db), (rows) => {
        workRan = true;
        return rows;
      });
      await expect(result).rejects.toMatchObject({ code: '23514', message: 'refused at commit' });
      expect(workRan).toBe(true);
      expect(await committed(id)).toBe(false);
      // the connection went back to the pool in a usable state
      for (let i = 0; i < 3; i++) expect((await sql<{ one: number }>`select 1 as one`.execute(t.db)).rows).toEqual([{ one: 1 }]);
    });

    it('a connection that dies mid-statement rejects and leaves the pool', async () => {
      const victim = t.connectApp(1);
      try {
        const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(victim)).rows[0]!.pid;
        const pending = queryWhileCommitting(victim, CompiledQuery.raw('select pg_sleep(5)'), () => 'never');
        // handled from the start: it may reject before pg_terminate_backend's own answer arrives
        const rejected = expect(pending).rejects.toThrow();
        await new Promise((r) => setTimeout(r, 200));
        await sql`select pg_terminate_backend(${pid})`.execute(t.admin);
        await rejected;
        expect((await sql<{ one: number }>`select 1 as one`.execute(victim)).rows).toEqual([{ one: 1 }]);
        expect((await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(victim)).rows[0]!.pid).not.toBe(pid);
      } finally {
        await victim.destroy();
      }
    });

    it('a statement marked prepared is prepared once per connection', async () => {
      const one = t.connectApp(1);
      try {
        for (let i = 0; i < 3; i++) {
          const id = nextId++;
          expect(await queryWhileCommitting(one, insertReturning(id).compile(one), (rows) => rows[0]!.id)).toBe(id);
        }
        const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(one);
        expect(rows.map((r) => r.statement)).toEqual([insertReturning(0).compile(one).sql]);
      } finally {
        await one.destroy();
      }
    });
  });
});
