import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { pruneInBatches, sqlFunctionExists } from '../src/index.js';

describe.each(testEngines())('retention helpers on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await engine.create();
    await sql`create table prune_me (id integer primary key)`.execute(t.admin);
    await sql`insert into prune_me select generate_series(1, 10)`.execute(t.admin);
  });
  afterAll(() => t.close());

  it('pruneInBatches runs batches until one removes fewer than the batch size, each its own statement', async () => {
    const sizes: number[] = [];
    const removed = await pruneInBatches(4, async () => {
      const r = await sql`delete from prune_me where id in (select id from prune_me order by id limit 4)`.execute(t.admin);
      sizes.push(Number(r.numAffectedRows ?? 0));
      return sizes.at(-1)!;
    });
    expect(removed).toBe(10);
    expect(sizes).toEqual([4, 4, 2]);
    expect(await pruneInBatches(4, async () => 0)).toBe(0);
  });

  it('sqlFunctionExists tells an installed function from a missing one', async () => {
    expect(await sqlFunctionExists(t.db, 'swan_audit_chain(integer, boolean)')).toBe(true);
    expect(await sqlFunctionExists(t.db, 'swan_no_such_prune(timestamptz, integer)')).toBe(false);
  });
});
