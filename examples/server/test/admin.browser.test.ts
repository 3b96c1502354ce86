/**
 * `GET /admin` in headless Chromium at 390 and 1280 px against the real example server (every
 * module, Express, PGlite, Twilio unconfigured so check-in SMS are dead-lettered), driven with real
 * signed tokens: the client list and every action on a client, create client, outbox, dead letters
 * and redrive, rate-limit violators, what a trainer and other roles see, and an axe-core scan.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createWorker } from '@swan/outbox';
import type { Checkins } from '@swan/checkins';
import { bootServer, mintToken, sendJson, type TestServer } from './helpers.js';
import { browserPath, launchBrowser, openPage, scanA11y, screenshot, unexpectedProblems, WIDTHS, type WatchedPage } from './browser.js';

const ALIAS = /^(Nebula|Stellar|Cosmic|Aurora|Eclipse|Constellation|Meteor|Orbit|Pulsar|Quantum|Radiant|Supernova) Swan( [IVXLC]+)?$/;

describe.skipIf(!browserPath)('GET /admin in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let admin: string;

  const call = (method: string, path: string, token: string, body?: unknown) => sendJson(`${server.url}${path}`, method, token, body);
  const createClient = async (training: Record<string, unknown> = {}) => {
    const created = await call('POST', '/api/clients', admin, {
      pii: { full_name: `Ada Admin ${randomUUID().slice(0, 6)}`, date_of_birth: '1985-04-03', email: `ada+${randomUUID()}@example.org`, emergency_contact: { name: 'Sam', phone: '+15555550123' } },
      training,
    });
    expect(created.status).toBe(201);
    return created.body.client as { clientId: string; alias: string };
  };
  /** The client's status as the API lists it. */
  const statusOf = async (clientId: string) => {
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const listed: { clients: Array<{ clientId: string; status: string }>; nextCursor: string | null } =
        (await call('GET', `/api/admin/clients?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, admin)).body;
      const found = listed.clients.find((c) => c.clientId === clientId);
      if (found) return found.status;
      cursor = listed.nextCursor;
    }
    return undefined;
  };
  /** Opens the page signed in with `token` (a new document, so the fragment is read). */
  const signIn = async (page: Page, token: string) => {
    await page.goto('about:blank');
    await page.goto(`${server.url}/admin#token=${token}`);
  };
  const visibleSections = (page: Page) => page.locator('main section:visible').evaluateAll((s) => s.map((e) => e.id));
  const visibleForms = (page: Page) => page.locator('#client form:visible').evaluateAll((f) => f.map((e) => e.id));

  beforeAll(async () => {
    // RUN_WORKERS=false: the test runs the worker itself, so a redriven event stays pending until it looks
    server = await bootServer({ RUN_WORKERS: 'false' }, [], []);
    admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '30m' });
    browser = await launchBrowser();
    // more clients than one page of the list (20)
    for (let i = 0; i < 21; i++) await createClient();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('is served with a nonce-based CSP and no inline handlers', async () => {
    const res = await fetch(`${server.url}/admin`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const csp = res.headers.get('content-security-policy') ?? '';
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    const html = await res.text();
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toContain('innerHTML');
    const again = (await fetch(`${server.url}/admin`)).headers.get('content-security-policy');
    expect(again).not.toBe(csp);
  });

  it.each(WIDTHS)('at %i px: the client list pages by cursor, and an admin rectifies, assigns, restricts, lifts and erases a client by alias', async (width) => {
    const target = await createClient({ height_inches: 70, weight_lbs: 182.4 });
    const trainerId = randomUUID();
    const w = await openPage(browser, width);
    const { page } = w;
    try {
      await signIn(page, admin);
      expect(page.url()).toBe(`${server.url}/admin`); // the token left the address bar
      expect(await page.evaluate("sessionStorage.getItem('swan.token')")).toBe(admin);
      await expect.poll(() => page.textContent('#status')).toMatch(/^Updated /);
      expect(await page.textContent('#status')).not.toContain('could not load');
      expect(await page.textContent('#signed-in-as')).toBe('Signed in as administrator');
      expect(await page.isVisible('#signin')).toBe(false);

      // the list: aliases and statuses, 20 a page, oldest first, the next page by cursor
      const firstPage = (await call('GET', '/api/admin/clients?limit=20', admin)).body;
      const rows = page.locator('#clients-list tbody tr');
      expect(await rows.count()).toBe(20);
      expect(await rows.locator('td.alias').allTextContents()).toEqual(firstPage.clients.map((c: { alias: string }) => c.alias));
      for (const alias of await rows.locator('td.alias').allTextContents()) expect(alias).toMatch(ALIAS);
      expect(await page.textContent('#clients-list')).not.toMatch(/@example\.org|Ada Admin/);
      expect(await page.isEnabled('#clients-next')).toBe(true);
      await page.click('#clients-next');
      await expect.poll(() => page.textContent('#clients-page')).toBe('Page 2');
      const secondPage = (await call('GET', `/api/admin/clients?limit=20&cursor=${encodeURIComponent(firstPage.nextCursor)}`, admin)).body;
      await expect.poll(() => rows.locator('td.alias').allTextContents()).toEqual(secondPage.clients.map((c: { alias: string }) => c.alias));
      expect(await page.isEnabled('#clients-prev')).toBe(true);
      await page.click('#clients-prev');
      await expect.poll(() => page.textContent('#clients-page')).toBe('Page 1');
      while (!(await page.locator(`#clients-list tr[data-client-id="${target.clientId}"]`).count())) {
        expect(await page.isEnabled('#clients-next')).toBe(true);
        const before = await page.textContent('#clients-page');
        await page.click('#clients-next');
        await expect.poll(() => page.textContent('#clients-page')).not.toBe(before);
      }
      const row = page.locator(`#clients-list tr[data-client-id="${target.clientId}"]`);
      expect(await row.locator('td').nth(1).textContent()).toBe('active');
      const manageBox = (await row.locator('button.manage').boundingBox())!;
      expect(manageBox.x + manageBox.width).toBeLessThanOrEqual(width - 16); // in sight, not scrolled away

      // manage: the training data is loaded into the form
      await row.locator('button.manage').focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.inputValue('#t-height_inches')).toBe('70');
      expect(await page.evaluate('document.activeElement.id')).toBe('client-title');
      expect(await page.textContent('#client-summary')).toBe(`${target.alias} active ${target.clientId}`);
      expect(Number(await page.inputValue('#t-weight_lbs'))).toBe(182.4);

      // rectify: only the changed fields are sent; the server's problems are shown with the form's labels
      await page.fill('#t-height_inches', '500');
      await page.click('#training-form button[type=submit]');
      await expect.poll(() => page.textContent('#training-error')).toMatch(/^VALIDATION_FAILED: /);
      expect(await page.textContent('#training-error')).toMatch(/Height must be an integer from 1 to 120/);
      await page.fill('#t-height_inches', '70');
      await page.fill('#t-weight_lbs', '175.5');
      await page.selectOption('#t-training_tier', 'tier_2');
      await page.click('#training-form button[type=submit]');
      await expect.poll(() => page.textContent('#training-result')).toBe('Saved: Weight, Training tier.');
      expect(await page.textContent('#training-error')).toBe('');
      const training = (await call('GET', `/api/clients/${target.clientId}/training`, admin)).body.training;
      expect(training).toMatchObject({ height_inches: 70, training_tier: 'tier_2' });
      expect(Number(training.weight_lbs)).toBe(175.5);

      // assign a trainer: the client is the one chosen in the list; the trainer id is typed
      await page.fill('#assign-trainer', trainerId);
      await page.click('#assign-form button[type=submit]');
      await expect.poll(() => page.textContent('#assign-result')).toBe(`Trainer ${trainerId} assigned to ${target.alias}.`);
      const trainer = await mintToken({ sub: trainerId, role: 'trainer' }, { expiresIn: '5m' });
      expect((await call('GET', `/api/clients/${target.clientId}/training`, trainer)).status).toBe(200);

      // restrict with a reason, then lift it; the list follows
      const requests: string[] = [];
      page.on('request', (r) => { if (r.method() === 'POST') requests.push(new URL(r.url()).pathname); });
      await page.click('#restrict-button');
      expect(await page.textContent('#restrict-error')).toBe('Give a reason: it is kept in the audit log.');
      expect(await page.getAttribute('#restrict-reason', 'aria-invalid')).toBe('true');
      expect(await page.evaluate('document.activeElement.id')).toBe('restrict-reason');
      expect(requests).toEqual([]); // no reason, no request
      await page.fill('#restrict-reason', 'Client asked to pause processing');
      await page.click('#restrict-button');
      await expect.poll(() => page.textContent('#restrict-result')).toBe('Processing is restricted.');
      await expect.poll(() => row.locator('td').nth(1).textContent()).toBe('restricted');
      const ai = await mintToken({ sub: randomUUID(), role: 'ai_service' }, { expiresIn: '5m' });
      expect((await call('GET', `/api/clients/${target.clientId}/training`, ai)).body.error.code).toBe('PROCESSING_RESTRICTED');
      expect(await page.textContent('#restrict-button')).toBe('Lift the restriction');
      expect(await scanA11y(page)).toEqual([]);
      await screenshot(page, 'admin', width);
      await page.fill('#assign-trainer', 'not-a-uuid');
      await page.click('#assign-form button[type=submit]');
      await expect.poll(() => page.textContent('#assign-error')).toMatch(/^VALIDATION_FAILED: /);
      await page.fill('#restrict-reason', 'Client asked to resume');
      await page.click('#restrict-button');
      await expect.poll(() => page.textContent('#restrict-result')).toBe('The restriction is lifted.');
      await expect.poll(() => row.locator('td').nth(1).textContent()).toBe('active');
      expect((await call('GET', `/api/clients/${target.clientId}/training`, ai)).status).toBe(200);

      // erase: only once the alias is typed
      await page.fill('#erase-reason', 'Erasure requested by the client');
      expect(await page.textContent('#erase-confirm-label')).toBe(`Type “${target.alias}” to confirm`);
      await page.fill('#erase-confirm', target.alias.toLowerCase());
      expect(await page.isDisabled('#erase-button')).toBe(true);
      await page.fill('#erase-confirm', target.alias);
      expect(await page.isEnabled('#erase-button')).toBe(true);
      await page.click('#erase-button');
      await expect.poll(() => page.textContent('#client-summary')).toBe(`${target.alias} is erased: their personal data can no longer be read.`);
      await expect.poll(() => row.locator('td').nth(1).textContent()).toBe('erased');
      expect(await page.isVisible('#client-actions')).toBe(false);
      expect(await statusOf(target.clientId)).toBe('erased');

      expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
      expect(await scanA11y(page)).toEqual([]);
      expect(unexpectedProblems(w.problems, /400/)).toEqual([]); // the invalid forms above
      expect(await w.cspViolations()).toEqual([]);
    } finally {
      await w.close();
    }
  });

  it('creates a client through the form and shows its alias and id, never its name or email; a failed creation shows the envelope', async () => {
    const w = await openPage(browser, 1280);
    const { page } = w;
    const name = `Dana Adminpage ${randomUUID().slice(0, 8)}`;
    const email = `dana-admin-${randomUUID()}@example.org`;
    try {
      await signIn(page, admin);
      await expect.poll(() => page.textContent('#status')).toMatch(/^Updated /);
      await page.fill('#c-full_name', name);
      await page.fill('#c-email', email);
      await page.fill('#c-date_of_birth', '1988-07-14');
      await page.fill('#c-emergency_name', 'Sam');
      await page.fill('#c-emergency_phone', '+14155550100');
      await page.click('#create-form button[type=submit]');
      await page.waitForSelector('#created-alias');
      const alias = (await page.textContent('#created-alias'))!;
      const clientId = (await page.textContent('#created-id'))!;
      expect(alias).toMatch(ALIAS);
      expect(await page.textContent('#create-result')).toBe(`Created ${alias} — id ${clientId}`);
      expect((await call('GET', `/api/clients/${clientId}/training`, admin)).body.training.alias).toBe(alias);
      expect(await page.inputValue('#c-full_name')).toBe('');
      expect(await page.inputValue('#c-email')).toBe('');
      for (const pii of [name, email]) {
        expect(await page.innerText('body')).not.toContain(pii);
        expect(await page.content()).not.toContain(pii);
      }

      await page.fill('#c-full_name', 'Nobody');
      await page.fill('#c-email', 'not-an-email');
      await page.click('#create-form button[type=submit]');
      await expect.poll(() => page.textContent('#create-error')).toContain('VALIDATION_FAILED: The client is invalid');
      expect(await page.textContent('#create-error')).toContain('Email must be an email address');
      expect(await page.textContent('#create-error')).toContain('Date of birth must be a date YYYY-MM-DD');
      expect(unexpectedProblems(w.problems, /400/)).toEqual([]);
    } finally {
      await w.close();
    }
  });

  it('lists rate-limit violators by alias, and redrives a dead-lettered check-in: the event is pending again', async () => {
    const target = await createClient();
    const client = await mintToken({ sub: target.clientId, role: 'client' }, { expiresIn: '5m' });
    // aiQuery allows 10 a minute (refused for consent, still counted): the 11th and 12th are violations
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call('POST', '/api/ai-village/query', client, { query: 'hi' })).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);

    const scheduled = await call('POST', `/api/clients/${target.clientId}/checkins`, admin, { kind: 'morning', scheduledFor: new Date().toISOString(), timezone: 'America/Los_Angeles' });
    expect(scheduled.status).toBe(202);
    const eventId: string = scheduled.body.eventId;
    // what `swan outbox work` would do: Twilio is not configured, so the send is dead-lettered at once
    const checkins = server.ctx.services.checkins as Checkins;
    const worker = createWorker({ db: server.ctx.db, handlers: { ...checkins.handlers }, pollIntervalMs: 100 });
    await worker.start();
    try {
      await expect.poll(async () => (await call('GET', '/api/admin/outbox/dead', admin)).body.events.map((e: { eventId: string }) => e.eventId), { timeout: 15_000 }).toContain(eventId);
    } finally {
      await worker.stop();
    }

    const w = await openPage(browser, 1280);
    const { page } = w;
    try {
      await signIn(page, admin);
      await expect.poll(() => page.textContent('#violators-list')).toContain(target.alias);
      const violator = page.locator('#violators-list tbody tr', { hasText: target.alias });
      expect(await violator.locator('td').allTextContents()).toEqual(['aiQuery', target.alias, '2']);
      expect(await page.textContent('#violators-list')).not.toContain(target.clientId);

      const row = page.locator(`#dead-list tr[data-event-id="${eventId}"]`);
      await row.waitFor();
      await expect.poll(() => row.locator('td').nth(1).textContent()).toBe(target.alias);
      expect(await row.textContent()).toContain('morning_checkin_scheduled');
      expect(await row.textContent()).toContain('Twilio is not configured');
      expect(await page.textContent('#outbox-status [data-status="dead"] strong')).toBe('1');
      const audit = (await call('GET', '/api/audit/verify', admin)).body;
      expect(await page.textContent('#audit-result')).toBe(`✓ Chain valid — ${audit.entries} entries`);
      expect(await scanA11y(page)).toEqual([]);

      await row.locator('button.redrive').click();
      await expect.poll(() => page.textContent('#dead-status')).toBe(`Event ${eventId} is pending again.`);
      await expect.poll(() => page.textContent('#dead-list')).toBe('No dead-lettered events.');
      await expect.poll(() => page.textContent('#outbox-status [data-status="dead"] strong')).toBe('0');
      const stats = await call('GET', '/api/admin/outbox/stats', admin);
      expect(stats.body.byType.morning_checkin_scheduled).toMatchObject({ pending: 1 });
      expect(stats.body.byStatus.dead).toBe(0);
      expect(w.problems).toEqual([]);
      expect(await w.cspViolations()).toEqual([]);
    } finally {
      await w.close();
    }
  });

  it.each(WIDTHS)('at %i px: a trainer sees only the training-data form; the server still decides which clients', async (width) => {
    const mine = await createClient({ height_inches: 64 });
    const other = await createClient();
    const trainerId = randomUUID();
    expect((await call('PUT', `/api/trainers/${trainerId}/clients/${mine.clientId}`, admin)).status).toBe(200);
    const trainer = await mintToken({ sub: trainerId, role: 'trainer' }, { expiresIn: '5m' });
    const w = await openPage(browser, width);
    const { page } = w;
    try {
      await signIn(page, trainer);
      await expect.poll(() => page.textContent('#signed-in-as')).toBe('Signed in as trainer');
      expect(await visibleSections(page)).toEqual(['client']);
      expect(await page.isVisible('#toolbar')).toBe(false);
      expect(await page.locator('#restrict-form:visible, #erase-form:visible, #assign-form:visible').count()).toBe(0);

      await page.fill('#pick-id', mine.clientId);
      await page.click('#pick-form button[type=submit]');
      await expect.poll(() => page.inputValue('#t-height_inches')).toBe('64');
      expect(await visibleForms(page)).toEqual(['pick-form', 'training-form']);
      expect(await page.textContent('#client-summary')).toBe(`${mine.alias} ${mine.clientId}`);
      await page.fill('#t-height_inches', '65');
      await page.fill('#t-years_training_experience', '0'); // from none to zero is a change
      await page.click('#training-form button[type=submit]');
      await expect.poll(() => page.textContent('#training-result')).toBe('Saved: Height, Years of training.');
      expect((await call('GET', `/api/clients/${mine.clientId}/training`, admin)).body.training).toMatchObject({ height_inches: 65, years_training_experience: 0 });
      await page.click('#training-form button[type=submit]');
      await expect.poll(() => page.textContent('#training-result')).toBe('Nothing changed.');
      expect(await scanA11y(page)).toEqual([]);
      await screenshot(page, 'admin-trainer', width);

      await page.fill('#pick-id', other.clientId);
      await page.click('#pick-form button[type=submit]');
      await expect.poll(() => page.textContent('#client-error')).toMatch(/^FORBIDDEN: \S/);
      expect(await page.isVisible('#client-actions')).toBe(false);
      expect(unexpectedProblems(w.problems, /403/)).toEqual([]);
    } finally {
      await w.close();
    }
  });

  it('signed out: a sign-in form that works; an unreadable or expired token, or a client\'s, is told what to do', async () => {
    const w: WatchedPage = await openPage(browser, 390);
    const { page } = w;
    try {
      await page.goto(`${server.url}/admin`);
      expect(await visibleSections(page)).toEqual(['signin']);
      expect(await scanA11y(page)).toEqual([]);
      await page.fill('#token', admin);
      await page.click('#token-form button[type=submit]');
      await expect.poll(() => page.textContent('#status')).toMatch(/^Updated /);
      expect(await page.inputValue('#c-full_name')).toBe('');
      await page.click('#sign-out');
      await expect.poll(() => visibleSections(page)).toEqual(['signin']);

      await signIn(page, 'not-a-jwt');
      await expect.poll(() => page.textContent('#signin-message')).toBe('That is not an access token this page can read: sign in again.');
      const expired = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: -60 });
      await signIn(page, expired);
      await expect.poll(() => page.textContent('#signin-message')).toBe('Your sign-in has expired or is not valid: sign in again.');
      expect(await visibleSections(page)).toEqual(['signin']);
      expect(await page.evaluate("sessionStorage.getItem('swan.token')")).toBeNull();

      const client = await mintToken({ sub: randomUUID(), role: 'client' }, { expiresIn: '5m' });
      await signIn(page, client);
      await expect.poll(() => page.isVisible('#not-for-role')).toBe(true);
      expect(await visibleSections(page)).toEqual(['not-for-role']);
      expect(unexpectedProblems(w.problems, /401/)).toEqual([]);
      expect(await w.cspViolations()).toEqual([]);

      // the detectors work: an image without a text alternative is reported by axe, and an injected inline script (no nonce) is refused
      await page.evaluate("document.getElementById('main').appendChild(document.createElement('img'))");
      expect((await scanA11y(page)).map((v) => v.id)).toContain('image-alt');
      await page.evaluate("var s = document.createElement('script'); s.textContent = 'window.__ran = true'; document.body.appendChild(s)");
      await expect.poll(() => w.cspViolations()).toEqual([expect.stringMatching(/^script-src/)]);
      expect(await page.evaluate('window.__ran === true')).toBe(false);
    } finally {
      await w.close();
    }
  });
});
