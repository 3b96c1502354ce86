import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import { bootServer, mintToken, sendJson, type TestServer } from './helpers.js';
import { validPrompt } from '../../../packages/schema/test/fixtures.js';

// The example server as shipped (JWT auth, every module), both frameworks.
describe.each(['express', 'fastify'])('example server (%s): master prompts and /onboarding', (framework) => {
  let server: TestServer;
  let admin: string;
  let ai: string;

  beforeAll(async () => {
    server = await bootServer({ SWAN_FRAMEWORK: framework }, [], []);
    const token = (role: string) => mintToken({ sub: randomUUID(), role }, { expiresIn: '10m' });
    [admin, ai] = await Promise.all([token('admin'), token('ai_service')]);
  });
  afterAll(() => server?.dispose());

  const send = (method: string, path: string, token: string, body?: unknown) => sendJson(server.url + path, method, token, body);

  it('stores a master prompt for a client created through the PII API and serves it to ai_service', async () => {
    const created = await send('POST', '/api/clients', admin, {
      pii: { full_name: 'Dana Example', date_of_birth: '1984-02-29', email: `dana+${randomUUID()}@example.org`, emergency_contact: { name: 'Sam Example', phone: '+15555550123' } },
      training: { gender: 'Non-binary', height_inches: 70, weight_lbs: 182.4 },
    });
    expect(created.body).toMatchObject({ success: true });
    const { clientId, alias } = created.body.client;
    const path = `/api/clients/${clientId}/master-prompt`;
    const posted = await send('POST', path, admin, validPrompt()); // the fixture's client_id is another UUID: the URL wins
    expect(posted.status).toBe(201);
    expect(posted.body.masterPrompt.meta).toMatchObject({ client_id: clientId, client_alias: alias });
    expect(JSON.stringify(posted.body)).not.toMatch(/Dana|dana\+|1984-02-29/);
    const read = await send('GET', path, ai);
    expect(read).toEqual({ status: 200, body: posted.body });
    const bad = await send('POST', path, admin, { ...validPrompt(), schema_version: '2.9.0' });
    expect(bad.body.error).toMatchObject({ code: 'INCOMPATIBLE_SCHEMA_VERSION', details: { expected: '3.x.y', received: '2.9.0' } });
    const exported = await send('GET', `/api/clients/${clientId}/export`, admin);
    expect(exported.status).toBe(200);
    expect(JSON.stringify(exported.body)).toContain(`"masterPrompts":[{"clientId":"${clientId}","version":1,`);
  });

  it('serves the onboarding page under a CSP without unsafe-eval, and the validator module', async () => {
    const page = await fetch(`${server.url}/onboarding`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(page.headers.get('content-security-policy')).not.toContain('unsafe-eval');
    expect(await page.text()).toContain('/assets/onboarding.js');
    const validator = await fetch(`${server.url}/assets/master-prompt-validator.js`);
    expect(validator.headers.get('content-type')).toMatch(/javascript/);
    expect(await validator.text()).toContain('checkMasterPrompt');
  });
});
