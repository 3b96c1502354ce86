import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import express from 'express';
import Fastify from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountSwan as mountExpress } from '@swan/express';
import { mountSwan as mountFastify } from '@swan/fastify';
import { bearer, fakeActor, testEngines, type TestDatabase } from '@swan/test-utils';
import type { Route } from '@swan/core';
import { createOutbox, migrations, outboxRoutes, type Outbox } from '@swan/outbox';

interface App {
  url: string;
  close(): Promise<void>;
}

async function expressApp(routes: Route[]): Promise<App> {
  const server = mountExpress(express(), routes, { actor: fakeActor }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function fastifyApp(routes: Route[]): Promise<App> {
  const app = mountFastify(Fastify(), routes, { actor: fakeActor });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

describe.each([
  { name: 'express', make: expressApp },
  { name: 'fastify', make: fastifyApp },
])('outbox admin routes over $name', ({ make }) => {
  let t: TestDatabase;
  let outbox: Outbox;
  let app: App;
  let dead: string;
  let pending: string;
  beforeAll(async () => {
    t = await testEngines()[0]!.create([migrations]); // a fresh database: exact counts
    outbox = createOutbox({ db: t.db });
    app = await make(outboxRoutes(outbox));
    const c = () => ({ clientId: randomUUID() });
    const ids = await t.db.transaction().execute((trx) =>
      outbox.publishMany(trx, [
        { eventType: 'client_erased', payload: c() }, // pending, due 120 s ago
        { eventType: 'client_erased', payload: c() }, // pending, due now
        { eventType: 'client_erased', payload: c(), scheduledFor: new Date(Date.now() + 3_600_000) }, // pending, not due
        { eventType: 'consent_granted', payload: { ...c(), consentType: 'ai_processing' } }, // completed
        { eventType: 'consent_granted', payload: { ...c(), consentType: 'ai_processing' } }, // completed
        { eventType: 'consent_revoked', payload: { ...c(), consentType: 'ai_processing', declined: true } }, // dead
      ]),
    );
    pending = ids[0]!.eventId;
    dead = ids[5]!.eventId;
    await sql`update swan_outbox set scheduled_for = now() - interval '120 seconds' where event_id = ${pending}::uuid`.execute(t.admin);
    await sql`update swan_outbox set status = 'completed', processed_at = now() where event_type = 'consent_granted'`.execute(t.admin);
    await sql`update swan_outbox set status = 'dead', attempts = 5, last_error = 'Error: boom', last_error_at = now() where event_id = ${dead}::uuid`.execute(t.admin);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  const call = async (method: string, path: string, headers: Record<string, string> = bearer('admin')) => {
    const res = await fetch(app.url + path, { method, headers: method === 'POST' ? { ...headers, 'content-type': 'application/json' } : headers, ...(method === 'POST' ? { body: '{}' } : {}) });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('GET /api/admin/outbox/stats: counts by status and type, oldest pending age', async () => {
    const { status, body } = await call('GET', '/api/admin/outbox/stats');
    expect(status).toBe(200);
    expect(body.success).toBe(true);
    expect(body.byStatus).toEqual({ pending: 3, processing: 0, completed: 2, dead: 1 });
    expect(body.byType).toEqual({ client_erased: { pending: 3 }, consent_granted: { completed: 2 }, consent_revoked: { dead: 1 } });
    expect(body.dead).toBe(1);
    // the oldest due pending event (120 s ago); the one scheduled an hour ahead does not count
    expect(body.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(119);
    expect(body.oldestPendingAgeSeconds).toBeLessThan(150);
  });

  it('GET /api/admin/outbox/dead lists dead letters; a bad limit is 400 VALIDATION_FAILED', async () => {
    const { status, body } = await call('GET', '/api/admin/outbox/dead?limit=10');
    expect(status).toBe(200);
    expect(body).toMatchObject({ success: true, count: 1 });
    expect(body.events).toEqual([
      expect.objectContaining({ eventId: dead, eventType: 'consent_revoked', attempts: 5, lastError: 'Error: boom', payload: expect.objectContaining({ declined: true }) }),
    ]);
    expect((await call('GET', '/api/admin/outbox/dead?eventType=client_erased')).body).toMatchObject({ success: true, count: 0, events: [] });
    for (const limit of ['0', 'abc', '1.5', '1001', '-3']) {
      const bad = await call('GET', `/api/admin/outbox/dead?limit=${limit}`);
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ success: false, error: { code: 'VALIDATION_FAILED' } });
    }
  });

  it('admin only: 403 for other roles, 401 without a token, and nothing changes', async () => {
    for (const role of ['trainer', 'client', 'ai_service'] as const) {
      for (const [method, path] of [['GET', '/api/admin/outbox/stats'], ['GET', '/api/admin/outbox/dead'], ['POST', `/api/admin/outbox/dead/${dead}/redrive`]] as const) {
        const res = await call(method, path, bearer(role));
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ success: false, error: { code: 'FORBIDDEN' } });
      }
    }
    expect((await call('GET', '/api/admin/outbox/stats', {})).status).toBe(401);
    expect((await outbox.stats()).byStatus.dead).toBe(1);
  });

  it('POST /api/admin/outbox/dead/:eventId/redrive: 404 unknown or not dead, 400 malformed, 200 back to pending', async () => {
    const unknown = await call('POST', `/api/admin/outbox/dead/${randomUUID()}/redrive`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    expect((await call('POST', `/api/admin/outbox/dead/${pending}/redrive`)).status).toBe(404);
    const malformed = await call('POST', '/api/admin/outbox/dead/not-a-uuid/redrive');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ success: false, error: { code: 'VALIDATION_FAILED' } });
    expect((await outbox.stats()).byStatus.dead).toBe(1); // failed requests changed nothing
    const ok = await call('POST', `/api/admin/outbox/dead/${dead}/redrive`);
    expect(ok).toEqual({ status: 200, body: expect.objectContaining({ success: true, eventId: dead, status: 'pending' }) });
    const after = await call('GET', '/api/admin/outbox/stats');
    expect(after.body.byStatus).toEqual({ pending: 4, processing: 0, completed: 2, dead: 0 });
    expect((await call('POST', `/api/admin/outbox/dead/${dead}/redrive`)).status).toBe(404); // not dead any more
  });
});
