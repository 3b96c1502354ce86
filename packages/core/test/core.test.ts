import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from 'kysely';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { withActor, appendAudit, verifyAuditChain, assertRowLevelSecuritySafe } from '@swan/core';

describe.each(testEngines())('core on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => { t = await engine.create(); });
  afterAll(() => t?.close());

  it('withActor sets and clears settings', async () => {
    const actor = { id: '6f1c9a52-3e0b-4d7a-9c61-2b8e5d4f7a10', role: 'trainer' as const };
    const r = await withActor(t.db, actor, (trx) => sql<any>`select current_user as u, current_setting('app.current_user_id', true) as id`.execute(trx));
    expect(r.rows[0]).toEqual({ u: 'swan_app', id: actor.id });
    await appendAudit(t.db, { actor, action: 'TEST', resource: 'x' });
    expect(await verifyAuditChain(t.db)).toEqual({ valid: true, entries: 1 });
    const safety = await assertRowLevelSecuritySafe(t.db);
    expect(safety.enforced).toBe(engine.name === 'postgres');
  });
});
