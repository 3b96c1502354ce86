/**
 * The billing routes in the example server on both adapters (Express and
 * Fastify, PGlite, the real outbox module), with the real `stripe` SDK talking to the fake Stripe
 * API: webhook deliveries over HTTP (the /pricing page: pricing.browser.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { insertClientRow } from '@swan/test-utils';
import { billingModule } from '../src/modules/billing.js';
import { outboxModule } from '../src/modules/outbox.js';
import { bootServer, mintToken, type TestServer } from './helpers.js';
import { events, newSubscription, PRICES, sign, startFakeStripe, WEBHOOK_SECRET, type FakeStripe } from '../../../packages/billing/test/fake-stripe.js';

describe.each(['express', 'fastify'] as const)('billing in the example server on %s', (framework) => {
  let fake: FakeStripe;
  let server: TestServer;
  let clientId: string;
  let token: string;

  beforeAll(async () => {
    fake = await startFakeStripe();
    server = await bootServer({
      STRIPE_SECRET_KEY: 'sk_test_example', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_BASE: fake.url,
      STRIPE_PAYMENT_LINK_TIER_1: 'https://buy.stripe.com/test_one', STRIPE_PRICE_TIER_1: PRICES.tier_1,
      STRIPE_PAYMENT_LINK_TIER_2: 'https://buy.stripe.com/test_two', STRIPE_PRICE_TIER_2: PRICES.tier_2,
      STRIPE_PAYMENT_LINK_TIER_3: 'https://buy.stripe.com/test_three', STRIPE_PRICE_TIER_3: PRICES.tier_3,
      PUBLIC_URL: 'http://swan.test', SWAN_FRAMEWORK: framework, RUN_WORKERS: 'false',
    }, [], [], [outboxModule, billingModule]);
    clientId = await insertClientRow(server.ctx.db);
    token = await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '1h' });
  });
  afterAll(async () => {
    await server?.dispose();
    await fake?.close();
  });

  const call = async (method: string, path: string, auth?: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...headers }, body });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('payment links and portal: roles, 404 without a subscription', async () => {
    expect(server.ctx.config.framework).toBe(framework);
    expect((await call('GET', '/api/billing/payment-links')).status).toBe(401);
    const admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '1h' });
    expect((await call('GET', '/api/billing/payment-links', admin)).body.error.code).toBe('FORBIDDEN');
    const links = await call('GET', '/api/billing/payment-links', token);
    expect(links.status).toBe(200);
    expect(links.body.tiers.map((t: { id: string }) => t.id)).toEqual(['tier_1', 'tier_2', 'tier_3']);
    expect(links.body.tiers[0]).toMatchObject({ name: 'Silver AI Wing – AI Foundation', monthlyPriceUsd: 50 });
    expect(new URL(links.body.tiers[1].url).searchParams.get('client_reference_id')).toBe(clientId);
    expect(links.body.tiers[1].url.startsWith('https://buy.stripe.com/test_two?')).toBe(true);
    expect(links.body).toMatchObject({ activeTier: null, subscription: null });
    expect(await call('POST', '/api/stripe/create-portal-session', token)).toMatchObject({ status: 404, body: { success: false, error: { code: 'NOT_FOUND' } } });
  });

  const counts = async () => (await sql<{ events: number; subscriptions: number; outbox: number }>`select
      (select count(*)::int from stripe_events) as events,
      (select count(*)::int from client_subscriptions) as subscriptions,
      (select count(*)::int from swan_outbox) as outbox`.execute(server.ctx.db)).rows[0]!;
  const json = { 'content-type': 'application/json' };
  const deliver = (body: string, signature?: string) =>
    call('POST', '/webhooks/stripe', undefined, body, signature === undefined ? json : { ...json, 'stripe-signature': signature });

  it('webhook over HTTP: forged, missing, stale or re-serialized deliveries are 400 and write nothing', async () => {
    const s = newSubscription('tier_2', Math.floor(Date.now() / 1000), 7);
    fake.subscriptions.set(s.id, s);
    const body = JSON.stringify(events.checkoutCompleted(s, clientId, fake.checkout(s, clientId), s.start), null, 2);
    const before = await counts();
    const calls = fake.calls.length;
    const rejected = { status: 400, body: { success: false, error: { code: 'WEBHOOK_SIGNATURE_INVALID', message: expect.any(String) } } };
    expect(await deliver(body, sign(body, { secret: 'whsec_nope' }))).toEqual(rejected);
    expect(await deliver(body)).toEqual(rejected);
    // signed 10 minutes ago: outside the 5-minute tolerance
    expect(await deliver(body, sign(body, { timestamp: Math.floor(Date.now() / 1000) - 600 }))).toEqual(rejected);
    // what a JSON body parser in front of the route would hand on: same data, other bytes
    expect(await deliver(JSON.stringify(JSON.parse(body)), sign(body))).toEqual(rejected);
    expect(await counts()).toEqual(before);
    expect(fake.calls.length).toBe(calls);
  });

  it('webhook over HTTP: a valid event is 200, the row, the event id and the outbox event are written once; the portal opens', async () => {
    const s = newSubscription('tier_2', Math.floor(Date.now() / 1000), 7);
    fake.subscriptions.set(s.id, s);
    const body = JSON.stringify(events.checkoutCompleted(s, clientId, fake.checkout(s, clientId), s.start), null, 2);
    const before = await counts();
    expect(await deliver(body, sign(body))).toEqual({ status: 200, body: { success: true, received: true, outcome: 'applied' } });
    expect((await deliver(body, sign(body))).body.outcome).toBe('duplicate');
    expect(await counts()).toEqual({ events: before.events + 1, subscriptions: before.subscriptions + 1, outbox: before.outbox + 1 });
    const row = (await sql<{ client_id: string; tier: string; status: string; stripe_price_id: string }>`
      select client_id::text, tier, status, stripe_price_id from client_subscriptions where stripe_subscription_id = ${s.id}`.execute(server.ctx.db)).rows[0];
    expect(row).toEqual({ client_id: clientId, tier: 'tier_2', status: 'trialing', stripe_price_id: PRICES.tier_2 });
    const published = (await sql<{ event_type: string; payload: any }>`
      select event_type, payload from swan_outbox where aggregate_type = 'client_subscription' order by id desc limit 1`.execute(server.ctx.db)).rows[0];
    expect(published).toMatchObject({ event_type: 'subscription_activated', payload: { clientId, tier: 'tier_2', status: 'trialing' } });

    const links = await call('GET', '/api/billing/payment-links', token);
    expect(links.body).toMatchObject({ activeTier: 'tier_2', subscription: { tier: 'tier_2', status: 'trialing' } });
    const portal = await call('POST', '/api/stripe/create-portal-session', token);
    expect(portal.status).toBe(200);
    expect(portal.body.url).toMatch(/^https:\/\/billing\.stripe\.com\/p\/session\/test_/);
  });
});
