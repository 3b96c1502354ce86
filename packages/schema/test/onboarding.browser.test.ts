import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { createMasterPromptService, masterPromptRoutes } from '@swan/schema';
import { onboardingRoutes } from '../../../examples/server/src/pages/onboarding.js';
import { actors, assign, createClient, migrationSets, serve, type RunningApp } from './harness.js';

const artifacts = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

describe('GET /onboarding in headless Chromium', () => {
  let t: TestDatabase;
  let app: RunningApp;
  let browser: Browser;
  let clientId: string;

  beforeAll(async () => {
    t = await testEngines()[0]!.create(migrationSets);
    const service = createMasterPromptService({ db: t.db });
    app = await serve('express', [...masterPromptRoutes({ service }), ...onboardingRoutes()]);
    clientId = await createClient(t.admin);
    await assign(t.admin, actors.trainer.id, clientId);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => { await browser?.close(); await app?.close(); await t?.close(); });

  it('shows problems without a request, then stores a good form', async () => {
    const page = await browser.newPage();
    const apiRequests: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (r) => { if (r.url().includes('/api/')) apiRequests.push(`${r.method()} ${r.url()}`); });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

    const res = await page.goto(`${app.url}/onboarding`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.fill('#token', 'trainer');
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
    expect(apiRequests).toEqual([]);

    await page.fill('#client_profile-basic_info-age', '41');
    await page.selectOption('#client_profile-basic_info-gender', 'Non-binary');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#status')).toBe('Stored version 1.');
    expect(await ageError.textContent()).toBe('');
    expect(apiRequests).toEqual([`POST ${app.url}/api/clients/${clientId}/master-prompt`]);
    expect(pageErrors).toEqual([]); // no CSP violation: the validator needs no eval

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}onboarding.png`, fullPage: true });

    const stored = await createMasterPromptService({ db: t.db }).latest(actors.admin, clientId);
    expect(stored.masterPrompt.client_profile.basic_info).toEqual({ age: 41, gender: 'Non-binary', height_inches: 70, weight_lbs: 182.4 });
    expect(stored.masterPrompt.meta.last_updated_by).toBe(`trainer:${actors.trainer.id}`);
    await page.close();
  });
});
