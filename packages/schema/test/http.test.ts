import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { masterPromptRoutes } from '@swan/schema';
import { actors, assign, call, createClient, migrationSets, serve, type RunningApp } from './harness.js';
import { invalidCases, validPrompt } from './fixtures.js';

// The HTTP contract on every engine and both adapters.
const cases = testEngines().flatMap((engine) => (['express', 'fastify'] as const).map((adapter) => ({ engine, adapter })));

describe.each(cases)('master prompt routes through @swan/$adapter on $engine.name', ({ engine, adapter }) => {
  let t: TestDatabase;
  let app: RunningApp;
  let clientId: string;
  const path = () => `/api/clients/${clientId}/master-prompt`;

  beforeAll(async () => {
    t = await engine.create(migrationSets);
    app = await serve(adapter, masterPromptRoutes({ db: t.db }));
    clientId = await createClient(t.admin);
    await assign(t.admin, actors.trainer.id, clientId);
  });
  afterAll(async () => { await app?.close(); await t?.close(); });

  it('GET is 404 before the first POST; POST is 201 with the stored version; GET returns it', async () => {
    expect(await call(app, 'GET', path(), 'admin')).toMatchObject({ status: 404, body: { success: false, error: { code: 'NOT_FOUND' } } });
    const posted = await call(app, 'POST', path(), 'trainer', validPrompt());
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ success: true, clientId, version: 1, schemaVersion: '3.0.0' });
    expect(posted.body.masterPrompt.client_profile).toEqual(validPrompt().client_profile);
    const read = await call(app, 'GET', path(), 'ai');
    expect(read).toEqual({ status: 200, body: posted.body });
  });

  it('answers 401 / 403 per API.md', async () => {
    expect((await call(app, 'POST', path(), undefined, validPrompt())).status).toBe(401);
    expect((await call(app, 'POST', path(), 'otherTrainer', validPrompt())).body.error.code).toBe('FORBIDDEN');
    expect((await call(app, 'POST', path(), 'ai', validPrompt())).status).toBe(403);
    expect((await call(app, 'GET', path(), `client:${clientId}`)).status).toBe(403);
    expect((await call(app, 'GET', path(), 'otherTrainer')).status).toBe(403);
  });

  it.each(invalidCases)('fixture "$name" → 400 $code with exactly the listed problems', async (c) => {
    const res = await call(app, 'POST', path(), 'admin', c.document);
    expect(res.status).toBe(400);
    expect(res.body.success).toBe(false);
    expect(res.body.error.code).toBe(c.code);
    if (c.expect) expect(res.body.error.details.map((p: any) => ({ instancePath: p.instancePath, keyword: p.keyword }))).toEqual(c.expect);
    if (c.name.startsWith('PII')) expect(JSON.stringify(res.body)).not.toMatch(/Dana|dana@example|1984-02-29/);
  });

  it('malformed JSON is 400 INVALID_JSON; nothing was stored by failed requests', async () => {
    expect((await call(app, 'POST', path(), 'admin', '{"schema_version": ')).body.error.code).toBe('INVALID_JSON');
    expect((await call(app, 'GET', path(), 'admin')).body.version).toBe(1);
  });

  it('never answers 500, whatever the body', async () => {
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({ schema_version: fc.oneof(fc.constant('3.0.0'), fc.string()), meta: fc.jsonValue(), client_profile: fc.jsonValue() }),
      fc.string({ unit: 'binary' }).map((s) => ({ ...validPrompt(), client_profile: { ...validPrompt().client_profile, training_tier: { ...validPrompt().client_profile.training_tier, tier_name: s } } })),
    );
    await fc.assert(fc.asyncProperty(body, async (b) => {
      const res = await call(app, 'POST', path(), 'admin', JSON.stringify(b) ?? 'null');
      expect(res.status).toBeLessThan(500);
      expect(typeof res.body.success).toBe('boolean');
    }), { numRuns: 60 });
  });
});
