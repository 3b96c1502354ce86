import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { postgresUrl, testEngines, type TestDatabase } from '@swan/test-utils';
import { bootServer, mintToken, type TestServer } from './helpers.js';
import { validPrompt } from '../../../packages/schema/test/fixtures.js';

const postgres = postgresUrl() ? testEngines().find((e) => e.name === 'postgres') : undefined;
const cases = [
  { name: 'PGlite, express', framework: 'express', engine: undefined },
  { name: 'PGlite, fastify', framework: 'fastify', engine: undefined },
  ...(postgres ? [{ name: 'PostgreSQL, express', framework: 'express', engine: postgres }, { name: 'PostgreSQL, fastify', framework: 'fastify', engine: postgres }] : []),
];

/** Rectification (Art. 16), restriction of processing (Art. 18) and the admin client list over HTTP. */
describe.each(cases)('rectification and restriction ($name)', ({ framework, engine }) => {
  let pg: TestDatabase | undefined;
  let server: TestServer;
  let admin: string;
  let aiService: string;

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const createClient = async (email = `${randomUUID()}@example.org`) => {
    const created = await call('POST', '/api/clients', admin, {
      pii: { full_name: 'Rowan Example', date_of_birth: '1988-03-04', email, phone_number: '+14155550142', emergency_contact: { name: 'Sam' } },
      training: { height_inches: 70 },
    });
    expect(created.status).toBe(201);
    const clientId: string = created.body.client.clientId;
    return { clientId, email, token: await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '10m' }) };
  };
  /** The owner's handle on PostgreSQL (swan_app reads no audit log or outbox), PGlite's one session. */
  const owner = () => pg?.admin ?? server.ctx.db;
  const findByEmail = async (email: string) => {
    const pii = server.ctx.services.pii as { findClientByEmail(email: string, actor: unknown): Promise<{ clientId: string } | null> };
    return pii.findClientByEmail(email, { id: randomUUID(), role: 'admin' });
  };

  beforeAll(async () => {
    pg = engine ? await engine.create([]) : undefined;
    server = await bootServer({ SWAN_FRAMEWORK: framework, RUN_WORKERS: 'false', ...(pg ? { DATABASE_URL: pg.adminUrl! } : {}) }, [], []);
    admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '10m' });
    aiService = await mintToken({ sub: randomUUID(), role: 'ai_service' }, { expiresIn: '10m' });
  }, 180_000);
  afterAll(async () => {
    await server?.dispose();
    await pg?.close();
  });

  it('PATCH …/pii moves the email: the old one no longer finds the client, the new one does; a taken one is 409 and changes nothing', async () => {
    const a = await createClient();
    const b = await createClient();
    const newEmail = `renamed-${randomUUID()}@example.org`;
    const patched = await call('PATCH', `/api/clients/${a.clientId}/pii`, admin, { email: newEmail, full_name: 'Rowan Renamed' });
    expect(patched).toEqual({ status: 200, body: { success: true, client: { clientId: a.clientId, fields: ['full_name', 'email'] } } });
    expect(await findByEmail(a.email)).toBeNull();
    expect(await findByEmail(newEmail)).toMatchObject({ clientId: a.clientId });
    const read = await call('GET', `/api/clients/${a.clientId}/pii?purpose=data_subject_request&reason=check`, admin);
    expect(read.body.pii).toMatchObject({ email: newEmail, full_name: 'Rowan Renamed' });

    const taken = await call('PATCH', `/api/clients/${b.clientId}/pii`, admin, { email: newEmail, full_name: 'Should Not Stick' });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('CONFLICT');
    expect(await findByEmail(b.email)).toMatchObject({ clientId: b.clientId });
    expect((await call('GET', `/api/clients/${b.clientId}/pii?purpose=data_subject_request&reason=check`, admin)).body.pii.full_name).toBe('Rowan Example');

    const { rows } = await sql<{ client: string; details: unknown; reason: string | null }>`
      select resource_id as client, details, reason from swan_audit_log where action = 'PII_RECTIFIED'`.execute(owner());
    expect(rows).toEqual([{ client: a.clientId, details: { fields: ['full_name', 'email'] }, reason: null }]);
    expect(JSON.stringify(rows)).not.toMatch(/renamed-|Renamed/);

    expect((await call('PATCH', `/api/clients/${a.clientId}/pii`, admin, { date_of_birth: 'yesterday' })).body.error.code).toBe('VALIDATION_FAILED');
    expect((await call('PATCH', `/api/clients/${a.clientId}/pii`, aiService, { full_name: 'X' })).status).toBe(403);
    const training = await call('PATCH', `/api/clients/${a.clientId}/training`, admin, { weight_lbs: 171.5 });
    expect(training.body).toEqual({ success: true, client: { clientId: a.clientId, fields: ['weight_lbs'] } });
    expect((await call('GET', `/api/clients/${a.clientId}/training`, admin)).body.training.weight_lbs).toBe(171.5);
  });

  it('restriction: every processing path answers PROCESSING_RESTRICTED, exports and admin reads still work; unrestrict restores them', async () => {
    const c = await createClient();
    for (const consentType of ['photo_analysis']) {
      expect((await call('POST', '/api/consent/grant', c.token, { clientId: c.clientId, consentType, consentVersion: '3.0', consentGranted: true })).status).toBe(200);
    }
    expect((await call('POST', `/api/clients/${c.clientId}/master-prompt`, admin, validPrompt())).status).toBe(201);
    const checkin = { kind: 'morning', scheduledFor: new Date(Date.now() + 3_600_000).toISOString(), timezone: 'America/New_York' };
    const queued = await call('POST', `/api/clients/${c.clientId}/checkins`, admin, checkin);
    expect(queued.status).toBe(202);

    const restricted = await call('POST', `/api/clients/${c.clientId}/restrict`, admin, { reason: 'accuracy contested' });
    expect(restricted.status).toBe(200);
    expect((await call('POST', `/api/clients/${c.clientId}/restrict`, admin, { reason: 'twice' })).status).toBe(409);

    const refused = [
      await call('POST', '/api/ai-village/query', c.token, { query: 'plan my week' }), // no ai_processing consent: restriction comes first
      await call('POST', '/api/photo-upload', c.token, { objectKey: 'uploads/front.jpg' }),
      await call('POST', `/api/clients/${c.clientId}/checkins`, admin, checkin),
      await call('GET', `/api/clients/${c.clientId}/training`, aiService),
      await call('GET', `/api/clients/${c.clientId}/master-prompt`, aiService),
    ];
    expect(refused.map((r) => `${r.status} ${r.body.error?.code}`)).toEqual(Array(5).fill('403 PROCESSING_RESTRICTED'));

    // the check-in queued before the restriction completes without sending (here Twilio is not even configured)
    const checkins = server.ctx.services.checkins as { handleCheckInEvent(e: unknown): Promise<string> };
    const { rows: events } = await sql<{ event_id: string; event_type: string; payload: Record<string, unknown> }>`
      select event_id, event_type, payload from swan_outbox where event_id = ${queued.body.eventId}`.execute(owner());
    expect(await checkins.handleCheckInEvent({ eventId: events[0]!.event_id, eventType: events[0]!.event_type, payload: events[0]!.payload })).toBe('opted_out');

    // exports and admin reads still work
    const exported = await call('GET', `/api/clients/${c.clientId}/export`, c.token);
    expect(exported.status).toBe(200);
    expect(exported.body.export.restrictions).toEqual([{ restrictedAt: restricted.body.client.restrictedAt, reason: 'accuracy contested', liftedAt: null, liftReason: null }]);
    expect((await call('GET', `/api/clients/${c.clientId}/export`, admin)).status).toBe(200);
    expect((await call('GET', `/api/clients/${c.clientId}/training`, admin)).status).toBe(200);
    expect((await call('GET', `/api/clients/${c.clientId}/master-prompt`, admin)).status).toBe(200);
    expect((await call('GET', `/api/clients/${c.clientId}/pii?purpose=data_subject_request&reason=restricted`, admin)).status).toBe(200);

    const lifted = await call('POST', `/api/clients/${c.clientId}/unrestrict`, admin, { reason: 'accuracy verified' });
    expect(lifted.status).toBe(200);
    expect((await call('POST', `/api/clients/${c.clientId}/unrestrict`, admin, { reason: 'twice' })).status).toBe(409);
    const restored = [
      await call('POST', '/api/ai-village/query', c.token, { query: 'plan my week' }),
      await call('POST', '/api/photo-upload', c.token, { objectKey: 'uploads/front.jpg' }),
      await call('POST', `/api/clients/${c.clientId}/checkins`, admin, checkin),
      await call('GET', `/api/clients/${c.clientId}/training`, aiService),
      await call('GET', `/api/clients/${c.clientId}/master-prompt`, aiService),
    ];
    expect(restored.map((r) => r.body.error?.code ?? r.status)).toEqual(['CONSENT_REQUIRED', 202, 202, 200, 200]);
    const history = (await call('GET', `/api/clients/${c.clientId}/export`, admin)).body.export.restrictions;
    expect(history).toEqual([expect.objectContaining({ liftedAt: lifted.body.client.liftedAt, liftReason: 'accuracy verified' })]);
  });

  it('GET /api/admin/clients pages through every client with its status, aliases only', async () => {
    const made = [await createClient(), await createClient(), await createClient()];
    expect((await call('POST', `/api/clients/${made[0]!.clientId}/restrict`, admin, { reason: 'objection' })).status).toBe(200);
    expect((await call('DELETE', `/api/clients/${made[1]!.clientId}`, admin, { reason: 'paused' })).status).toBe(200);
    expect((await call('POST', `/api/clients/${made[2]!.clientId}/erase`, admin, { reason: 'art. 17' })).status).toBe(200);
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: any } = await call('GET', `/api/admin/clients?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, admin);
      expect(page.status).toBe(200);
      expect(page.body.clients.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.clients);
      cursor = page.body.nextCursor;
    } while (cursor);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from client_profile_pii`.execute(owner());
    expect(seen).toHaveLength(rows[0]!.n);
    expect(new Set(seen.map((c) => c.clientId)).size).toBe(seen.length);
    const status = Object.fromEntries(seen.map((c) => [c.clientId, c.status]));
    expect(made.map((m) => status[m.clientId])).toEqual(['restricted', 'deleted', 'erased']);
    expect(JSON.stringify(seen)).not.toMatch(/Rowan|example\.org/);
    for (const query of ['limit=0', 'limit=101', 'limit=ten', 'cursor=garbage']) {
      const bad = await call('GET', `/api/admin/clients?${query}`, admin);
      expect(`${bad.status} ${bad.body.error.code}`).toBe('400 VALIDATION_FAILED');
    }
    expect((await call('GET', '/api/admin/clients', aiService)).status).toBe(403);
  });
});
