/**
 * `GET /pricing` in headless Chromium at 390 and 1280 px against the real example server (every
 * module, Express, PGlite): with Payment Links configured (the real `stripe` SDK talking to the fake
 * Stripe API, subscriptions arriving by signed webhook) and with none configured. Each state is
 * scanned with axe-core; the screenshots go to docs/img/.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { adminModule } from '../src/modules/admin.js';
import { billingModule } from '../src/modules/billing.js';
import { piiModule } from '../src/modules/pii.js';
import { bootServer, mintToken, sendJson, type TestServer } from './helpers.js';
import { browserPath, launchBrowser, openPage, scanA11y, screenshot, unexpectedProblems, WIDTHS, type WatchedPage } from './browser.js';
import { events, newSubscription, PRICES, sign, startFakeStripe, WEBHOOK_SECRET, type FakeStripe } from '../../../packages/billing/test/fake-stripe.js';

const NAMES = ['Silver AI Wing – AI Foundation', 'Gold Swan Wing – AI Performance', 'Platinum Galaxy Wing – AI Elite'];
const LINKS = ['https://buy.stripe.com/test_one', 'https://buy.stripe.com/test_two', 'https://buy.stripe.com/test_three'];

/** A client created through the API as an operator would, and its token. */
async function newClient(server: TestServer): Promise<{ clientId: string; token: string }> {
  const admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '10m' });
  const created = await sendJson(`${server.url}/api/clients`, 'POST', admin, {
    pii: { full_name: 'Pat Pricing', date_of_birth: '1990-02-03', email: `pat+${randomUUID()}@example.org`, emergency_contact: { name: 'Sam', phone: '+15555550123' } },
  });
  expect(created.status).toBe(201);
  const clientId: string = created.body.client.clientId;
  return { clientId, token: await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '30m' }) };
}

/** What every state of the page must hold: the footer's links, no token box, no accessibility problem. */
async function expectCustomerPage(w: WatchedPage) {
  const { page } = w;
  expect(await page.locator('input').count()).toBe(0); // no token box, no form
  const footer = await page.locator('footer a').evaluateAll((as) => as.map((a) => `${a.textContent} ${a.getAttribute('href')}`));
  expect(footer).toEqual(['Terms of service /legal#terms', 'Privacy /legal#privacy', 'Cancellation /legal#cancellation']);
  // one list marker per feature: the marker is the list's own, nothing in the text
  for (const text of await page.locator('.features li').allTextContents()) expect(text).toMatch(/^[A-Z]/);
  expect(await scanA11y(page)).toEqual([]);
  // at 390 px nothing is wider than the screen
  expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
}

/** The calls to action's top edges: equal on every card when the cards sit side by side. */
const ctaTops = (w: WatchedPage) => w.page.locator('article.tier .cta').evaluateAll((els) => els.map((e) => Math.round((e as unknown as { getBoundingClientRect(): { top: number } }).getBoundingClientRect().top)));

describe.skipIf(!browserPath)('GET /pricing in headless Chromium', () => {
  let browser: Browser;
  let fake: FakeStripe;
  let server: TestServer; // Payment Links configured
  let unconfigured: TestServer; // none

  // the two servers boot side by side: the slow part is their migrations
  beforeAll(async () => {
    fake = await startFakeStripe();
    [browser, server, unconfigured] = await Promise.all([
      launchBrowser(),
      bootServer({
        STRIPE_SECRET_KEY: 'sk_test_example', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_BASE: fake.url,
        STRIPE_PAYMENT_LINK_TIER_1: LINKS[0]!, STRIPE_PRICE_TIER_1: PRICES.tier_1,
        STRIPE_PAYMENT_LINK_TIER_2: LINKS[1]!, STRIPE_PRICE_TIER_2: PRICES.tier_2,
        STRIPE_PAYMENT_LINK_TIER_3: LINKS[2]!, STRIPE_PRICE_TIER_3: PRICES.tier_3,
        PUBLIC_URL: 'http://swan.test', RUN_WORKERS: 'false',
      }, [], []),
      // the modules the page and its calls need: clients (pii), billing, and /legal (admin)
      bootServer({ RUN_WORKERS: 'false' }, [], [], [piiModule, billingModule, adminModule]),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
    await unconfigured?.dispose();
    await fake?.close();
  });

  describe('with Payment Links configured', () => {
    it.each(WIDTHS)('at %i px: signed out, a sign-in hint and no working button; signed in, this client\'s links; subscribed, the plan and the portal', async (width) => {
      const { clientId, token } = await newClient(server);
      const w = await openPage(browser, width);
      const { page } = w;
      try {
        await page.route('https://billing.stripe.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Stripe portal</title>' }));

        // signed out
        await page.goto(`${server.url}/pricing`);
        expect(await page.locator('article.tier h2').allTextContents()).toEqual(NAMES);
        expect(await page.locator('article.tier .price .amount').allTextContents()).toEqual(['$50', '$125', '$200']);
        expect(await page.locator('a.subscribe').allTextContents()).toEqual(['Sign in to subscribe', 'Sign in to subscribe', 'Sign in to subscribe']);
        expect(await page.locator('a.subscribe[href]').count()).toBe(0);
        expect(await page.textContent('#account-message')).toBe('You\'re not signed in. Sign in to your SwanStudios account to subscribe or to manage your plan.');
        expect(await page.isVisible('#manage')).toBe(false);
        expect(await page.textContent('#session')).toBe('');
        await expectCustomerPage(w);

        // signed in: the token leaves the address bar at once and stays in this tab
        await page.goto('about:blank'); // a new document: a fragment-only change would not load the page again
        await page.goto(`${server.url}/pricing#token=${token}`);
        expect(page.url()).toBe(`${server.url}/pricing`);
        expect(await page.evaluate("sessionStorage.getItem('swan.token')")).toBe(token);
        expect(await page.evaluate("localStorage.getItem('swan.token')")).toBeNull();
        await expect.poll(() => page.textContent('#account-message')).toBe('You don\'t have a plan yet: choose one below.');
        expect(await page.textContent('#signed-in-as')).toBe('Signed in as client');
        expect(await page.locator('a.subscribe').allTextContents()).toEqual(['Subscribe', 'Subscribe', 'Subscribe']);
        const hrefs = await page.locator('a.subscribe').evaluateAll((as) => as.map((a) => a.getAttribute('href')!));
        expect(hrefs.map((h) => new URL(h).origin + new URL(h).pathname)).toEqual(LINKS);
        for (const h of hrefs) expect(new URL(h).searchParams.get('client_reference_id')).toBe(clientId);
        expect(new URL(hrefs[0]!).searchParams.get('prefilled_email')).toMatch(/^pat\+.+@example\.org$/);
        expect(await page.isVisible('#manage')).toBe(false); // nothing to manage yet
        if (width >= 1280) expect(new Set(await ctaTops(w)).size).toBe(1);
        await expectCustomerPage(w);

        // Stripe reports the checkout: the page shows the plan and opens the portal
        const s = newSubscription('tier_2', Math.floor(Date.now() / 1000), 7);
        fake.subscriptions.set(s.id, s);
        const body = JSON.stringify(events.checkoutCompleted(s, clientId, fake.checkout(s, clientId), s.start));
        const delivered = await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': sign(body) }, body });
        expect(delivered.status).toBe(200);
        await page.reload(); // no fragment now: the tab's session signs in
        const ends = new Date(s.periodEnd * 1000).toLocaleDateString('en-US', { year: 'numeric', month: 'long', day: 'numeric' });
        await expect.poll(() => page.textContent('#account-message')).toBe(`Your plan: ${NAMES[1]}, in its trial; it renews on ${ends}.`);
        expect(await page.locator('article.tier.current h2').allTextContents()).toEqual([NAMES[1]]);
        expect(await page.locator('article.tier .cta').allTextContents()).toEqual(['Switch to this plan', 'Your current plan', 'Switch to this plan']);
        expect(await page.isVisible('#manage')).toBe(true);
        if (width >= 1280) expect(new Set(await ctaTops(w)).size).toBe(1);
        await expectCustomerPage(w);
        await screenshot(page, 'pricing', width);

        await Promise.all([page.waitForURL(/^https:\/\/billing\.stripe\.com\/p\/session\/test_/), page.click('#manage')]);
        expect(fake.calls).toContain('POST /v1/billing_portal/sessions');
        expect(w.problems).toEqual([]);
      } finally {
        await w.close();
      }
    });

    it('an expired or invalid token gets a sign-in hint, a staff token a plain answer', async () => {
      const w = await openPage(browser, 390);
      const { page } = w;
      try {
        const expired = await mintToken({ sub: randomUUID(), role: 'client' }, { expiresIn: -60 });
        for (const token of [expired, 'not-a-jwt']) {
          await page.goto('about:blank');
          await page.goto(`${server.url}/pricing#token=${token}`);
          await expect.poll(() => page.textContent('#account-message')).toBe('Your sign-in has expired. Sign in again to subscribe or to manage your plan.');
          expect(await page.innerText('body')).not.toMatch(/token/i);
          expect(await page.evaluate("sessionStorage.getItem('swan.token')")).toBeNull();
          expect(await page.textContent('#session')).toBe('');
          expect(await page.isVisible('#manage')).toBe(false);
        }
        const admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '5m' });
        await page.goto('about:blank');
        await page.goto(`${server.url}/pricing#token=${admin}`);
        await expect.poll(() => page.textContent('#account-message')).toBe('Plans are bought by clients: this account can\'t subscribe.');
        expect(await page.textContent('#signed-in-as')).toBe('Signed in as administrator');
        expect(await page.locator('a.subscribe[href]').count()).toBe(0);
        // signing out ends the session in this tab
        await page.click('#sign-out');
        await expect.poll(() => page.textContent('#account-message')).toMatch(/^You're not signed in\./);
        expect(await page.evaluate("sessionStorage.getItem('swan.token')")).toBeNull();
        expect(unexpectedProblems(w.problems, /40[13]/)).toEqual([]);
        expect(await w.cspViolations()).toEqual([]);
      } finally {
        await w.close();
      }
    });

    it('the footer\'s links lead to the terms, privacy and cancellation sections', async () => {
      const w = await openPage(browser, 1280);
      try {
        await w.page.goto(`${server.url}/pricing`);
        await Promise.all([w.page.waitForURL(/\/legal#cancellation$/), w.page.click('footer a:text("Cancellation")')]);
        expect(await w.page.isVisible('#cancellation h2')).toBe(true);
        expect(await w.page.textContent('#cancellation')).toContain('Manage subscription');
        for (const id of ['terms', 'privacy']) expect(await w.page.locator(`#${id} h2`).count()).toBe(1);
        expect(await scanA11y(w.page)).toEqual([]);
        expect(w.problems).toEqual([]);
      } finally {
        await w.close();
      }
    });
  });

  describe('without Payment Links', () => {
    it.each(WIDTHS)('at %i px: the tiers with a "billing is not configured" notice and nothing that leads to Stripe', async (width) => {
      const { token } = await newClient(unconfigured);
      const w = await openPage(browser, width);
      const { page } = w;
      try {
        for (const url of [`${unconfigured.url}/pricing`, `${unconfigured.url}/pricing#token=${token}`]) {
          await page.goto('about:blank');
          await page.goto(url);
          expect(await page.textContent('#billing-unconfigured')).toContain('Billing is not configured on this server');
          expect(await page.locator('article.tier h2').allTextContents()).toEqual(NAMES);
          expect(await page.locator('article.tier .cta').allTextContents()).toEqual(['Not available online yet', 'Not available online yet', 'Not available online yet']);
          expect(await page.locator('a[href*="stripe"], a.subscribe').count()).toBe(0);
          await expectCustomerPage(w);
        }
        await expect.poll(() => page.textContent('#account-message')).toBe('You don\'t have a plan yet.');
        expect(await page.isVisible('#manage')).toBe(false);
        await screenshot(page, 'pricing-unconfigured', width);
        expect(w.problems).toEqual([]);
        expect(await w.cspViolations()).toEqual([]);
      } finally {
        await w.close();
      }
    });
  });
});
