/**
 * The PII routes of API.md over real HTTP through both adapters (the example server with real
 * JWTs): PII read with its access rules and audit, trainer assignment, training data for
 * ai_service, soft delete with a JSON body, erasure with its event, audit verification.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, mintToken, type TestServer } from './helpers.js';

describe.each(['express', 'fastify'] as const)('PII routes over HTTP on %s', (framework) => {
  let server: TestServer;
  let admin: string;
  let trainer: string;
  let other: string;
  let ai: string;
  const trainerId = randomUUID();
  const otherTrainerId = randomUUID();

  const send = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const create = async (n: number) => {
    const r = await send('POST', '/api/clients', admin, {
      pii: { full_name: `Route Person ${n}${framework}`, preferred_name: `Routy${n}`, date_of_birth: '1990-05-17', email: `route${n}.${randomUUID()}@example.com`,
        emergency_contact: { name: 'Kin', relationship: 'parent', phone: '+12025550123' } },
      training: { gender: 'Female', height_inches: 64, weight_lbs: 140, training_goals: ['strength'] },
    });
    expect(r.status).toBe(201);
    return r.body.client as { clientId: string; alias: string };
  };
  const auditOf = async (resourceId: string) => (await sql<{ actor_role: string; outcome: string; reason: string | null; action: string }>`
    select actor_role, outcome, reason, action from swan_audit_log where resource_id = ${resourceId} order by id`.execute(server.ctx.db)).rows;

  beforeAll(async () => {
    server = await bootServer({ SWAN_FRAMEWORK: framework, RUN_WORKERS: 'false' }, [], []);
    const token = (sub: string, role: string) => mintToken({ sub, role }, { expiresIn: '10m' });
    [admin, trainer, other, ai] = await Promise.all([token(randomUUID(), 'admin'), token(trainerId, 'trainer'), token(otherTrainerId, 'trainer'), token(randomUUID(), 'ai_service')]);
  });
  afterAll(() => server?.dispose());

  it('GET …/pii: admin and the assigned trainer read it; others are refused, and every attempt is audited', async () => {
    const c = await create(1);
    const pii = (id: string, t: string, reason: string | null = 'session planning') => send('GET', `/api/clients/${id}/pii${reason === null ? '' : `?purpose=session_planning&reason=${encodeURIComponent(reason)}`}`, t);

    const assigned = await send('PUT', `/api/trainers/${trainerId}/clients/${c.clientId}`, admin);
    expect(assigned.status).toBe(200);
    expect(assigned.body).toMatchObject({ success: true, assignment: expect.any(Object) });
    expect((await send('PUT', `/api/trainers/${trainerId}/clients/${c.clientId}`, trainer)).status).toBe(403);

    const byAdmin = await pii(c.clientId, admin);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.pii).toMatchObject({ full_name: `Route Person 1${framework}`, preferred_name: 'Routy1', date_of_birth: '1990-05-17' });
    const byTrainer = await pii(c.clientId, trainer);
    expect(byTrainer).toMatchObject({ status: 200, body: { pii: { full_name: `Route Person 1${framework}` } } });

    const before = (await auditOf(c.clientId)).length;
    expect(await pii(c.clientId, other, 'curious')).toMatchObject({ status: 403, body: { success: false, error: { code: 'FORBIDDEN' } } });
    expect(await pii(c.clientId, ai, 'model input')).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await pii(c.clientId, admin, null)).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    const unknown = randomUUID();
    expect(await pii(unknown, admin, 'lookup')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await pii('not-a-uuid', admin)).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect((await pii(c.clientId, undefined as unknown as string)).status).toBe(401);

    const rows = await auditOf(c.clientId);
    expect(rows.slice(0, before).filter((r) => r.action === 'PII_ACCESS' && r.outcome === 'allowed').map((r) => r.actor_role)).toEqual(['admin', 'trainer']);
    expect(rows.slice(before).filter((r) => r.action === 'PII_ACCESS').map((r) => [r.actor_role, r.outcome, r.reason])).toEqual([
      ['trainer', 'denied', 'session_planning'],
      ['ai_service', 'denied', 'session_planning'],
    ]);
    // the notes are sealed under the client's key, never stored in plaintext
    expect(JSON.stringify(rows)).not.toMatch(/curious|model input/);
    expect((await auditOf(unknown)).map((r) => [r.actor_role, r.action, r.outcome])).toEqual([['admin', 'PII_ACCESS', expect.not.stringMatching(/^allowed$/)]]);
    // the denials carry no PII
    expect(JSON.stringify(rows)).not.toMatch(/Route Person|Routy|route1\./);
  });

  it('GET …/training: ai_service sees the alias and training data, no PII; an unassigned trainer does not', async () => {
    const c = await create(2);
    const res = await send('GET', `/api/clients/${c.clientId}/training`, ai);
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain(c.alias);
    expect(res.body.training).toMatchObject({ gender: 'Female', height_inches: 64, training_goals: ['strength'] });
    expect(JSON.stringify(res.body)).not.toMatch(/Route Person|Routy|route2\.|1990-05-17/);
    expect((await send('GET', `/api/clients/${c.clientId}/training`, other)).status).toBe(403);
    expect((await send('GET', `/api/clients/${randomUUID()}/training`, admin)).status).toBe(404);
  });

  it('DELETE …/:id with a JSON reason soft-deletes: reads are 404 afterwards', async () => {
    const c = await create(3);
    expect((await send('DELETE', `/api/clients/${c.clientId}`, admin, {})).status).toBe(400); // reason required
    expect((await send('GET', `/api/clients/${c.clientId}/pii?purpose=session_planning&reason=check`, admin)).status).toBe(200);
    expect((await send('DELETE', `/api/clients/${c.clientId}`, trainer, { reason: 'nope' })).status).toBe(403);
    const del = await send('DELETE', `/api/clients/${c.clientId}`, admin, { reason: 'duplicate account' });
    expect(del).toMatchObject({ status: 200, body: { success: true } });
    expect(await send('GET', `/api/clients/${c.clientId}/pii?purpose=session_planning&reason=${encodeURIComponent('after delete')}`, admin)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
  });

  it('POST …/erase is irreversible: PII and training gone, a client_erased event without PII, the audit chain valid', async () => {
    const c = await create(4);
    expect((await send('POST', `/api/clients/${c.clientId}/erase`, admin, {})).status).toBe(400);
    expect((await send('POST', `/api/clients/${c.clientId}/erase`, ai, { reason: 'x' })).status).toBe(403);
    const erased = await send('POST', `/api/clients/${c.clientId}/erase`, admin, { reason: 'right to erasure' });
    expect(erased).toMatchObject({ status: 200, body: { success: true } });
    expect((await send('GET', `/api/clients/${c.clientId}/pii?purpose=session_planning&reason=${encodeURIComponent('after erase')}`, admin)).status).toBe(404);
    expect((await send('GET', `/api/clients/${c.clientId}/training`, admin)).status).toBe(404);
    const { rows: keys } = await sql<{ n: number }>`select count(*)::int as n from client_data_keys where client_id = ${c.clientId}`.execute(server.ctx.db);
    expect(keys[0]!.n).toBe(0);
    const { rows: tomb } = await sql<{ full_name: unknown; email: unknown; email_index: unknown }>`
      select full_name, email, email_index from client_profile_pii where client_id = ${c.clientId}`.execute(server.ctx.db);
    for (const r of tomb) expect(r).toEqual({ full_name: null, email: null, email_index: null });
    const { rows: ev } = await sql<{ payload: Record<string, unknown> }>`select payload from swan_outbox where event_type = 'client_erased' and aggregate_id = ${c.clientId}`.execute(server.ctx.db);
    expect(ev).toHaveLength(1);
    expect(ev[0]!.payload).toMatchObject({ clientId: c.clientId, alias: c.alias });
    expect(JSON.stringify(ev)).not.toMatch(/Route Person|Routy|route4\./);
    // erasing twice: not found (nothing left to erase) or idempotent — never a second event
    await send('POST', `/api/clients/${c.clientId}/erase`, admin, { reason: 'again' });
    expect((await sql<{ n: number }>`select count(*)::int as n from swan_outbox where event_type = 'client_erased' and aggregate_id = ${c.clientId}`.execute(server.ctx.db)).rows[0]!.n).toBe(1);
  });

  it('GET /api/audit/verify: admin only, valid over the entries written', async () => {
    await create(5);
    expect((await send('GET', '/api/audit/verify', trainer)).status).toBe(403);
    let res = await send('GET', '/api/audit/verify', admin);
    // the chainer links entries in the background: wait until it has seen them
    for (let i = 0; i < 50 && res.body.entries === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await send('GET', '/api/audit/verify', admin);
    }
    expect(res).toMatchObject({ status: 200, body: { success: true, valid: true, entries: expect.any(Number) } });
    expect(res.body.entries).toBeGreaterThan(0);
    expect(res.body.firstBrokenId).toBeUndefined();
  });
});
