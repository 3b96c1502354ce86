import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { isUuid, ROLES, SwanError, type ActorResolver, type Role } from '@swan/core';
import { expressGuard, mountSwan as mountExpress } from '@swan/express';
import { fastifyGuard, mountSwan as mountFastify } from '@swan/fastify';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { createConsent, type ConsentService, consentRoutes, MAX_SIGNATURE_BYTES, seedConsentVersion30 } from '../src/index.js';
import { admin, createClient, createDb, withConsentDatabase } from './setup.js';

/** Test-only actor resolver: `X-Test-Actor: <uuid>:<role>` (a host would verify a JWT here). */
const actor: ActorResolver = (req) => {
  const raw = req.headers['x-test-actor'];
  if (!raw) return null;
  const [id, role] = raw.split(':');
  if (!isUuid(id) || !(ROLES as readonly string[]).includes(role ?? '')) throw new SwanError({ code: 'UNAUTHENTICATED', message: 'bad test actor' });
  return { id, role: role as Role };
};

interface App {
  url: string;
  close(): Promise<void>;
}

async function expressApp(service: ConsentService): Promise<App> {
  const app = express();
  app.set('trust proxy', false);
  app.post('/host/photos', expressGuard(service.requireConsent('photo_analysis'), { actor }), (_req, res) => {
    res.json({ success: true, stored: true });
  });
  mountExpress(app, consentRoutes(service), { actor });
  const server: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function fastifyApp(service: ConsentService): Promise<App> {
  const app: FastifyInstance = Fastify();
  app.post('/host/photos', { preHandler: fastifyGuard(service.requireConsent('photo_analysis'), { actor }) }, async () => ({ success: true, stored: true }));
  mountFastify(app, consentRoutes(service), { actor });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

const adapters = [
  { name: 'express', make: expressApp, VERSION: '9.1' },
  { name: 'fastify', make: fastifyApp, VERSION: '9.2' },
];

async function callApp(app: App, method: string, path: string, who: string | null, body?: unknown) {
  const headers: Record<string, string> = { 'user-agent': 'contract-test/1' };
  if (who) headers['x-test-actor'] = who;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(app.url + path, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as any };
}

// Every engine: PGlite always, PostgreSQL (the application connecting as swan_app) when DATABASE_URL is set.
describe.each(testEngines())('consent HTTP on $name', (engine) => {
  // One database for both adapters' contract tests.
  let t: TestDatabase;
  let service: ConsentService;
  withConsentDatabase(engine, (db, consent) => void ((t = db), (service = consent)));

  describe.each(adapters)('consent routes over $name', ({ make, VERSION }) => {
    let app: App;
    beforeAll(async () => {
      app = await make(service);
    });
    afterAll(() => app?.close());

    const call = (method: string, path: string, who: string | null, body?: unknown) => callApp(app, method, path, who, body);

    it('serves the API.md contract: grant, check, list, revoke, and the guard on a host route', async () => {
      const clientId = await createClient(t.admin);
      const me = `${clientId}:client`;
      const boss = `${admin.id}:admin`;
      const trainer = `${randomUUID()}:trainer`;

      expect((await call('POST', '/host/photos', me)).body).toMatchObject({ success: false, error: { code: 'CONSENT_REQUIRED' } });
      expect((await call('POST', '/api/consent/grant', null, { clientId, consentType: 'photo_analysis', consentVersion: '3.0', consentGranted: true })).status).toBe(401);
      expect((await call('POST', '/api/consent/grant', trainer, { clientId, consentType: 'photo_analysis', consentVersion: '3.0', consentGranted: true })).status).toBe(403);
      expect((await call('POST', '/api/consent/grant', `${randomUUID()}:client`, { clientId, consentType: 'photo_analysis', consentVersion: '3.0', consentGranted: true })).body)
        .toMatchObject({ success: false, error: { code: 'FORBIDDEN' } });

      const granted = await call('POST', '/api/consent/grant', me, { clientId, consentType: 'photo_analysis', consentVersion: '3.0', consentGranted: true });
      expect(granted.status).toBe(200);
      expect(granted.body).toMatchObject({ success: true, consent: { clientId, consentType: 'photo_analysis', userAgent: 'contract-test/1', consentMethod: 'web_form' } });
      expect(granted.body.consent.ipAddress).toMatch(/127\.0\.0\.1/);

      expect(await call('POST', '/host/photos', me)).toEqual({ status: 200, body: { success: true, stored: true } });
      expect(await call('GET', `/api/consent/check/${clientId}/photo_analysis`, trainer)).toMatchObject({ status: 200, body: { success: true, hasConsent: true } });
      const list = await call('GET', `/api/consent/${clientId}`, me);
      expect(list.body.consents[0]).toMatchObject({ consentType: 'photo_analysis', summary: expect.stringContaining('AI-powered') });
      expect((await call('GET', `/api/consent/${clientId}`, trainer)).status).toBe(403);

      expect(await call('POST', '/api/consent/revoke', me, { clientId, consentType: 'photo_analysis', reason: 'stop' })).toMatchObject({ status: 200, body: { success: true } });
      // the very next request is refused
      expect(await call('POST', '/host/photos', me)).toMatchObject({ status: 403, body: { error: { code: 'CONSENT_REQUIRED' } } });
      expect((await call('GET', `/api/consent/check/${clientId}/photo_analysis`, boss)).body.hasConsent).toBe(false);
      expect(await call('POST', '/api/consent/revoke', me, { clientId, consentType: 'photo_analysis', reason: 'again' })).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    });

    it('answers bad input with the codes of API.md and writes nothing', async () => {
      const clientId = await createClient(t.admin);
      const totals = async () => (await sql<{ consents: number; versions: number }>`
        select (select count(*)::int from client_consents) as consents, (select count(*)::int from consent_versions) as versions`.execute(t.admin)).rows[0]!;
      const before = await totals();
      const boss = `${admin.id}:admin`;
      const grant = (body: unknown) => call('POST', '/api/consent/grant', boss, typeof body === 'string' ? body : { consentGranted: true, ...(body as object) });
      const code = async (p: Promise<{ status: number; body: any }>) => { const r = await p; return [r.status, r.body.error?.code]; };
      // over HTTP the answer must be explicit: no consentGranted records nothing
      const unanswered = await call('POST', '/api/consent/grant', boss, { clientId, consentType: 'ai_processing', consentVersion: '3.0' });
      expect(unanswered).toMatchObject({ status: 400, body: { success: false, error: { code: 'VALIDATION_FAILED', details: { field: 'consentGranted' } } } });
      expect(await code(grant({ clientId, consentType: 'ai_processing', consentVersion: '3.0', consentGranted: 'yes' }))).toEqual([400, 'VALIDATION_FAILED']);
      expect(await code(grant({ clientId, consentType: 'telepathy', consentVersion: '3.0' }))).toEqual([400, 'VALIDATION_FAILED']);
      expect(await code(grant({ clientId, consentType: 'ai_processing', consentVersion: '7.7' }))).toEqual([404, 'NOT_FOUND']);
      expect(await code(grant({ clientId: randomUUID(), consentType: 'ai_processing', consentVersion: '3.0' }))).toEqual([404, 'NOT_FOUND']);
      expect(await code(grant({ clientId: 'abc', consentType: 'ai_processing', consentVersion: '3.0' }))).toEqual([400, 'VALIDATION_FAILED']);
      expect(await code(grant({ clientId, consentType: 'ai_processing', consentVersion: '3.0', signatureData: 'a'.repeat(MAX_SIGNATURE_BYTES + 1) }))).toEqual([413, 'PAYLOAD_TOO_LARGE']);
      expect(await code(grant('{"clientId": '))).toEqual([400, 'INVALID_JSON']);
      expect(await code(call('GET', '/api/consent/check/abc/ai_processing', boss))).toEqual([400, 'VALIDATION_FAILED']);
      expect(await code(call('GET', `/api/consent/check/${clientId}/telepathy`, boss))).toEqual([400, 'VALIDATION_FAILED']);
      expect(await code(call('GET', `/api/consent/${randomUUID()}`, boss))).toEqual([404, 'NOT_FOUND']);
      expect(await code(call('POST', '/api/consent/versions', `${clientId}:client`, { version: VERSION, effectiveDate: '2030-01-01', fullText: 'x' }))).toEqual([403, 'FORBIDDEN']);
      expect(await call('POST', '/api/consent/versions', boss, { version: VERSION, effectiveDate: '2030-01-01', fullText: 'x' })).toMatchObject({ status: 201, body: { success: true, version: { version: VERSION } } });
      expect(await code(call('POST', '/api/consent/versions', boss, { version: VERSION, effectiveDate: '2030-01-01', fullText: 'x' }))).toEqual([409, 'CONFLICT']);
      const row = await t.admin.selectFrom('client_consents').select((eb) => eb.fn.countAll().as('n')).where('client_id', '=', clientId).executeTakeFirstOrThrow();
      expect(Number(row.n)).toBe(0);
      // only the one successful publish changed anything
      expect(await totals()).toEqual({ consents: before.consents, versions: before.versions + 1 });
    });
  });
});

const utcDate = (d: Date) => d.toISOString().slice(0, 10);

// Its own database per engine: publishing a version that requires re-consent affects every client.
describe.each(testEngines())('re-consent over HTTP on $name', (engine) => {
  let t: TestDatabase;
  let apps: { name: string; app: App }[];
  beforeAll(async () => {
    t = await createDb(engine);
    const service = createConsent({ db: t.db });
    await seedConsentVersion30(t.db);
    apps = [];
    for (const { name, make } of adapters) apps.push({ name, app: await make(service) });
  });
  afterAll(async () => {
    for (const { app } of apps ?? []) await app.close();
    await t?.close();
  });

  it('a guarded route answers 403 RECONSENT_REQUIRED naming the version to show once 3.1 requires re-consent, through both adapters', async () => {
    const clientId = await createClient(t.admin);
    const me = `${clientId}:client`;
    const boss = `${admin.id}:admin`;
    const [first] = apps;
    expect((await callApp(first!.app, 'POST', '/api/consent/grant', me, { clientId, consentType: 'photo_analysis', consentVersion: '3.0', consentGranted: true })).status).toBe(200);
    for (const { name, app } of apps) {
      expect([name, await callApp(app, 'POST', '/host/photos', me)]).toEqual([name, { status: 200, body: { success: true, stored: true } }]);
    }

    // 3.1 effective today, requiring re-consent, published over HTTP
    const published = await callApp(first!.app, 'POST', '/api/consent/versions', boss, {
      version: '3.1', effectiveDate: utcDate(new Date()), fullText: 'Version 3.1: a new AI processor.', summary: 'New processor', requiresReConsent: true,
    });
    expect(published).toMatchObject({ status: 201, body: { success: true, version: { version: '3.1', requiresReConsent: true } } });

    for (const { name, app } of apps) {
      const denied = await callApp(app, 'POST', '/host/photos', me);
      expect([name, denied]).toEqual([name, {
        status: 403,
        body: {
          success: false,
          error: {
            code: 'RECONSENT_REQUIRED',
            message: expect.stringContaining('3.1'),
            details: { consentType: 'photo_analysis', version: '3.1', consentedVersion: '3.0', requiredVersion: '3.1' },
          },
        },
      }]);
      expect((await callApp(app, 'GET', `/api/consent/check/${clientId}/photo_analysis`, boss)).body)
        .toMatchObject({ success: true, hasConsent: false, status: 'reconsent', currentVersion: '3.1' });
    }

    // consenting to the version shown clears it on the very next request, on both adapters
    const last = apps.at(-1)!;
    expect((await callApp(last.app, 'POST', '/api/consent/grant', me, { clientId, consentType: 'photo_analysis', consentVersion: '3.1', consentGranted: true })).status).toBe(200);
    for (const { name, app } of apps) {
      expect([name, (await callApp(app, 'POST', '/host/photos', me)).status]).toEqual([name, 200]);
    }
    // a client who never consented is asked for consent, not re-consent
    const other = await createClient(t.admin);
    for (const { app } of apps) {
      expect((await callApp(app, 'POST', '/host/photos', `${other}:client`)).body.error).toMatchObject({ code: 'CONSENT_REQUIRED', details: { status: 'none', version: '3.1' } });
    }
  });
});
