/**
 * GET /onboarding of the example server as shipped (every module, JWT auth, PGlite), in headless
 * Chromium at a phone's and a laptop's width: an admin signed in through the URL fragment picks a
 * client by alias, the browser words bad values in the form's labels (inline and in a summary,
 * focus on the first problem, no request sent), metric input is stored in inches and pounds, the
 * form is filled and sent with the keyboard only, and the API serves back what the form sent.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { browserPath, launchBrowser, openPage, scanA11y, screenshot, unexpectedProblems, WIDTHS } from './browser.js';
import { bootServer, mintToken, sendJson, type TestServer } from './helpers.js';

const REQUIRED = ['meta-client_id', 'client_profile-basic_info-age', 'client_profile-basic_info-height_inches', 'client_profile-basic_info-weight_lbs',
  'client_profile-training_tier-tier', 'client_profile-training_tier-tier_name', 'client_profile-training_tier-session_rate_usd'];
const OPTIONAL = ['client_profile-basic_info-gender', 'client_profile-basic_info-bmi', 'client_profile-training_goals-primary_goal', 'meta-hipaa_compliant'];

describe.skipIf(!browserPath)('GET /onboarding of the example server in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let adminId: string;
  let admin: string;
  let ai: string;
  const clients = new Map<number, { clientId: string; alias: string }>();

  const send = (method: string, path: string, token: string, body?: unknown) => sendJson(server.url + path, method, token, body);
  // (expressions as strings: the tests are compiled without the DOM library)
  const focusedId = (page: Page) => page.evaluate('document.activeElement && document.activeElement.id') as Promise<string>;
  const text = (page: Page, selector: string) => page.locator(selector).innerText();

  /** Presses Tab until the element is focused (fails if the keyboard cannot reach it). */
  async function tabTo(page: Page, id: string): Promise<void> {
    for (let i = 0; i < 60; i++) {
      if ((await focusedId(page)) === id) return;
      await page.keyboard.press('Tab');
    }
    throw new Error(`Tab never reached #${id}`);
  }

  /** Types into the focused text field, replacing what is there. */
  async function typeInto(page: Page, value: string): Promise<void> {
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.press('Backspace');
    await page.keyboard.type(value);
  }

  beforeAll(async () => {
    server = await bootServer({ RUN_WORKERS: 'false' }, [], []);
    adminId = randomUUID();
    admin = await mintToken({ sub: adminId, role: 'admin' }, { expiresIn: '15m' });
    ai = await mintToken({ sub: randomUUID(), role: 'ai_service' }, { expiresIn: '15m' });
    for (const width of WIDTHS) {
      const created = await send('POST', '/api/clients', admin, {
        pii: { full_name: 'Robin Example', date_of_birth: '1984-05-01', email: `robin+${randomUUID()}@example.org`, emergency_contact: { name: 'Sam Example', phone: '+15555550123' } },
        training: { height_inches: 70, weight_lbs: 182.4 },
      });
      expect(created.status).toBe(201);
      clients.set(width, created.body.client);
    }
    browser = await launchBrowser();
  });
  afterAll(async () => { await browser?.close(); await server?.dispose(); });

  it.each(WIDTHS)('at %i px: pick a client, labelled messages, metric input, keyboard-only submission, stored and served back', async (width) => {
    const { clientId, alias } = clients.get(width)!;
    const watched = await openPage(browser, width);
    const { page } = watched;
    const apiRequests: string[] = [];
    const posted: any[] = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (!url.pathname.startsWith('/api/')) return;
      apiRequests.push(`${r.method()} ${url.pathname}`);
      if (r.method() === 'POST') posted.push(r.postDataJSON());
    });

    const res = await page.goto(`${server.url}/onboarding#token=${admin}`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(res?.headers()['content-security-policy']).not.toContain('unsafe-eval');
    // The token left the address bar at once and is kept for this tab only.
    expect(page.url()).toBe(`${server.url}/onboarding`);
    expect(await page.evaluate('location.hash')).toBe('');
    expect(await page.evaluate("sessionStorage.getItem('swan.token')")).toBe(admin);
    expect(await text(page, '#signed-in-as')).toBe('Signed in as administrator');

    // The client is picked from the admin list, by alias only.
    const client = page.locator('#meta-client_id');
    await expect.poll(() => client.locator('option').allInnerTexts()).toContain(alias);
    const optionTexts = await client.locator('option').allInnerTexts();
    expect(optionTexts[0]).toBe('Choose a client…');
    expect(optionTexts.join(' ')).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(apiRequests).toEqual(['GET /api/admin/clients']);

    // Required fields are marked before anything is sent; units are stated; controls use the page's font.
    for (const id of REQUIRED) {
      expect(await page.getAttribute(`#${id}`, 'aria-required'), id).toBe('true');
      expect(await text(page, `label[for="${id}"]`), id).toMatch(/\*$/);
    }
    for (const id of OPTIONAL) {
      expect(await page.getAttribute(`#${id}`, 'aria-required'), id).toBeNull();
      expect(await text(page, `label[for="${id}"]`), id).not.toContain('*');
    }
    expect(await text(page, 'label[for="client_profile-basic_info-height_inches"]')).toBe('Height (inches) *');
    expect(await text(page, 'label[for="client_profile-basic_info-weight_lbs"]')).toBe('Weight (lbs) *');
    const fonts = await page.evaluate(`['body', '#client_profile-basic_info-age', '#meta-client_id', 'button[type=submit]']
      .map(function (s) { var c = getComputedStyle(document.querySelector(s)); return c.fontFamily + ' ' + c.fontSize; })`) as string[];
    expect(new Set(fonts).size).toBe(1);
    // The HIPAA checkbox sits on its label's line, centred with it.
    const box = (await page.locator('#meta-hipaa_compliant').boundingBox())!;
    const label = (await page.locator('label[for="meta-hipaa_compliant"]').boundingBox())!;
    expect(Math.abs((box.y + box.height / 2) - (label.y + label.height / 2))).toBeLessThan(3);
    expect(box.x + box.width).toBeLessThan(label.x);

    // Bad values: labelled messages next to the fields and in the summary, focus on the first, no request.
    await page.fill('#client_profile-basic_info-age', '12');
    await page.fill('#client_profile-basic_info-height_inches', '70.5');
    await page.fill('#client_profile-basic_info-weight_lbs', 'heavy');
    await page.selectOption('#client_profile-training_tier-tier', 'Tier 2');
    await page.fill('#client_profile-training_tier-session_rate_usd', '5000');
    await page.click('button[type=submit]');
    const expected: [string, string][] = [
      ['meta-client_id', 'Client is required'],
      ['client_profile-basic_info-age', 'Age must be at least 13 years'],
      ['client_profile-basic_info-height_inches', 'Height must be a whole number of inches'],
      ['client_profile-basic_info-weight_lbs', 'Weight must be a number of lbs'],
      ['client_profile-training_tier-tier_name', 'Tier name is required'],
      ['client_profile-training_tier-session_rate_usd', 'Session rate must be at most 1000 USD'],
    ];
    await expect.poll(() => focusedId(page)).toBe('meta-client_id');
    for (const [id, message] of expected) {
      expect(await text(page, `#${id}-error`), id).toBe(message);
      expect(await page.getAttribute(`#${id}`, 'aria-invalid'), id).toBe('true');
      expect((await page.getAttribute(`#${id}`, 'aria-describedby'))?.split(' '), id).toContain(`${id}-error`);
    }
    expect(await page.getAttribute('#client_profile-basic_info-gender', 'aria-invalid')).toBeNull();
    expect(await page.isVisible('#summary')).toBe(true);
    expect(await text(page, '#summary-title')).toBe('Please check 6 answers');
    expect(await page.locator('#summary-list a').allInnerTexts()).toEqual(expected.map(([, m]) => m));
    expect(await page.getAttribute('#summary-list a >> nth=2', 'href')).toBe('#client_profile-basic_info-height_inches');
    expect(apiRequests).toEqual(['GET /api/admin/clients']); // nothing was sent
    expect(await scanA11y(page)).toEqual([]);
    await screenshot(page, 'onboarding', width);

    // A summary link takes the focus to its field.
    await page.click('#summary-list a >> nth=2');
    expect(await focusedId(page)).toBe('client_profile-basic_info-height_inches');

    // From here on the keyboard only, starting at the client select (the first problem).
    await page.focus('#meta-client_id');
    for (let i = 0; i < 50 && (await client.inputValue()) !== clientId; i++) await page.keyboard.press('ArrowDown');
    expect(await client.inputValue()).toBe(clientId);
    await tabTo(page, 'units-imperial');
    await page.keyboard.press('ArrowRight'); // the metric radio: converts what is typed
    expect(await page.isChecked('#units-metric')).toBe(true);
    expect(await page.inputValue('#client_profile-basic_info-height_inches')).toBe('179.1'); // 70.5 inches
    expect(await text(page, 'label[for="client_profile-basic_info-height_inches"]')).toBe('Height (cm) *');
    expect(await text(page, 'label[for="client_profile-basic_info-weight_lbs"]')).toBe('Weight (kg) *');
    await tabTo(page, 'client_profile-basic_info-age');
    await typeInto(page, '41');
    await tabTo(page, 'client_profile-basic_info-height_inches');
    await typeInto(page, '300');
    await tabTo(page, 'client_profile-basic_info-weight_lbs');
    await typeInto(page, '82.5');
    await page.keyboard.press('Enter'); // submits: metric limits are said in cm
    await expect.poll(() => text(page, '#client_profile-basic_info-height_inches-error')).toBe('Height must be at most 243.8 cm');
    expect(await focusedId(page)).toBe('client_profile-basic_info-height_inches');
    expect(await text(page, '#client_profile-basic_info-weight_lbs-error')).toBe('');
    expect(apiRequests).toEqual(['GET /api/admin/clients']);
    await typeInto(page, '178');
    await tabTo(page, 'client_profile-training_tier-tier_name');
    await typeInto(page, 'Gold Swan');
    await page.keyboard.press('Tab');
    await typeInto(page, '125');
    await tabTo(page, 'save');
    await page.keyboard.press('Enter');
    await expect.poll(() => text(page, '#status')).toBe(`Saved for ${alias} (version 1).`);
    expect(await page.isVisible('#summary')).toBe(false);
    expect(await page.locator('[aria-invalid="true"]').count()).toBe(0);
    expect(apiRequests).toEqual(['GET /api/admin/clients', `POST /api/clients/${clientId}/master-prompt`]);
    expect(await scanA11y(page)).toEqual([]);
    expect(watched.problems).toEqual([]);
    expect(await watched.cspViolations()).toEqual([]);
    await watched.close();

    // Stored in the schema's units: 178 cm → 70 whole inches, 82.5 kg → 181.9 lbs.
    const sent = posted[0];
    expect(sent.client_profile.basic_info).toEqual({ age: 41, height_inches: 70, weight_lbs: 181.9 });
    expect(sent.client_profile.training_tier).toEqual({ tier: 'Tier 2', tier_name: 'Gold Swan', session_rate_usd: 125 });
    expect(sent.meta).toMatchObject({ client_id: clientId, hipaa_compliant: true, data_retention_years: 7 });
    // … and the API serves back what the form sent, with the server's fields set.
    const read = await send('GET', `/api/clients/${clientId}/master-prompt`, ai);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ success: true, clientId, version: 1, createdBy: adminId });
    const stored = read.body.masterPrompt;
    expect(stored.client_profile).toEqual(sent.client_profile);
    const { last_updated: _u, ...sentMeta } = sent.meta;
    const { last_updated, last_updated_by, change_log, client_alias, ...storedMeta } = stored.meta;
    expect(storedMeta).toEqual(sentMeta);
    expect(client_alias).toBe(alias);
    expect(last_updated_by).toBe(`admin:${adminId}`);
    expect(change_log).toHaveLength(1);
    expect(JSON.stringify(read.body)).not.toMatch(/Robin|robin\+|1984-05-01/);
  });

  it('tells a trainer that only an administrator picks clients, and a visitor without a token to sign in', async () => {
    const watched = await openPage(browser, 390);
    const trainer = await mintToken({ sub: randomUUID(), role: 'trainer' }, { expiresIn: '5m' });
    await watched.page.goto(`${server.url}/onboarding#token=${trainer}`);
    await expect.poll(() => text(watched.page, '#signin')).toBe('Only an administrator can pick clients here.');
    expect(watched.page.url()).toBe(`${server.url}/onboarding`);
    await watched.page.evaluate('sessionStorage.clear()');
    await watched.page.goto(`${server.url}/onboarding`);
    await expect.poll(() => text(watched.page, '#signin')).toBe('You are not signed in. Open this page from the sign-in link you were given.');
    expect(unexpectedProblems(watched.problems, /403/)).toEqual([]);
    await watched.close();
  });
});
