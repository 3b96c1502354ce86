import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, getJson, mintToken, unsignedToken, type TestServer } from './helpers.js';

describe.each(['express', 'fastify'] as const)('example server on %s (PGlite)', (framework) => {
  let server: TestServer;
  const admin = { sub: randomUUID(), role: 'admin' };
  beforeAll(async () => {
    // the framework comes from the flag, overriding the environment
    server = await bootServer({ SWAN_FRAMEWORK: framework === 'express' ? 'fastify' : 'express' }, ['--framework', framework]);
  });
  afterAll(() => server.dispose());

  it('logs the framework, engine, rate-limit store and workers it runs with', () => {
    const listening = server.logger.entries.find((e) => e.msg === 'swan example server listening');
    expect(listening).toMatchObject({ framework, database: { engine: 'pglite' }, rateLimitStore: expect.stringMatching(/^memory/), workers: 'in-process' });
  });

  it('answers GET /healthz without credentials', async () => {
    const { status, body } = await getJson(`${server.url}/healthz`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ success: true, status: 'ok', database: 'pglite', redis: 'memory', nats: 'disabled' });
  });

  it('routes a path with a trailing slash as the path (both frameworks alike)', async () => {
    expect((await getJson(`${server.url}/healthz/`)).body).toMatchObject({ success: true, status: 'ok' });
  });

  it('answers a URL with malformed percent-encoding with 400 VALIDATION_FAILED in the envelope', async () => {
    const { status, body } = await getJson(`${server.url}/api/clients/%ZZ/pii?purpose=session_planning&reason=checking`, `Bearer ${await mintToken(admin, { expiresIn: '5m' })}`);
    expect(status).toBe(400);
    expect(body).toEqual({ success: false, error: { code: 'VALIDATION_FAILED', message: 'The request URL is malformed' } });
  });

  it('answers an unknown route with 404 NOT_FOUND in the envelope', async () => {
    const { status, body } = await getJson(`${server.url}/api/does-not-exist`);
    expect(status).toBe(404);
    expect(body).toEqual({ success: false, error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });

  it('accepts a valid HS256 bearer token and passes the actor to routes', async () => {
    const { status, body } = await getJson(`${server.url}/test/admin-only`, `Bearer ${await mintToken(admin, { expiresIn: '5m' })}`);
    expect(status).toBe(200);
    expect(body).toEqual({ success: true, actor: { id: admin.sub, role: 'admin' } });
  });

  it('answers 403 FORBIDDEN to an authenticated actor of another role', async () => {
    const trainer = await mintToken({ sub: randomUUID(), role: 'trainer' }, { expiresIn: '5m' });
    const { status, body } = await getJson(`${server.url}/test/admin-only`, `Bearer ${trainer}`);
    expect(status).toBe(403);
    expect(body.error.code).toBe('FORBIDDEN');
    expect((await getJson(`${server.url}/test/any-actor`, `Bearer ${trainer}`)).status).toBe(200);
  });

  const inFiveMinutes = () => Math.floor(Date.now() / 1000) + 300;
  const badCredentials: Array<[string, () => Promise<string | undefined>]> = [
    ['no Authorization header', async () => undefined],
    ['another scheme', async () => `Basic ${Buffer.from('admin:admin').toString('base64')}`],
    ['a malformed token', async () => 'Bearer not.a.jwt'],
    ['a wrong signature', async () => `Bearer ${await mintToken(admin, { secret: 'another-secret-0123456789-abcdefghij', expiresIn: '5m' })}`],
    ['an expired token', async () => `Bearer ${await mintToken(admin, { expiresIn: Math.floor(Date.now() / 1000) - 60 })}`],
    ['alg none', async () => `Bearer ${unsignedToken({ ...admin, exp: inFiveMinutes() })}`],
    ['another algorithm (HS512)', async () => `Bearer ${await mintToken(admin, { alg: 'HS512', expiresIn: '5m' })}`],
    ['no exp claim', async () => `Bearer ${await mintToken(admin)}`],
    ['an unknown role', async () => `Bearer ${await mintToken({ sub: randomUUID(), role: 'superadmin' }, { expiresIn: '5m' })}`],
    ['no role', async () => `Bearer ${await mintToken({ sub: randomUUID() }, { expiresIn: '5m' })}`],
    ['a subject that is not a UUID', async () => `Bearer ${await mintToken({ sub: 'admin', role: 'admin' }, { expiresIn: '5m' })}`],
  ];
  it.each(badCredentials)('answers 401 UNAUTHENTICATED for %s', async (_, token) => {
    const value = await token();
    const { status, body } = await getJson(`${server.url}/test/admin-only`, value);
    expect(status).toBe(401);
    expect(body).toEqual({ success: false, error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
    if (value) expect(body.error.message).not.toContain(value.slice(7, 40));
  });
});
