import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { withActor } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { migrations, type PiiService } from '@swan/pii';
import { admin, ai, auditOf, clientBody, makeService, trainer, withPiiDatabase } from './fixtures.js';

const rowOf = async (t: TestDatabase, clientId: string) =>
  (await sql<Record<string, unknown>>`select * from client_profile_pii where client_id = ${clientId}`.execute(t.admin)).rows[0]!;

describe.each(testEngines())('rectification, restriction and the client list on $name', (engine) => {
  let t: TestDatabase;
  let pii: PiiService;
  withPiiDatabase(engine, (db, service) => ((t = db), (pii = service)));

  it('updatePII re-encrypts the changed fields, moves the blind indexes and the age, and audits field names only', async () => {
    const body = clientBody(1);
    const { clientId } = await pii.createClient(admin, body);
    const newEmail = `moved.${randomUUID()}@example.org`;
    const result = await pii.updatePII(admin, clientId, { email: ` ${newEmail.toUpperCase()}`, phone_number: '(213) 555-0199', date_of_birth: '1960-01-02', address: null });
    expect(result).toEqual({ clientId, fields: ['date_of_birth', 'phone_number', 'email', 'address'] });

    expect(await pii.findClientByEmail(body.pii.email, admin)).toBeNull();
    expect(await pii.findClientByEmail(newEmail, admin)).toMatchObject({ clientId });
    expect(await pii.findClientByPhone(body.pii.phone_number, admin)).toBeNull();
    expect(await pii.findClientByPhone('+12135550199', admin)).toMatchObject({ clientId });

    const got = await pii.getClientPII(clientId, admin, 'session_planning: verify rectification');
    expect(got).toMatchObject({ full_name: body.pii.full_name, email: newEmail.toUpperCase(), phone_number: '+12135550199', date_of_birth: '1960-01-02', address: null });
    const training = await pii.getTraining(clientId, admin);
    expect(training.age).toBeGreaterThanOrEqual(new Date().getUTCFullYear() - 1961);

    const audit = (await auditOf(t.admin, clientId)).find((a) => a.action === 'PII_RECTIFIED')!;
    expect(audit).toMatchObject({ outcome: 'allowed', details: { fields: ['date_of_birth', 'phone_number', 'email', 'address'] } });
    const text = JSON.stringify(await auditOf(t.admin, clientId));
    expect(text).not.toContain(newEmail.split('@')[0]!);
    expect(text).not.toContain('555-0199');
    expect(text).not.toContain('1960-01-02');
  });

  it('a taken email is CONFLICT and changes nothing', async () => {
    const a = await pii.createClient(admin, clientBody(2));
    const bBody = clientBody(3);
    const b = await pii.createClient(admin, bBody);
    const before = await rowOf(t, b.clientId);
    const takenEmail = (await pii.getClientPII(a.clientId, admin, 'session_planning: lookup')).email!;
    await expect(pii.updatePII(admin, b.clientId, { email: takenEmail.toUpperCase(), full_name: 'Changed Name' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await rowOf(t, b.clientId)).toEqual(before);
    expect((await auditOf(t.admin, b.clientId)).map((r) => r.action)).not.toContain('PII_RECTIFIED');
    expect(await pii.findClientByEmail(bBody.pii.email, admin)).toMatchObject({ clientId: b.clientId });
  });

  it('checks changes like create, admin only for PII, and refuses unknown clients', async () => {
    const { clientId } = await pii.createClient(admin, clientBody(4));
    const bad = await pii.updatePII(admin, clientId, { email: 'secret-not-an-email', full_name: null, spirit: 1 } as never).catch((e) => e);
    expect(bad).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(bad.details.map((d: { path: string }) => d.path).sort()).toEqual(['email', 'full_name', 'spirit']);
    expect(JSON.stringify(bad)).not.toContain('secret-not-an-email');
    await expect(pii.updatePII(admin, clientId, {})).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(pii.updatePII(trainer(), clientId, { full_name: 'X' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(pii.updatePII(admin, randomUUID(), { full_name: 'X' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('updateTraining: admin or the assigned trainer, with the create checks; audited with field names', async () => {
    const { clientId } = await pii.createClient(admin, clientBody(5));
    const coach = trainer();
    await expect(pii.updateTraining(coach, clientId, { weight_lbs: 140 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await pii.assignTrainer(admin, coach.id, clientId);
    expect(await pii.updateTraining(coach, clientId, { weight_lbs: 140.25, training_goals: ['mobility'], gender: null })).toEqual({ clientId, fields: ['gender', 'weight_lbs', 'training_goals'] });
    expect(await pii.getTraining(clientId, admin)).toMatchObject({ weight_lbs: 140.25, training_goals: ['mobility'], gender: null, height_inches: 66 });
    await pii.updateTraining(admin, clientId, { training_goals: null });
    expect((await pii.getTraining(clientId, admin)).training_goals).toEqual([]);
    await expect(pii.updateTraining(admin, clientId, { height_inches: 500 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(pii.updateTraining(ai, clientId, { height_inches: 60 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const audit = (await auditOf(t.admin, clientId)).filter((a) => a.action === 'TRAINING_RECTIFIED');
    expect(audit.map((a) => `${a.outcome}:${(a.details.fields as string[]).join(',')}`)).toEqual(['denied:weight_lbs', 'allowed:gender,weight_lbs,training_goals', 'allowed:training_goals']);
    expect(JSON.stringify(audit)).not.toContain('140.25');
  });

  it('restrict keeps the data, refuses ai_service reads, is audited with history; unrestrict restores', async () => {
    const { clientId } = await pii.createClient(admin, clientBody(6));
    expect(await pii.isRestricted(clientId)).toBe(false);
    await expect(pii.restrict(admin, clientId, '  ')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(pii.restrict(trainer(), clientId, 'why')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const r = await pii.restrict(admin, clientId, 'accuracy contested');
    expect(r).toEqual({ clientId, restrictedAt: expect.any(String) });
    expect(await pii.isRestricted(clientId)).toBe(true);
    await expect(pii.restrict(admin, clientId, 'again')).rejects.toMatchObject({ code: 'CONFLICT' });

    await expect(pii.getTraining(clientId, ai)).rejects.toMatchObject({ code: 'PROCESSING_RESTRICTED' });
    expect((await pii.getTraining(clientId, admin)).clientId).toBe(clientId);
    expect((await pii.getClientPII(clientId, admin, 'session_planning: admin read while restricted')).clientId).toBe(clientId);
    const doc = await pii.exportClientData(clientId, { id: clientId, role: 'client' });
    expect(doc.restrictions).toEqual([{ restrictedAt: r.restrictedAt, reason: 'accuracy contested', liftedAt: null, liftReason: null }]);

    const lifted = await pii.unrestrict(admin, clientId, 'accuracy verified');
    expect(await pii.isRestricted(clientId)).toBe(false);
    expect((await pii.getTraining(clientId, ai)).clientId).toBe(clientId);
    await expect(pii.unrestrict(admin, clientId, 'again')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(pii.restrict(admin, randomUUID(), 'unknown')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const history = (await pii.exportClientData(clientId, admin)).restrictions;
    expect(history).toEqual([{ restrictedAt: r.restrictedAt, reason: 'accuracy contested', liftedAt: lifted.liftedAt, liftReason: 'accuracy verified' }]);
    expect((await auditOf(t.admin, clientId)).filter((a) => a.action.startsWith('PROCESSING_')).map((a) => a.action))
      .toEqual(['PROCESSING_RESTRICTED', 'PROCESSING_UNRESTRICTED']);

    // erasure deletes the history with its reasons
    await pii.restrict(admin, clientId, 'again restricted');
    await pii.erase(clientId, admin, 'art. 17');
    const { rows } = await sql`select 1 from client_restrictions where client_id = ${clientId}`.execute(t.admin);
    expect(rows).toHaveLength(0);
  });

  it('ai_service sees no training row of a restricted client through row-level security', async () => {
    const { clientId } = await pii.createClient(admin, clientBody(7));
    const visible = () => withActor(t.db, ai, async (trx) => (await sql`select 1 from client_profile_training where client_id = ${clientId}`.execute(trx)).rows.length);
    expect(await visible()).toBe(1);
    await pii.restrict(admin, clientId, 'objection pending');
    expect(await visible()).toBe(0);
    await pii.unrestrict(admin, clientId, 'objection resolved');
    expect(await visible()).toBe(1);
  });

  it('lists every client by alias and status, keyset-paged, for admins only', async () => {
    const other = await engine.create([migrations]);
    try {
      const svc = makeService(other.db);
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await svc.createClient(admin, clientBody(100 + i))).clientId);
      await svc.restrict(admin, ids[1]!, 'contested');
      await svc.softDelete(ids[2]!, admin, 'paused');
      await svc.erase(ids[3]!, admin, 'art. 17');
      const seen: Array<{ clientId: string; status: string; alias: string | null }> = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<PiiService['listClients']>> = await svc.listClients(admin, { limit: '3', cursor });
        expect(page.clients.length).toBeLessThanOrEqual(3);
        seen.push(...page.clients);
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen.map((c) => c.clientId).sort()).toEqual([...ids].sort());
      const status = Object.fromEntries(seen.map((c) => [c.clientId, c.status]));
      expect([ids[0], ids[1], ids[2], ids[3]].map((id) => status[id!])).toEqual(['active', 'restricted', 'deleted', 'erased']);
      expect(seen.every((c) => Object.keys(c).sort().join() === 'alias,clientId,createdAt,status')).toBe(true);
      expect(seen.find((c) => c.clientId === ids[0])!.alias).toMatch(/ Swan/);
      for (const limit of ['0', '101', 'x', -1, 2.5]) await expect(svc.listClients(admin, { limit })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(svc.listClients(admin, { cursor: 'nope' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(svc.listClients(trainer())).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect((await svc.listClients(admin)).clients).toHaveLength(7);
    } finally {
      await other.close();
    }
  });
});
