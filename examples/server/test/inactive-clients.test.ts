import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validPrompt } from '../../../packages/schema/test/fixtures.js';
import { bootServer, mintToken, sendJson, type TestServer } from './helpers.js';

const prompt = validPrompt();

/**
 * A deleted client stops being processed: after a soft delete nothing that needs their consent
 * runs and trainers and ai_service no longer see their master prompts; erasure withdraws their
 * consents and deletes their master prompts, in the erasing transaction.
 */
describe.each(['express', 'fastify'])('soft-deleted and erased clients on %s', (framework) => {
  let server: TestServer;
  let admin: string;
  let trainer: string;
  let ai: string;
  const trainerId = randomUUID();

  const call = (method: string, path: string, token: string, body?: unknown) => sendJson(`${server.url}${path}`, method, token, body);

  beforeAll(async () => {
    server = await bootServer({ SWAN_FRAMEWORK: framework, RUN_WORKERS: 'false' }, [], []);
    admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '10m' });
    trainer = await mintToken({ sub: trainerId, role: 'trainer' }, { expiresIn: '10m' });
    ai = await mintToken({ sub: randomUUID(), role: 'ai_service' }, { expiresIn: '10m' });
  });
  afterAll(() => server?.dispose());

  it('refuses consent-guarded work, hides master prompts, and on erasure withdraws consents and deletes prompts', async () => {
    const created = await call('POST', '/api/clients', admin, {
      pii: { full_name: 'Alex Example', date_of_birth: '1991-07-12', email: `alex-${randomUUID()}@example.org`, emergency_contact: { name: 'Jo' } },
      training: {},
    });
    expect(created.status).toBe(201);
    const clientId = created.body.client.clientId as string;
    const client = await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '10m' });
    expect((await call('PUT', `/api/trainers/${trainerId}/clients/${clientId}`, admin)).status).toBe(200);
    for (const consentType of ['photo_analysis', 'ai_processing']) {
      expect((await call('POST', '/api/consent/grant', client, { clientId, consentType, consentVersion: '3.0', consentGranted: true })).status).toBe(200);
    }
    expect((await call('POST', `/api/clients/${clientId}/master-prompt`, admin, prompt)).status).toBe(201);
    const upload = () => call('POST', '/api/photo-upload', client, { objectKey: 'uploads/front.jpg' });
    const check = () => call('GET', `/api/consent/check/${clientId}/photo_analysis`, client);
    const promptFor = async (token: string) => (await call('GET', `/api/clients/${clientId}/master-prompt`, token)).status;

    expect((await upload()).status).toBe(202);
    expect((await check()).body).toMatchObject({ hasConsent: true, status: 'valid' });
    expect([await promptFor(ai), await promptFor(trainer), await promptFor(admin)]).toEqual([200, 200, 200]);

    expect((await call('DELETE', `/api/clients/${clientId}`, admin, { reason: 'client asked to close the account' })).status).toBe(200);
    const refused = await upload();
    expect(refused).toMatchObject({ status: 404, body: { success: false, error: { code: 'NOT_FOUND' } } });
    expect((await check()).body).toMatchObject({ success: true, hasConsent: false, status: 'inactive' });
    expect([await promptFor(ai), await promptFor(trainer), await promptFor(admin)]).toEqual([404, 404, 200]);
    const { rows: kept } = await sql<{ n: number }>`select count(*)::int as n from client_consents where client_id = ${clientId} and revoked_at is null`.execute(server.ctx.db);
    expect(kept[0]!.n).toBe(2); // a soft delete can be undone: the ledger is untouched

    expect((await call('POST', `/api/clients/${clientId}/erase`, admin, { reason: 'right to erasure request' })).status).toBe(200);
    expect((await upload()).status).toBe(404);
    expect(await promptFor(admin)).toBe(404);
    const { rows: prompts } = await sql<{ n: number }>`select count(*)::int as n from client_master_prompts where client_id = ${clientId}`.execute(server.ctx.db);
    expect(prompts[0]!.n).toBe(0);
    const { rows: ledger } = await sql<{ revoked_reason: string | null }>`select revoked_reason from client_consents where client_id = ${clientId}`.execute(server.ctx.db);
    expect(ledger.map((r) => r.revoked_reason)).toEqual(['Client erased', 'Client erased']);
    // withdrawn, so there is nothing left to revoke
    expect((await call('POST', '/api/consent/revoke', admin, { clientId, consentType: 'ai_processing', reason: 'x' })).status).toBe(404);
  });
});
