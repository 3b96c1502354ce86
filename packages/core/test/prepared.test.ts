import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { createDatabase, prepared } from '@swan/core';

describe.each(testEngines())('prepared statements on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => { t = await engine.create(); });
  afterAll(() => t?.close());

  it('a marked statement answers like an unmarked one, call after call', async () => {
    for (const n of [1, 2, 40]) {
      const { rows } = await sql<{ n: number; s: string }>`${prepared}select ${n}::int * 2 as n, ${`v${n}`}::text as s`.execute(t.db);
      expect(rows).toEqual([{ n: n * 2, s: `v${n}` }]);
    }
  });

  it.runIf(engine.name === 'postgres')('is parsed once per connection, under a name derived from its text', async () => {
    const one = t.connectApp(1);
    try {
      const a = () => sql`${prepared}select ${1}::int as a`.execute(one);
      const b = () => sql`${prepared}select ${1}::int as b`.execute(one);
      for (let i = 0; i < 3; i++) { await a(); await b(); }
      const { rows } = await sql<{ name: string; statement: string }>`
        select name, statement from pg_prepared_statements order by statement`.execute(one);
      expect(rows.map((r) => r.statement)).toEqual(['/* swan:prepared */ select $1::int as a', '/* swan:prepared */ select $1::int as b']);
      expect(rows[0]!.name).toMatch(/^swan_[0-9a-z]+_[0-9a-z]+$/);
      expect(rows[0]!.name).not.toBe(rows[1]!.name);
      // an unmarked statement is not kept
      await sql`select ${1}::int as c`.execute(one);
      expect((await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements`.execute(one)).rows[0]!.n).toBe(2);
    } finally {
      await one.destroy();
    }
  });

  it.runIf(engine.name === 'postgres')('is planned again at its 64th execution, so a plan made on an empty table does not outlast its growth', async () => {
    const one = createDatabase({ url: t.adminUrl, poolSize: 1 });
    try {
      // analyzed while empty, and never again: only a new plan can see the rows inserted later
      await sql`create table replan_probe (id bigint primary key, v text) with (autovacuum_enabled = false)`.execute(one);
      await sql`analyze replan_probe`.execute(one);
      const lookup = (id: number) => sql`${prepared}select v from replan_probe where id = any(${[id]}::bigint[])`.execute(one);
      const plans = async () => {
        const { rows } = await sql<{ name: string }>`
          select name from pg_prepared_statements where statement like '%replan_probe%' order by prepare_time`.execute(one);
        const last = rows.at(-1)!.name;
        const plan = await sql.raw<{ 'QUERY PLAN': string }>(`explain execute ${last}('{1}')`).execute(one);
        return { names: rows.map((r) => r.name), plan: plan.rows.map((r) => r['QUERY PLAN']).join('\n') };
      };
      for (let i = 0; i < 10; i++) await lookup(i);
      expect((await plans()).plan).toMatch(/Seq Scan on replan_probe/);
      await sql`insert into replan_probe select g, 'x' from generate_series(1, 100000) g`.execute(one);
      for (let i = 10; i < 63; i++) await lookup(i);
      expect((await plans()).plan).toMatch(/Seq Scan on replan_probe/);
      for (let i = 63; i < 80; i++) await lookup(i);
      const after = await plans();
      expect(after.names).toEqual([after.names[0], `${after.names[0]}_1`]);
      expect(after.plan).toMatch(/Index Scan|Bitmap Index Scan/);
      expect(after.plan).not.toMatch(/Seq Scan/);
    } finally {
      await sql`drop table if exists replan_probe`.execute(one);
      await one.destroy();
    }
  });

  it.runIf(engine.name === 'postgres')('with preparedStatements: false, a marked statement stays unnamed', async () => {
    const off = createDatabase({ url: t.appUrl, poolSize: 1, preparedStatements: false });
    try {
      expect((await sql<{ a: number }>`${prepared}select ${7}::int as a`.execute(off)).rows).toEqual([{ a: 7 }]);
      expect((await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements`.execute(off)).rows[0]!.n).toBe(0);
    } finally {
      await off.destroy();
    }
  });
});
