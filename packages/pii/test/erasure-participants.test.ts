import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import type { ErasureParticipant } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { migrations, type PiiService } from '@swan/pii';
import { admin, clientBody, makeService } from './fixtures.js';

describe.each(testEngines())('erasure participants on $name', (engine) => {
  let t: TestDatabase;
  let pii: PiiService;
  const participants: ErasureParticipant[] = [];
  beforeAll(async () => {
    t = await engine.create([migrations]);
    pii = makeService(t.db, undefined, undefined, { erasureParticipants: () => participants });
  });
  afterAll(() => t.close());

  const erasedAt = async (clientId: string) => (await sql<{ erased_at: Date | null }>`
    select erased_at from client_profile_pii where client_id = ${clientId}::uuid`.execute(t.admin)).rows[0]!.erased_at;

  it('run in the erase transaction, with the erasing admin\'s settings, after the tombstone is written; a failing one rolls the erasure back', async () => {
    const { clientId } = await pii.createClient(admin, clientBody(1));
    const seen: Array<Record<string, unknown>> = [];
    let fail = true;
    const spy: ErasureParticipant = {
      name: 'spy',
      async erase(trx: Kysely<any>, id: string) {
        const { rows } = await sql<Record<string, unknown>>`select txid_current()::text as txid, current_setting('app.current_user_role', true) as role,
            (select erased_at is not null from client_profile_pii where client_id = ${id}::uuid) as tombstoned,
            (select count(*)::int from client_data_keys where client_id = ${id}::uuid) as keys`.execute(trx);
        seen.push({ id, ...rows[0] });
        if (fail) throw new Error('participant failed');
      },
    };
    participants.push(spy);
    await expect(pii.erase(clientId, admin, 'GDPR art. 17 request')).rejects.toThrow('participant failed');
    expect(await erasedAt(clientId)).toBeNull(); // rolled back: nothing erased
    expect(await pii.getClientPII(clientId, admin, 'session_planning: still here')).toMatchObject({ clientId });
    expect(seen).toEqual([{ id: clientId, txid: expect.any(String), role: 'admin', tombstoned: true, keys: 0 }]);

    fail = false;
    const { rows: events } = await sql<{ n: number }>`select count(*)::int as n from swan_audit_log where resource_id = ${clientId} and action = 'PII_ERASED'`.execute(t.admin);
    expect(events[0]!.n).toBe(0);
    await pii.erase(clientId, admin, 'GDPR art. 17 request');
    expect(await erasedAt(clientId)).toBeInstanceOf(Date);
    expect(seen).toHaveLength(2);
    participants.length = 0;
  });
});
