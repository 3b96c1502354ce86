/**
 * GET /onboarding of the example server as shipped (every module, JWT auth, PGlite), driven in
 * headless Chromium: the browser validates with the precompiled validator (no request for a bad
 * form), a good form is stored through the real API with a real signed token, and what the API
 * then serves is what the form sent (plus the server's fields).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { chromiumPath } from '@swan/test-utils';
import { bootServer, mintToken, sendJson, type TestServer } from './helpers.js';

const artifacts = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const browserPath = chromiumPath();

describe.skipIf(!browserPath)('GET /onboarding of the example server in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let clientId: string;
  let alias: string;
  let trainerId: string;
  let trainer: string;
  let ai: string;

  const send = (method: string, path: string, token: string, body?: unknown) => sendJson(server.url + path, method, token, body);

  beforeAll(async () => {
    server = await bootServer({ RUN_WORKERS: 'false' }, [], []);
    trainerId = randomUUID();
    const admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '10m' });
    trainer = await mintToken({ sub: trainerId, role: 'trainer' }, { expiresIn: '10m' });
    ai = await mintToken({ sub: randomUUID(), role: 'ai_service' }, { expiresIn: '10m' });
    // A client created and assigned through the API, as an operator would.
    const created = await send('POST', '/api/clients', admin, {
      pii: { full_name: 'Robin Example', date_of_birth: '1984-05-01', email: `robin+${randomUUID()}@example.org`, emergency_contact: { name: 'Sam Example', phone: '+15555550123' } },
      training: { height_inches: 70, weight_lbs: 182.4 },
    });
    expect(created.status).toBe(201);
    ({ clientId, alias } = created.body.client);
    expect((await send('PUT', `/api/trainers/${trainerId}/clients/${clientId}`, admin)).status).toBeLessThan(300);
    browser = await chromium.launch({
      executablePath: browserPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => { await browser?.close(); await server?.dispose(); });

  it('shows problems without a request, then stores a good form that the API serves back', async () => {
    const page = await browser.newPage();
    const apiRequests: string[] = [];
    const posted: unknown[] = [];
    const pageErrors: string[] = [];
    page.on('request', (r) => {
      if (!new URL(r.url()).pathname.startsWith('/api/')) return;
      apiRequests.push(`${r.method()} ${new URL(r.url()).pathname}`);
      if (r.method() === 'POST') posted.push(r.postDataJSON());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

    const res = await page.goto(`${server.url}/onboarding`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(res?.headers()['content-security-policy']).not.toContain('unsafe-eval');
    await page.fill('#token', trainer);
    await page.fill('#meta-client_id', clientId);
    await page.fill('#client_profile-basic_info-age', '12');
    await page.fill('#client_profile-basic_info-height_inches', '70');
    await page.fill('#client_profile-basic_info-weight_lbs', '182.4');
    await page.selectOption('#client_profile-training_tier-tier', 'Tier 2');
    await page.fill('#client_profile-training_tier-tier_name', 'Gold Swan');
    await page.fill('#client_profile-training_tier-session_rate_usd', '125');
    await page.click('button[type=submit]');

    const ageError = page.locator('[data-error-for="/client_profile/basic_info/age"]');
    await expect.poll(() => ageError.textContent()).toBe('age must be at least 13');
    expect(await page.getAttribute('#client_profile-basic_info-age', 'aria-invalid')).toBe('true');
    expect(await page.textContent('#status')).toBe('Please fix the highlighted fields.');
    expect(apiRequests).toEqual([]); // the bad age never left the browser
    expect(posted).toEqual([]);

    await page.fill('#client_profile-basic_info-age', '41');
    await page.selectOption('#client_profile-basic_info-gender', 'Non-binary');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#status')).toBe('Stored version 1.');
    expect(await ageError.textContent()).toBe('');
    expect(apiRequests).toEqual([`POST /api/clients/${clientId}/master-prompt`]);
    expect(pageErrors).toEqual([]); // no CSP violation: the validator needs no eval

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}onboarding.png`, fullPage: true });
    await page.close();

    // What the API serves is what the browser sent, with the server's fields set.
    const sent = posted[0] as any;
    expect(sent.client_profile.basic_info).toEqual({ age: 41, gender: 'Non-binary', height_inches: 70, weight_lbs: 182.4 });
    const read = await send('GET', `/api/clients/${clientId}/master-prompt`, ai);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ success: true, clientId, version: 1, createdBy: trainerId });
    const stored = read.body.masterPrompt;
    expect(stored.schema_version).toBe(sent.schema_version);
    expect(stored.client_profile).toEqual(sent.client_profile);
    const { last_updated: _sentUpdated, last_updated_by: _sentBy, change_log: _sentLog, ...sentMeta } = sent.meta;
    const { last_updated, last_updated_by, change_log, client_alias, ...storedMeta } = stored.meta;
    expect(storedMeta).toEqual(sentMeta);
    expect(client_alias).toBe(alias);
    expect(last_updated_by).toBe(`trainer:${trainerId}`);
    expect(Date.parse(last_updated)).not.toBeNaN();
    expect(change_log).toHaveLength(Math.max(1, sent.meta.change_log?.length ?? 0));
    expect(JSON.stringify(read.body)).not.toMatch(/Robin|robin\+|1984-05-01/);
  });
});
