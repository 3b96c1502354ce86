import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { ROLES, SwanError, withActor, type Actor } from '@swan/core';

interface Seen { id: string; role: string; dbRole: string }

const settings = sql<Seen>`select current_setting('app.current_user_id', true) as id,
                                  current_setting('app.current_user_role', true) as role,
                                  current_user as "dbRole"`;

describe.each(testEngines())('withActor on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => { t = await engine.create([], { poolSize: 10 }); });
  afterAll(() => t?.close());

  it('1,000 interleaved calls on a pool of 10 never see another actor, and plain queries see none', async () => {
    const actors: Actor[] = Array.from({ length: 1000 }, (_, i) => ({ id: randomUUID(), role: ROLES[i % ROLES.length]! }));
    const leaks: string[] = [];
    const outside = async () => {
      const { rows } = await settings.execute(t.db);
      const r = rows[0]!;
      if ((r.id ?? '') !== '' || (r.role ?? '') !== '' || r.dbRole !== (engine.name === 'postgres' ? 'swan_app' : 'postgres')) leaks.push(`outside saw ${JSON.stringify(r)}`);
    };
    await Promise.all(
      actors.map(async (actor, i) => {
        if (i % 5 === 0) await outside();
        await withActor(t.db, actor, async (trx) => {
          for (let step = 0; step < 2; step++) {
            const { rows } = await settings.execute(trx);
            const r = rows[0]!;
            const dbRole = actor.role === 'ai_service' ? 'ai_service' : 'swan_app';
            if (r.id !== actor.id || r.role !== actor.role || r.dbRole !== dbRole) leaks.push(`${actor.id} saw ${JSON.stringify(r)}`);
            await new Promise((resolve) => setImmediate(resolve));
          }
        });
      }),
    );
    await Promise.all(Array.from({ length: 20 }, outside));
    expect(leaks).toEqual([]);
  });

  it("treats '' as no actor", async () => {
    const r = await withActor(t.db, { id: '', role: '' } as unknown as Actor, (trx) => settings.execute(trx));
    expect(r.rows[0]).toMatchObject({ id: '', role: '', dbRole: 'swan_app' });
    const none = await withActor(t.db, null, (trx) => settings.execute(trx));
    expect(none.rows[0]).toMatchObject({ id: '', role: '' });
  });

  it('rejects a malformed actor before touching the database', async () => {
    await expect(withActor(t.db, { id: 'not-a-uuid', role: 'admin' }, async () => 1)).rejects.toBeInstanceOf(SwanError);
    await expect(withActor(t.db, { id: randomUUID(), role: 'root' as never }, async () => 1)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('rolls back everything when the callback throws', async () => {
    await t.admin.schema.createTable('scratch').ifNotExists().addColumn('v', 'text').execute();
    await sql`grant insert, select on scratch to swan_app`.execute(t.admin);
    await expect(
      withActor(t.db, { id: randomUUID(), role: 'admin' }, async (trx) => {
        await sql`insert into scratch values ('x')`.execute(trx);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from scratch`.execute(t.admin);
    expect(rows[0]!.n).toBe(0);
  });
});
