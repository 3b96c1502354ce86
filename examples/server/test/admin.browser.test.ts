/**
 * `GET /admin` in headless Chromium against the real example server (every module, Express,
 * PGlite, Twilio unconfigured so check-in SMS are dead-lettered), driven with a real admin JWT.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumPath } from '@swan/test-utils';
import { createWorker } from '@swan/outbox';
import type { Checkins } from '@swan/checkins';
import { bootServer, mintToken, type TestServer } from './helpers.js';


const artifacts = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const browserPath = chromiumPath();

describe.skipIf(!browserPath)('GET /admin in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let admin: string;
  const problems: string[] = [];
  const name = `Dana Adminpage ${randomUUID().slice(0, 8)}`;
  const email = `dana-admin-${randomUUID()}@example.org`;
  let clientId: string;
  let alias: string;

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  /** Everything a person sees on the page (the text of every element, inputs' values excluded). */
  const visibleText = () => page.locator('body').innerText();
  /** Problems other than Chromium's "Failed to load resource" line for an HTTP error the test provokes on purpose. */
  const unexpectedProblems = (statuses: RegExp) => problems.filter((p) => !new RegExp(`^console error: Failed to load resource: the server responded with a status of ${statuses.source} `).test(p));
  // (expressions as strings: the tests are compiled without the DOM library)
  const cspViolations = () => page.evaluate('window.__csp') as Promise<string[]>;
  const storedToken = () => page.evaluate("localStorage.getItem('swan.token')") as Promise<string | null>;

  beforeAll(async () => {
    // RUN_WORKERS=false: the test runs the worker itself, so a redriven event stays pending until it looks
    server = await bootServer({ RUN_WORKERS: 'false' }, [], []);
    admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '30m' });
    browser = await chromium.launch({
      executablePath: browserPath!,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    // injected by the test harness (CDP), so not subject to the page's CSP
    await page.addInitScript(`window.__csp = [];
      document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });`);
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
    // a fresh nonce per response
    const again = (await fetch(`${server.url}/admin`)).headers.get('content-security-policy');
    expect(again).not.toBe(csp);
  });

  it('takes the token from the fragment, removes it, and renders outbox stats and the audit check', async () => {
    await page.goto(`${server.url}/admin#token=${admin}`);
    await expect.poll(() => page.textContent('#status')).toMatch(/^Updated /);
    expect(await page.textContent('#status')).not.toContain('could not load');
    expect(page.url()).toBe(`${server.url}/admin`);
    expect(await storedToken()).toBe(admin);

    const stats = (await call('GET', '/api/admin/outbox/stats', admin)).body;
    for (const s of ['pending', 'processing', 'completed', 'dead'] as const) {
      expect(await page.textContent(`#outbox-status [data-status="${s}"] strong`)).toBe(String(stats.byStatus[s]));
    }
    expect(await page.textContent('#outbox-oldest')).toMatch(/^\d+ (s|min)/);
    const audit = (await call('GET', '/api/audit/verify', admin)).body;
    expect(audit.valid).toBe(true);
    expect(await page.textContent('#audit-result')).toBe(`✓ Chain valid — ${audit.entries} entries`);
    expect(await page.textContent('#dead-list')).toBe('No dead-lettered events.');
    expect(await page.textContent('#violators-list')).toBe('No violations in this window.');
    for (const slot of ['outbox', 'audit', 'dead', 'violators']) expect(await page.textContent(`#${slot}-error`)).toBe('');
    expect(problems).toEqual([]);
    expect(await cspViolations()).toEqual([]);
  });

  it('creates a client through the form and shows its alias and id, never its name or email', async () => {
    await page.fill('#create-form [name=full_name]', name);
    await page.fill('#create-form [name=email]', email);
    await page.fill('#create-form [name=date_of_birth]', '1988-07-14');
    await page.fill('#create-form [name=emergency_name]', 'Sam');
    await page.fill('#create-form [name=emergency_phone]', '+14155550100');
    await page.click('#create-form button[type=submit]');
    await page.waitForSelector('#created-alias');
    alias = (await page.textContent('#created-alias'))!;
    clientId = (await page.textContent('#created-id'))!;
    expect(alias).toMatch(/^(Nebula|Stellar|Cosmic|Aurora|Eclipse|Constellation|Meteor|Orbit|Pulsar|Quantum|Radiant|Supernova) Swan( [IVXLC]+)?$/);
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await page.textContent('#create-result')).toBe(`Created ${alias} — id ${clientId}`);
    // the server agrees: this id has this alias
    expect((await call('GET', `/api/clients/${clientId}/training`, admin)).body.training.alias).toBe(alias);
    // the form was cleared: neither the name nor the email is anywhere on the page, not even in an input
    expect(await page.inputValue('#create-form [name=full_name]')).toBe('');
    expect(await page.inputValue('#create-form [name=email]')).toBe('');
    const html = await page.content();
    const text = await visibleText();
    for (const pii of [name, email]) {
      expect(text).not.toContain(pii);
      expect(html).not.toContain(pii);
    }
    expect(await page.inputValue('#assign-form [name=clientId]')).toBe(clientId);
  });

  it('shows the envelope of a failed creation (code, message, details)', async () => {
    await page.fill('#create-form [name=full_name]', 'Nobody');
    await page.fill('#create-form [name=email]', 'not-an-email');
    await page.click('#create-form button[type=submit]');
    await expect.poll(() => page.textContent('#create-error')).toContain('VALIDATION_FAILED: The client is invalid');
    const text = await page.textContent('#create-error');
    expect(text).toContain('pii.email must be an email address');
    expect(text).toContain('pii.date_of_birth must be a date YYYY-MM-DD');
    await page.fill('#create-form [name=full_name]', '');
    await page.fill('#create-form [name=email]', '');
  });

  it('assigns a trainer, naming the client by alias', async () => {
    const trainerId = randomUUID();
    await page.fill('#assign-form [name=trainerId]', trainerId);
    await page.click('#assign-form button[type=submit]');
    await expect.poll(() => page.textContent('#assign-result')).toBe(`Trainer ${trainerId} assigned to ${alias}.`);
    // the assigned trainer can now read the client's training data
    const trainer = await mintToken({ sub: trainerId, role: 'trainer' }, { expiresIn: '5m' });
    expect((await call('GET', `/api/clients/${clientId}/training`, trainer)).status).toBe(200);

    await page.fill('#assign-form [name=trainerId]', 'not-a-uuid');
    await page.click('#assign-form button[type=submit]');
    await expect.poll(() => page.textContent('#assign-error')).toContain('VALIDATION_FAILED: Malformed trainer id');
  });

  it('lists rate-limit violators, a client by alias', async () => {
    const client = await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '5m' });
    // aiQuery allows 10 a minute (refused for consent, still counted): the 11th and 12th are violations
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call('POST', '/api/ai-village/query', client, { query: 'hi' })).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    await page.click('#refresh');
    await expect.poll(() => page.textContent('#violators-list')).toContain(alias);
    const row = page.locator('#violators-list tbody tr', { hasText: alias });
    expect(await row.locator('td').allTextContents()).toEqual(['aiQuery', alias, '2']);
    expect(await page.textContent('#violators-list')).not.toContain(clientId);
  });

  it('redrives a dead-lettered check-in from the page: the event is pending again', async () => {
    const scheduled = await call('POST', `/api/clients/${clientId}/checkins`, admin, { kind: 'morning', scheduledFor: new Date().toISOString(), timezone: 'America/Los_Angeles' });
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

    await page.click('#refresh');
    const row = page.locator(`#dead-list tr[data-event-id="${eventId}"]`);
    await row.waitFor();
    await expect.poll(() => row.locator('td').nth(1).textContent()).toBe(alias);
    expect(await row.textContent()).toContain('morning_checkin_scheduled');
    expect(await row.textContent()).toContain('Twilio is not configured');
    expect(await page.textContent('#outbox-status [data-status="dead"] strong')).toBe('1');

    await row.locator('button.redrive').click();
    await expect.poll(() => page.textContent('#dead-status')).toBe(`Event ${eventId} is pending again.`);
    await expect.poll(() => page.textContent('#dead-list')).toBe('No dead-lettered events.');
    await expect.poll(() => page.textContent('#outbox-status [data-status="dead"] strong')).toBe('0');

    const dead = await call('GET', '/api/admin/outbox/dead', admin);
    expect(dead.body.events.map((e: { eventId: string }) => e.eventId)).not.toContain(eventId);
    const stats = await call('GET', '/api/admin/outbox/stats', admin);
    expect(stats.body.byType.morning_checkin_scheduled).toMatchObject({ pending: 1 });
    expect(stats.body.byStatus.dead).toBe(0);
    // a second redrive of the same event is refused, and the page says why
    expect((await call('POST', `/api/admin/outbox/dead/${eventId}/redrive`, admin)).body.error.code).toBe('NOT_FOUND');

    const text = await visibleText();
    expect(text).not.toContain(name);
    expect(text).not.toContain(email);
    expect(unexpectedProblems(/400/)).toEqual([]); // the two invalid forms above
    expect(await cspViolations()).toEqual([]);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}admin.png`, fullPage: true });
  });

  it('a non-admin token shows the FORBIDDEN envelope in every panel', async () => {
    const trainer = await mintToken({ sub: randomUUID(), role: 'trainer' }, { expiresIn: '5m' });
    await page.fill('#token', trainer);
    await page.click('#token-form button[type=submit]');
    await expect.poll(() => page.textContent('#outbox-error')).toMatch(/^FORBIDDEN: \S/);
    for (const slot of ['dead', 'violators', 'audit']) await expect.poll(() => page.textContent(`#${slot}-error`)).toMatch(/^FORBIDDEN: \S/);
    expect(await page.textContent('#outbox-status')).toBe('');
    for (const slot of ['#dead-status', '#create-error', '#assign-result', '#assign-error']) expect(await page.textContent(slot)).toBe('');
    expect(await storedToken()).toBe(trainer);
    // the panels' messages are the server's
    const envelope = (await call('GET', '/api/admin/outbox/stats', trainer)).body.error;
    expect(await page.textContent('#outbox-error')).toBe(`FORBIDDEN: ${envelope.message}`);
    await expect.poll(() => page.textContent('#status')).toMatch(/: 4 of 4 panels could not load/);
    await page.screenshot({ path: `${artifacts}admin-forbidden.png`, fullPage: true });

    await page.goto('about:blank'); // a new document: a fragment-only change would not reload the page
    await page.goto(`${server.url}/admin#token=not-a-jwt`);
    await expect.poll(() => page.textContent('#audit-error')).toMatch(/^UNAUTHENTICATED: \S/);
    expect(unexpectedProblems(/40[013]/)).toEqual([]);
    expect(await cspViolations()).toEqual([]);

    // the detector works: an injected inline script (no nonce) is refused and reported
    await page.evaluate("var s = document.createElement('script'); s.textContent = 'window.__ran = true'; document.body.appendChild(s)");
    await expect.poll(cspViolations).toEqual([expect.stringMatching(/^script-src/)]);
    expect(await page.evaluate('window.__ran === true')).toBe(false);
  });
});
