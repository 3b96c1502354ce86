import { afterEach, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { createDatabase } from '@swan/core';
import { until } from '@swan/test-utils';

interface TableStats { n_dead_tup: number; analyzed: boolean; vacuumed: boolean }

const stats = async (db: Kysely<any>): Promise<TableStats> =>
  (await sql<TableStats>`
    select n_dead_tup::int, last_analyze is not null as analyzed, last_vacuum is not null as vacuumed
      from pg_stat_user_tables where relname = 'churn'`.execute(db)).rows[0]!;

describe('the embedded database vacuums and analyzes itself, as autovacuum would', () => {
  let db: Kysely<any> | undefined;
  afterEach(() => db?.destroy());

  it('a table with many dead row versions is vacuumed and analyzed at the next pass', async () => {
    const errors: unknown[] = [];
    db = createDatabase({ maintenance: { intervalMs: 50, onError: (e) => errors.push(e) } });
    await sql`create table churn (id int primary key, v text)`.execute(db);
    await sql`insert into churn select g, 'x' from generate_series(1, 1000) g`.execute(db);
    await sql`delete from churn where id > 100`.execute(db);
    await until(async () => (await stats(db!)).vacuumed, 30_000);
    expect(await stats(db)).toEqual({ n_dead_tup: 0, analyzed: true, vacuumed: true });
    expect(errors).toEqual([]);
  });

  it('a pass waits for a transaction in progress instead of running inside it', async () => {
    const errors: unknown[] = [];
    db = createDatabase({ maintenance: { intervalMs: 20, onError: (e) => errors.push(e) } });
    await sql`create table churn (id int primary key, v text)`.execute(db);
    await db.transaction().execute(async (trx) => {
      await sql`insert into churn select g, 'x' from generate_series(1, 1000) g`.execute(trx);
      await sql`delete from churn where id > 100`.execute(trx);
      // several intervals pass while the transaction holds the session
      await new Promise((r) => setTimeout(r, 200));
      expect((await stats(trx)).vacuumed).toBe(false);
      await sql`update churn set v = 'y' where id = 1`.execute(trx);
    });
    await until(async () => (await stats(db!)).vacuumed, 30_000);
    expect(errors).toEqual([]);
    expect((await sql<{ v: string }>`select v from churn where id = 1`.execute(db)).rows).toEqual([{ v: 'y' }]);
  });

  it('refuses an interval that is not a positive number of milliseconds', () => {
    for (const intervalMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createDatabase({ maintenance: { intervalMs } })).toThrow('maintenance.intervalMs must be a positive number of milliseconds');
    }
  });
});
